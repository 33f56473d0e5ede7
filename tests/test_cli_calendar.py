"""`hennan-flow calendar add|show`, through the CLI's one error boundary (`hennan_flow.cli.main`)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import chinese_calendar
import pytest
from click.testing import CliRunner

from helpers import year_file
from hennan_flow.cli import cli, main
from hennan_flow.clock.statutory import weekday_holidays

VERSION = f"chinese-calendar-{chinese_calendar.__version__}"
OVERRIDE_2031 = year_file(2031, "hengnan-2031-1", rest=("2031-01-01",), work=("2031-01-25",))


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """Run the console script in-process: (exit code, stdout, stderr)."""
    with pytest.raises(SystemExit) as info:
        main(list(args))
    captured = capsys.readouterr()
    code = info.value.code
    return (code if isinstance(code, int) else 1), captured.out, captured.err


@pytest.fixture
def county_file(tmp_path: Path) -> str:
    path = tmp_path / "hengnan-2031.toml"
    path.write_text(OVERRIDE_2031, encoding="utf-8")
    return str(path)


@pytest.fixture(autouse=True)
def no_database_here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Run in an empty folder: the default sqlite:///hennan_flow.db must never appear."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("HENNAN_FLOW_DB", raising=False)
    yield
    assert not (tmp_path / "hennan_flow.db").exists()


# --- calendar add --------------------------------------------------------------------------------


def test_add_prints_only_the_date(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "calendar", "add", "2022-09-29", "5") == (0, "2022-10-11\n", "")


@pytest.mark.parametrize(
    ("start", "n", "unit", "expected"),
    [
        ("2022-09-29", "20", "workday", "2022-11-01"),
        ("2022-01-27", "3", "workday", "2022-01-30"),
        ("2026-02-12", "5", "workday", "2026-02-26"),
        ("2022-09-29", "20", "natural_day", "2022-10-19"),
        ("2022-09-29", "2", "natural_day", "2022-10-08"),
    ],
)
def test_add_worked_examples(
    capsys: pytest.CaptureFixture[str], start: str, n: str, unit: str, expected: str
) -> None:
    assert run(capsys, "calendar", "add", start, n, "--unit", unit) == (0, expected + "\n", "")


@pytest.mark.parametrize(
    "args",
    [
        ("--format", "json", "calendar", "add", "2022-09-29", "5"),
        ("calendar", "add", "2022-09-29", "5", "--format", "json"),
        ("--format", "text", "calendar", "add", "--format", "json", "2022-09-29", "5"),
    ],
)
def test_add_json(capsys: pytest.CaptureFixture[str], args: tuple[str, ...]) -> None:
    code, out, err = run(capsys, *args)
    assert (code, err) == (0, "")
    assert json.loads(out) == {
        "date": "2022-10-11",
        "start": "2022-09-29",
        "n": 5,
        "unit": "workday",
        "calendar": VERSION,
    }


def test_add_never_opens_the_database(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/no/such/dir/x.db"
    assert run(capsys, "--db", url, "calendar", "add", "2022-09-29", "5") == (0, "2022-10-11\n", "")


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (("2022-09-29", "0"), "N 须为 1 到"),
        (("2022-09-29", "-3"), "N 须为 1 到"),
        (("2022-09-29", "five"), "N 须为 1 到"),
        (("2022-02-30", "3"), "不是 YYYY-MM-DD 格式的日期"),
        (("29/09/2022", "3"), "不是 YYYY-MM-DD 格式的日期"),
    ],
)
def test_add_bad_input_is_one_line_exit_2(
    capsys: pytest.CaptureFixture[str], args: tuple[str, ...], words: str
) -> None:
    code, out, err = run(capsys, "calendar", "add", *args)
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1 and err.startswith("错误：")
    assert words in err


def test_add_unknown_unit_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "calendar", "add", "2022-09-29", "3", "--unit", "hour")
    assert code == 2
    assert out == ""
    assert "参数 --unit 的值无效（收到 'hour'）：可选值为 workday、natural_day" in err


def test_2031_is_exit_2_with_one_line_saying_how_to_add_it(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "calendar", "add", "2031-03-03", "5")
    assert (code, out) == (2, "")
    assert err.count("\n") == 1
    assert err.startswith("错误：没有 2031 年的工作日数据")
    assert "--calendar FILE" in err and "years = [2031]" in err


def test_an_override_file_adds_2031(capsys: pytest.CaptureFixture[str], county_file: str) -> None:
    assert run(capsys, "--calendar", county_file, "calendar", "add", "2031-03-03", "5") == (
        0,
        "2031-03-10\n",
        "",
    )
    code, out, _ = run(
        capsys, "--calendar", county_file, "--format", "json", "calendar", "add", "2030-12-31", "1"
    )
    assert code == 0
    assert json.loads(out)["date"] == "2031-01-02"  # 2031-01-01 is a day off in the county file
    assert json.loads(out)["calendar"] == VERSION + "+hengnan-2031-1"


def test_a_malformed_override_file_names_its_line(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text('version = "x"\nyears = [2031]\nwork = ["2031-01-27"]\n', encoding="utf-8")
    code, out, err = run(capsys, "--calendar", str(path), "calendar", "add", "2031-03-03", "5")
    assert (code, out) == (2, "")
    assert err.startswith(f"错误：{path}:3: ")
    assert "2031-01-27 不是周末" in err


def test_a_missing_override_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, out, err = run(
        capsys, "--calendar", str(tmp_path / "nope.toml"), "calendar", "add", "2022-09-29", "5"
    )
    assert (code, out) == (2, "")
    assert "nope.toml" in err and err.count("\n") == 1


# --- calendar show -------------------------------------------------------------------------------


def test_show_text(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "calendar", "show", "2022")
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert "2022-10-03 Mon rest 国庆节" in lines
    assert "2022-10-08 Sat work 国庆节" in lines
    assert "2022-01-30 Sun work 春节" in lines
    assert lines == sorted(lines)
    assert len(lines) == len({line.split()[0] for line in lines})  # one line per day
    assert not any(" Sat rest" in line or " Sun rest" in line for line in lines)


def test_show_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "calendar", "show", "2022", "--format", "json")
    assert code == 0
    document = json.loads(out)
    assert document["year"] == 2022
    assert document["calendar"] == VERSION
    assert document["work"] == [
        "2022-01-29",
        "2022-01-30",
        "2022-04-02",
        "2022-04-24",
        "2022-05-07",
        "2022-10-08",
        "2022-10-09",
    ]
    assert {"2022-10-03", "2022-10-07", "2022-01-31"} <= set(document["rest"])
    assert "2022-10-01" not in document["rest"]  # a Saturday: days off are weekdays
    assert document["names"]["2022-10-03"] == "国庆节"


def test_show_2031_and_with_an_override(capsys: pytest.CaptureFixture[str], county_file: str) -> None:
    code, out, err = run(capsys, "calendar", "show", "2031")
    assert (code, out) == (2, "")
    assert err.count("\n") == 1 and "2031" in err
    code, out, _ = run(capsys, "--calendar", county_file, "--format", "json", "calendar", "show", "2031")
    assert code == 0
    assert json.loads(out) == {
        "year": 2031,
        "calendar": VERSION + "+hengnan-2031-1",
        "rest": sorted(d.isoformat() for d in weekday_holidays(2031)),
        "work": ["2031-01-25"],
        "names": {d.isoformat(): n for d, n in weekday_holidays(2031).items()},
    }


@pytest.mark.parametrize("year", ["twenty", "0", "-1"])
def test_show_bad_year(capsys: pytest.CaptureFixture[str], year: str) -> None:
    code, out, err = run(capsys, "calendar", "show", "--", year)
    assert (code, out) == (2, "")
    assert "YEAR" in err


# --- through click's runner ----------------------------------------------------------------------


def test_runner_without_standalone_mode_raises_the_library_error() -> None:
    """Embedders see the typed error; only `main` turns it into a line and an exit code."""
    from hennan_flow.errors import CalendarRangeError

    with pytest.raises(CalendarRangeError):
        cli.main(["calendar", "add", "2031-03-03", "5"], standalone_mode=False)


def test_group_lists_its_commands() -> None:
    result = CliRunner().invoke(cli, ["calendar", "--help"], catch_exceptions=False)
    assert result.exit_code == 0
    assert "add" in result.output and "show" in result.output
