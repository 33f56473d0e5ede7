"""The statutory clock: DESIGN §4's deadline and signal tables, pauses, extensions, host time zones.

domain.md §2.4's worked examples are the first tests. Its natural-day row (2022-09-29 + 20 days =
2022-10-19) falls on a Wednesday, a working day, so DESIGN §4's roll-forward rule (民法典 §203) and
domain.md agree on every row; the roll-forward itself is tested separately.
"""

from __future__ import annotations

import contextlib
import os
import time as time_module
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers import at, year_file
from hennan_flow.bpmn.bundle import TimeLimit
from hennan_flow.clock.arithmetic import (
    Schedule,
    due_date,
    end_of_day,
    paused_workdays,
    paused_workdays_union,
    shift,
    shift_instant,
    step_schedule,
)
from hennan_flow.clock.instants import SHANGHAI
from hennan_flow.clock.workdays import WorkCalendar, parse_override
from hennan_flow.errors import CalendarRangeError, ConfigError

CLOSE = time(17, 30)


@pytest.fixture(scope="module")
def cal() -> WorkCalendar:
    return WorkCalendar()


def eod(year: int, month: int, day: int) -> datetime:
    """24:00 Shanghai of that day, in UTC (stored as the next day's 00:00)."""
    return datetime(year, month, day, tzinfo=SHANGHAI).astimezone(UTC) + timedelta(days=1)


def wd(
    promised: int | None,
    legal: int | None = None,
    *,
    notice_before: int = 1,
    yellow_light_at: float = 0.8,
    red_after: int = 3,
) -> TimeLimit:
    return TimeLimit(
        unit="workday",
        promised=promised,
        legal=legal,
        notice_before=notice_before,
        yellow_light_at=yellow_light_at,
        red_after=red_after,
    )


def day_of(instant: datetime) -> date:
    """The day an instant belongs to: local midnight is 24:00 of the day before."""
    local = instant.astimezone(SHANGHAI)
    return local.date() - timedelta(days=1) if local.time() == time(0) else local.date()


# --- domain.md §2.4 ------------------------------------------------------------------------------


def test_five_workdays_over_national_day(cal: WorkCalendar) -> None:
    s = step_schedule(at("2022-09-29 10:00"), wd(5, 20), calendar=cal)
    assert s.promised_due == eod(2022, 10, 11)
    assert s.promised_due == datetime(2022, 10, 11, 16, 0, tzinfo=UTC)
    assert s.yellow_card_at == s.promised_due
    assert s.calendar_version == cal.version


def test_yellow_light_at_80_percent(cal: WorkCalendar) -> None:
    s = step_schedule(at("2022-09-29 10:00"), wd(5, 20), calendar=cal)
    assert s.yellow_light_at == eod(2022, 10, 10)  # ceil(0.8 × 5) = 4th working day


def test_supplement_pause_shifts_by_working_days(cal: WorkCalendar) -> None:
    s = step_schedule(at("2022-09-29 10:00"), wd(5, 20), calendar=cal)
    k = paused_workdays(at("2022-10-10 09:00"), at("2022-10-13 09:00"), cal)  # 10-10, 10-11, 10-12
    assert k == 3
    assert shift(s, k, cal).promised_due == eod(2022, 10, 14)


def test_legal_limit_and_extension(cal: WorkCalendar) -> None:
    s = step_schedule(at("2022-09-29 10:00"), wd(5, 20), calendar=cal)
    assert s.legal_due == eod(2022, 11, 1)
    assert shift(s, 10, cal).legal_due == eod(2022, 11, 15)


def test_make_up_sunday_is_a_deadline(cal: WorkCalendar) -> None:
    s = step_schedule(at("2022-01-27 15:00"), wd(3), calendar=cal)
    assert s.promised_due == eod(2022, 1, 30)


def test_spring_festival_2026(cal: WorkCalendar) -> None:
    s = step_schedule(at("2026-02-12 09:00"), wd(5), calendar=cal)
    assert s.promised_due == eod(2026, 2, 26)


def test_twenty_natural_days(cal: WorkCalendar) -> None:
    limit = TimeLimit(unit="natural_day", promised=20)
    s = step_schedule(at("2022-09-29 10:00"), limit, calendar=cal)
    assert s.promised_due == eod(2022, 10, 19)
    assert due_date(date(2022, 9, 29), 20, "natural_day", cal) == date(2022, 10, 19)


# --- deadlines -----------------------------------------------------------------------------------


def test_natural_day_rolls_forward_to_a_working_day(cal: WorkCalendar) -> None:
    # 09-29 + 2 days = 10-01 (国庆); the next working day is Saturday 10-08 (调休)
    s = step_schedule(at("2022-09-29 10:00"), TimeLimit(unit="natural_day", promised=2), calendar=cal)
    assert s.promised_due == eod(2022, 10, 8)
    assert due_date(date(2022, 9, 29), 2, "natural_day", cal) == date(2022, 10, 8)


def test_hour_limit(cal: WorkCalendar) -> None:
    accepted = at("2022-09-29 10:00")
    s = step_schedule(accepted, TimeLimit(unit="hour", promised=10, legal=48), calendar=cal)
    assert s.promised_due == accepted + timedelta(hours=10)
    assert s.legal_due == accepted + timedelta(hours=48)
    assert s.notice_at is None
    assert s.yellow_light_at == accepted + timedelta(hours=8)
    # promised 09-29 20:00, overdue at the end of the 3rd working day after 09-29: 10-09 (调休 Sunday)
    assert s.red_card_at == min(accepted + timedelta(hours=48), eod(2022, 10, 9))
    assert s.red_card_at == accepted + timedelta(hours=48)
    assert s.red_card_signal == "legal_passed"


def test_hour_deadline_at_midnight_belongs_to_the_day_it_ends(cal: WorkCalendar) -> None:
    # 10:00 + 14 h = 09-30 00:00 local, the end of 09-29: red = end of the 3rd working day after 09-29
    s = step_schedule(at("2022-09-29 10:00"), TimeLimit(unit="hour", promised=14), calendar=cal)
    assert s.promised_due == eod(2022, 9, 29)
    assert s.red_card_at == eod(2022, 10, 9)


def test_natural_day_signals(cal: WorkCalendar) -> None:
    accepted = at("2022-09-29 10:00")
    s = step_schedule(accepted, TimeLimit(unit="natural_day", promised=20, legal=30), calendar=cal)
    assert s.notice_at is None
    assert s.promised_due is not None
    assert s.yellow_light_at == accepted + (s.promised_due - accepted) * 4 / 5
    assert s.legal_due == eod(2022, 10, 31)  # 10-29 is a Saturday: rolls to Monday 10-31
    assert s.red_card_at == eod(2022, 10, 24)  # 3 working days after 10-19
    assert s.red_card_signal == "overdue_workdays"


def test_workdays_from_a_holiday_start(cal: WorkCalendar) -> None:
    # accepted on 10-03 (a holiday): the next working days are 10-08, 10-09
    s = step_schedule(at("2022-10-03 11:00"), wd(2), calendar=cal)
    assert s.promised_due == eod(2022, 10, 9)


def test_close_of_business(cal: WorkCalendar) -> None:
    s = step_schedule(at("2022-09-29 10:00"), wd(5, 20), calendar=cal, close=CLOSE)
    assert s.promised_due == at("2022-10-11 17:30")
    assert s.legal_due == at("2022-11-01 17:30")
    assert s.yellow_light_at == at("2022-10-10 17:30")
    assert s.red_card_at == at("2022-10-14 17:30")


def test_results_are_utc(cal: WorkCalendar) -> None:
    s = step_schedule(at("2022-09-29 10:00"), wd(5, 20), calendar=cal)
    for _, instant in s.signals():
        assert instant.utcoffset() == timedelta(0)
    assert s.accepted_at == datetime(2022, 9, 29, 2, 0, tzinfo=UTC)


# --- immediate steps -----------------------------------------------------------------------------


def test_immediate_on_a_working_day(cal: WorkCalendar) -> None:
    s = step_schedule(at("2022-09-29 10:00"), None, kind="immediate", calendar=cal)
    assert s.promised_due == eod(2022, 9, 29)
    assert s.yellow_card_at == eod(2022, 9, 29)
    assert s.red_card_at == eod(2022, 10, 9)  # 3rd working day after 09-29: 09-30, 10-08, 10-09
    assert s.red_card_signal == "overdue_workdays"
    assert s.notice_at is None and s.yellow_light_at is None and s.legal_due is None


def test_immediate_on_a_holiday(cal: WorkCalendar) -> None:
    s = step_schedule(at("2022-10-02 10:00"), None, kind="immediate", calendar=cal)
    assert s.promised_due == eod(2022, 10, 8)
    assert s.red_card_at == eod(2022, 10, 11)  # 10-09 (调休), 10-10, 10-11


def test_immediate_ignores_a_limit(cal: WorkCalendar) -> None:
    limited = step_schedule(at("2022-09-29 10:00"), wd(5, 20), kind="immediate", calendar=cal)
    assert limited == step_schedule(at("2022-09-29 10:00"), None, kind="immediate", calendar=cal)


def test_immediate_after_close_of_business_is_due_next_working_day(cal: WorkCalendar) -> None:
    s = step_schedule(at("2022-09-30 18:00"), None, kind="immediate", calendar=cal, close=CLOSE)
    assert s.promised_due == at("2022-10-08 17:30")
    before = step_schedule(at("2022-09-30 17:00"), None, kind="immediate", calendar=cal, close=CLOSE)
    assert before.promised_due == at("2022-09-30 17:30")


def test_promised_step_without_a_limit_has_no_deadlines(cal: WorkCalendar) -> None:
    s = step_schedule(at("2022-09-29 10:00"), None, calendar=cal)
    assert s == Schedule(accepted_at=at("2022-09-29 10:00").astimezone(UTC), calendar_version=cal.version)
    assert s.signals() == []


# --- signals -------------------------------------------------------------------------------------


def test_notice_one_working_day_before(cal: WorkCalendar) -> None:
    s = step_schedule(at("2022-09-29 10:00"), wd(5, 20), calendar=cal)
    assert s.notice_at == eod(2022, 10, 10)  # end of the 4th working day
    s = step_schedule(at("2022-09-29 10:00"), wd(5, 20, notice_before=2), calendar=cal)
    assert s.notice_at == eod(2022, 10, 9)


def test_no_notice_or_yellow_light_for_a_one_day_limit(cal: WorkCalendar) -> None:
    s = step_schedule(at("2022-09-29 10:00"), wd(1, 3), calendar=cal)
    assert s.notice_at is None  # 1 - 1 = 0
    assert s.yellow_light_at is None  # ceil(0.8) = 1 = N
    assert s.promised_due == eod(2022, 9, 30)


def test_yellow_light_uses_the_written_fraction(cal: WorkCalendar) -> None:
    # 0.7 * 10 is 7.000000000000001 in binary floating point; the designer meant 7
    s = step_schedule(at("2022-03-01 10:00"), wd(10, 20, yellow_light_at=0.7), calendar=cal)
    assert s.yellow_light_at == end_of_day(cal.add_workdays(date(2022, 3, 1), 7))


def test_red_card_is_the_earlier_of_legal_and_overdue(cal: WorkCalendar) -> None:
    late = step_schedule(at("2022-09-29 10:00"), wd(5, 20), calendar=cal)
    assert late.red_card_at == eod(2022, 10, 14)  # 3 working days after 10-11
    assert late.red_card_signal == "overdue_workdays"
    tight = step_schedule(at("2022-09-29 10:00"), wd(5, 6), calendar=cal)
    assert tight.red_card_at == tight.legal_due == eod(2022, 10, 12)
    assert tight.red_card_signal == "legal_passed"
    none = step_schedule(at("2022-09-29 10:00"), wd(5), calendar=cal)
    assert none.red_card_at == eod(2022, 10, 14)
    zero = step_schedule(at("2022-09-29 10:00"), wd(5, red_after=0), calendar=cal)
    assert zero.red_card_at == zero.promised_due


def test_legal_only_limit(cal: WorkCalendar) -> None:
    s = step_schedule(at("2022-09-29 10:00"), wd(None, 20), calendar=cal)
    assert s.promised_due is None and s.yellow_card_at is None and s.notice_at is None
    assert s.red_card_at == s.legal_due == eod(2022, 11, 1)


def test_signals_in_time_order(cal: WorkCalendar) -> None:
    s = step_schedule(at("2022-09-29 10:00"), wd(10, 20, notice_before=1), calendar=cal)
    names = [name for name, _ in s.signals()]
    assert names == ["yellow_light", "notice", "yellow_card", "red_card"]


# --- pauses and extensions -----------------------------------------------------------------------


def test_shift_keeps_end_of_day_on_its_day(cal: WorkCalendar) -> None:
    # end of Friday 09-30 is stored as 10-01 00:00 local; 1 working day later is the end of 10-08,
    # not 10-08 00:00 (which would be the end of 10-07, a holiday)
    assert shift_instant(eod(2022, 9, 30), 1, cal) == eod(2022, 10, 8)
    assert shift_instant(at("2022-09-30 17:30"), 1, cal) == at("2022-10-08 17:30")


def test_shift_keeps_the_time_of_day(cal: WorkCalendar) -> None:
    assert shift_instant(at("2022-10-01 10:00"), 1, cal) == at("2022-10-08 10:00")
    assert shift_instant(at("2022-09-29 20:00"), 2, cal) == at("2022-10-08 20:00")


def test_shift_by_zero_is_identity(cal: WorkCalendar) -> None:
    s = step_schedule(at("2022-09-29 10:00"), wd(5, 20), calendar=cal)
    assert shift(s, 0, cal) == s
    with pytest.raises(ValueError):
        shift(s, -1, cal)


def test_shift_moves_every_signal(cal: WorkCalendar) -> None:
    s = step_schedule(at("2022-09-29 10:00"), wd(5, 20), calendar=cal)
    moved = shift(s, 3, cal)
    assert moved.accepted_at == s.accepted_at
    assert moved.notice_at == eod(2022, 10, 13)
    assert moved.yellow_light_at == eod(2022, 10, 13)
    assert moved.yellow_card_at == moved.promised_due == eod(2022, 10, 14)
    assert moved.red_card_at == eod(2022, 10, 19)
    assert moved.red_card_signal == s.red_card_signal


def test_pause_within_one_day_costs_nothing(cal: WorkCalendar) -> None:
    assert paused_workdays(at("2022-10-10 09:00"), at("2022-10-10 16:00"), cal) == 0
    assert paused_workdays(at("2022-10-10 09:00"), at("2022-10-11 08:00"), cal) == 1
    # the local date decides: 10-10 23:30 Shanghai is 15:30 UTC the same day
    assert paused_workdays(at("2022-10-09 23:30"), at("2022-10-10 00:30"), cal) == 1


def test_case_pauses_count_overlaps_once(cal: WorkCalendar) -> None:
    intervals = [
        (at("2022-10-10 09:00"), at("2022-10-13 09:00")),  # 10-10 .. 10-12
        (at("2022-10-11 09:00"), at("2022-10-14 09:00")),  # 10-11 .. 10-13
        (at("2022-10-17 09:00"), at("2022-10-18 09:00")),  # 10-17
        (at("2022-10-19 09:00"), at("2022-10-19 15:00")),  # same day: nothing
    ]
    assert paused_workdays_union(intervals, cal) == 5
    assert paused_workdays_union([], cal) == 0


# --- bad input -----------------------------------------------------------------------------------


@pytest.mark.parametrize("n", [0, -1, -20])
def test_due_date_needs_a_positive_n(cal: WorkCalendar, n: int) -> None:
    with pytest.raises(ConfigError, match="N 须为正整数天数"):
        due_date(date(2022, 9, 29), n, "workday", cal)


@pytest.mark.parametrize("unit", ["hour", "fortnight", "WORKDAY", ""])
def test_due_date_unknown_unit(cal: WorkCalendar, unit: str) -> None:
    with pytest.raises(ConfigError, match="未知的单位"):
        due_date(date(2022, 9, 29), 3, unit, cal)


@pytest.mark.parametrize(
    "limit",
    [
        TimeLimit(unit="fortnight", promised=2),
        TimeLimit(unit="workday", promised=0),
        TimeLimit(unit="workday", promised=5, legal=-1),
        TimeLimit(unit="workday", promised=5, red_after=-1),
    ],
)
def test_bad_limits(cal: WorkCalendar, limit: TimeLimit) -> None:
    with pytest.raises(ConfigError):
        step_schedule(at("2022-09-29 10:00"), limit, calendar=cal)


def test_unknown_kind_and_bad_close(cal: WorkCalendar) -> None:
    with pytest.raises(ConfigError, match="未知的环节类型 'urgent'"):
        step_schedule(at("2022-09-29 10:00"), wd(5), kind="urgent", calendar=cal)
    with pytest.raises(ConfigError, match="下班时间须为 00:00 之后"):
        step_schedule(at("2022-09-29 10:00"), wd(5), calendar=cal, close=time(0))


# --- outside the data ----------------------------------------------------------------------------


def test_2031_is_pending_and_an_override_fixes_it(cal: WorkCalendar) -> None:
    s = step_schedule(at("2031-03-03 10:00"), wd(5, 20), calendar=cal)
    assert s.pending == ("promised", "legal", "notice", "yellow_light", "yellow_card", "red_card")
    assert s.needed_years == (2031,) and s.promised_due is None and s.signals() == []
    with pytest.raises(CalendarRangeError):
        due_date(date(2031, 3, 3), 5, "workday", cal)
    county = WorkCalendar([parse_override(year_file(2031, "hengnan-2031-1"))])
    s = step_schedule(at("2031-03-03 10:00"), wd(5, 20), calendar=county)
    assert s.promised_due == eod(2031, 3, 10)
    assert s.calendar_version.endswith("+hengnan-2031-1")
    assert due_date(date(2031, 3, 3), 5, "workday", county) == date(2031, 3, 10)


def test_a_deadline_past_the_data_is_pending(cal: WorkCalendar) -> None:
    start = datetime.combine(cal.last_date, time(10), SHANGHAI)
    s = step_schedule(start, wd(5), calendar=cal)
    assert "promised" in s.pending and s.needed_years == (cal.last_date.year + 1,)


def test_a_promised_deadline_inside_the_data_is_not_held_back_by_the_legal_one(cal: WorkCalendar) -> None:
    """DESIGN §7: each instant on its own. Ten working days before the data ends, a 3-WD promise
    is computed with its signals; the 30-WD legal deadline past the data is pending alone."""
    day = cal.last_date
    for _ in range(10):
        day = day - timedelta(days=1)
        while not cal.is_workday(day):
            day = day - timedelta(days=1)
    s = step_schedule(datetime.combine(day, time(10), SHANGHAI), wd(3, 30), calendar=cal)
    assert s.pending == ("legal",) and s.legal_due is None
    assert s.promised_due is not None and s.yellow_card_at == s.promised_due
    assert s.notice_at is not None and s.red_card_at is not None and s.red_card_signal == "overdue_workdays"


# --- properties ----------------------------------------------------------------------------------

instants = st.datetimes(
    min_value=datetime(2004, 1, 1), max_value=datetime(2025, 12, 31), timezones=st.just(SHANGHAI)
)
limits = st.one_of(
    st.builds(
        TimeLimit,
        unit=st.just("workday"),
        promised=st.integers(1, 40),
        legal=st.none() | st.integers(1, 60),
        notice_before=st.integers(0, 3),
        yellow_light_at=st.sampled_from([0.5, 0.7, 0.8, 0.9]),
        red_after=st.integers(0, 5),
    ),
    st.builds(
        TimeLimit,
        unit=st.sampled_from(["natural_day", "hour"]),
        promised=st.integers(1, 60),
        legal=st.none() | st.integers(1, 90),
    ),
)
closes = st.sampled_from([None, time(17, 30), time(18, 0)])
SIGNAL_FIELDS = (
    "promised_due",
    "legal_due",
    "notice_at",
    "yellow_light_at",
    "yellow_card_at",
    "red_card_at",
)


@settings(max_examples=200)
@given(accepted=instants, limit=limits, k=st.integers(1, 25), close=closes)
def test_a_pause_moves_everything_by_exactly_k_workdays(
    cal: WorkCalendar, accepted: datetime, limit: TimeLimit, k: int, close: time | None
) -> None:
    before = step_schedule(accepted, limit, calendar=cal, close=close)
    after = shift(before, k, cal)
    assert after.accepted_at == before.accepted_at
    moved = 0
    for name in SIGNAL_FIELDS:
        old, new = getattr(before, name), getattr(after, name)
        assert (old is None) == (new is None), name
        if old is None:
            continue
        moved += 1
        # exactly k working days in (old day, new day], and the time of day is kept
        old_day, new_day = day_of(old), day_of(new)
        assert cal.workdays_in(old_day + timedelta(days=1), new_day + timedelta(days=1)) == k, name
        assert new.astimezone(SHANGHAI).time() == old.astimezone(SHANGHAI).time(), name
    assert moved >= 3  # promised, yellow card, red card at least


@settings(max_examples=200)
@given(accepted=instants, n=st.integers(1, 40), k=st.integers(1, 25), close=closes)
def test_a_pause_equals_a_longer_limit(
    cal: WorkCalendar, accepted: datetime, n: int, k: int, close: time | None
) -> None:
    paused = shift(step_schedule(accepted, wd(n), calendar=cal, close=close), k, cal)
    longer = step_schedule(accepted, wd(n + k), calendar=cal, close=close)
    assert paused.promised_due == longer.promised_due


@settings(max_examples=200)
@given(accepted=instants, n=st.integers(1, 40))
def test_a_workday_deadline_ends_a_working_day(cal: WorkCalendar, accepted: datetime, n: int) -> None:
    s = step_schedule(accepted, wd(n), calendar=cal)
    assert s.promised_due is not None
    assert cal.is_workday(day_of(s.promised_due))
    assert s.promised_due.astimezone(SHANGHAI).time() == time(0)
    assert (
        cal.workdays_in(accepted.date() + timedelta(days=1), day_of(s.promised_due) + timedelta(days=1)) == n
    )


@contextlib.contextmanager
def host_time_zone(name: str) -> Iterator[None]:
    old = os.environ.get("TZ")
    os.environ["TZ"] = name
    time_module.tzset()
    try:
        yield
    finally:
        if old is None:
            del os.environ["TZ"]
        else:
            os.environ["TZ"] = old
        time_module.tzset()


@pytest.mark.skipif(not hasattr(time_module, "tzset"), reason="time.tzset is POSIX only")
@settings(max_examples=60)
@given(accepted=instants, limit=limits, k=st.integers(0, 10))
def test_results_do_not_depend_on_the_host_time_zone(
    cal: WorkCalendar, accepted: datetime, limit: TimeLimit, k: int
) -> None:
    def compute() -> tuple[Schedule, Schedule, int, Schedule]:
        s = step_schedule(accepted, limit, calendar=cal)
        immediate = step_schedule(accepted, None, kind="immediate", calendar=cal)
        pause = paused_workdays(accepted, accepted + timedelta(days=k, hours=7), cal)
        return s, shift(s, k, cal), pause, immediate

    with host_time_zone("UTC"):
        expected = compute()
    for zone in ("America/New_York", "Asia/Kolkata", "Pacific/Kiritimati", "Etc/GMT+12"):
        with host_time_zone(zone):
            assert time_module.localtime(0).tm_gmtoff != 0 or zone == "UTC"
            assert compute() == expected, zone


def test_host_time_zone_switch_is_effective() -> None:
    """Guards the test above: the switch really changes what naive local time means."""
    stamp = 1_664_420_400  # 2022-09-29 03:00 UTC
    with host_time_zone("America/New_York"):
        new_york = datetime.fromtimestamp(stamp).hour
    with host_time_zone("Asia/Kolkata"):
        kolkata = datetime.fromtimestamp(stamp).hour
    assert new_york != kolkata
