"""The working-day calendar behind every statutory deadline (行政许可法 §82: working days).

Working day = Monday to Friday, minus statutory days off, plus 调休 make-up weekends. The data comes
from `chinese-calendar` plus county override files (TOML, DESIGN §4), because the State Council
publishes next year's schedule only each November/December and a county may close locally. A date
outside the data raises `CalendarRangeError`: a deadline is never guessed.

Queries run on the engine's and the sweeper's hot paths, so each `WorkCalendar` precomputes the sorted
ordinals of its working days once and answers with `bisect` (O(log n)), never day by day.
"""

from __future__ import annotations

import functools
import re
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any, NamedTuple

from ..errors import CalendarRangeError, ConfigError, Location
from ..tomlfile import parse_toml, read_toml_text
from .statutory import FIRST_STATUTORY_YEAR, LAST_STATUTORY_YEAR, weekday_holidays

__all__ = ["CalendarOverride", "WorkCalendar", "load_override", "parse_override"]

_DATE_TEXT = re.compile(r"\d{4}-\d{2}-\d{2}")
_VERSION_TEXT = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_KEYS = ("version", "years", "rest", "work", "reason", "provisional")
MAX_REASON = 500  # characters of a local adjustment's reason
STATE_FORMAT = 1  # of WorkCalendar.to_state
# bounds on what one file may say (a real file lists a few dozen days a year): a file is parsed at
# every engine start, so it must stay small, and its years plausible
FIRST_YEAR, LAST_YEAR = 1990, 2199
MAX_YEARS = 30  # years one file may list in `years`
MAX_DATES = 2000  # rest and work dates one file may list, together
MAX_FILE_BYTES = 1 << 20


@dataclass(frozen=True)
class CalendarOverride:
    """One county override file: its version, the years it fully covers, and its adjusted days.

    `rest` holds weekdays that are days off, `work` weekend days that are working days (调休). A file
    listing `years` defines those years alone; one without is a local adjustment (a closure day) with
    its `reason`. `provisional` marks a year built from the statutory holiday list
    (`calendar provisional YEAR`) until the State Council's schedule is loaded.
    """

    version: str
    years: tuple[int, ...] = ()
    rest: tuple[date, ...] = ()
    work: tuple[date, ...] = ()
    source: str = "<file>"
    reason: str | None = None
    provisional: bool = False


class _BaseData(NamedTuple):
    version: str
    first_year: int
    last_year: int
    rest: frozenset[date]  # weekdays off
    work: frozenset[date]  # make-up weekends
    names: dict[date, str]  # Chinese holiday name of each holiday-related day


@functools.cache
def _base_data() -> _BaseData:
    """chinese-calendar's tables, read once: its per-day functions are too slow for hot paths."""
    import chinese_calendar
    from chinese_calendar import constants

    holidays: dict[date, str] = dict(constants.holidays)
    workdays: dict[date, str] = dict(constants.workdays)
    chinese = {h.value: str(h.chinese) for h in constants.Holiday}
    names = {d: chinese.get(name, name) for d, name in (holidays | workdays).items()}
    years = [d.year for d in holidays]  # the years chinese_calendar itself accepts
    return _BaseData(
        version=f"chinese-calendar-{chinese_calendar.__version__}",
        first_year=min(years),
        last_year=max(years),
        rest=frozenset(d for d in holidays if d.weekday() < 5),
        work=frozenset(workdays),
        names=names,
    )


def _line_of(text: str, needle: str, key: str | None = None) -> int | None:
    """The 1-based line of `needle`, searched first from the line that assigns `key`."""
    lines = text.splitlines()
    start = 0
    if key is not None:
        assign = re.compile(rf"^\s*{re.escape(key)}\s*=")
        start = next((i for i, line in enumerate(lines) if assign.match(line)), 0)
    order = list(range(start, len(lines))) + list(range(start))
    found = next((i for i in order if needle in lines[i]), None)
    if found is not None:
        return found + 1
    return start + 1 if key is not None and lines else None


def parse_override(text: str, source: str = "<file>", *, stored: bool = False) -> CalendarOverride:
    """Parse a county override file; a malformed one raises `ConfigError` naming the file and line.

    `stored`: a file read back from the database, checked against the statutory holidays when it was
    loaded; the check (lunar dates, a few ms a year) is not done again at every engine start.
    """

    def fail(message: str, line: int | None) -> ConfigError:
        return ConfigError(
            f"日历文件：{message}",
            location=Location(file=source, line=line),
            hint='参见 README 的 "Calendar files" 一节，例如 version = "hengnan-2027-1"，years = [2027]，'
            "rest = [周一至周五放假的每一天，含法定节假日]，work = [调休上班的周末]",
        )

    data = parse_toml(text, fail)
    for key in data:
        if key not in _KEYS:
            raise fail(f"未知的键 {_short(key)}（可用的键：{'、'.join(_KEYS)}）", _line_of(text, key))

    version = data.get("version")
    if not isinstance(version, str) or not _VERSION_TEXT.fullmatch(version):
        raise fail(
            f"version 须为由字母、数字、'.'、'_' 或 '-' 组成的名称，收到 {_short(version)}",
            _line_of(text, "version", "version") if "version" in data else 1,
        )

    years_value = data.get("years", [])
    if not isinstance(years_value, list) or not all(
        isinstance(y, int) and not isinstance(y, bool) and FIRST_YEAR <= y <= LAST_YEAR for y in years_value
    ):
        raise fail(
            f"years 须为 {FIRST_YEAR} 至 {LAST_YEAR} 年之间年份的列表，收到 {_short(years_value)}",
            _line_of(text, "years", "years"),
        )
    years = tuple(sorted(set(years_value)))
    if len(years) > MAX_YEARS:
        raise fail(
            f"years 列了 {len(years)} 个年份；一个文件最多覆盖 {MAX_YEARS} 年",
            _line_of(text, "years", "years"),
        )
    listed = sum(len(v) for v in (data.get("rest"), data.get("work")) if isinstance(v, list))
    if listed > MAX_DATES:
        raise fail(
            f"rest 和 work 共列了 {listed:,} 个日期；一个文件最多列 {MAX_DATES:,} 个",
            _line_of(text, "rest", "rest") if "rest" in data else _line_of(text, "work", "work"),
        )

    reason = data.get("reason")
    if reason is not None and (not isinstance(reason, str) or not reason.strip() or len(reason) > MAX_REASON):
        raise fail(
            f"reason 须为 1 至 {MAX_REASON} 个字符的文字，收到 {_short(reason)}",
            _line_of(text, "reason", "reason"),
        )
    if not years and reason is None and not stored:  # (a file stored before reasons were asked for)
        raise fail(
            "不列 years 的文件是局部调整（叠加在已覆盖的年份之上），须说明原因："
            '加上 reason = "…"（如 "县政府通知 2026-10-12 防汛闭馆"）；定义整年的文件须在 years 中列出这些年份',
            1,
        )
    provisional = data.get("provisional", False)
    if not isinstance(provisional, bool) or (provisional and not years):
        raise fail("provisional 须为 true 或 false，且只能写在列出 years 的文件中", 1)

    base = _base_data()
    usable = set(years) | set(range(base.first_year, base.last_year + 1))

    def dates(key: str, weekend: bool) -> tuple[date, ...]:
        # one pass over the list; a line number is looked up only for the error it reports
        value = data.get(key, [])
        if not isinstance(value, list):
            raise fail(f"{key} 须为日期列表，收到 {_short(value)}", _line_of(text, key, key))
        out: set[date] = set()
        for item in value:
            day = _as_date(item)
            if day is None:
                raise fail(
                    f"{key}：{_short(item)} 不是 YYYY-MM-DD 格式的日期", _line_of(text, str(item), key)
                )
            if weekend and day.weekday() < 5:
                raise fail(
                    f"work：{day} 不是周末；work 只列调休上班的周末",
                    _line_of(text, day.isoformat(), key),
                )
            if not weekend and day.weekday() >= 5:
                raise fail(
                    f"rest：{day} 是周末；rest 只列放假的周一至周五",
                    _line_of(text, day.isoformat(), key),
                )
            if day.year not in usable:
                raise fail(
                    f"{key}：{day} 属于 {day.year} 年，years 没有列出该年，{base.version} 也不覆盖该年",
                    _line_of(text, day.isoformat(), key),
                )
            out.add(day)
        return tuple(sorted(out))

    rest, work = dates("rest", weekend=False), dates("work", weekend=True)
    if years:
        outside = None if stored else next((d for d in (*rest, *work) if d.year not in years), None)
        if outside is not None:
            raise fail(
                f"{outside} 属于 {outside.year} 年，years 没有列出该年：列出 years 的文件只定义所列的年份"
                "（把该年也列入 years，或把这一天写进带 reason 的局部调整文件）",
                _line_of(text, outside.isoformat()),
            )
        resting = set(rest)
        for year in () if stored else years:
            if not FIRST_STATUTORY_YEAR <= year <= LAST_STATUTORY_YEAR:
                continue
            missing = next(((d, n) for d, n in weekday_holidays(year).items() if d not in resting), None)
            if missing is not None:
                day, name = missing
                raise fail(
                    f"{day}（{name}，{_WEEKDAY_NAMES[day.weekday()]}）是法定节假日"
                    "（《全国年节及纪念日放假办法》），本文件却把它留作工作日：请把它加入 rest",
                    _line_of(text, "years", "years"),
                )
    return CalendarOverride(
        version=version,
        years=years,
        rest=rest,
        work=work,
        source=source,
        reason=reason,
        provisional=provisional,
    )


_WEEKDAY_NAMES = ("周一", "周二", "周三", "周四", "周五", "周六", "周日")


def _short(value: Any) -> str:
    """A value as the error quotes it: its repr, cut at 60 characters."""
    shown = repr(value)
    return shown if len(shown) <= 60 else shown[:57] + "..."


def _as_date(item: Any) -> date | None:
    if isinstance(item, str) and _DATE_TEXT.fullmatch(item):
        try:
            return date.fromisoformat(item)
        except ValueError:
            return None
    if type(item) is date:  # a TOML local date, not a datetime
        return item
    return None


def load_override(path: str | Path) -> CalendarOverride:
    """Read and parse an override file; a missing or unreadable one raises `ConfigError`."""
    text = read_toml_text(path, what="日历文件", max_bytes=MAX_FILE_BYTES)
    return parse_override(text, source=str(path))


class _Segment(NamedTuple):
    start: int  # ordinal of the first covered day
    end: int  # ordinal of the first day after it (not covered)
    lo: int  # index range of its working days in WorkCalendar._ordinals
    hi: int


class WorkCalendar:
    """Working days from chinese-calendar plus county overrides; raises outside its data.

    A year listed in an override's `years` is defined by the newest override listing it alone
    (Monday to Friday, its `rest` and `work` days); local adjustments (no `years`) then apply on top,
    in load order.

    Usage::

        calendar = WorkCalendar([load_override("hengnan-2027.toml")])
        calendar.add_workdays(date(2022, 9, 29), 5)   # date(2022, 10, 11)
        calendar.version                              # "chinese-calendar-1.11.0+hengnan-2027-1"
    """

    def __init__(self, overrides: Iterable[CalendarOverride] = ()) -> None:
        self._overrides: tuple[CalendarOverride, ...] | None = tuple(overrides)
        self._overrides_of: Callable[[], Iterable[CalendarOverride]] = lambda: ()
        base = _base_data()
        self.version: str = "+".join([base.version, *(o.version for o in self.overrides)])
        # a year is defined by the newest file listing it, else by the package data (files replace)
        owner: dict[int, CalendarOverride] = {}
        for o in self.overrides:
            for y in o.years:
                owner[y] = o
        override_years = set(owner)
        base_years = set(range(base.first_year, base.last_year + 1)) - override_years
        self._years = frozenset(base_years | override_years)
        self.provisional_years: frozenset[int] = frozenset(y for y, o in owner.items() if o.provisional)
        rest = {d for y, o in owner.items() for d in o.rest if d.year == y}
        work = {d for y, o in owner.items() for d in o.work if d.year == y}
        for o in self.overrides:  # local adjustments, merged over everything in load order (and the
            # days a file stored before this rule listed outside its years)
            local_rest = [d for d in o.rest if d.year not in o.years]
            local_work = [d for d in o.work if d.year not in o.years]
            rest.update(local_rest)
            work.difference_update(local_rest)
            work.update(local_work)
            rest.difference_update(local_work)
        self._names = {d: n for d, n in base.names.items() if d.year in base_years}
        self._named_years = override_years  # their days' names: looked up when asked (holiday_name)

        ordinals: list[int] = []
        self._rest_days: dict[int, list[date]] = {}
        self._make_up_days: dict[int, list[date]] = {}
        segments: list[_Segment] = []
        for first, last in _runs(sorted(self._years)):
            lo = len(ordinals)
            day, stop = date(first, 1, 1), date(last, 12, 31)
            while day <= stop:
                weekday = day.weekday() < 5
                if day.year in base_years:
                    working = day in base.work or (weekday and day not in base.rest)
                else:
                    working = weekday
                working = day in work or (working and day not in rest)
                if working:
                    ordinals.append(day.toordinal())
                    if not weekday:
                        self._make_up_days.setdefault(day.year, []).append(day)
                elif weekday:
                    self._rest_days.setdefault(day.year, []).append(day)
                day += timedelta(days=1)
            segments.append(_Segment(date(first, 1, 1).toordinal(), stop.toordinal() + 1, lo, len(ordinals)))
        self._ordinals = ordinals
        self._workday_set = frozenset(ordinals)
        self._segments = segments
        self._starts = [s.start for s in segments]
        self._anchor_year = base.last_year

    # --- the built calendar as data (cached per stored version, engine/context.py) --------------

    def to_state(self) -> dict[str, Any]:
        """What this calendar computes with, as JSON-able data (no code): `from_state` rebuilds it."""
        return {
            "format": STATE_FORMAT,
            "version": self.version,
            "anchor": self._anchor_year,
            "years": sorted(self._years),
            "provisional": sorted(self.provisional_years),
            "named": sorted(self._named_years),
            "ordinals": self._ordinals,
            "segments": [list(seg) for seg in self._segments],
            "rest": {str(y): [d.toordinal() for d in ds] for y, ds in self._rest_days.items()},
            "work": {str(y): [d.toordinal() for d in ds] for y, ds in self._make_up_days.items()},
            "names": {str(d.toordinal()): n for d, n in self._names.items()},
        }

    @classmethod
    def from_state(
        cls, state: dict[str, Any], overrides: Callable[[], Iterable[CalendarOverride]]
    ) -> WorkCalendar:
        """A calendar rebuilt from `to_state` data without parsing files or reading chinese-calendar;
        `overrides` parses the files only if someone asks for them. Raises KeyError/TypeError/ValueError
        on data of another shape (the caller builds the calendar afresh then)."""
        if state["format"] != STATE_FORMAT:
            raise ValueError("another state format")
        cal = cls.__new__(cls)
        cal._overrides_of = overrides
        cal._overrides = None
        cal.version = str(state["version"])
        cal._anchor_year = int(state["anchor"])
        cal._years = frozenset(int(y) for y in state["years"])
        cal.provisional_years = frozenset(int(y) for y in state["provisional"])
        cal._named_years = {int(y) for y in state["named"]}
        cal._ordinals = [int(o) for o in state["ordinals"]]
        cal._workday_set = frozenset(cal._ordinals)
        cal._segments = [_Segment(*(int(v) for v in seg)) for seg in state["segments"]]
        cal._starts = [seg.start for seg in cal._segments]
        cal._rest_days = {int(y): [date.fromordinal(o) for o in ds] for y, ds in state["rest"].items()}
        cal._make_up_days = {int(y): [date.fromordinal(o) for o in ds] for y, ds in state["work"].items()}
        cal._names = {date.fromordinal(int(o)): str(n) for o, n in state["names"].items()}
        return cal

    @property
    def overrides(self) -> tuple[CalendarOverride, ...]:
        """The override files this calendar was built from, in load order."""
        if self._overrides is None:
            self._overrides = tuple(self._overrides_of())
        return self._overrides

    def __repr__(self) -> str:
        return f"WorkCalendar(version={self.version!r})"

    # --- coverage -------------------------------------------------------------------------------

    @property
    def ranges(self) -> tuple[tuple[date, date], ...]:
        """Every contiguous run of covered dates, as (first, last) pairs, oldest first."""
        return tuple((date.fromordinal(s.start), date.fromordinal(s.end - 1)) for s in self._segments)

    @property
    def first_date(self) -> date:
        """First date of the contiguous run that holds chinese-calendar's data."""
        return self._main_range()[0]

    @property
    def last_date(self) -> date:
        """Last date of the contiguous run that holds chinese-calendar's data."""
        return self._main_range()[1]

    def _main_range(self) -> tuple[date, date]:
        anchor = date(self._anchor_year, 12, 31)
        for first, last in self.ranges:
            if first <= anchor <= last:
                return first, last
        return self.ranges[-1]  # the overrides redefine every base year

    def covers(self, day: date) -> bool:
        """Whether the data says whether `day` is a working day."""
        return day.year in self._years

    def _segment(self, ordinal: int) -> _Segment:
        i = bisect_right(self._starts, ordinal) - 1
        if i >= 0 and ordinal < self._segments[i].end:
            return self._segments[i]
        raise self._range_error(date.fromordinal(ordinal).year)

    def _range_error(self, year: int) -> CalendarRangeError:
        covered = "、".join(f"{a}..{b}" for a, b in self.ranges)
        return CalendarRangeError(
            f"没有 {year} 年的工作日数据（日历 {self.version} 覆盖 {covered}）", year=year
        )

    # --- queries --------------------------------------------------------------------------------

    def is_workday(self, day: date) -> bool:
        """Whether `day` is a working day."""
        self._segment(day.toordinal())
        return day.toordinal() in self._workday_set

    def add_workdays(self, day: date, n: int) -> date:
        """The n-th working day after `day` (n ≥ 1; `day` itself is not counted)."""
        if n < 1:
            raise ValueError(f"n must be at least 1, got {n}")
        first = day.toordinal() + 1
        seg = self._segment(first)
        i = bisect_left(self._ordinals, first, seg.lo, seg.hi) + n - 1
        if i >= seg.hi:
            raise self._range_error(date.fromordinal(seg.end).year)
        return date.fromordinal(self._ordinals[i])

    def next_workday(self, day: date, inclusive: bool = True) -> date:
        """The first working day on or after `day` (after it, if not `inclusive`)."""
        first = day.toordinal() + (0 if inclusive else 1)
        seg = self._segment(first)
        i = bisect_left(self._ordinals, first, seg.lo, seg.hi)
        if i >= seg.hi:
            raise self._range_error(date.fromordinal(seg.end).year)
        return date.fromordinal(self._ordinals[i])

    def workdays_in(self, start: date, end: date) -> int:
        """Number of working days in [start, end); 0 when end is not after start."""
        a, b = start.toordinal(), end.toordinal()
        if b <= a:
            return 0
        seg = self._segment(a)
        if b > seg.end:
            raise self._range_error(date.fromordinal(seg.end).year)
        return bisect_left(self._ordinals, b, seg.lo, seg.hi) - bisect_left(self._ordinals, a, seg.lo, seg.hi)

    def rest_days(self, year: int) -> list[date]:
        """The weekdays of `year` that are days off (statutory holidays and local closures)."""
        self._check_year(year)
        return list(self._rest_days.get(year, ()))

    def make_up_days(self, year: int) -> list[date]:
        """The weekend days of `year` that are working days (调休)."""
        self._check_year(year)
        return list(self._make_up_days.get(year, ()))

    def holiday_name(self, day: date) -> str | None:
        """The Chinese holiday name of a day off or make-up day, if any: chinese-calendar's, or in a
        file's year the statutory holiday it keeps off."""
        if day.year in self._named_years and FIRST_STATUTORY_YEAR <= day.year <= LAST_STATUTORY_YEAR:
            if not self.is_workday(day):
                return weekday_holidays(day.year).get(day)
            return None
        return self._names.get(day)

    def _check_year(self, year: int) -> None:
        if year not in self._years:
            raise self._range_error(year)


def _runs(years: Sequence[int]) -> list[tuple[int, int]]:
    """Consecutive years grouped as (first, last)."""
    runs: list[tuple[int, int]] = []
    for year in years:
        if runs and runs[-1][1] == year - 1:
            runs[-1] = (runs[-1][0], year)
        else:
            runs.append((year, year))
    return runs
