"""Public services and non-accountable lanes (issue 20, DESIGN §7): a service step needs no invented legal
limit (its red card comes from the redAfter rule), and a bank's lane gets signals but never cards."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from helpers import FIXTURES, at, simulation
from hennan_flow.engine import Engine, SimulatedClock

BUNDLE = FIXTURES / "lanes" / "processes"
START = at("2026-03-02T09:00")  # Monday


@pytest.fixture
def sim(tmp_path: Path) -> Iterator[tuple[Engine, SimulatedClock]]:
    with simulation(f"sqlite:///{tmp_path / 'sim.db'}", BUNDLE, START) as sim:
        yield sim


def test_a_service_step_without_legal_limit_gets_its_red_card_by_red_after_and_a_bank_lane_none(
    sim: tuple[Engine, SimulatedClock],
) -> None:
    engine, clock = sim
    bundle = engine.bundle("lanes")
    assert bundle.step("social_card").category == "service"  # type: ignore[union-attr]
    assert [d.accountable for d in bundle.departments] == [True, False]
    case = engine.start_case("lanes")
    clock.set(at("2026-03-16T09:00"))  # two weeks on, neither step done
    issued = engine.sweep().issued
    by_step = {(i.step, i.name): i for i in issued}
    # the service step: yellow at its promise (Wed 03-04 end), red 3 working days later (Mon 03-09 end)
    assert by_step[("social_card", "red")].trigger == "overdue_workdays"
    assert by_step[("social_card", "red")].at == at("2026-03-10T00:00")
    # the bank's lane: its signals fire (it is told), but no card is issued to it
    assert {n for s, n in by_step if s == "bank_account"} >= {"yellow", "red"}
    assert all(i.card is None for i in issued if i.step == "bank_account")
    cards = engine.cards()
    assert sorted((c.step, c.color) for c in cards if c.case == case.id and c.scope == "step") == [
        ("social_card", "red"),
        ("social_card", "yellow"),
    ]
    assert all(c.department != "bank" for c in cards)
    # the supervision report shows the bank's lane apart, after the departments, as service environment
    report = engine.supervision_report()
    lanes = [(d["code"], d["accountable"]) for d in report["departments"]]
    assert lanes == [("hrss", True), ("bank", False)]
    bank = report["departments"][1]["figures"]
    assert bank["steps"]["accepted"] == 1 and bank["cards"]["yellow"] == bank["cards"]["red"] == 0
