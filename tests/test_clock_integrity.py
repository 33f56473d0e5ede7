"""Clock integrity (DESIGN §7, issue 20 calendar half): the statutory clock never goes silent.

Each instant is pending on its own; every sweep reports the calendar and announces a needed year
once; provisional years; files replace per year and keep the statutory holidays; `calendar add` and
`show` read the stored calendar; an extension past the data makes the step's instants pending.
"""

from __future__ import annotations

import json
import threading
from contextlib import closing
from datetime import date, datetime, time, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, select

from helpers import CLOCK_BUNDLE, at, run_cli, simulation, year_file
from hennan_flow.bpmn.bundle import TimeLimit
from hennan_flow.clock.arithmetic import INSTANT_NAMES, step_schedule
from hennan_flow.clock.instants import SHANGHAI, local_day_ended, local_iso
from hennan_flow.clock.statutory import weekday_holidays
from hennan_flow.clock.workdays import WorkCalendar, parse_override
from hennan_flow.db.models import DeadlineRow, OutboxRow
from hennan_flow.engine import Engine, SimulatedClock
from hennan_flow.engine.calendars import provisional_text
from hennan_flow.errors import ConfigError

BASE = WorkCalendar()
NEXT = BASE.last_date.year + 1  # the first year past the packaged data (2027 today)
FULL = WorkCalendar([parse_override(year_file(NEXT, f"county-{NEXT}"))])


# -- each instant on its own (hypothesis) ------------------------------------------------------------

near_end = st.datetimes(
    min_value=datetime.combine(BASE.last_date - timedelta(days=60), time(0)),
    max_value=datetime.combine(BASE.last_date, time(23, 59)),
    timezones=st.just(SHANGHAI),
)
limits = st.builds(
    TimeLimit,
    unit=st.sampled_from(["workday", "workday", "natural_day"]),
    promised=st.none() | st.integers(1, 40),
    legal=st.none() | st.integers(1, 60),
    notice_before=st.integers(0, 3),
    yellow_light_at=st.sampled_from([0.5, 0.8, 0.9]),
    red_after=st.integers(0, 5),
).filter(lambda lim: lim.promised is not None or lim.legal is not None)


@settings(max_examples=300, deadline=None)
@given(accepted=near_end, limit=limits)
def test_every_instant_inside_the_data_is_computed_and_exactly_those_outside_are_pending(
    accepted: datetime, limit: TimeLimit
) -> None:
    short = step_schedule(accepted, limit, calendar=BASE)
    full = step_schedule(accepted, limit, calendar=FULL)  # the missing year loaded: a fresh computation
    assert full.pending == ()
    for name in INSTANT_NAMES:
        truth = full.instant(name)
        got = short.instant(name)
        if truth is None:
            assert got is None and name not in short.pending, name
        elif got is not None:
            assert got == truth and name not in short.pending, name  # computed: exactly as with the data
        else:
            assert name in short.pending, name  # never guessed, never silently dropped
            # pending only if it lies past the data (a natural-day yellow light is a share of its
            # promised deadline's span, so it waits for that one)
            waits = name == "yellow_light" and limit.unit == "natural_day" and "promised" in short.pending
            assert waits or local_day_ended(truth) > BASE.last_date or name == "red_card", name
    if "red_card" in short.pending:
        assert local_day_ended(full.red_card_at) > BASE.last_date or "promised" in short.pending  # type: ignore[arg-type]
    assert set(short.pending) <= set(INSTANT_NAMES)
    assert (short.needed_years == (NEXT,)) == bool(short.pending)


# -- a case across the year end on a simulation database ---------------------------------------------


def _outbox(engine: object, type_: str) -> list[OutboxRow]:
    with engine.context.read() as session:  # type: ignore[attr-defined]
        return list(session.scalars(select(OutboxRow).where(OutboxRow.type == type_)))


def test_a_case_across_the_year_end(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite:///{tmp_path / 'sim.db'}"
    last = BASE.last_date
    start = datetime.combine(last - timedelta(days=9), time(10), SHANGHAI)
    while not BASE.is_workday(start.date()):
        start -= timedelta(days=1)
    now = local_iso(start + timedelta(hours=1))
    assert now is not None
    with simulation(url, CLOCK_BUNDLE, start) as (engine, clock):
        case = engine.start_case("review_clock")
        review = next(t for t in engine.tasks(case=case.id) if t.step == "review")  # promised 5, legal 10 WD
        shown = review.deadlines
        assert shown is not None
        assert shown["promised_due"] is not None and "promised" not in shown["pending"]  # 2026: computed
        assert "legal" in shown["pending"] and shown["legal_due"] is None
        names = {s["name"] for s in shown["signals"]}
        assert {"notice", "yellow_light", "yellow"} <= names  # the signals inside the data are there
        assert shown["provisional"] is False
        result = engine.sweep()
        block = result.as_dict()["calendar"]
        assert block["pending_deadlines"] >= 1 and block["needed_years"] == [NEXT]
        assert block["ends"] == last.isoformat() and block["provisional_years"] == []
        assert result.calendar_warning is not None and result.calendar_warning_new
        again = engine.sweep()  # the library throttles the warning: no news, no second log line
        assert again.calendar_warning is not None and not again.calendar_warning_new
        clock.set(start + timedelta(days=1, minutes=1))
        assert engine.sweep().calendar_warning_new  # a day later it is given once more
        clock.set(start)
        events = _outbox(engine, "calendar.pending")
        assert len(events) == 1 and json.loads(events[0].payload)["year"] == NEXT
        task_id, case_id = review.id, case.id
    # a second engine (another sweeper process) does not announce the year again
    with closing(Engine(url)) as other:
        other.sweep()
        assert len(_outbox(other, "calendar.pending")) == 1

    code, out, _ = run_cli(url, capsys, "--format", "json", "sla", "sweep", now=now)
    assert code == 0 and json.loads(out)["calendar"]["needed_years"] == [NEXT]
    code, out, _ = run_cli(url, capsys, "sla", "sweep", now=now)
    assert code == 0 and "calendar provisional" in out  # the warning line in text, in Chinese
    (warned,) = [line for line in out.splitlines() if line.startswith("警告（工作日历）：")]
    assert f"项未结期限待定，须工作日历覆盖 {NEXT} 年" in warned and f"请载入 {NEXT} 年日历" in warned
    code, out, _ = run_cli(url, capsys, "calendar", "status", now=now)
    assert code == 0 and f"项期限待定（须载入 {NEXT} 年日历）" in out

    # a provisional year fills the legal deadline, marked provisional
    code, out, err = run_cli(url, capsys, "--format", "json", "calendar", "provisional", str(NEXT), now=now)
    assert code == 0, err
    assert json.loads(out)["provisional_years"] == [NEXT]
    code, out, _ = run_cli(url, capsys, "--format", "json", "task", "list", "--case", case_id, now=now)
    task = next(t for t in json.loads(out) if t["id"] == task_id)
    assert task["deadlines"]["pending"] == [] and task["deadlines"]["legal_due"] is not None
    assert task["deadlines"]["provisional"] is True
    code, out, _ = run_cli(url, capsys, "--format", "json", "calendar", "status", now=now)
    status = json.loads(out)
    assert status["provisional_years"] == [NEXT] and status["pending_deadlines"] == 0
    assert [s["version"] for s in status["sources"]] == [f"provisional-{NEXT}"]

    # a covering file without 春节 is refused whole, naming the date and the holiday
    spring = [d for d, n in weekday_holidays(NEXT).items() if n == "春节"]
    bad = tmp_path / "bad.toml"
    good_text = year_file(NEXT, f"county-{NEXT}")
    bad.write_text(good_text.replace(f'"{spring[0].isoformat()}", ', ""), encoding="utf-8")
    code, out, err = run_cli(url, capsys, "calendar", "load", str(bad), now=now)
    assert code == 2 and spring[0].isoformat() in err and "春节" in err and err.count("\n") == 1
    code, out, _ = run_cli(url, capsys, "--format", "json", "calendar", "status", now=now)
    assert [s["version"] for s in json.loads(out)["sources"]] == [f"provisional-{NEXT}"]  # nothing changed

    # the State Council's schedule replaces the provisional year and recomputes
    good = tmp_path / "good.toml"
    good.write_text(good_text.replace("work = []", f'work = ["{_a_weekend(NEXT)}"]'), encoding="utf-8")
    code, out, err = run_cli(url, capsys, "--format", "json", "calendar", "load", str(good), now=now)
    assert code == 0, err
    assert json.loads(out)["provisional_years"] == []
    code, out, _ = run_cli(url, capsys, "--format", "json", "task", "list", "--case", case_id, now=now)
    deadlines = next(t for t in json.loads(out) if t["id"] == task_id)["deadlines"]
    assert deadlines["provisional"] is False and deadlines["pending"] == []
    assert deadlines["calendar"].endswith(f"+county-{NEXT}")
    # every view equals a fresh computation with the calendar now stored
    fresh = step_schedule(
        start,
        TimeLimit(unit="workday", legal=10, promised=5),
        calendar=WorkCalendar([parse_override(good.read_text())]),
    )
    assert deadlines["legal_due"] == local_iso(fresh.legal_due)
    assert deadlines["promised_due"] == local_iso(fresh.promised_due)
    shown_at = {s["name"]: s["at"] for s in deadlines["signals"]}
    assert shown_at["red"] == local_iso(fresh.red_card_at) and shown_at["notice"] == local_iso(
        fresh.notice_at
    )


def _a_weekend(year: int) -> str:
    day = date(year, 1, 2)
    while day.weekday() != 5:
        day += timedelta(days=1)
    return day.isoformat()


# -- an extension past the data ------------------------------------------------------------------------


def test_an_extension_past_the_data_makes_the_instants_pending(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'sim.db'}"
    start = at(f"{BASE.last_date.year}-12-01T10:00")
    with simulation(url, CLOCK_BUNDLE, start) as (engine, clock):
        case = engine.start_case("review_clock")
        review = next(t for t in engine.tasks(case=case.id) if t.step == "review")
        assert review.deadlines is not None and review.deadlines["pending"] == []
        old = {s["name"]: s["at"] for s in review.deadlines["signals"]}
        extended = engine.extend(review.id, days=30, approver="局长", reason="专家评审")
        shown = extended.deadlines
        assert shown is not None
        assert shown["promised_due"] is None and shown["legal_due"] is None
        assert set(shown["pending"]) == {
            "promised",
            "legal",
            "notice",
            "yellow_light",
            "yellow_card",
            "red_card",
        }
        assert all(s["at"] not in old.values() for s in shown["signals"] if s["state"] == "pending")
        clock.set(datetime.combine(date(BASE.last_date.year, 12, 31), time(12), SHANGHAI))
        issued = engine.sweep().issued
        assert [i for i in issued if i.task == review.id] == []  # never at the pre-extension instants


# -- files -----------------------------------------------------------------------------------------------


def test_a_newer_file_for_a_year_replaces_the_older_one() -> None:
    wrong = year_file(NEXT, "v1", rest=(f"{NEXT}-03-03",))
    right = year_file(NEXT, "v2")
    cal = WorkCalendar([parse_override(wrong), parse_override(right)])
    assert cal.is_workday(date(NEXT, 3, 3))  # the wrongly listed rest day is gone
    assert not WorkCalendar([parse_override(wrong)]).is_workday(date(NEXT, 3, 3))


def test_a_local_adjustment_needs_a_reason_and_merges_over_the_covered_year() -> None:
    day = BASE.last_date - timedelta(days=BASE.last_date.weekday() + 7)  # a Monday of the last year
    with pytest.raises(ConfigError, match="reason"):
        parse_override(f'version = "close-1"\nrest = ["{day.isoformat()}"]\n')
    local = parse_override(f'version = "close-1"\nreason = "防汛闭馆"\nrest = ["{day.isoformat()}"]\n')
    cal = WorkCalendar([local])
    assert not cal.is_workday(day) and BASE.is_workday(day)
    assert cal.rest_days(day.year) == sorted([*BASE.rest_days(day.year), day])


def test_a_provisional_year_rests_on_its_weekday_holidays_only() -> None:
    override = parse_override(provisional_text(NEXT))
    cal = WorkCalendar([override])
    assert override.provisional and cal.provisional_years == frozenset({NEXT})
    assert cal.rest_days(NEXT) == sorted(weekday_holidays(NEXT)) and cal.make_up_days(NEXT) == []


@pytest.mark.parametrize("year", [2025, 2026])
def test_the_statutory_list_matches_the_published_schedules(year: int) -> None:
    """The lunar-date library and the 2024 revision give days that the State Council's 2025 and
    2026 schedules (chinese-calendar) indeed keep off."""
    for day, name in weekday_holidays(year).items():
        assert not BASE.is_workday(day), (day, name)


# -- calendar add / show read the stored calendar --------------------------------------------------------


def test_add_and_show_read_the_stored_calendar(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite:///{tmp_path / 'sim.db'}"
    day = BASE.last_date - timedelta(days=3)
    now = f"{day.isoformat()}T10:00"
    with simulation(url, CLOCK_BUNDLE, at(now)):
        pass
    code, _, err = run_cli(url, capsys, "calendar", "add", day.isoformat(), "20", now=now)
    assert code == 2 and "calendar load" in err
    path = tmp_path / "next.toml"
    path.write_text(year_file(NEXT, f"county-{NEXT}"), encoding="utf-8")
    assert run_cli(url, capsys, "calendar", "load", str(path), now=now)[0] == 0
    code, out, err = run_cli(url, capsys, "calendar", "add", day.isoformat(), "20", now=now)  # the hint works
    assert code == 0, err
    assert out.strip() == FULL.add_workdays(day, 20).isoformat()
    code, out, err = run_cli(url, capsys, "--format", "json", "calendar", "show", str(NEXT), now=now)
    assert code == 0, err and json.loads(out)["calendar"].endswith(f"county-{NEXT}")
    missing = tmp_path / "none.db"
    code, _, _ = run_cli(f"sqlite:///{missing}", capsys, "calendar", "show", str(NEXT - 1), now=now)
    assert code == 0 and not missing.exists()  # read only: no database is created


# -- the calendar.pending event: exactly once under concurrent sweepers ------------------------------


def _announce_race(url: str, sweepers: int) -> None:
    start = datetime.combine(BASE.last_date - timedelta(days=2), time(10), SHANGHAI)
    with simulation(url, CLOCK_BUNDLE, start) as (engine, _clock):
        engine.start_case("review_clock")
    engines = [Engine(url, clock=SimulatedClock(start)) for _ in range(sweepers)]
    barrier = threading.Barrier(sweepers)
    errors: list[BaseException] = []

    def sweep(engine: Engine) -> None:
        barrier.wait()
        try:
            engine.sweep(timers=False)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=sweep, args=(e,)) for e in engines]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    try:
        assert errors == []
        assert len(_outbox(engines[0], "calendar.pending")) == 1
    finally:
        for e in engines:
            e.close()


@pytest.mark.postgres
def test_four_sweepers_on_postgresql_announce_a_needed_year_once(postgres: object) -> None:
    _announce_race(postgres.create_database(), 4)  # type: ignore[attr-defined]


def test_two_sweepers_on_sqlite_announce_a_needed_year_once(tmp_path: Path) -> None:
    _announce_race(f"sqlite:///{tmp_path / 'race.db'}", 2)


# -- calendar status ------------------------------------------------------------------------------------


def test_status_flags_open_steps_without_deadlines_unsupervised(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A step open at an upgrade from 0001 has no deadline row: `calendar status` names it."""
    url = f"sqlite:///{tmp_path / 'sim.db'}"
    start = at(f"{BASE.last_date.year}-06-01T10:00")
    with simulation(url, CLOCK_BUNDLE, start) as (engine, _clock):
        case = engine.start_case("review_clock")
        review = next(t for t in engine.tasks(case=case.id) if t.step == "review")
        with engine.context.write() as tx:
            tx.session.execute(delete(DeadlineRow).where(DeadlineRow.id == review.id))
        doc = engine.calendar_status()
        assert [u["task"] for u in doc["unsupervised"]] == [review.id]
        assert doc["pending_deadlines"] == 0 and doc["sources"] == [] and doc["provisional_years"] == []
    now = f"{BASE.last_date.year}-06-01T11:00"
    code, out, err = run_cli(url, capsys, "calendar", "status", now=now)
    assert code == 0, err
    assert "警告：1 个未结步骤没有期限，不受督办" in out and review.id in out
    assert f"数据止于 {BASE.last_date.isoformat()}" in out and "待定期限：0" in out


# -- the built calendar, cached per stored version -------------------------------------------------------


def test_the_built_calendar_is_cached_per_stored_version(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from hennan_flow.clock import calendar_cache, workdays

    monkeypatch.setenv("HENNAN_FLOW_CACHE_DIR", str(tmp_path / "cache"))
    stored = [(year_file(NEXT, f"county-{NEXT}"), "county.toml")]
    built = calendar_cache.stored_calendar(stored)
    (entry,) = (tmp_path / "cache").iterdir()
    parsed: list[object] = []
    real = workdays.parse_override
    monkeypatch.setattr(calendar_cache, "parse_override", lambda *a, **k: parsed.append(a) or real(*a, **k))
    again = calendar_cache.stored_calendar(stored)  # another engine start: no file parsed
    assert parsed == [] and again.to_state() == built.to_state()
    assert again.add_workdays(BASE.last_date, 20) == FULL.add_workdays(BASE.last_date, 20)
    assert (
        again.last_date == FULL.last_date and again.holiday_name(sorted(weekday_holidays(NEXT))[0]) == "元旦"
    )
    assert [o.version for o in again.overrides] == [f"county-{NEXT}"]  # parsed when asked for
    other = calendar_cache.stored_calendar([(year_file(NEXT, "county-b"), "b.toml")])  # another version
    assert other.version.endswith("+county-b") and len(list((tmp_path / "cache").iterdir())) == 2
    entry.write_text('{"format": 1, "version": ', encoding="utf-8")  # damaged: rebuilt, never trusted
    assert calendar_cache.stored_calendar(stored).to_state() == built.to_state()


def test_a_card_issued_in_a_provisional_year_says_so(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'sim.db'}"
    start = datetime.combine(BASE.last_date - timedelta(days=3), time(10), SHANGHAI)
    with simulation(url, CLOCK_BUNDLE, start) as (engine, clock):
        engine.provisional_calendar(NEXT, actor="admin")
        case = engine.start_case("review_clock")
        review = next(t for t in engine.tasks(case=case.id) if t.step == "review")
        assert review.deadlines is not None and review.deadlines["provisional"] is True
        red = next(s["at"] for s in review.deadlines["signals"] if s["name"] == "red")
        clock.set(datetime.fromisoformat(red) + timedelta(hours=1))
        engine.sweep()
        (card,) = [c for c in engine.cards() if c.task == review.id and c.color == "red"]
        assert card.provisional and card.as_dict()["provisional"] is True
        payloads = [json.loads(r.payload) for r in _outbox(engine, "card.issued")]
        assert [p.get("provisional") for p in payloads if p.get("card") == card.id] == [True]
        assert engine.supervision_report()["provisional_years"] == [NEXT]


def test_files_stored_before_these_rules_still_build() -> None:
    """A database may hold files loaded before `reason` and the statutory check: the engine still
    starts (they were accepted then); only new files are held to the rules."""
    old_local = 'version = "old-1"\nrest = ["2022-10-12"]\n'
    old_cover = f'version = "old-2"\nyears = [{NEXT}]\nrest = ["{NEXT}-01-01", "2022-10-13"]\n'
    for text in (old_local, old_cover):
        with pytest.raises(ConfigError):
            parse_override(text)
    cal = WorkCalendar([parse_override(t, stored=True) for t in (old_local, old_cover)])
    assert not cal.is_workday(date(2022, 10, 12)) and not cal.is_workday(date(2022, 10, 13))
    assert cal.covers(date(NEXT, 6, 1)) and not cal.is_workday(date(NEXT, 1, 1))


def test_a_provisional_year_is_refused_where_data_exists(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'sim.db'}"
    now = f"{BASE.last_date.isoformat()}T10:00"
    with simulation(url, CLOCK_BUNDLE, at(now)):
        pass
    code, out, err = run_cli(url, capsys, "calendar", "provisional", str(BASE.last_date.year), now=now)
    assert (code, out) == (2, "") and "年已有日历数据" in err and err.count("\n") == 1
    code, _, err = run_cli(url, capsys, "calendar", "add", BASE.last_date.isoformat(), "20", now=now)
    assert code == 2 and f"calendar provisional {NEXT}" in err  # the hint names it
    assert run_cli(url, capsys, "calendar", "provisional", str(NEXT), now=now)[0] == 0
    code, out, err = run_cli(url, capsys, "calendar", "add", BASE.last_date.isoformat(), "20", now=now)
    assert code == 0, err  # following the hint makes the same command succeed
    code, _, err = run_cli(url, capsys, "calendar", "provisional", str(NEXT), now=now)
    assert code == 2 and "年已有日历数据（临时年份）" in err
