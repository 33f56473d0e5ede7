"""Timers that are not their task's only event (issue 29): an event-based gateway waiting for a
message or a timer, an event with several definitions, a parallel-multiple event. The sweeper finds
them through the case's timer index, fires each once, and the other branches are dropped.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from fidelity_models import chain, flow, message_catch, process, timer_catch, user, write
from helpers import START, simulation
from hennan_flow.engine import Engine, SimulatedClock

MESSAGE = '  <bpmn:message id="m_supplement" name="补正材料"/>\n'


def gateway_model(*branches: tuple[str, str]) -> str:
    """accept → event-based gateway → one catch event per branch (id, event xml) → a step per branch."""
    body = [user("accept"), '    <bpmn:startEvent id="start"/>', '    <bpmn:eventBasedGateway id="gw"/>']
    body += [chain("start", "accept", "gw")]
    for event_id, xml in branches:
        body += [xml, flow("gw", event_id), user(f"after_{event_id}")]
        body += [flow(event_id, f"after_{event_id}"), f'    <bpmn:endEvent id="end_{event_id}"/>']
        body += [flow(f"after_{event_id}", f"end_{event_id}")]
    return process("gw_wait", "\n".join(body), roots=MESSAGE)


@pytest.fixture
def waiting(db_url: str, tmp_path: Path) -> Iterator[tuple[Engine, SimulatedClock, str]]:
    """A case past `accept`, waiting on a gateway: supplement (message) or close after P7D (timer)."""
    model = gateway_model(
        ("supplement", message_catch("supplement", "m_supplement")),
        ("close", timer_catch("close", "timeDuration", '"P7D"')),
    )
    bundle = write(tmp_path / "models", "gw.bpmn", model)
    with simulation(db_url, bundle, START) as (engine, clock):
        case = engine.start_case("gw_wait")
        engine.complete_task(case.ready[0].id)
        yield engine, clock, case.id


def test_a_timer_behind_an_event_gateway_is_indexed_and_the_sweep_fires_it_once(
    waiting: tuple[Engine, SimulatedClock, str],
) -> None:
    engine, clock, case_id = waiting
    assert engine.tasks(case=case_id) == []
    clock.set(START + timedelta(days=7) - timedelta(seconds=1))
    assert engine.due_timer_cases() == []
    assert engine.sweep().timers_fired == ()
    clock.set(START + timedelta(days=30))
    assert engine.due_timer_cases() == [case_id]
    assert engine.sweep().timers_fired == (case_id,)
    assert [t.step for t in engine.tasks(case=case_id)] == ["after_close"]
    assert engine.due_timer_cases() == []
    assert engine.sweep().timers_fired == ()  # once: the message branch is gone with the wait
    fired = [e for e in engine.case(case_id).events if e.type == "timer.fired"]
    assert len(fired) == 1
    engine.complete_task(engine.tasks(case=case_id)[0].id)
    case = engine.case(case_id)
    assert case.state == "completed"
    assert not [e for e in case.events if e.step == "after_supplement"]


def test_the_earlier_of_two_gateway_timers_wins_and_the_later_never_fires(
    sqlite_url: str, tmp_path: Path
) -> None:
    """Both catch events are named 超时: the branch taken is the one whose timer fired."""
    model = gateway_model(
        ("late", timer_catch("late", "timeDuration", '"P7D"', name="超时")),
        ("remind", timer_catch("remind", "timeDuration", '"P3D"', name="超时")),
        ("supplement", message_catch("supplement", "m_supplement")),
    )
    bundle = write(tmp_path / "models", "gw2.bpmn", model)
    with simulation(sqlite_url, bundle, START) as (engine, clock):
        case = engine.start_case("gw_wait")
        engine.complete_task(case.ready[0].id)
        clock.set(START + timedelta(days=3, seconds=1))
        assert engine.sweep().timers_fired == (case.id,)
        assert [t.step for t in engine.tasks(case=case.id)] == ["after_remind"]
        clock.set(START + timedelta(days=8))
        assert engine.due_timer_cases() == []
        assert engine.sweep().timers_fired == ()
        assert [t.step for t in engine.tasks(case=case.id)] == ["after_remind"]


def test_a_cycle_timer_behind_a_gateway_fires_at_its_first_repetition(
    sqlite_url: str, tmp_path: Path
) -> None:
    model = gateway_model(
        ("hourly", timer_catch("hourly", "timeCycle", '"R3/PT1H"')),
        ("supplement", message_catch("supplement", "m_supplement")),
    )
    bundle = write(tmp_path / "models", "gw3.bpmn", model)
    with simulation(sqlite_url, bundle, START) as (engine, clock):
        case = engine.start_case("gw_wait")
        engine.complete_task(case.ready[0].id)
        clock.set(START + timedelta(minutes=59))
        assert engine.due_timer_cases() == []
        clock.set(START + timedelta(hours=1))
        assert engine.sweep().timers_fired == (case.id,)
        assert [t.step for t in engine.tasks(case=case.id)] == ["after_hourly"]


def multiple_event(parallel: bool) -> str:
    """accept → one catch event with a message and two timers (P1D, P2D) → done."""
    event = (
        f'    <bpmn:intermediateCatchEvent id="wait" parallelMultiple="{str(parallel).lower()}">'
        '<bpmn:messageEventDefinition messageRef="m_supplement"/>'
        "<bpmn:timerEventDefinition><bpmn:timeDuration>'P1D'</bpmn:timeDuration></bpmn:timerEventDefinition>"
        "<bpmn:timerEventDefinition><bpmn:timeDuration>'P2D'</bpmn:timeDuration></bpmn:timerEventDefinition>"
        "</bpmn:intermediateCatchEvent>"
    )
    body = [
        '    <bpmn:startEvent id="start"/>',
        user("accept", "done"),
        event,
        '    <bpmn:endEvent id="end"/>',
    ]
    return process(
        "multi_wait", "\n".join([*body, chain("start", "accept", "wait", "done", "end")]), roots=MESSAGE
    )


def test_an_event_with_several_definitions_fires_on_its_first_timer(sqlite_url: str, tmp_path: Path) -> None:
    bundle = write(tmp_path / "models", "multi.bpmn", multiple_event(parallel=False))
    with simulation(sqlite_url, bundle, START) as (engine, clock):
        case = engine.start_case("multi_wait")
        engine.complete_task(case.ready[0].id)
        clock.set(START + timedelta(hours=23))
        assert engine.due_timer_cases() == []
        clock.set(START + timedelta(days=1))
        assert engine.sweep().timers_fired == (case.id,)
        assert [t.step for t in engine.tasks(case=case.id)] == ["done"]


def test_a_parallel_multiple_event_waits_for_its_later_timer_and_fires_once(
    sqlite_url: str, tmp_path: Path
) -> None:
    """parallelMultiple: every definition must occur; here the message never comes, so it never fires,
    but each timer is indexed until it has been seen (P1D), and then the next one (P2D)."""
    bundle = write(tmp_path / "models", "pmulti.bpmn", multiple_event(parallel=True))
    with simulation(sqlite_url, bundle, START) as (engine, clock):
        case = engine.start_case("multi_wait")
        engine.complete_task(case.ready[0].id)
        clock.set(START + timedelta(days=1))
        assert engine.due_timer_cases() == [case.id]
        assert engine.sweep().timers_fired == (case.id,)
        assert engine.tasks(case=case.id) == []  # the message and the P2D timer are still awaited
        assert engine.due_timer_cases() == []
        clock.set(START + timedelta(days=2))
        assert engine.due_timer_cases() == [case.id]
        engine.sweep()
        assert engine.due_timer_cases() == []  # both timers seen: only the message is awaited
        assert engine.tasks(case=case.id) == []
