"""County calendar files (issue 28 item 8): parsed in one pass, bounded in what they may list,
refused with the file and line (exit 2) whatever a hostile file holds.
"""

from __future__ import annotations

import os
from datetime import date, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hennan_flow.clock import workdays
from hennan_flow.clock.statutory import weekday_holidays
from hennan_flow.clock.workdays import (
    FIRST_YEAR,
    LAST_YEAR,
    MAX_DATES,
    MAX_YEARS,
    load_override,
    parse_override,
)
from hennan_flow.errors import ConfigError

YEARS = list(range(2031, 2031 + 20))


def weekdays(years: list[int]) -> list[date]:
    day, out = date(years[0], 1, 1), []
    while day.year <= years[-1]:
        if day.weekday() < 5:
            out.append(day)
        day += timedelta(days=1)
    return out


def holidays_of(years: list[int]) -> set[date]:
    """The statutory weekday holidays a file covering `years` must keep off."""
    return {d for y in years for d in weekday_holidays(y)}


def file_of(rest: list[date], years: list[int], work: list[date] | None = None) -> str:
    rest = sorted(set(rest) | holidays_of(years))
    lines = ['version = "big-1"', f"years = {years}", "rest = ["]
    lines += [f'  "{d.isoformat()}",' for d in rest]
    lines += ["]", "work = [" + ", ".join(f'"{d.isoformat()}"' for d in work or ()) + "]"]
    return "\n".join(lines) + "\n"


def test_a_valid_file_is_parsed_without_a_line_lookup_per_date(monkeypatch: pytest.MonkeyPatch) -> None:
    """A line number is looked up only for the error it reports: parsing is one pass (it was one
    search of the whole text per date: a 20,000-date file made every `task list` take 23 s)."""
    calls = []
    real = workdays._line_of
    monkeypatch.setattr(workdays, "_line_of", lambda *a, **k: calls.append(a) or real(*a, **k))
    rest = weekdays(YEARS[:7])  # every weekday of seven years: 1,827 dates
    override = parse_override(file_of(rest, YEARS[:7]))
    assert override.rest == tuple(rest)
    assert calls == []


def test_too_many_dates_are_refused_with_the_bound() -> None:
    rest = weekdays(YEARS)[: MAX_DATES + 1]
    with pytest.raises(ConfigError) as info:
        parse_override(file_of(rest, YEARS), source="big.toml")
    assert f"一个文件最多列 {MAX_DATES:,} 个" in str(info.value)
    assert str(info.value).startswith("big.toml:3: ")  # the line of rest = [


@pytest.mark.parametrize(
    ("years", "words"),
    [
        ([FIRST_YEAR - 1], f"{FIRST_YEAR} 至 {LAST_YEAR} 年之间"),
        ([LAST_YEAR + 1], f"{FIRST_YEAR} 至 {LAST_YEAR} 年之间"),
        ([10**40], f"{FIRST_YEAR} 至 {LAST_YEAR} 年之间"),
        (list(range(2031, 2031 + MAX_YEARS + 1)), f"最多覆盖 {MAX_YEARS} 年"),
    ],
    ids=["before", "after", "huge", "too-many"],
)
def test_years_are_bounded(years: list[int], words: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_override(f'version = "x"\nyears = {years}\n', source="y.toml")
    assert words in str(info.value) and str(info.value).startswith("y.toml:2: ")
    assert len(str(info.value)) < 400  # a huge value is quoted short


@pytest.mark.parametrize(
    "text",
    [
        "version = " + "[" * 100_000 + "]" * 100_000 + "\n",
        "version = " + "{a = " * 2_000 + "1" + "}" * 2_000 + "\n",
        "years = [" + "9" * 5000 + "]\n",
        'version = "x"\nrest = [' + '"2031-01-0' + "1" * 5000 + '"]\n',
    ],
    ids=["deep-arrays", "deep-tables", "huge-integer", "huge-string"],
)
def test_hostile_toml_is_a_config_error(text: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_override(text, source="evil.toml")
    assert str(info.value).startswith("evil.toml")
    assert len(str(info.value)) < 500


def test_files_are_read_bounded_and_regular_only(tmp_path: Path) -> None:
    big = tmp_path / "big.toml"
    big.write_bytes(b"# " + b"x" * workdays.MAX_FILE_BYTES + b"\n")
    with pytest.raises(ConfigError, match="字节的上限"):
        load_override(big)
    fifo = tmp_path / "fifo.toml"
    os.mkfifo(fifo)
    with pytest.raises(ConfigError, match="是命名管道（FIFO），不是普通文件"):
        load_override(fifo)
    gbk = tmp_path / "gbk.toml"
    gbk.write_bytes('version = "x"\n# 衡南县\n'.encode("gbk"))
    with pytest.raises(ConfigError) as info:
        load_override(gbk)
    assert (
        "不是 UTF-8 文本" in str(info.value)
        and info.value.location is not None
        and info.value.location.line == 2
    )


@settings(max_examples=60, deadline=None)
@given(
    picked=st.sets(st.sampled_from(weekdays([2031, 2032])), max_size=200),
    work=st.sets(
        st.sampled_from([d + timedelta(days=5 - d.weekday()) for d in weekdays([2031])[::5]]), max_size=20
    ),
)
def test_a_file_says_exactly_its_dates(picked: set[date], work: set[date]) -> None:
    override = parse_override(file_of(sorted(picked), [2031, 2032], sorted(work)))
    assert override.rest == tuple(sorted(picked | holidays_of([2031, 2032])))
    assert override.work == tuple(sorted(work))
    assert override.years == (2031, 2032)
