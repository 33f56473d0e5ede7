"""Text output for people (issue 18): Chinese event names, department names, local times to the
second, durations in days and hours, empty lists that say so, CJK columns aligned by display width."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from wcwidth import wcswidth

from helpers import ACCEPT, FORMS, OPENING, OPENING_WALK, REVIEW_LIB, START, at, run_cli, simulation
from hennan_flow.cli import main
from hennan_flow.cli._text import duration, table, when
from hennan_flow.engine import Engine

NOW = "2026-03-02T09:00:00+08:00"
SECONDS = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d")


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    with pytest.raises(SystemExit) as info:
        main(list(argv))
    out, err = capsys.readouterr()
    return int(info.value.code or 0), out, err


@pytest.mark.parametrize(
    ("seconds", "said"),
    [
        (0, "0 秒"),
        (45, "45 秒"),
        (3600, "1 小时"),
        (3 * 3600 + 5 * 60 + 7, "3 小时 5 分"),
        (93_600, "1 天 2 小时"),
        (6.6852e06, "77 天 9 小时"),  # what `sla sweep` printed as 6.6852e+06s
        (86_400 + 300, "1 天"),  # two units at most, and never "0 小时"
        (-90, "-1 分 30 秒"),
    ],
)
def test_durations_as_people_say_them(seconds: float, said: str) -> None:
    assert duration(seconds) == said


def test_columns_align_by_display_width() -> None:
    shown = table(
        ("部门", "步骤", "n"), [("县市场监督管理局", "受理", 1), ("tax", "印章刻制备案", 22)], empty="无"
    )
    lines = shown.splitlines()
    starts = []
    for line in lines:
        cells = re.split(r"(?<=\S)  +", line)
        starts.append([wcswidth(line[: line.index(c)]) for c in cells])
    assert starts[0] == starts[1] == starts[2], shown  # each column starts at the same terminal column
    assert table(("a",), [], empty="没有。") == "没有。"


def test_when_is_local_to_the_second() -> None:
    assert when("2026-03-02T01:00:00.123456+00:00") == "2026-03-02 09:00:00"
    assert when(None) == "-"


@pytest.fixture
def review(tmp_path: Path) -> tuple[str, str]:
    shutil.copytree(REVIEW_LIB, tmp_path / "lib")
    url = f"sqlite:///{tmp_path / 'hf.db'}"
    Engine(url).upgrade(simulation=True)
    with Engine(url) as engine:
        engine.deploy(str(tmp_path / "lib" / "processes"), forms=str(tmp_path / "lib" / "forms"))
    return url, str(tmp_path)


def test_empty_lists_say_so(review: tuple[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    url = review[0]
    assert run(capsys, "--db", url, "case", "list")[1] == "没有符合条件的案件。\n"
    assert run(capsys, "--db", url, "task", "list")[1] == "没有待办或暂停的步骤。\n"
    assert (
        run(capsys, "--db", url, "task", "list", "--department", "amr", "--state", "paused")[1]
        == "部门 amr 没有暂停的步骤。\n"
    )
    assert run(capsys, "--db", url, "card", "list")[1] == "没有符合条件的红黄牌。\n"
    rc, out, _ = run(capsys, "--db", url, "--now", NOW, "sla", "sweep")
    assert rc == 0 and out.startswith("没有到期的预警或亮牌。\n") and "滞后 0 秒" in out
    # JSON stays a list
    assert json.loads(run(capsys, "--db", url, "--format", "json", "task", "list")[1]) == []


def test_case_show_is_a_timeline_for_people(
    review: tuple[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    url = review[0]
    rc, out, _ = run(
        capsys, "--db", url, "--now", NOW, "--format", "json", "case", "start", "review", "--actor", "窗口-01"
    )
    case = json.loads(out)
    task = case["ready"][0]["id"]
    run(
        capsys,
        "--db",
        url,
        "--now",
        "2026-03-02T10:30:15+08:00",
        "task",
        "complete",
        task,
        "--data",
        json.dumps(ACCEPT, ensure_ascii=False),
        "--actor",
        "张三",
    )
    rc, out, _ = run(capsys, "--db", url, "--now", "2026-03-02T10:31:00+08:00", "case", "show", case["id"])
    assert rc == 0
    assert out.startswith(f"案件 {case['id']}  测试件（review v1）  办理中\n")
    assert "受理 2026-03-02 09:00:00" in out
    timeline = out.split("\n\n", 1)[1].splitlines()
    assert timeline[0].split() == ["时间", "事件", "步骤", "部门", "办理人", "说明"]
    rows = [re.split(r"  +", line.strip()) for line in timeline[1:]]
    assert rows[0][:2] == ["2026-03-02 09:00:00", "受理"] and rows[0][-2:] == ["窗口-01", "版本: 1"]
    completed = next(r for r in rows if r[1] == "办理完成")
    assert completed[:4] == ["2026-03-02 10:30:15", "办理完成", "受理（accept）", "县市场监督管理局"]
    assert completed[4] == "张三"
    assert {r[1] for r in rows} >= {"受理", "待办", "办理完成"}
    for line in timeline[1:]:
        assert SECONDS.match(line)
    # no Python reprs, no raw ISO instants, no English event types
    assert "{'" not in out and "[{" not in out and "+08:00" not in out and "task.ready" not in out
    # the queue: names and departments in aligned columns
    rc, out, _ = run(capsys, "--db", url, "--now", "2026-03-02T10:31:00+08:00", "task", "list")
    header, *lines = out.splitlines()
    assert header.split() == ["任务", "案件", "步骤", "部门", "状态", "承诺期限", "剩余"]
    column = wcswidth(header[: header.index("部门")])
    for line in lines:
        fourth = [m.start() for m in re.finditer(r"(?<=  )\S", line)][2]  # where the 4th cell starts
        assert wcswidth(line[:fourth]) == column, out


def test_commitment_and_review_lists_are_tables(sqlite_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    with simulation(sqlite_url, OPENING, START, forms=FORMS) as (engine, clock):
        url = engine.url
        now = "2026-03-03T10:00:00+08:00"
        assert run_cli(url, capsys, "commitment", "list", now=now)[1] == "没有符合条件的告知承诺。\n"
        assert run_cli(url, capsys, "review", "list", now=now)[1] == "没有符合条件的评价。\n"
        assert run_cli(url, capsys, "commitment", "credit", now=now)[1] == "没有符合条件的信用记录。\n"
        case = engine.start_case(
            "enterprise_opening", applicant={"name": "李湘南", "id_number": "430422199001011234"}
        )
        (task,) = engine.tasks(case=case.id)
        clock.set(at("2026-03-02T10:00"))
        engine.complete_task(task.id, data=OPENING_WALK["register"], actor="amr-clerk")
        engine.add_review(case.id, task=task.id, level=5, channel="hotline")
        code, out, _ = run_cli(url, capsys, "commitment", "list", now=now)
        header, *rows = out.splitlines()
        assert code == 0 and header.split() == [
            "承诺",
            "状态",
            "案件",
            "步骤",
            "材料",
            "签署时间",
            "核查期限",
        ]
        assert rows and all(SECONDS.search(r) for r in rows) and "已签署" in out and "\t" not in out
        code, out, _ = run_cli(url, capsys, "review", "list", now=now)
        header, row = out.splitlines()
        assert header.split() == ["评价", "等级", "渠道", "案件", "步骤", "整改", "评价时间"]
        assert "5 非常不满意" in row and "12345热线" in row and "核查中" in row and "\t" not in row
        column = wcswidth(header[: header.index("渠道")])
        third = [m.start() for m in re.finditer(r"(?<=  )\S", row)][1]
        assert wcswidth(row[:third]) == column, out
