"""Deadline arithmetic of the statutory clock (DESIGN §4): pure functions, no database, no "now".

The engine and the sweeper pass in the instant and the `WorkCalendar`, so every result can be
recomputed (a new calendar version, a simulated clock) and tested without waiting. Instants come
back as aware UTC datetimes; days are Asia/Shanghai dates whatever the host's time zone.

A day's end is 24:00 local by default (民法典 §203), or a close of business such as 17:30. With the
24:00 default the end of day X is stored as X+1 00:00, so an instant at local midnight belongs to
the day it ends: every instant is read as (day, time of day in (00:00, 24:00]).

Every calendar lookup may raise `CalendarRangeError`; the engine catches it to keep a deadline
pending until the data arrives.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from fractions import Fraction
from typing import Literal

from ..bpmn.bundle import TimeLimit
from ..errors import ConfigError
from .instants import SHANGHAI, as_utc, local_date, local_midnight
from .workdays import WorkCalendar

__all__ = [
    "Schedule",
    "due_date",
    "end_of_day",
    "paused_workdays",
    "paused_workdays_union",
    "shift",
    "shift_instant",
    "step_schedule",
]

_DAY = timedelta(days=1)
RedSignal = Literal["legal_passed", "overdue_workdays"]


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
        raise ConfigError(f"close of business must be a local time after 00:00, got {close.isoformat()}")


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
        raise ConfigError(f"unknown time-limit unit {limit.unit!r} (expected workday, natural_day or hour)")
    for name, value in (("legal", limit.legal), ("promised", limit.promised)):
        if value is not None and value < 1:
            raise ConfigError(f"time limit {name} must be a positive integer, got {value}")
    if limit.notice_before < 0 or limit.red_after < 0 or limit.yellow_light_at < 0:
        raise ConfigError(
            "time-limit thresholds noticeBefore, yellowLightAt and redAfter must not be negative"
        )


def _due(accepted_at: datetime, n: int, unit: str, calendar: WorkCalendar, close: time | None) -> datetime:
    day = local_date(accepted_at)
    if unit == "workday":
        return end_of_day(calendar.add_workdays(day, n), close)
    if unit == "natural_day":  # 民法典 §203: a last day that is not a working day rolls forward
        return end_of_day(calendar.next_workday(day + n * _DAY), close)
    return as_utc(accepted_at) + timedelta(hours=n)


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
    """
    _check_close(close)
    accepted = as_utc(accepted_at)
    empty = Schedule(accepted_at=accepted, calendar_version=calendar.version)
    red_after_default = TimeLimit(unit="workday").red_after
    if kind == "immediate":
        day = local_date(accepted)
        if not calendar.is_workday(day) or end_of_day(day, close) <= accepted:
            day = calendar.next_workday(day, inclusive=False)
        due = end_of_day(day, close)
        return replace(
            empty,
            promised_due=due,
            yellow_card_at=due,
            red_card_at=_nth_end(day, red_after_default, calendar, close),
            red_card_signal="overdue_workdays",
        )
    if kind != "promised":
        raise ConfigError(f"unknown step kind {kind!r} (expected promised or immediate)")
    if limit is None:
        return empty
    _check_limit(limit)

    legal = None if limit.legal is None else _due(accepted, limit.legal, limit.unit, calendar, close)
    if limit.promised is None:
        return replace(empty, legal_due=legal, red_card_at=legal, red_card_signal="legal_passed")

    n = limit.promised
    promised = _due(accepted, n, limit.unit, calendar, close)
    overdue = _nth_end(_day_and_offset(promised)[0], limit.red_after, calendar, close)
    red: datetime = overdue
    signal: RedSignal = "overdue_workdays"
    if legal is not None and legal <= overdue:
        red, signal = legal, "legal_passed"

    notice = yellow = None
    if limit.unit == "workday":
        day = local_date(accepted)
        if n - limit.notice_before > 0:
            notice = _nth_end(day, n - limit.notice_before, calendar, close)
        light = math.ceil(_fraction(limit.yellow_light_at) * n)
        if 0 < light < n:
            yellow = _nth_end(day, light, calendar, close)
    else:  # natural_day and hour: no notice; a share of the elapsed time
        span = (promised - accepted) // timedelta(microseconds=1)
        at = accepted + timedelta(microseconds=math.ceil(_fraction(limit.yellow_light_at) * span))
        if accepted < at < promised:
            yellow = at

    return replace(
        empty,
        promised_due=promised,
        legal_due=legal,
        notice_at=notice,
        yellow_light_at=yellow,
        yellow_card_at=promised,
        red_card_at=red,
        red_card_signal=signal,
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
    """Every deadline and signal moved by k working days (a pause, or an extension of k days)."""

    def move(instant: datetime | None) -> datetime | None:
        return None if instant is None else shift_instant(instant, k, calendar)

    return replace(
        schedule,
        calendar_version=calendar.version,
        promised_due=move(schedule.promised_due),
        legal_due=move(schedule.legal_due),
        notice_at=move(schedule.notice_at),
        yellow_light_at=move(schedule.yellow_light_at),
        yellow_card_at=move(schedule.yellow_card_at),
        red_card_at=move(schedule.red_card_at),
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
        raise ConfigError(f"N must be a positive number of days, got {n!r}")
    if unit == "workday":
        return calendar.add_workdays(start, n)
    if unit == "natural_day":
        return calendar.next_workday(start + n * _DAY)
    raise ConfigError(f"unknown unit {unit!r} (expected workday or natural_day)")
