"""The county directory file (DESIGN §8): parsing, refusals with file and line, storing, showing."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from helpers import migrated, rows
from hennan_flow import Engine, PermissionDenied
from hennan_flow.cli import main
from hennan_flow.errors import ConfigError, NotFoundError
from hennan_flow.identity.directory import ROLES, parse_directory
from hennan_flow.identity.permissions import authorize
from hennan_flow.resources import packaged_processes

pytestmark = pytest.mark.enforce

SAMPLE = Path(__file__).resolve().parents[1] / "src" / "hennan_flow" / "data" / "directory.toml"

GOOD = """\
version = "t-1"
[[department]]
code = "amr"
name = "衡南县市场监督管理局"
superior = "hy-amr"
[[department]]
code = "hy-amr"
name = "衡阳市市场监督管理局"
external = true
[[user]]
id = "amr-li"
name = "李明"
departments = ["amr"]
roles = ["handler", "head"]
[[user]]
id = "admin"
name = "管理员"
departments = ["amr"]
roles = ["admin"]
[supervision]
review_within = 7
"""


def test_a_good_file_parses_with_defaults_for_the_settings_it_leaves_out() -> None:
    d = parse_directory(GOOD, "d.toml")
    assert d.version == "t-1"
    assert d.departments["amr"].superior == "hy-amr" and d.departments["hy-amr"].external
    assert d.users["amr-li"].roles == ("handler", "head") and d.users["amr-li"].active
    assert d.supervision["review_within"] == 7 and d.supervision["verify_within"] == 3
    assert d.supervision["escalate_yellow"] is True and d.supervision["suspend_limit"] == 20


BAD = [
    (GOOD.replace('"handler", "head"', '"handler", "boss"'), 14, "未知的角色 'boss'", "可用的角色"),
    (
        GOOD.replace(
            'departments = ["amr"]\nroles = ["handler"', 'departments = ["xyz"]\nroles = ["handler"'
        ),
        13,
        "部门 'xyz' 不在目录中",
        "加上 [[department]]",
    ),
    (GOOD.replace('id = "admin"', 'id = "amr-li"'), 15, "用户 amr-li 列了两次", "只保留一个 [[user]]"),
    (
        GOOD.replace('code = "hy-amr"', 'code = "amr"'),
        6,
        "部门 amr 列了两次",
        "只保留一个 [[department]]",
    ),
    (
        GOOD.replace("external = true", 'external = true\nsuperior = "amr"'),
        1,
        "循环：amr → hy-amr → amr",
        "上级链条",
    ),
    (GOOD.replace('"t-1"\n', '"t-1"\ncolour = 1\n'), 2, "未知的键 'colour'", "version ="),
    (
        GOOD.replace('name = "李明"', 'name = "李明"\nemail = "x"'),
        13,
        "user：未知的键 'email'",
        "version =",
    ),
    (GOOD.replace("review_within = 7", "review_within = 0"), 21, "review_within 须为", "version ="),
    (GOOD.replace('version = "t-1"', 'version = "t 1"'), 1, "version 须为", "新的"),
    ("version = [", 1, "不是有效的 TOML", "version ="),
]


@pytest.mark.parametrize(("text", "line", "message", "hint"), BAD)
def test_a_malformed_file_is_refused_whole_with_file_line_and_fix(
    text: str, line: int, message: str, hint: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_directory(text, "d.toml")
    error = caught.value
    assert error.location is not None and error.location.file == "d.toml"
    assert message in error.message
    assert error.location.line is not None
    if "循环" not in message:
        assert error.location.line == line, (error.location.line, str(error))
    assert error.hint is not None and hint in error.hint


def test_the_sample_directory_has_every_lane_department_of_the_shipped_bundles() -> None:
    d = parse_directory(SAMPLE.read_text(encoding="utf-8"), str(SAMPLE))
    lanes: set[str] = set()
    for bpmn in Path(packaged_processes()).glob("*.bpmn"):
        lanes |= set(re.findall(r'hf:department code="([^"]+)"', bpmn.read_text(encoding="utf-8")))
    assert lanes and lanes <= set(d.departments), lanes - set(d.departments)
    for code in lanes:  # each lane has a handler and a head, none of them external
        assert not d.departments[code].external
        staff = [u for u in d.users.values() if code in u.departments]
        assert {"handler", "head"} <= {r for u in staff for r in u.roles}, code
    assert {r for u in d.users.values() for r in u.roles} == set(ROLES) - {"reviewer"} | {"reviewer"}


VERTICAL = {  # 垂直管理: the county office → its superior outside the county (issue 23 item 3)
    "tax": ("hy-tax", "国家税务总局衡阳市税务局"),
    "fire": ("hy-fire", "衡阳市消防救援支队"),
    "eco": ("hy-eco", "衡阳市生态环境局"),
}


def test_vertically_managed_departments_are_reviewed_by_their_external_superior() -> None:
    d = parse_directory(SAMPLE.read_text(encoding="utf-8"), str(SAMPLE))
    for code, (superior, name) in VERTICAL.items():
        assert d.departments[code].superior == superior
        home = d.departments[superior]
        assert (home.name, home.external, home.superior) == (name, True, None)
        reviewers = [u for u in d.users.values() if superior in u.departments]
        assert reviewers and all(u.roles == ("reviewer",) for u in reviewers), superior  # reviews only
        assert authorize(d, reviewers[0].id, "card.red.review", department=code).role == "reviewer"
        with pytest.raises(PermissionDenied):  # the city's 政务服务中心 does not review a vertical office
            authorize(d, "hy-zwfw-liu", "card.red.review", department=code)
        with pytest.raises(PermissionDenied):  # nor the reviewer of another vertical line
            other = next(s for c, (s, _n) in VERTICAL.items() if c != code)
            reviewer = next(u.id for u in d.users.values() if other in u.departments)
            authorize(d, reviewer, "card.red.review", department=code)
    # the other county departments keep the city's 政务服务中心 (or their own line: amr) as reviewers' home
    assert d.departments["psb"].superior == "hy-zwfw" and d.departments["amr"].superior == "hy-amr"


def test_load_stores_a_version_audits_it_and_refuses_the_same_version_again(
    db_url: str, tmp_path: Path
) -> None:
    path = tmp_path / "d.toml"
    path.write_text(GOOD, encoding="utf-8")
    migrated(db_url)
    with Engine(db_url) as engine:
        with pytest.raises(NotFoundError):
            engine.directory()
        assert engine.load_directory(str(path)) == {"version": "t-1", "departments": 2, "users": 2}
        assert engine.directory().users["amr-li"].name == "李明"
        with pytest.raises(ConfigError, match="已经载入"):
            engine.load_directory(str(path), actor="admin")
        # a second version needs an admin of the stored directory
        path.write_text(GOOD.replace('"t-1"', '"t-2"'), encoding="utf-8")
        with pytest.raises(PermissionDenied, match="amr-li"):
            engine.load_directory(str(path), actor="amr-li")
        with pytest.raises(PermissionDenied):
            engine.load_directory(str(path))
        engine.load_directory(str(path), actor="admin")
        assert engine.directory().version == "t-2"
        events = rows(
            engine, "SELECT type, actor, role FROM hf_event WHERE type = 'directory.loaded' ORDER BY id"
        )
    assert events == [("directory.loaded", None, None), ("directory.loaded", "admin", "admin")]


def test_a_malformed_file_stores_nothing(sqlite_url: str, tmp_path: Path) -> None:
    path = tmp_path / "d.toml"
    path.write_text(GOOD.replace('"handler", "head"', '"handler", "boss"'), encoding="utf-8")
    migrated(sqlite_url)
    with Engine(sqlite_url) as engine:
        with pytest.raises(ConfigError, match="boss"):
            engine.load_directory(str(path))
        assert rows(engine, "SELECT COUNT(*) FROM hf_directory") == [(0,)]
        assert rows(engine, "SELECT COUNT(*) FROM hf_event") == [(0,)]


def test_cli_directory_load_and_show(
    sqlite_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    migrated(sqlite_url)
    bad = tmp_path / "bad.toml"
    bad.write_text(GOOD.replace('"handler", "head"', '"handler", "boss"'), encoding="utf-8")
    with pytest.raises(SystemExit) as code:
        main(["--db", sqlite_url, "directory", "load", str(bad)])
    assert code.value.code == 2
    err = capsys.readouterr().err
    assert f"{bad}:14" in err and "boss" in err and "可用的角色：" in err
    with pytest.raises(SystemExit) as code:
        main(["--db", sqlite_url, "directory", "load", str(SAMPLE)])
    assert code.value.code == 0
    assert "hengnan-sample-2026-12" in capsys.readouterr().out
    with pytest.raises(SystemExit) as code:
        main(["--db", sqlite_url, "directory", "show"])
    out = capsys.readouterr().out
    assert "衡南县市场监督管理局" in out and "amr-head" in out
    with pytest.raises(SystemExit) as code:
        main(["--db", sqlite_url, "--format", "json", "directory", "show"])
    shown = json.loads(capsys.readouterr().out)
    assert shown["version"] == "hengnan-sample-2026-12"
    assert {"code": "hy-amr", "name": "衡阳市市场监督管理局", "superior": None, "external": True} in shown[
        "departments"
    ]
