"""Bad input through every CLI path (issue 28 item 5, issue 18 JSON errors): exit 2 with one line (or
one JSON error document), never a traceback, never exit 3; the same limits on SQLite and PostgreSQL.

The property test feeds random bytes, numbers and nesting to every option and argument that takes
a value, of every command the CLI has, and asserts the exit code is one of 0, 1, 2, 4.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import click
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from helpers import ACCEPT, REVIEW_LIB
from hennan_flow.cli import cli as root_command
from hennan_flow.cli import main
from hennan_flow.engine import Engine
from hennan_flow.limits import MAX_NAME

NOW = "2026-03-02T09:00:00+08:00"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    with pytest.raises(SystemExit) as info:
        main(list(argv))
    out, err = capsys.readouterr()
    code = info.value.code
    return (code if isinstance(code, int) else 0), out, err


def one_line(err: str) -> str:
    assert err.startswith("错误：") and err.count("\n") == 1, err
    assert "Traceback" not in err and "内部错误" not in err
    return err


@pytest.fixture
def review(db_url: str, tmp_path: Path) -> Iterator[tuple[str, str, str]]:
    """A simulation database with the review bundle and one case: (url, case id, ready task id)."""
    shutil.copytree(REVIEW_LIB, tmp_path / "lib")
    Engine(db_url).upgrade(simulation=True)
    with Engine(db_url) as engine:
        engine.deploy(str(tmp_path / "lib" / "processes"), forms=str(tmp_path / "lib" / "forms"))
        case = engine.start_case("review", applicant={"name": "王五"})
        yield db_url, case.id, case.ready[0].id


# -- the inputs the issue lists, each on both backends ------------------------------------------


def test_text_lengths_are_checked_before_the_database_sees_them(
    review: tuple[str, str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    """A 300-character actor: PostgreSQL's varchar(255) refused it with exit 3, SQLite stored it."""
    url, _, task = review
    data = json.dumps(ACCEPT, ensure_ascii=False)
    rc, _, err = run(
        capsys, "--db", url, "--now", NOW, "task", "complete", task, "--data", data, "--actor", "张" * 300
    )
    assert rc == 2
    assert "--actor" in one_line(err) and f"最多 {MAX_NAME} 个" in err
    rc, _, err = run(
        capsys,
        "--db",
        url,
        "--now",
        NOW,
        "task",
        "complete",
        task,
        "--data",
        data,
        "--actor",
        "张" * MAX_NAME,
    )
    assert rc == 0, err


@pytest.mark.parametrize("days", [str(2**31), str(2**63), "9" * 5000, "0", "-1"])
def test_extension_days_are_bounded(
    review: tuple[str, str, str], capsys: pytest.CaptureFixture[str], days: str
) -> None:
    url, _, task = review
    rc, _, err = run(
        capsys,
        "--db",
        url,
        "--now",
        NOW,
        "task",
        "extend",
        task,
        "--days",
        days,
        "--approver",
        "局长",
        "--reason",
        "复杂",
    )
    assert rc == 2
    assert "--days" in one_line(err)


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (("--now", "0001-01-01T00:00:00", "task", "list"), "不在 1970–2999 年之间"),
        (("--now", "9999-12-31T23:59:59", "task", "list"), "不在 1970–2999 年之间"),
        (("report", "supervision", "--to", "9999-12-31"), "不在 1970–2999 年之间"),
        (("report", "supervision", "--from", "0001-01-01"), "不在 1970–2999 年之间"),
        (("review", "summary", "--to", "9999-12-31"), "不在 1970–2999 年之间"),
        (("sla", "sweep", "--lease", "inf"), "--lease"),
        (("sla", "sweep", "--budget", "nan"), "--budget"),
        (("commitment", "repair", str(2**63), "--note", "x"), "RECORD_ID"),
        (("case", "start", "review", "--data", "[" * 100_000 + "]" * 100_000), "嵌套超过"),
        (
            ("case", "start", "review", "--data", '{"n": ' + "9" * 5000 + "}"),
            "--data 不是有效的 JSON：数字的位数过多",
        ),
        (("case", "start", "review", "--data", '{"n": 1e999}'), "不是 JSON 能表示的数"),
        (("case", "start", "review", "--data", '{"n": NaN}'), "不是有效的 JSON"),
        (("case", "start", "review", "--applicant", '{"name": "\\ud800"}'), "不是有效的 UTF-8 文本"),
        (("case", "show", "x" * 10_000), "最多 255 个"),
    ],
    ids=lambda v: v if isinstance(v, str) else " ".join(a[:20] for a in v)[:60],
)
def test_bad_values_exit_2_with_one_line(
    review: tuple[str, str, str], capsys: pytest.CaptureFixture[str], args: tuple[str, ...], words: str
) -> None:
    url = review[0]
    rc, out, err = run(capsys, "--db", url, *args)
    assert (rc, out) == (2, ""), err
    assert words in one_line(err)


@pytest.mark.parametrize(
    "command",
    [
        ("case", "show", "{}"),
        ("case", "list", "--key", "{}"),
        ("task", "list", "--case", "{}"),
        ("task", "list", "--department", "{}"),
        ("task", "complete", "{}"),
        ("task", "pause", "{}", "--reason", "supplement"),
        ("task", "resume", "{}"),
        ("task", "extend", "{}", "--days", "1", "--approver", "a", "--reason", "b"),
        ("task", "form", "{}"),
        ("card", "show", "{}"),
        ("card", "list", "--case", "{}"),
        ("card", "advance", "{}", "--to", "verifying", "--note", "n"),
        ("commitment", "show", "{}"),
        ("material", "supply", "{}", "m"),
        ("review", "add", "{}", "--level", "1", "--channel", "window"),
        ("review", "show", "{}"),
        ("validate", "{}.bpmn"),
        ("deploy", "{}.bpmn"),
        ("calendar", "load", "{}.toml"),
    ],
    ids=lambda c: " ".join(c[:2]),
)
def test_arguments_that_are_not_utf8_exit_2(
    review: tuple[str, str, str], capsys: pytest.CaptureFixture[str], command: tuple[str, ...]
) -> None:
    """张三 typed in a GBK terminal: bytes Python decodes with surrogateescape."""
    gbk = os.fsdecode("张三".encode("gbk"))
    argv = [a.replace("{}", gbk) for a in command]
    rc, out, err = run(capsys, "--db", review[0], *argv)
    assert (rc, out) == (2, "")
    assert "不是 UTF-8 文本" in one_line(err)
    # the JSON contract: one error document on stdout, the same exit code
    rc, out, err = run(capsys, "--db", review[0], "--format", "json", *argv)
    assert (rc, err) == (2, "")
    assert json.loads(out)["error"]["code"] == "input"


def test_a_database_url_naming_another_file_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = tmp_path / "notes.db"
    text.write_text("not a database\n", encoding="utf-8")
    for argv in (("task", "list"), ("db", "current"), ("db", "upgrade")):
        rc, _, err = run(capsys, "--db", f"sqlite:///{text}", *argv)
        assert rc == 2 and "不是 SQLite 数据库" in one_line(err)
    assert text.read_text(encoding="utf-8") == "not a database\n"  # untouched
    rc, _, err = run(capsys, "--db", f"sqlite:///{tmp_path}", "task", "list")
    assert rc == 2 and "指向的不是文件" in one_line(err)


def test_data_files_utf16_fifo_and_devices(
    review: tuple[str, str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = review[0]
    utf16 = tmp_path / "applicant.json"
    utf16.write_text(json.dumps({"name": "赵六"}, ensure_ascii=False), encoding="utf-16")  # with its BOM
    rc, out, err = run(
        capsys,
        "--db",
        url,
        "--now",
        NOW,
        "--format",
        "json",
        "case",
        "start",
        "review",
        "--applicant",
        f"@{utf16}",
    )
    assert rc == 0, err
    with Engine(url) as engine:
        assert engine.case(json.loads(out)["id"]).id
    fifo = tmp_path / "data.json"
    os.mkfifo(fifo)
    for source in (fifo, Path("/dev/zero")):
        rc, _, err = run(capsys, "--db", url, "case", "start", "review", "--data", f"@{source}")
        assert rc == 2 and "不是普通文件" in one_line(err)
    latin = tmp_path / "latin.json"
    latin.write_bytes(b'{"name": "caf\xe9"}')
    rc, _, err = run(capsys, "--db", url, "case", "start", "review", "--data", f"@{latin}")
    assert rc == 2 and "不是 UTF-8 文本" in one_line(err)


def test_outputs_refuse_a_fifo_instead_of_blocking(
    review: tuple[str, str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fifo = tmp_path / "report.html"
    os.mkfifo(fifo)
    rc, _, err = run(
        capsys, "--db", review[0], "report", "supervision", "--format", "html", "--output", str(fifo)
    )
    assert rc == 2 and "不是普通文件" in one_line(err)


# -- the JSON error contract ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "code", "exit_code"),
    [
        (("case", "show", "nope"), "not_found", 2),
        (("task", "extend", "x", "--days", "0", "--approver", "a", "--reason", "b"), "usage", 2),
        (("case", "start", "review", "--data", "{"), "input", 2),
        (("--now", "yesterday", "task", "list"), "config", 2),
        (("validate",), "usage", 2),
    ],
)
def test_errors_are_one_json_document_with_the_same_exit_code(
    review: tuple[str, str, str],
    capsys: pytest.CaptureFixture[str],
    args: tuple[str, ...],
    code: str,
    exit_code: int,
) -> None:
    url = review[0]
    text_rc, _, text_err = run(capsys, "--db", url, *args)
    rc, out, err = run(capsys, "--db", url, "--format", "json", *args)
    assert (rc, text_rc, err) == (exit_code, exit_code, "")
    doc = json.loads(out)
    assert set(doc) == {"error"}
    assert set(doc["error"]) == {"code", "message", "hint", "location"}
    assert doc["error"]["code"] == code
    assert doc["error"]["message"] and doc["error"]["message"] in text_err
    # the format after the subcommand counts too
    rc, out, _ = run(capsys, "--db", url, *args, "--format", "json") if args[0] != "--now" else (rc, out, "")
    assert rc == exit_code and json.loads(out)["error"]["code"] == code


def test_a_bundle_error_carries_its_location(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite:///{tmp_path / 'hf.db'}"
    fifo = tmp_path / "x.bpmn"
    os.mkfifo(fifo)
    assert run(capsys, "--db", url, "db", "upgrade")[0] == 0
    rc, out, _ = run(capsys, "--db", url, "--format", "json", "calendar", "load", str(fifo))
    assert rc == 2
    error = json.loads(out)["error"]
    assert error["location"] == {"file": str(fifo), "line": None, "element": None, "material": None}


def test_task_form_honours_json(
    review: tuple[str, str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url, _, task = review
    rc, out, err = run(capsys, "--db", url, "--format", "json", "task", "form", task)
    assert rc == 0, err
    doc = json.loads(out)
    assert doc["task"] == task and doc["html"].lstrip().startswith("<")
    target = tmp_path / "form.html"
    rc, out, _ = run(capsys, "--db", url, "task", "form", task, "--output", str(target), "--format", "json")
    assert rc == 0 and json.loads(out) == {"task": task, "written": str(target)}
    assert target.read_text(encoding="utf-8").lstrip().startswith("<")


@pytest.mark.slow
def test_demo_honours_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite:///{tmp_path / 'demo.db'}"
    rc, out, err = run(capsys, "--db", url, "--format", "json", "demo")
    assert rc == 0, err
    doc = json.loads(out)
    assert doc["database"] == url and doc["completed"] == len(doc["cases"]) > 0
    assert (
        f"共 {len(doc['cases'])} 件案件，已办结 {doc['completed']} 件" in err
    )  # the narration went to stderr


# -- every option that takes a value, fed random values ------------------------------------------------


def _value_params() -> list[tuple[tuple[str, ...], click.Parameter]]:
    """(command path, parameter) of every option and argument that takes a value, globals included."""
    found: list[tuple[tuple[str, ...], click.Parameter]] = []
    ctx = click.Context(root_command)

    def visit(path: tuple[str, ...], command: click.Command) -> None:
        for param in command.params:
            if isinstance(param, click.Option) and (param.is_flag or param.count or param.hidden):
                continue
            if param.name in {"help", "version"}:
                continue
            found.append((path, param))
        if isinstance(command, click.Group):
            sub_ctx = click.Context(command, parent=ctx)
            for name in command.list_commands(sub_ctx):
                if not path and name == "serve":  # serves until stopped: tests/test_http_*.py run it
                    continue
                sub = command.get_command(sub_ctx, name)
                if sub is not None:
                    visit((*path, name), sub)

    visit((), root_command)
    return found


VALUE_PARAMS = _value_params()
PATHLIKE = {"paths", "file", "output", "forms_dir", "calendar_file", "catalogs"}
FILLER = {
    "start": "2026-03-02",  # calendar add DATE
    "n": "5",
    "year": "2026",
    "days": "1",
    "level": "1",
    "revision": "head",
}


def _filler(param: click.Parameter) -> str:
    if isinstance(param.type, click.Choice):
        return str(param.type.choices[0])
    return FILLER.get(param.name or "", "x")


def _argv(path: tuple[str, ...], target: click.Parameter, value: str) -> list[str]:
    """The command with every required parameter filled, and `value` for `target`."""
    command: click.Command = root_command
    ctx = click.Context(root_command)
    for name in path:
        assert isinstance(command, click.Group)
        found = command.get_command(ctx, name)
        assert found is not None
        command = found
    args: list[str] = []
    options: list[str] = []
    for param in command.params:
        given = value if param is target else (_filler(param) if param.required else None)
        if given is None:
            continue
        if isinstance(param, click.Argument):
            args.append(given)
        else:
            options += [param.opts[0], given]
    return [*path, *options, "--", *args] if args else [*path, *options]


def _sanitize(value: str) -> str:
    """Paths stay inside the test's folder: relative, no parent steps, no device names."""
    value = value.lstrip("/@").replace("..", "_") or "empty"
    return value


nesting = st.integers(min_value=1, max_value=200_000).map(lambda n: "[" * n + "]" * n) | st.integers(
    min_value=1, max_value=5000
).map(lambda n: '{"a": ' * n + "1" + "}" * n)
numbers = (
    st.integers(min_value=-(2**300), max_value=2**300).map(str)
    | st.sampled_from(["inf", "-inf", "nan", "1e999", "-0", "0", "9" * 5000, "0x10", "1_000"])
    | st.floats(allow_nan=True, allow_infinity=True).map(repr)
)
instants = st.sampled_from(
    [
        "0001-01-01T00:00:00",
        "9999-12-31T23:59:59",
        "9999-12-31",
        "0001-01-01",
        "2026-02-30",
        "2026-03-02T25:00",
    ]
)
garbage = (
    st.binary(max_size=40).map(os.fsdecode)  # any bytes, as a terminal sends them
    | st.text(max_size=40)
    | st.text(alphabet=st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF), min_size=1, max_size=3)
    | st.integers(min_value=256, max_value=20_000).map(lambda n: "长" * n)
)
VALUES = garbage | numbers | nesting | instants


@pytest.fixture(scope="module")
def fuzz_db(tmp_path_factory: pytest.TempPathFactory) -> str:
    folder = tmp_path_factory.mktemp("fuzz")
    shutil.copytree(REVIEW_LIB, folder / "lib")
    url = f"sqlite:///{folder / 'fuzz.db'}"
    Engine(url).upgrade(simulation=True)
    with Engine(url) as engine:
        engine.deploy(str(folder / "lib" / "processes"), forms=str(folder / "lib" / "forms"))
        engine.start_case("review", applicant={"name": "王五"})
    return url


@pytest.mark.slow
@pytest.mark.parametrize(
    ("path", "param"),
    VALUE_PARAMS,
    ids=[
        " ".join((*p, (param.opts[0] if isinstance(param, click.Option) else param.name or "?")))
        for p, param in VALUE_PARAMS
    ],
)
@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=VALUES)
def test_every_value_taking_option_exits_0_1_2_or_4(
    fuzz_db: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    path: tuple[str, ...],
    param: click.Parameter,
    value: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    if (param.name or "") in PATHLIKE or isinstance(param.type, click.Path):
        value = _sanitize(value)
    argv = _argv(path, param, value)
    if path and path[0] != "demo":
        argv = ["--now", NOW, *argv] if param.name != "now" else argv
    rc, out, err = run(capsys, "--db", fuzz_db, *argv)
    assert rc in {0, 1, 2, 4}, (argv[:8], out[-500:], err[-500:])
    assert "Traceback" not in out + err and "内部错误" not in err, err[-500:]
    if rc == 2:
        assert len(err.strip().splitlines()) <= 1, err[-800:]


def test_the_property_test_covers_every_command() -> None:
    commands = {" ".join(p) for p, _ in VALUE_PARAMS}
    for expected in (
        "",
        "task extend",
        "case start",
        "sla sweep",
        "calendar add",
        "report supervision",
        "audit",
        "db downgrade",
        "keys rotate",
    ):
        assert expected in commands, expected
    assert re.search(r"review", " ".join(commands))
