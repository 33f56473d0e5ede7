"""WorkCalendar: chinese-calendar plus county overrides, exact inside the data, loud outside it.

The packaged data reaches at least 2026-12-31; these tests never assume where it ends, except that
2031 is outside it.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import chinese_calendar
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers import year_file
from hennan_flow.clock.statutory import weekday_holidays
from hennan_flow.clock.workdays import CalendarOverride, WorkCalendar, load_override, parse_override
from hennan_flow.errors import CalendarRangeError, ConfigError

# A county file for 2031, a year outside the packaged data: 01-01 (Wed) off, 01-25 (Sat) worked.
OVERRIDE_2031 = year_file(2031, "hengnan-2031-1", rest=("2031-01-01",), work=("2031-01-25",))

# Inside the packaged data, with sample dates (2004 .. 2025, so n working days later stays inside).
days = st.dates(min_value=date(2004, 1, 1), max_value=date(2025, 12, 31))
counts = st.integers(min_value=1, max_value=100)


@pytest.fixture(scope="module")
def cal() -> WorkCalendar:
    return WorkCalendar()


def naive_add(day: date, n: int) -> date:
    """The oracle: walk day by day with chinese_calendar itself."""
    while n:
        day += timedelta(days=1)
        n -= chinese_calendar.is_workday(day)
    return day


# --- the packaged data ---------------------------------------------------------------------------


def test_version_names_the_package(cal: WorkCalendar) -> None:
    assert cal.version == f"chinese-calendar-{chinese_calendar.__version__}"


def test_every_covered_day_agrees_with_chinese_calendar(cal: WorkCalendar) -> None:
    day = cal.first_date
    while day <= cal.last_date:
        assert cal.is_workday(day) == chinese_calendar.is_workday(day), day
        day += timedelta(days=1)


def test_range_starts_by_2004_and_reaches_2026(cal: WorkCalendar) -> None:
    assert cal.first_date <= date(2004, 1, 1)
    assert cal.last_date >= date(2026, 12, 31)
    assert cal.last_date.month == 12 and cal.last_date.day == 31
    assert cal.ranges == ((cal.first_date, cal.last_date),)


def test_make_up_weekends_and_holidays_2022(cal: WorkCalendar) -> None:
    assert cal.is_workday(date(2022, 10, 8))  # Saturday, 国庆 调休
    assert cal.is_workday(date(2022, 1, 30))  # Sunday, 春节 调休
    assert not cal.is_workday(date(2022, 10, 3))  # Monday, 国庆
    assert not cal.is_workday(date(2022, 10, 15))  # plain Saturday
    assert cal.is_workday(date(2022, 10, 12))  # plain Wednesday


@pytest.mark.parametrize(
    ("start", "n", "expected"),
    [
        (date(2022, 9, 29), 5, date(2022, 10, 11)),  # domain.md §2.4
        (date(2022, 9, 29), 4, date(2022, 10, 10)),
        (date(2022, 9, 29), 20, date(2022, 11, 1)),
        (date(2022, 11, 1), 10, date(2022, 11, 15)),
        (date(2022, 1, 27), 3, date(2022, 1, 30)),
        (date(2026, 2, 12), 5, date(2026, 2, 26)),
        (date(2022, 10, 1), 1, date(2022, 10, 8)),  # counting from a holiday
    ],
)
def test_add_workdays_worked_examples(cal: WorkCalendar, start: date, n: int, expected: date) -> None:
    assert cal.add_workdays(start, n) == expected


def test_add_workdays_needs_a_positive_n(cal: WorkCalendar) -> None:
    with pytest.raises(ValueError):
        cal.add_workdays(date(2022, 9, 29), 0)


def test_next_workday(cal: WorkCalendar) -> None:
    assert cal.next_workday(date(2022, 10, 1)) == date(2022, 10, 8)
    assert cal.next_workday(date(2022, 10, 8)) == date(2022, 10, 8)
    assert cal.next_workday(date(2022, 10, 8), inclusive=False) == date(2022, 10, 9)


def test_workdays_in_is_half_open(cal: WorkCalendar) -> None:
    # 09-29, 09-30, 10-08, 10-09, 10-10, 10-11
    assert cal.workdays_in(date(2022, 9, 29), date(2022, 10, 12)) == 6
    assert cal.workdays_in(date(2022, 10, 10), date(2022, 10, 13)) == 3
    assert cal.workdays_in(date(2022, 10, 10), date(2022, 10, 10)) == 0
    assert cal.workdays_in(date(2022, 10, 13), date(2022, 10, 10)) == 0


def test_rest_and_make_up_days_2022(cal: WorkCalendar) -> None:
    rest = cal.rest_days(2022)
    assert [date(2022, 10, d) for d in (3, 4, 5, 6, 7)] == [d for d in rest if d.month == 10]
    assert all(d.weekday() < 5 and d.year == 2022 for d in rest)
    assert cal.make_up_days(2022) == [
        date(2022, 1, 29),
        date(2022, 1, 30),
        date(2022, 4, 2),
        date(2022, 4, 24),
        date(2022, 5, 7),
        date(2022, 10, 8),
        date(2022, 10, 9),
    ]
    assert cal.holiday_name(date(2022, 10, 3)) == "国庆节"
    assert cal.holiday_name(date(2022, 10, 8)) == "国庆节"
    assert cal.holiday_name(date(2022, 10, 12)) is None


# --- outside the data ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "call",
    [
        lambda c: c.is_workday(date(2031, 3, 3)),
        lambda c: c.add_workdays(date(2031, 3, 3), 1),
        lambda c: c.next_workday(date(2031, 3, 3)),
        lambda c: c.workdays_in(date(2031, 3, 3), date(2031, 3, 10)),
        lambda c: c.rest_days(2031),
        lambda c: c.make_up_days(2031),
    ],
)
def test_2031_raises_naming_the_year(cal: WorkCalendar, call: object) -> None:
    assert callable(call)
    with pytest.raises(CalendarRangeError) as info:
        call(cal)
    assert info.value.year == 2031
    assert "2031" in str(info.value)
    assert "--calendar" in str(info.value)  # the hint says how to add the year
    assert not cal.covers(date(2031, 3, 3))


def test_crossing_the_end_of_the_data_raises_for_the_next_year(cal: WorkCalendar) -> None:
    next_year = cal.last_date.year + 1
    with pytest.raises(CalendarRangeError) as info:
        cal.add_workdays(cal.last_date - timedelta(days=3), 10)
    assert info.value.year == next_year
    with pytest.raises(CalendarRangeError):
        cal.workdays_in(cal.last_date - timedelta(days=3), cal.last_date + timedelta(days=2))
    with pytest.raises(CalendarRangeError):
        cal.next_workday(cal.last_date, inclusive=False)
    before = cal.first_date - timedelta(days=1)
    with pytest.raises(CalendarRangeError) as info:
        cal.is_workday(before)
    assert info.value.year == before.year


# --- overrides -----------------------------------------------------------------------------------


def test_parse_override() -> None:
    override = parse_override(OVERRIDE_2031, source="hengnan-2031.toml")
    assert override == CalendarOverride(
        version="hengnan-2031-1",
        years=(2031,),
        rest=tuple(sorted(weekday_holidays(2031))),  # a covering file keeps every statutory weekday off
        work=(date(2031, 1, 25),),
        source="hengnan-2031.toml",
    )


def test_toml_dates_are_accepted() -> None:
    text = 'version = "x"\nreason = "闭馆"\nrest = [2022-10-12]\n'
    assert parse_override(text).rest == (date(2022, 10, 12),)


def test_an_override_adds_2031() -> None:
    cal = WorkCalendar([parse_override(OVERRIDE_2031)])
    assert cal.version == f"chinese-calendar-{chinese_calendar.__version__}+hengnan-2031-1"
    assert cal.covers(date(2031, 3, 3))
    assert not cal.is_workday(date(2031, 1, 1))
    assert cal.is_workday(date(2031, 1, 25))
    assert cal.add_workdays(date(2030, 12, 31), 1) == date(2031, 1, 2)  # 12-31 itself is not counted
    assert cal.add_workdays(date(2031, 1, 23), 1) == date(2031, 1, 25)  # 01-24 is 春节
    assert cal.rest_days(2031) == sorted(weekday_holidays(2031))
    assert cal.make_up_days(2031) == [date(2031, 1, 25)]
    assert cal.ranges[-1] == (date(2031, 1, 1), date(2031, 12, 31))
    with pytest.raises(CalendarRangeError) as info:
        cal.add_workdays(date(2031, 12, 30), 2)
    assert info.value.year == 2032


def test_an_adjacent_year_extends_the_contiguous_range() -> None:
    base = WorkCalendar()
    year = base.last_date.year + 1
    cal = WorkCalendar([parse_override(year_file(year, "next"))])
    assert cal.last_date == date(year, 12, 31)
    assert cal.first_date == base.first_date
    # working days run on across the old end of the data
    assert cal.add_workdays(base.last_date, 1) <= date(year, 1, 7)


def test_a_listed_year_is_defined_by_the_override_alone() -> None:
    cal = WorkCalendar([parse_override('version = "flat-2022"\nyears = [2022]\n')])
    assert cal.is_workday(date(2022, 10, 3))  # no 国庆 in this file
    assert not cal.is_workday(date(2022, 10, 8))
    assert cal.holiday_name(date(2022, 10, 3)) is None


def test_a_local_closure_applies_on_top_of_the_package() -> None:
    text = (
        'version = "flood-1"\nyears = []\nreason = "防汛闭馆"\nrest = ["2022-10-12"]\nwork = ["2022-10-15"]\n'
    )
    cal = WorkCalendar([parse_override(text)])
    assert not cal.is_workday(date(2022, 10, 12))
    assert cal.is_workday(date(2022, 10, 15))
    assert cal.is_workday(date(2022, 10, 8))  # the package's 调休 stays
    assert cal.add_workdays(date(2022, 10, 10), 3) == date(2022, 10, 14)
    assert cal.add_workdays(date(2022, 10, 10), 4) == date(2022, 10, 15)


def test_show_output_round_trips_as_an_override(cal: WorkCalendar) -> None:
    """A year's rest and work lists, written as an override for that year, give the same calendar."""
    quoted = ", ".join
    text = (
        'version = "copy-2022"\nyears = [2022]\n'
        f"rest = [{quoted(repr(d.isoformat()) for d in cal.rest_days(2022))}]\n"
        f"work = [{quoted(repr(d.isoformat()) for d in cal.make_up_days(2022))}]\n"
    ).replace("'", '"')
    copy = WorkCalendar([parse_override(text)])
    day = date(2022, 1, 1)
    while day.year == 2022:
        assert copy.is_workday(day) == cal.is_workday(day), day
        day += timedelta(days=1)


# --- malformed override files --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ('version = "a"\nyears = [2031]\nrest = ["2031-01-01",\n', 3, "不是有效的 TOML"),
        ('version = "a"\nyears = [2031\nrest = ["2031-01-01"]\n', 3, "不是有效的 TOML"),
        ('version = "a"\nversion = "b"\n', 2, "不是有效的 TOML：值重复定义"),
        ('version = "a"\nyears = [2031]\nrest = ["2031-01-01"]\nwrok = ["2031-01-25"]\n', 4, "wrok"),
        (
            'version = "a"\nyears = [2031]\nrest = [\n  "2031-01-01",\n  "2031-01-04",\n]\n',
            5,
            "是周末；rest 只列",
        ),
        ('version = "a"\nyears = [2031]\n\nwork = ["2031-01-27"]\n', 4, "不是周末；work 只列"),
        ('version = "a"\nyears = [2031]\nrest = ["2031-13-01"]\n', 3, "不是 YYYY-MM-DD 格式的日期"),
        ('version = "a"\nyears = [2031]\nrest = ["next monday"]\n', 3, "不是 YYYY-MM-DD 格式的日期"),
        ('version = "a"\nyears = []\nreason = "r"\nrest = ["2031-01-01"]\n', 4, "2031"),
        ('version = "a"\nyears = []\nrest = ["2022-10-12"]\n', 1, "须说明原因"),
        ('version = "a"\nyears = ["2031"]\n', 2, "years 须为"),
        ('years = [2031]\nversion = "two words"\n', 2, "version 须为"),
        ('version = "a"\nrest = [2031-01-01T09:00:00]\nyears = [2031]\n', 2, "不是 YYYY-MM-DD 格式的日期"),
    ],
)
def test_malformed_override_names_file_and_line(text: str, line: int, words: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_override(text, source="county.toml")
    message = str(info.value)
    assert message.startswith(f"county.toml:{line}: "), message
    assert words in message
    assert info.value.location is not None and info.value.location.line == line


def test_missing_version_is_an_error() -> None:
    with pytest.raises(ConfigError, match="version 须为"):
        parse_override("years = [2031]\n", source="county.toml")


def test_load_override_reads_a_file(tmp_path: Path) -> None:
    path = tmp_path / "hengnan-2031.toml"
    path.write_text(OVERRIDE_2031, encoding="utf-8")
    assert load_override(path).source == str(path)
    assert load_override(str(path)).years == (2031,)


def test_load_override_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "missing.toml"
    with pytest.raises(ConfigError) as info:
        load_override(path)
    assert str(path) in str(info.value)


def test_load_override_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "gbk.toml"
    path.write_bytes('version = "衡南"\n'.encode("gbk"))
    with pytest.raises(ConfigError, match="UTF-8"):
        load_override(path)


# --- properties ----------------------------------------------------------------------------------


@settings(max_examples=300)
@given(day=days, n=counts, m=counts)
def test_adding_n_then_m_equals_adding_n_plus_m(cal: WorkCalendar, day: date, n: int, m: int) -> None:
    assert cal.add_workdays(cal.add_workdays(day, n), m) == cal.add_workdays(day, n + m)


@settings(max_examples=300)
@given(day=days, n=counts)
def test_a_workday_deadline_is_a_working_day(cal: WorkCalendar, day: date, n: int) -> None:
    due = cal.add_workdays(day, n)
    assert cal.is_workday(due)
    assert chinese_calendar.is_workday(due)
    # exactly n working days in (day, due]
    assert cal.workdays_in(day + timedelta(days=1), due + timedelta(days=1)) == n


@settings(max_examples=150)
@given(day=days, n=st.integers(min_value=1, max_value=30))
def test_add_workdays_matches_a_day_by_day_walk(cal: WorkCalendar, day: date, n: int) -> None:
    assert cal.add_workdays(day, n) == naive_add(day, n)


@settings(max_examples=150)
@given(a=days, b=days)
def test_workdays_in_matches_counting(cal: WorkCalendar, a: date, b: date) -> None:
    a, b = min(a, b), max(a, b)
    b = min(b, a + timedelta(days=120))
    expected = sum(chinese_calendar.is_workday(a + timedelta(days=i)) for i in range((b - a).days))
    assert cal.workdays_in(a, b) == expected
