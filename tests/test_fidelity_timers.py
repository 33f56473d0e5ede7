"""Timers that are not their task's only event (issue 29): an event-based gateway waiting for a
message or a timer, an event with several definitions, a parallel-multiple event. The sweeper finds
them through the case's timer index, fires each once, and the other branches are dropped.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from fidelity_models import chain, flow, message_catch, process, timer_catch, user, write
from helpers import START, at, simulation
from hennan_flow.bpmn.validate import validate_file
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


# -- ISO-8601 timer values as the standard writes them (unquoted) ------------------------------------


def timed(kind: str, expression: str) -> str:
    body = [
        '    <bpmn:startEvent id="start"/>',
        user("accept", "done"),
        timer_catch("wait", kind, expression),
    ]
    body += ['    <bpmn:endEvent id="end"/>', chain("start", "accept", "wait", "done", "end")]
    return process("timed", "\n".join(body))


@pytest.mark.parametrize(
    ("kind", "expression", "due"),
    [
        ("timeDuration", "PT1H", START + timedelta(hours=1)),
        ("timeDuration", " P7D ", START + timedelta(days=7)),
        ("timeDuration", "PT0.5S", START + timedelta(seconds=0.5)),
        ("timeDate", "2026-12-07T09:00:00+08:00", at("2026-12-07T09:00")),
        ("timeDate", "2026-12-07T09:00:00", at("2026-12-07T09:00")),  # naive: Shanghai
    ],
)
def test_unquoted_iso_timer_values_are_literals(
    sqlite_url: str, tmp_path: Path, kind: str, expression: str, due: datetime
) -> None:
    bundle = write(tmp_path / "models", "timed.bpmn", timed(kind, expression))
    assert validate_file(bundle).ok
    with simulation(sqlite_url, bundle, START) as (engine, clock):
        case = engine.start_case("timed")
        engine.complete_task(case.ready[0].id)
        clock.set(due - timedelta(microseconds=1))
        assert engine.due_timer_cases() == []
        clock.set(due)
        assert engine.sweep().timers_fired == (case.id,)
        assert [t.step for t in engine.tasks(case=case.id)] == ["done"]


def test_unquoted_cycles_are_literals(sqlite_url: str, tmp_path: Path) -> None:
    model = gateway_model(
        ("daily", timer_catch("daily", "timeCycle", "R6/P1D")),
        ("hourly", timer_catch("hourly", "timeCycle", "R/PT1H")),
    )
    bundle = write(tmp_path / "models", "cycles.bpmn", model)
    assert validate_file(bundle).ok
    with simulation(sqlite_url, bundle, START) as (engine, clock):
        case = engine.start_case("gw_wait")
        engine.complete_task(case.ready[0].id)
        clock.set(START + timedelta(hours=1))
        assert engine.sweep().timers_fired == (case.id,)
        assert [t.step for t in engine.tasks(case=case.id)] == ["after_hourly"]


@pytest.mark.parametrize(
    ("kind", "expression", "says"),
    [
        ("timeDuration", "PT1H30", "'PT1H30' is not a duration in ISO-8601 form"),
        ("timeDuration", "P1W2D", "'P1W2D' is not a duration"),
        ("timeDuration", '"P5X"', "'P5X' is not a duration"),  # a quoted constant is checked too
        ("timeDuration", "'2026-01-01'", "is not a duration"),
        ("timeDate", "P7D", "'P7D' looks like a duration; timeDate needs a date-time"),
        ("timeDate", "2026-13-01T00:00:00", "is not a date-time"),
        ("timeCycle", "R3/PT", "is not a repeating interval"),
        ("timeCycle", "0 0/5 * * * ?", "not a valid expression"),  # a cron line is no ISO cycle
    ],
)
def test_a_timer_value_that_is_not_iso_is_a_validate_error_naming_the_element(
    tmp_path: Path, kind: str, expression: str, says: str
) -> None:
    path = write(tmp_path / "models", "bad.bpmn", timed(kind, expression))
    errors = [p for p in validate_file(path).problems if p.severity == "error"]
    assert [p.location.element for p in errors] == ["wait"], errors
    assert says in errors[0].message
    assert errors[0].code in {"TIMER-VALUE", "SANDBOX-EXPRESSION"}


def test_a_timer_expression_reading_case_data_is_left_to_run_time(tmp_path: Path) -> None:
    assert validate_file(write(tmp_path / "models", "data.bpmn", timed("timeDuration", "review_period"))).ok
    assert validate_file(write(tmp_path / "models", "wd.bpmn", timed("timeDate", "workdays(5)"))).ok
