"""Deadline arithmetic of the statutory clock (DESIGN §4): pure functions, no database, no "now".

The engine and the sweeper pass in the instant and the `WorkCalendar`, so every result can be
recomputed (a new calendar version, a simulated clock) and tested without waiting. Instants come
back as aware UTC datetimes; days are Asia/Shanghai dates whatever the host's time zone.

A day's end is 24:00 local by default (民法典 §203), or a close of business such as 17:30. With the
24:00 default the end of day X is stored as X+1 00:00, so an instant at local midnight belongs to
the day it ends: every instant is read as (day, time of day in (00:00, 24:00]).

Each instant is computed on its own (DESIGN §7): one that falls past the calendar data is left out
and named in `Schedule.pending` (with the year it needs), the others are computed all the same, so a
promised deadline inside the data is never held back by a legal one outside it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from fractions import Fraction
from typing import Literal

from ..bpmn.bundle import TimeLimit
from ..errors import CalendarRangeError, ConfigError
from .instants import SHANGHAI, as_utc, local_date, local_midnight
from .workdays import WorkCalendar

__all__ = [
    "INSTANT_NAMES",
    "Schedule",
    "due_date",
    "end_of_day",
    "instant_names",
    "paused_workdays",
    "paused_workdays_union",
    "shift",
    "shift_instant",
    "step_schedule",
]

_DAY = timedelta(days=1)
RedSignal = Literal["legal_passed", "overdue_workdays"]
# every instant a schedule may set, as views name them in `pending`
INSTANT_NAMES = ("promised", "legal", "notice", "yellow_light", "yellow_card", "red_card")


@dataclass(frozen=True)
class Schedule:
    """The deadlines and signal instants of one step instance (or of a whole case), in UTC.

    `red_card_signal` says which rule set the red card: the legal deadline (legal_passed) or
    redAfter working days past the promised one (overdue_workdays).
    """

    accepted_at: datetime
    calendar_version: str
    promised_due: datetime | None = None
    legal_due: datetime | None = None
    notice_at: datetime | None = None
    yellow_light_at: datetime | None = None
    yellow_card_at: datetime | None = None
    red_card_at: datetime | None = None
    red_card_signal: RedSignal | None = None
    pending: tuple[str, ...] = ()  # instants past the calendar data (INSTANT_NAMES order)
    needed_years: tuple[int, ...] = ()  # the years of data they wait for

    def instant(self, name: str) -> datetime | None:
        """The instant named as in INSTANT_NAMES (promised → promised_due, notice → notice_at)."""
        value: datetime | None = getattr(
            self, f"{name}_due" if name in ("promised", "legal") else f"{name}_at"
        )
        return value

    def provisional_in(self, years: frozenset[int]) -> bool:
        """Whether any instant was computed through one of these (provisional) years."""
        if not years:
            return False
        spans = [self.accepted_at, *(at for _, at in self.signals())]
        spans += [at for at in (self.promised_due, self.legal_due) if at is not None]
        first, last = local_date(min(spans)).year, local_date(max(spans)).year
        return any(first <= y <= last for y in years)

    def signals(self) -> list[tuple[str, datetime]]:
        """(name, instant) of each signal and card that is set, in time order.

        Names: notice, yellow_light (signals), yellow_card, red_card (cards).
        """
        named = [
            ("notice", self.notice_at),
            ("yellow_light", self.yellow_light_at),
            ("yellow_card", self.yellow_card_at),
            ("red_card", self.red_card_at),
        ]
        return sorted(((n, at) for n, at in named if at is not None), key=lambda item: item[1])


def _check_close(close: time | None) -> None:
    if close is not None and (close.tzinfo is not None or close == time(0)):
        raise ConfigError(f"下班时间须为 00:00 之后的本地时间，收到 {close.isoformat()}")


def end_of_day(day: date, close: time | None = None) -> datetime:
    """The end of local day `day` in UTC: 24:00 (the next day's 00:00), or `close` if given."""
    _check_close(close)
    if close is None:
        return local_midnight(day + _DAY)
    return datetime.combine(day, close, SHANGHAI).astimezone(UTC)


def _day_and_offset(instant: datetime) -> tuple[date, timedelta]:
    """The local day an instant belongs to and its time into that day, in (0, 24h]."""
    local = as_utc(instant).astimezone(SHANGHAI)
    offset = local - datetime.combine(local.date(), time(0), SHANGHAI)
    if offset == timedelta(0):  # local midnight is 24:00 of the day before
        return local.date() - _DAY, _DAY
    return local.date(), offset


def _at(day: date, offset: timedelta) -> datetime:
    return (datetime.combine(day, time(0), SHANGHAI) + offset).astimezone(UTC)


def _nth_end(day: date, n: int, calendar: WorkCalendar, close: time | None) -> datetime:
    """End of the n-th working day after `day` (n = 0: the end of `day` itself)."""
    return end_of_day(calendar.add_workdays(day, n) if n > 0 else day, close)


def _check_limit(limit: TimeLimit) -> None:
    if limit.unit not in ("workday", "natural_day", "hour"):
        raise ConfigError(f"未知的时限单位 {limit.unit!r}（可选 workday、natural_day 或 hour）")
    for name, value in (("legal", limit.legal), ("promised", limit.promised)):
        if value is not None and value < 1:
            raise ConfigError(f"时限 {name} 须为正整数，收到 {value}")
    if limit.notice_before < 0 or limit.red_after < 0 or limit.yellow_light_at < 0:
        raise ConfigError("时限的阈值 noticeBefore、yellowLightAt 和 redAfter 不得为负数")


def _due(accepted_at: datetime, n: int, unit: str, calendar: WorkCalendar, close: time | None) -> datetime:
    day = local_date(accepted_at)
    if unit == "workday":
        return end_of_day(calendar.add_workdays(day, n), close)
    if unit == "natural_day":  # 民法典 §203: a last day that is not a working day rolls forward
        return end_of_day(calendar.next_workday(day + n * _DAY), close)
    return as_utc(accepted_at) + timedelta(hours=n)


class _Tries:
    """Computes instants one by one; one past the calendar data is None and named pending."""

    def __init__(self, schedule: Schedule | None = None) -> None:
        # pending instant → the year of data it waits for (None: it waits for another instant)
        self.pending: dict[str, int | None] = {}
        if schedule is not None:
            year = schedule.needed_years[0] if schedule.needed_years else None
            self.pending = dict.fromkeys(schedule.pending, year)

    def __call__(self, name: str, compute: Callable[[], datetime]) -> datetime | None:
        try:
            return compute()
        except CalendarRangeError as exc:
            self.miss(name, exc.year)
            return None

    def miss(self, name: str, year: int | None = None) -> None:
        if self.pending.get(name) is None:
            self.pending[name] = year

    def done(self, schedule: Schedule) -> Schedule:
        years = {y for y in self.pending.values() if y is not None}
        if self.pending and not years:  # pragma: no cover - every pending instant waits for a year
            years = set(schedule.needed_years)
        return replace(
            schedule,
            pending=tuple(n for n in INSTANT_NAMES if n in self.pending),
            needed_years=tuple(sorted(years)),
        )


def instant_names(
    kind: str,
    unit: str | None,
    legal: int | None,
    promised: int | None,
    notice_before: int,
    yellow_light_at: float,
) -> tuple[str, ...]:
    """The instants a step's schedule sets once the calendar covers them all (INSTANT_NAMES order).

    What a stored deadline lacks of these is pending; the calendar plays no part.
    """
    if kind == "immediate":
        return ("promised", "yellow_card", "red_card")
    if unit is None:
        return ()
    if promised is None:
        return ("legal", "red_card") if legal is not None else ()
    names = {"promised", "yellow_card", "red_card"}
    if legal is not None:
        names.add("legal")
    if unit == "workday":
        if promised - notice_before > 0:
            names.add("notice")
        if 0 < math.ceil(_fraction(yellow_light_at) * promised) < promised:
            names.add("yellow_light")
    elif 0 < _fraction(yellow_light_at) < 1:
        names.add("yellow_light")
    return tuple(n for n in INSTANT_NAMES if n in names)


def step_schedule(
    accepted_at: datetime,
    limit: TimeLimit | None,
    *,
    kind: str = "promised",
    calendar: WorkCalendar,
    close: time | None = None,
) -> Schedule:
    """Deadlines and signals of a step accepted (made ready) at `accepted_at`; also the whole case's.

    The acceptance day D is the Asia/Shanghai date of `accepted_at` (an acceptance at 00:00 is on
    that day). A promised step without a limit gets no deadlines. An immediate step ignores `limit`
    and is due at the end of D if D is a working day (and `accepted_at` is before that end, which only
    a close of business can break), else at the end of the next working day.

    Each instant is computed on its own: one past the calendar data is None and named in `pending`.
    """
    _check_close(close)
    accepted = as_utc(accepted_at)
    empty = Schedule(accepted_at=accepted, calendar_version=calendar.version)
    red_after_default = TimeLimit(unit="workday").red_after
    tries = _Tries()
    if kind == "immediate":
        local = local_date(accepted)

        def due_day() -> date:
            if not calendar.is_workday(local) or end_of_day(local, close) <= accepted:
                return calendar.next_workday(local, inclusive=False)
            return local

        try:
            day = due_day()
        except CalendarRangeError as exc:
            for name in ("promised", "yellow_card", "red_card"):
                tries.miss(name, exc.year)
            return tries.done(empty)
        due = end_of_day(day, close)
        red_at = tries("red_card", lambda: _nth_end(day, red_after_default, calendar, close))
        return tries.done(
            replace(
                empty,
                promised_due=due,
                yellow_card_at=due,
                red_card_at=red_at,
                red_card_signal="overdue_workdays" if red_at is not None else None,
            )
        )
    if kind != "promised":
        raise ConfigError(f"未知的环节类型 {kind!r}（可选 promised 或 immediate）")
    if limit is None:
        return empty
    _check_limit(limit)

    legal_n = limit.legal
    legal = (
        None
        if legal_n is None
        else tries("legal", lambda: _due(accepted, legal_n, limit.unit, calendar, close))
    )
    if limit.promised is None:
        if legal_n is not None and legal is None:
            tries.miss("red_card", tries.pending.get("legal"))
        return tries.done(
            replace(
                empty,
                legal_due=legal,
                red_card_at=legal,
                red_card_signal="legal_passed" if legal is not None else None,
            )
        )

    n = limit.promised
    promised = tries("promised", lambda: _due(accepted, n, limit.unit, calendar, close))
    overdue = None
    if promised is not None:
        promised_day = _day_and_offset(promised)[0]
        overdue = tries("red_card", lambda: _nth_end(promised_day, limit.red_after, calendar, close))
    # past the data is later than anything inside it: the earlier of the two rules is the one computed
    red: datetime | None = overdue
    signal: RedSignal | None = "overdue_workdays" if overdue is not None else None
    if legal is not None and (overdue is None or legal <= overdue):
        red, signal = legal, "legal_passed"
    if red is not None:
        tries.pending.pop("red_card", None)
    elif promised is None:
        tries.miss("red_card", tries.pending.get("promised"))

    notice = yellow = None
    if limit.unit == "workday":
        day = local_date(accepted)
        if n - limit.notice_before > 0:
            notice = tries("notice", lambda: _nth_end(day, n - limit.notice_before, calendar, close))
        light = math.ceil(_fraction(limit.yellow_light_at) * n)
        if 0 < light < n:
            yellow = tries("yellow_light", lambda: _nth_end(day, light, calendar, close))
    elif promised is None:
        if 0 < _fraction(limit.yellow_light_at) < 1:
            tries.miss("yellow_light", tries.pending.get("promised"))
    else:  # natural_day and hour: no notice; a share of the elapsed time
        span = (promised - accepted) // timedelta(microseconds=1)
        at = accepted + timedelta(microseconds=math.ceil(_fraction(limit.yellow_light_at) * span))
        if accepted < at < promised:
            yellow = at
    if promised is None:
        tries.miss("yellow_card", tries.pending.get("promised"))

    return tries.done(
        replace(
            empty,
            promised_due=promised,
            legal_due=legal,
            notice_at=notice,
            yellow_light_at=yellow,
            yellow_card_at=promised,
            red_card_at=red,
            red_card_signal=signal,
        )
    )


def _fraction(value: float) -> Fraction:
    """The decimal the designer wrote (0.7, not 0.6999…), so ceil(0.7 × 10) is 7."""
    return Fraction(repr(value))


def shift_instant(instant: datetime, k: int, calendar: WorkCalendar) -> datetime:
    """Move an instant by k working days, keeping its time of day.

    An instant at time t of day X (midnight counts as 24:00 of the day before, so "end of day X"
    stays on X) moves to time t of the k-th working day after X.
    """
    if k < 0:
        raise ValueError(f"k must not be negative, got {k}")
    if k == 0:
        return as_utc(instant)
    day, offset = _day_and_offset(instant)
    return _at(calendar.add_workdays(day, k), offset)


def shift(schedule: Schedule, k: int, calendar: WorkCalendar) -> Schedule:
    """Every deadline and signal moved by k working days (a pause, or an extension of k days).

    An instant moved past the calendar data becomes pending, never left where it was.
    """
    tries = _Tries(schedule)

    def move(name: str) -> datetime | None:
        instant = schedule.instant(name)
        if instant is None:
            return None
        return tries(name, lambda: shift_instant(instant, k, calendar))

    moved = {name: move(name) for name in INSTANT_NAMES}
    return tries.done(
        replace(
            schedule,
            calendar_version=calendar.version,
            promised_due=moved["promised"],
            legal_due=moved["legal"],
            notice_at=moved["notice"],
            yellow_light_at=moved["yellow_light"],
            yellow_card_at=moved["yellow_card"],
            red_card_at=moved["red_card"],
            red_card_signal=schedule.red_card_signal if moved["red_card"] is not None else None,
        )
    )


def paused_workdays(start: datetime, end: datetime, calendar: WorkCalendar) -> int:
    """Working days in [local date(start), local date(end)): what a pause from start to end costs."""
    return calendar.workdays_in(local_date(start), local_date(end))


def paused_workdays_union(intervals: Iterable[tuple[datetime, datetime]], calendar: WorkCalendar) -> int:
    """Working days in the union of several pauses' day ranges (the case clock's stops)."""
    spans = sorted((local_date(a), local_date(b)) for a, b in intervals)
    total = 0
    current: tuple[date, date] | None = None
    for a, b in spans:
        if b <= a:
            continue
        if current is not None and a <= current[1]:
            current = (current[0], max(current[1], b))
            continue
        if current is not None:
            total += calendar.workdays_in(*current)
        current = (a, b)
    if current is not None:
        total += calendar.workdays_in(*current)
    return total


def due_date(start: date, n: int, unit: str, calendar: WorkCalendar) -> date:
    """The local date of the deadline of an n-day limit accepted on `start` (`calendar add`)."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ConfigError(f"N 须为正整数天数，收到 {n!r}")
    if unit == "workday":
        return calendar.add_workdays(start, n)
    if unit == "natural_day":
        return calendar.next_workday(start + n * _DAY)
    raise ConfigError(f"未知的单位 {unit!r}（可选 workday 或 natural_day）")
