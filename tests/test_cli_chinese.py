"""The CLI's error lines are Chinese: a county user reads no English sentence (names and values aside).

Each failure below goes through the one error boundary (`hennan_flow.cli.main`); the check is a
regex for three or more consecutive English words outside quoted identifiers, and the test proves
the check itself bites by putting one English message back.
"""

from __future__ import annotations

import re
from pathlib import Path

import click
import pytest

from hennan_flow.cli import main
from hennan_flow.cli.usage import usage_message

ENGLISH = re.compile(r"\b[A-Za-z]{2,}(?:[ ,]+[A-Za-z]{2,}){2,}\b")


def english_left(line: str) -> list[str]:
    """English runs of 3+ words, once option names and command lines (hennan-flow card list) are taken out."""
    line = re.sub(r"hennan-flow(?: [a-z-]+)*", "", line)
    line = re.sub(r"--[a-z-]+", "", line)
    return ENGLISH.findall(line)


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    with pytest.raises(SystemExit) as info:
        main(list(args))
    return int(info.value.code or 0), capsys.readouterr().err


FAILURES = [
    (("case", "list", "--state", "bogus"), "参数 --state 的值无效（收到 'bogus'）：可选值为 open、"),
    (("case", "lst"), "没有命令 lst"),
    (("case", "list", "--nope"), "没有选项 --nope"),
    (("case", "show"), "缺少参数 CASE_ID"),
    (("calendar", "add", "2022-09-29", "x"), "N 须为 1 到 10000 之间的整数"),
    (
        ("task", "extend", "t-1", "--days", "400", "--approver", "a", "--reason", "b"),
        "参数 --days 的值无效（收到 400）：须为 1 到 365 之间的整数",
    ),
    (
        ("sla", "sweep", "--batch-size", "0"),
        "参数 --batch-size 的值无效（收到 0）：须为 1 到 10000 之间的整数",
    ),
]


@pytest.mark.parametrize(
    ("args", "fragment"), FAILURES, ids=lambda a: " ".join(a) if isinstance(a, tuple) else ""
)
def test_usage_errors_are_one_chinese_line(
    capsys: pytest.CaptureFixture[str], tmp_path: object, args: tuple[str, ...], fragment: str
) -> None:
    code, err = run(capsys, "--db", f"sqlite:///{tmp_path}/x.db", *args)
    assert code == 2 and err.startswith("错误：") and err.count("\n") == 1, err
    assert fragment in err and ("（查看：hennan-flow " in err or args[0] == "calendar"), err
    assert english_left(err) == [], err


AUDIT = Path(__file__).parent / "fixtures" / "audit"
FILES = {
    "bad_calendar.toml": 'version = "x"\nyears = [2031]\nwork = ["2031-01-27"]\n',
    "bad_directory.toml": 'version = "d-1"\n[[department]]\ncode = "amr"\nname = "市场监管局"\n'
    '[[user]]\nid = "li"\nname = "李明"\ndepartments = ["amr"]\nroles = ["boss"]\n',
}
# errors the library raises (not click's), one or two from each package, through the CLI's boundary
LIBRARY_FAILURES = [
    ("clock", ("--calendar", "{tmp}/bad_calendar.toml", "calendar", "add", "2031-03-03", "5"), "不是周末"),
    ("clock-instant", ("--now", "yesterday", "case", "list"), "不是 ISO-8601 格式的时刻"),
    (
        "audit-catalogue",
        ("audit", "--catalog", f"{AUDIT}/catalog_unknown_key.toml", f"{AUDIT}/clean.bpmn"),
        "中有未知的键 'alias'",
    ),
    ("bpmn", ("audit", f"{AUDIT}/bad/not_bpmn.bpmn"), "不是 BPMN 2.0 文件：根元素是 <html>"),
    ("inputs", ("audit", "{tmp}/missing.bpmn"), "文件或目录不存在"),
    ("identity", ("directory", "load", "{tmp}/bad_directory.toml"), "未知的角色 'boss'"),
    ("limits", ("case", "start", "review", "--data", '{"n": NaN}'), "不是有效的 JSON"),
    ("supervision", ("card", "advance", "nope", "--to", "verifying", "--note", " "), "每一步都须写说明"),
    ("supervision-card", ("card", "show", "nope"), "没有红黄牌 'nope'"),
    ("exchange", ("exchange", "push", "--url", "ftp://x"), "不是 http(s) 地址"),
    ("sealing", ("keys", "status"), "密钥不是 base64 文本"),
    ("engine-tasks", ("task", "complete", "nope"), "没有环节 'nope'。建议：查看环节："),
    ("engine-cases", ("case", "show", "nope"), "没有办件 'nope'。建议：查看办件："),
    ("engine-calendars", ("calendar", "provisional", "2026"), "临时年份只用于没有数据的年份"),
]


@pytest.mark.parametrize(
    ("package", "args", "fragment"), LIBRARY_FAILURES, ids=[f[0] for f in LIBRARY_FAILURES]
)
def test_library_errors_are_one_chinese_line(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    package: str,
    args: tuple[str, ...],
    fragment: str,
) -> None:
    for name, text in FILES.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    db = ("--db", f"sqlite:///{tmp_path}/x.db")
    assert run(capsys, *db, "db", "upgrade")[0] == 0
    if package == "sealing":
        monkeypatch.setenv("HENNAN_FLOW_KEY", "bm90IGEga2V5")  # base64, but of 9 bytes: not a key
        fragment = "应为 32 字节"
    code, err = run(capsys, *db, *(a.replace("{tmp}", str(tmp_path)) for a in args))
    assert code == 2 and err.startswith("错误：") and err.count("\n") == 1, err
    assert fragment in err, err
    assert english_left(err) == [], err


def test_a_non_utf8_argument_is_refused_in_chinese(capsys: pytest.CaptureFixture[str]) -> None:
    code, err = run(capsys, "case", "show", "\udcd5\udcc5")
    assert code == 2 and err.startswith("错误：第 3 个参数 ") and "不是 UTF-8 文本。建议：" in err
    assert english_left(err) == [], err


def test_the_json_error_keeps_its_english_code(capsys: pytest.CaptureFixture[str], tmp_path: object) -> None:
    with pytest.raises(SystemExit) as info:
        main(["--db", f"sqlite:///{tmp_path}/x.db", "case", "list", "--state", "bogus", "--format", "json"])
    out = capsys.readouterr().out
    assert info.value.code == 2 and '"code": "usage"' in out and "可选值为" in out


def test_the_check_fails_on_an_english_message() -> None:
    """Put click's own wording back: the regex finds it, so the tests above can fail."""
    english = click.BadParameter("'bogus' is not one of 'open', 'completed'.", param_hint="'--state'")
    assert english_left(f"错误：{english.format_message()}") != []
    assert english_left(f"错误：{usage_message(click.UsageError('No such command here.'))}") != []
    assert english_left("错误：没有命令 lst（查看：hennan-flow case --help）") == []
    # a library message as it was before it was translated
    assert english_left("错误：no card 'nope'。建议：list cards with: hennan-flow card list") != []
    assert english_left("错误：没有红黄牌 'nope'。建议：查看红黄牌：hennan-flow card list") == []
    assert english_left("错误：no task 'nope'。建议：list tasks with: hennan-flow task list") != []
