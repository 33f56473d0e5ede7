"""Instants: stored in UTC, shown in Asia/Shanghai, never dependent on the host's time zone."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import overload
from zoneinfo import ZoneInfo

from ..errors import ConfigError

__all__ = [
    "FIRST_YEAR",
    "LAST_YEAR",
    "SHANGHAI",
    "as_utc",
    "local_date",
    "local_iso",
    "local_midnight",
    "parse_day",
    "parse_instant",
    "utc_iso",
]

SHANGHAI = ZoneInfo("Asia/Shanghai")
# instants and days a user may give: wide enough for any case, narrow enough that a day's
# arithmetic (a deadline, a report period, a time zone) never leaves what datetime can hold
FIRST_YEAR, LAST_YEAR = 1970, 2999


def parse_instant(text: str, *, what: str = "时刻") -> datetime:
    """An ISO-8601 instant as aware UTC; a value without offset is read as Asia/Shanghai."""
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError as exc:
        raise ConfigError(
            f"{what} {text.strip()[:40]!r} 不是 ISO-8601 格式的时刻",
            hint="请写成如 2026-03-02T09:00:00+08:00 的形式",
        ) from exc
    if not FIRST_YEAR <= value.year <= LAST_YEAR:
        raise ConfigError(
            f"{what} {text.strip()[:40]!r} 不在 {FIRST_YEAR}–{LAST_YEAR} 年之间",
            hint="请写 1970 年至 2999 年之间的时刻，如 2026-03-02T09:00:00+08:00",
        )
    if value.tzinfo is None:
        value = value.replace(tzinfo=SHANGHAI)
    return value.astimezone(UTC)


def parse_day(text: str, *, what: str = "日期") -> date:
    """A calendar day YYYY-MM-DD between FIRST_YEAR and LAST_YEAR; else `ConfigError` naming `what`."""
    try:
        day = date.fromisoformat(text.strip())
    except ValueError as exc:
        raise ConfigError(
            f"{what} {text.strip()[:40]!r} 不是日期", hint="请写成 YYYY-MM-DD，如 2025-04-01"
        ) from exc
    if not FIRST_YEAR <= day.year <= LAST_YEAR:
        raise ConfigError(
            f"{what} {day.isoformat()} 不在 {FIRST_YEAR}–{LAST_YEAR} 年之间",
            hint="请写 1970 年至 2999 年之间的日期",
        )
    return day


@overload
def as_utc(value: datetime) -> datetime: ...
@overload
def as_utc(value: datetime | None) -> datetime | None: ...
def as_utc(value: datetime | None) -> datetime | None:
    """Aware UTC; naive values (as SQLite returns them) are taken as UTC; None stays None."""
    if value is None:
        return None
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def utc_iso(value: datetime | None) -> str | None:
    """ISO text in UTC with offset, for JSON."""
    return None if value is None else as_utc(value).isoformat()


def local_iso(value: datetime | None) -> str | None:
    """ISO text in Asia/Shanghai, for people."""
    if value is None:
        return None
    if value.tzinfo is UTC:  # the engine's own instants: remembered (a zone with folds is not)
        return _local_iso_of_utc(value)
    return as_utc(value).astimezone(SHANGHAI).isoformat()


@lru_cache(maxsize=1024)
def _local_iso_of_utc(value: datetime) -> str:
    # a transaction shows its one `now` in several events and views; deadlines fall on a few ends of days
    return value.astimezone(SHANGHAI).isoformat()


def local_date(instant: datetime) -> date:
    """The Asia/Shanghai calendar day of an instant."""
    return as_utc(instant).astimezone(SHANGHAI).date()


def local_day_ended(instant: datetime) -> date:
    """The local day an end or a deadline belongs to: local midnight is 24:00 of the day before."""
    local = as_utc(instant).astimezone(SHANGHAI)
    return local.date() - timedelta(days=1) if local.time() == time(0) else local.date()


def local_midnight(day: date) -> datetime:
    """Asia/Shanghai 00:00 of `day`, in UTC (instants are stored and compared in UTC)."""
    return datetime.combine(day, time(0), SHANGHAI).astimezone(UTC)
