"""The step lifecycle (issue 17): a step the process moves past while it is paused ends its pause.

A boundary timer cancelling a paused step and a terminate end cancelling one went through a second
cancel path that forgot the pause: its row stayed open, the case clock stayed stopped (case-level
cards held back) and, once the case had ended, the report's paused time kept growing with the
calendar. Now every path ends a step through `engine.lifecycle.end_step`: the pause is closed at the
cancel instant, the case clock runs again, and the paused time is what it was at that instant.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from helpers import FIXTURES, at, rows, simulation
from hennan_flow.db.raw import Raw
from hennan_flow.engine import Engine, SimulatedClock

BUNDLE = FIXTURES / "lifecycle" / "processes"
START = at("2026-03-02T09:00")  # Monday


@pytest.fixture
def sim(tmp_path: Path) -> Iterator[tuple[Engine, SimulatedClock]]:
    with simulation(f"sqlite:///{tmp_path / 'sim.db'}", BUNDLE, START) as sim:
        yield sim


def pauses(engine: Engine, case_id: str) -> list[tuple[str, datetime | None, datetime | None]]:
    """(reason, started, ended) of the case's pauses, as stored."""
    sql = "SELECT reason, started_at, ended_at FROM hf_pause WHERE case_id = ? ORDER BY id"
    return [(r, Raw.instant(s), Raw.instant(e)) for r, s, e in rows(engine, sql, (case_id,))]


def supplement_days(engine: Engine) -> tuple[int, int]:
    """(pauses, working days) of 补正 in the supervision report, as it stands at the engine's clock."""
    figures = engine.supervision_report()["totals"]["paused"]["supplement"]
    return figures["pauses"], figures["workdays"]


def test_a_boundary_timer_cancelling_a_paused_step_closes_its_pause(
    sim: tuple[Engine, SimulatedClock],
) -> None:
    engine, clock = sim
    case = engine.start_case("boundary_cancel")
    (review,) = engine.tasks(case=case.id)
    before = engine.case(case.id).deadlines
    assert before is not None and before["paused"] is False
    clock.set(at("2026-03-03T10:00"))  # 补正 on Tuesday: the step's and the case's clocks stop
    engine.pause(review.id, reason="supplement", actor="clerk")
    assert engine.case(case.id).deadlines["paused"] is True  # type: ignore[index]

    clock.set(at("2026-03-09T10:00"))  # the next Monday: the 3-working-day boundary timer is due
    assert engine.fire_timers(case.id) is True
    cancelled = engine.task(review.id)
    assert (cancelled.state, cancelled.ended_at) == ("cancelled", at("2026-03-09T10:00"))
    assert [t.step for t in engine.tasks(case=case.id)] == ["escalate"]
    # the pause ends at the cancel instant, and the case clock runs again, moved by the pause
    assert pauses(engine, case.id) == [("supplement", at("2026-03-03T10:00"), at("2026-03-09T10:00"))]
    after = engine.case(case.id).deadlines
    assert after is not None and after["paused"] is False
    # paused Tue 03-03 10:00 → Mon 03-09 10:00: working days 03-03 … 03-06 = 4
    assert after["promised_due"] != before["promised_due"]
    assert supplement_days(engine) == (1, 4)

    # two months on, the case done: the report's paused time has not grown
    (escalate,) = engine.tasks(case=case.id)
    engine.complete_task(escalate.id, actor="clerk")
    assert engine.case(case.id).state == "completed"
    clock.set(at("2026-05-11T10:00"))
    assert supplement_days(engine) == (1, 4)


def test_a_terminate_end_cancelling_a_paused_step_closes_its_pause(
    sim: tuple[Engine, SimulatedClock],
) -> None:
    engine, clock = sim
    case = engine.start_case("terminate_end")
    steps = {t.step: t for t in engine.tasks(case=case.id)}
    clock.set(at("2026-03-03T10:00"))
    engine.pause(steps["review"].id, reason="supplement", actor="clerk")
    assert engine.case(case.id).deadlines["paused"] is True  # type: ignore[index]

    clock.set(at("2026-03-09T10:00"))  # the site check fails: the terminate end ends the case
    engine.complete_task(steps["site"].id, actor="inspector")
    ended = engine.case(case.id)
    assert (ended.state, ended.ended_at) == ("completed", at("2026-03-09T10:00"))
    review = engine.task(steps["review"].id)
    assert (review.state, review.ended_at) == ("cancelled", at("2026-03-09T10:00"))
    assert pauses(engine, case.id) == [("supplement", at("2026-03-03T10:00"), at("2026-03-09T10:00"))]
    assert ended.deadlines is not None and ended.deadlines["paused"] is False
    assert supplement_days(engine) == (1, 4)

    clock.set(at("2026-05-11T10:00"))  # two months later: 10 working days would read 45 more
    assert supplement_days(engine) == (1, 4)


def test_a_boundary_timer_cancelling_a_step_in_a_special_procedure_closes_it_and_its_overrun_never_fires(
    sim: tuple[Engine, SimulatedClock],
) -> None:
    engine, clock = sim
    case = engine.start_case("boundary_cancel")
    (review,) = engine.tasks(case=case.id)
    clock.set(at("2026-03-03T10:00"))  # expert review: 10 working days declared
    engine.pause(review.id, reason="special_procedure", kind="expert_review", actor="clerk")
    clock.set(at("2026-03-09T10:00"))  # the boundary timer cancels the step inside the limit
    assert engine.fire_timers(case.id) is True
    assert engine.task(review.id).state == "cancelled"
    assert pauses(engine, case.id) == [("special_procedure", at("2026-03-03T10:00"), at("2026-03-09T10:00"))]
    states = rows(engine, "SELECT state FROM hf_signal WHERE trigger = 'special_procedure_overrun'")
    assert states == [("cancelled",)]
    clock.set(at("2026-04-01T10:00"))  # long past the limit: nothing about the pause fires
    assert "special_procedure_overrun" not in {i.trigger for i in engine.sweep().issued}
