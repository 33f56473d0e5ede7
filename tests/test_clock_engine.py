"""The statutory clock inside the engine (issue 6): stored deadlines, pauses, extensions, calendars."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from helpers import (
    ACCEPT,
    CLOCK_BUNDLE,
    CLOCK_START,
    REVIEW_LIB,
    at,
    database,
    iso,
    rows,
    simulation,
    year_file,
)
from hennan_flow.cli import main
from hennan_flow.clock.instants import SHANGHAI
from hennan_flow.db import migrate
from hennan_flow.db.raw import Raw
from hennan_flow.engine import Engine, SimulatedClock
from hennan_flow.errors import CalendarRangeError, InputError, StateError


@pytest.fixture
def sim(tmp_path: Path) -> Iterator[tuple[Engine, SimulatedClock]]:
    with simulation(f"sqlite:///{tmp_path / 'sim.db'}", CLOCK_BUNDLE, CLOCK_START) as sim:
        yield sim


def signals(deadlines: dict[str, object] | None) -> dict[str, tuple[str, str]]:
    assert deadlines is not None
    return {s["name"]: (s["at"], s["state"]) for s in deadlines["signals"]}  # type: ignore[index,union-attr]


def test_national_day_2025_with_a_supplement_pause_and_an_extension(
    sim: tuple[Engine, SimulatedClock],
) -> None:
    engine, clock = sim
    case = engine.start_case(
        "review_clock"
    )  # accepted Mon 2025-09-29 10:00; 10-01..10-08 off, 10-11 Sat works
    review = next(t for t in engine.tasks(case=case.id) if t.step == "review")
    d = review.deadlines
    assert d is not None and d["pending"] == [] and d["paused"] is False
    # working days after 09-29: 09-30, 10-09, 10-10, 10-11(Sat), 10-13, 10-14, 10-15, 10-16, 10-17, 10-20
    assert d["promised_due"] == iso("2025-10-14T00:00")  # end of the 5th working day (10-13)
    assert d["legal_due"] == iso("2025-10-21T00:00")  # end of the 10th (10-20)
    assert signals(d) == {
        "notice": (iso("2025-10-12T00:00"), "pending"),  # end of the 4th (10-11, the make-up Saturday)
        "yellow_light": (iso("2025-10-12T00:00"), "pending"),  # ceil(0.8 × 5) = 4th
        "yellow": (iso("2025-10-14T00:00"), "pending"),  # the promised deadline
        "red": (iso("2025-10-17T00:00"), "pending"),  # 3 working days after 10-13, earlier than the legal one
    }
    case_d = engine.case(case.id).deadlines
    assert case_d is not None
    assert case_d["promised_due"] == iso("2025-10-17T00:00")  # 8th working day: 10-16
    assert case_d["legal_due"] == iso("2025-11-04T00:00")  # 20th: 11-03

    # 补正: paused Thu 10-09 10:00 → Mon 10-13 09:00: working days 10-09, 10-10, 10-11 = 3
    clock.set(at("2025-10-09T10:00"))
    paused = engine.pause(review.id, reason="supplement", actor="clerk")
    assert paused.state == "paused"
    assert {s[1] for s in signals(paused.deadlines).values()} == {"paused"}
    assert engine.case(case.id).deadlines["paused"] is True  # type: ignore[index]
    clock.set(at("2025-10-13T09:00"))
    resumed = engine.resume(review.id, actor="clerk")
    d = resumed.deadlines
    assert d is not None
    assert d["promised_due"] == iso("2025-10-17T00:00")  # 10-13 + 3 working days = 10-16
    assert d["legal_due"] == iso("2025-10-24T00:00")  # 10-20 + 3 = 10-23
    assert signals(d) == {
        "notice": (iso("2025-10-16T00:00"), "pending"),  # 10-11 + 3 = 10-15
        "yellow_light": (iso("2025-10-16T00:00"), "pending"),
        "yellow": (iso("2025-10-17T00:00"), "pending"),
        "red": (iso("2025-10-22T00:00"), "pending"),  # 10-16 + 3 = 10-21
    }
    case_d = engine.case(case.id).deadlines
    assert case_d is not None and case_d["paused"] is False
    assert case_d["promised_due"] == iso("2025-10-22T00:00")  # the case clock stopped too: 10-16 + 3 = 10-21

    # 延长审批 by 2 working days on 10-14
    clock.set(at("2025-10-14T15:00"))
    extended = engine.extend(review.id, days=2, approver="局长", reason="需要补充调查", actor="clerk")
    d = extended.deadlines
    assert d is not None
    assert d["promised_due"] == iso("2025-10-21T00:00")  # 10-16 + 2 = 10-20
    assert d["legal_due"] == iso("2025-10-28T00:00")  # 10-23 + 2 = 10-27
    assert signals(d) == {
        "notice": (iso("2025-10-18T00:00"), "pending"),  # 10-15 + 2 = 10-17
        "yellow_light": (iso("2025-10-18T00:00"), "pending"),
        "yellow": (iso("2025-10-21T00:00"), "pending"),
        "red": (iso("2025-10-24T00:00"), "pending"),  # 10-21 + 2 = 10-23
    }
    assert d["workdays_left"] == 5  # 10-14, 10-15, 10-16, 10-17, 10-20
    events = [(e.type, e.detail) for e in engine.case(case.id).events if e.type.startswith("task.")]
    assert ("task.paused", {"reason": "supplement"}) in events
    assert ("task.extended", {"days": 2, "approver": "局长"}) in events


def test_a_step_finished_late_gets_its_due_cards_in_the_same_transaction(
    sim: tuple[Engine, SimulatedClock],
) -> None:
    engine, clock = sim
    case = engine.start_case("review_clock")
    review = next(t for t in engine.tasks(case=case.id) if t.step == "review")
    clock.set(at("2025-10-15T11:00"))  # past the promised deadline (10-14 00:00), before the red card (10-17)
    engine.complete_task(review.id, actor="clerk")
    issued = [
        (e.type, e.detail["name"], e.at)
        for e in engine.case(case.id).events
        if e.type in {"card.issued", "signal.fired"} and e.step == "review"
    ]
    assert issued == [
        ("signal.fired", "notice", at("2025-10-12T00:00")),
        ("signal.fired", "yellow_light", at("2025-10-12T00:00")),
        ("card.issued", "yellow", at("2025-10-14T00:00")),
    ]
    done = engine.task(review.id)
    assert signals(done.deadlines)["red"][1] == "cancelled"


def test_a_boundary_timer_in_working_days_fires_on_the_simulated_clock(
    sim: tuple[Engine, SimulatedClock],
) -> None:
    engine, clock = sim
    case = engine.start_case("review_clock")
    assert [t.step for t in engine.tasks(case=case.id)] == ["review"]
    clock.set(at("2025-10-13T23:59:59"))  # workdays(5) = end of 10-13: not yet
    assert engine.due_timer_cases() == []
    assert engine.fire_timers(case.id) is False
    clock.set(at("2025-10-14T00:00"))
    assert engine.due_timer_cases() == [case.id]
    assert engine.fire_timers(case.id) is True
    assert sorted(t.step for t in engine.tasks(case=case.id)) == ["escalate", "review"]


def test_deadlines_past_the_calendar_data_are_pending_until_an_override_arrives(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'sim.db'}"
    with simulation(url, CLOCK_BUNDLE, at("2026-12-24T10:00")) as (engine, clock):
        last = engine.calendar().last_date
        clock.set(datetime.combine(last, datetime.min.time()).replace(tzinfo=SHANGHAI).replace(hour=10))
        case = engine.start_case("review_clock")
        review = next(t for t in engine.tasks(case=case.id) if t.step == "review")
        assert case.ready == tuple(
            engine.tasks(case=case.id)
        )  # handed back as the queue shows it, pending too
        assert review.deadlines is not None
        assert "promised" in review.deadlines["pending"] and review.deadlines["promised_due"] is None
        assert review.deadlines["workdays_left"] is None
        assert (
            engine.due_timer_cases() == []
        )  # the boundary timer's workdays(5) cannot be computed yet either
        year = last.year + 1
        override = tmp_path / "next.toml"
        override.write_text(year_file(year, f"hengnan-{year}-1"), encoding="utf-8")
        result = engine.load_calendar(str(override), actor="admin")
        assert result["recomputed"] >= 2  # the step and the case
        review = engine.task(review.id)
        assert review.deadlines is not None and review.deadlines["pending"] == []
        assert review.deadlines["promised_due"] is not None
        assert review.deadlines["calendar"].endswith(f"+hengnan-{year}-1")
        assert any(e.type == "deadline.recomputed" for e in engine.case(case.id).events)
        # the pending BPMN timer is computed at the next sweep
        assert case.id in engine.due_timer_cases()
        assert engine.fire_timers(case.id) is True
        assert engine.due_timer_cases() == []
        assert [t.step for t in engine.tasks(case=case.id)] == ["review"]


def test_bad_clock_requests_are_answered_clearly(sim: tuple[Engine, SimulatedClock]) -> None:
    engine, _clock = sim
    case = engine.start_case("review_clock")
    review = next(t for t in engine.tasks(case=case.id) if t.step == "review")
    with pytest.raises(StateError, match="未暂停，无需恢复"):
        engine.resume(review.id)
    with pytest.raises(InputError, match="approver"):
        engine.extend(review.id, days=2, approver="", reason="x")
    with pytest.raises(InputError, match="reason"):
        engine.extend(review.id, days=2, approver="局长", reason=" ")
    with pytest.raises(InputError, match="须为 1 到 365 之间的整数个工作日"):
        engine.extend(review.id, days=0, approver="局长", reason="x")
    with pytest.raises(InputError, match="未知的暂停原因"):
        engine.pause(review.id, reason="lunch")
    engine.complete_task(review.id)
    with pytest.raises(StateError, match="只有办理中"):
        engine.pause(review.id, reason="supplement")


def test_an_extension_is_bounded_in_the_library_and_changes_nothing_when_refused(
    sim: tuple[Engine, SimulatedClock],
) -> None:
    engine, _clock = sim
    case = engine.start_case("review_clock")
    review = next(t for t in engine.tasks(case=case.id) if t.step == "review")
    before = engine.task(review.id)
    events = len(engine.case(case.id).events)
    for days in (10**8, 366, True):
        with pytest.raises(InputError, match="365"):
            engine.extend(review.id, days=days, approver="局长", reason="需要补充调查")
    after = engine.task(review.id)
    assert after.deadlines == before.deadlines
    assert len(engine.case(case.id).events) == events
    done = engine.extend(review.id, days=365, approver="局长", reason="需要补充调查")
    assert done.deadlines != before.deadlines


def test_cli_pause_resume_extend_and_calendar_load(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = f"sqlite:///{tmp_path / 'cli.db'}"

    def run(*args: str) -> tuple[int, str, str]:
        with pytest.raises(SystemExit) as info:
            main(["--db", db, *args])
        out, err = capsys.readouterr()
        return int(info.value.code or 0), out, err

    assert run("db", "upgrade", "--simulation")[0] == 0
    assert run("deploy", str(CLOCK_BUNDLE))[0] == 0
    now = "2025-09-29T10:00:00+08:00"
    code, out, _ = run("--now", now, "--format", "json", "case", "start", "review_clock")
    case_id = json.loads(out)["id"]
    code, out, _ = run("--now", now, "task", "list", "--case", case_id, "--format", "json")
    task = json.loads(out)[0]
    assert task["deadlines"]["promised_due"] == iso("2025-10-14T00:00")
    assert (
        run("--now", "2025-10-09T10:00:00+08:00", "task", "pause", task["id"], "--reason", "supplement")[0]
        == 0
    )
    code, out, _ = run("--now", "2025-10-13T09:00:00+08:00", "task", "resume", task["id"])
    assert code == 0 and "2025-10-17T00:00:00+08:00" in out
    code, _out, err = run("--now", "2025-10-13T09:00:00+08:00", "task", "resume", task["id"])
    assert code == 2 and err.startswith("错误：") and err.count("\n") == 1
    code, _out, err = run("task", "extend", task["id"], "--days", "2", "--approver", "局长", "--reason", " ")
    assert code == 2 and "reason" in err
    bad = tmp_path / "bad.toml"
    bad.write_text('version = "x"\nyears = [2031\n', encoding="utf-8")
    code, _out, err = run("calendar", "load", str(bad))
    assert code == 2 and "bad.toml:2:" in err
    with pytest.raises(CalendarRangeError):
        Engine(db).calendar().is_workday(datetime(2031, 1, 2).date())


def test_a_step_completed_at_its_deadline_instant_is_on_time(sim: tuple[Engine, SimulatedClock]) -> None:
    engine, clock = sim
    case = engine.start_case("review_clock")
    review = next(t for t in engine.tasks(case=case.id) if t.step == "review")
    clock.set(at("2025-10-14T00:00"))  # exactly the promised deadline (end of 10-13)
    engine.complete_task(review.id, actor="clerk")
    cards = [e for e in engine.case(case.id).events if e.type == "card.issued"]
    assert cards == []
    assert signals(engine.task(review.id).deadlines)["yellow"][1] == "cancelled"


def _stored_signals(engine: Engine, owner: str) -> list[tuple[str, str, str]]:
    """(name, state, due instant) of the hf_signal rows of a deadline, in the order stored."""
    found = rows(
        engine, "SELECT name, state, due_at FROM hf_signal WHERE deadline_id = ? ORDER BY id", (owner,)
    )
    return [(name, state, str(Raw.instant(due))) for name, state, due in found]


def test_a_steps_signals_ride_on_its_deadline_until_something_needs_them(db_url: str) -> None:
    with simulation(db_url, CLOCK_BUNDLE, CLOCK_START) as (engine, clock):
        started = engine.start_case("review_clock")
        on_time, late = (engine.start_case("review_clock").id, engine.start_case("review_clock").id)
        review = {c: next(t for t in engine.tasks(case=c) if t.step == "review") for c in (on_time, late)}
        first = next(t for t in started.ready if t.step == "review")
        # the queue (read back) shows what the start handed back (from memory), signals included
        assert engine.task(first.id).deadlines == first.deadlines
        assert _stored_signals(engine, first.id) == []  # nothing stored: most steps end before any is due

        engine.complete_task(review[on_time].id, actor="clerk")  # in time: nothing fires, nothing is stored
        assert _stored_signals(engine, review[on_time].id) == []
        assert {s[1] for s in signals(engine.task(review[on_time].id).deadlines).values()} == {"cancelled"}

        clock.set(at("2025-10-12T08:00"))  # notice and yellow light of each review step are due
        issued = engine.sweep(timers=False).issued
        assert sorted((i.case, i.name) for i in issued) == sorted(
            (c, n) for c in (started.id, late) for n in ("notice", "yellow_light")
        )
        assert all(i.at == at("2025-10-12T00:00") for i in issued)  # at their instants, as computed at start
        stored = _stored_signals(engine, review[late].id)
        assert [(n, s) for n, s, _ in stored] == [
            ("notice", "fired"),
            ("yellow_light", "fired"),
            ("yellow", "pending"),
            ("red", "pending"),
        ]
        before = {t: engine.task(t).deadlines for t in (first.id, review[on_time].id, review[late].id)}
        assert before[first.id]["signals"][2:] == first.deadlines["signals"][2:]  # type: ignore[index]
        assert engine.sweep(timers=False).issued == ()  # stored once, fired once

        # the downgrade stores what still rides (the case deadlines, armed; the step that ended in
        # time, cancelled) as the rows the views showed
        shown = {t: engine.task(t).deadlines for t in before}
        shown.update((c, engine.case(c).deadlines) for c in (started.id, on_time, late))
        migrate.downgrade(database(engine), "0006")
        for owner in shown:
            found = rows(
                engine,
                "SELECT name, due_at, state FROM hf_signal WHERE deadline_id = ? ORDER BY due_at, id",
                (owner,),
            )
            stored = [{"name": n, "at": Raw.local_iso(a), "state": s} for n, a, s in found]
            assert stored == shown[owner]["signals"], owner  # type: ignore[index]
        assert {s["state"] for s in shown[on_time]["signals"]} == {"cancelled"}  # type: ignore[index]
        assert {s["state"] for s in shown[late]["signals"]} == {"pending"}  # type: ignore[index]
        migrate.upgrade(database(engine))


def test_a_calendar_load_fires_no_timer_on_a_case_without_bpmn_timers(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'sim.db'}"
    with simulation(url, REVIEW_LIB / "processes", CLOCK_START) as (engine, _clock):
        case = engine.start_case("review", data=ACCEPT)
        override = tmp_path / "next.toml"
        override.write_text(year_file(2031, "hengnan-2031-1"))
        engine.load_calendar(str(override), actor="admin")
        assert case.id not in engine.due_timer_cases()
        engine.sweep()
        assert [e.type for e in engine.case(case.id).events if e.type == "timer.fired"] == []
