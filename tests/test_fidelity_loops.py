"""A loop with no gateway that decides whether to go round again (issue 29): SpiffWorkflow 3.2.0
predicts the task tree ahead through every element whose future is certain, so it recurses around
such a loop until Python's stack runs out at case start, even when a boundary event (or a parallel
branch) leads out of it and `BPMN-NO-END` has nothing to say. Validate refuses it as `SPIFF-LOOP`,
so deploy refuses it; a definition stored before the check starts no case either, with an input
error (exit 2), never an internal one (exit 3).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.parser import BpmnParser

from fidelity_models import flow, process, user, write
from helpers import START
from hennan_flow.bpmn.parser import build_specs
from hennan_flow.bpmn.validate import validate_file
from hennan_flow.bpmn.xmlsafe import parse_file
from hennan_flow.engine import Engine, SimulatedClock
from hennan_flow.errors import FindingsError, StateError
from hennan_flow.runtime.sandbox import Sandbox
from hennan_flow.runtime.workflow import EngineScriptEngine, new_workflow

TIMER = '<bpmn:timerEventDefinition><bpmn:timeDuration>"P3D"</bpmn:timeDuration></bpmn:timerEventDefinition>'
START_END = '    <bpmn:startEvent id="start"/>\n    <bpmn:endEvent id="end"/>'


def rework_with_deadline(*, gateway: bool) -> str:
    """补正: the applicant corrects the papers and the clerk checks them, round and round, until a
    3-day boundary timer on the check sends the case to 退件. With `gateway`, an exclusive gateway
    after the check decides whether to go round again."""
    body = [
        START_END,
        user("correct", "check", "return_papers"),
        f'    <bpmn:boundaryEvent id="deadline" attachedToRef="check">{TIMER}</bpmn:boundaryEvent>',
        flow("start", "correct"),
        flow("correct", "check"),
        flow("deadline", "return_papers"),
        flow("return_papers", "end"),
    ]
    if gateway:
        body += [
            '    <bpmn:exclusiveGateway id="again" default="f_again_end"/>',
            flow("check", "again"),
            flow("again", "correct", "missing == True"),
            flow("again", "end"),
        ]
    else:
        body.append(flow("check", "correct"))
    return process("rework", "\n".join(body))


def spiff_start(path: Path) -> None:
    parser = BpmnParser()
    parser.add_bpmn_xml(parse_file(path), filename=str(path))
    workflow = BpmnWorkflow(parser.get_spec("rework"), parser.get_subprocess_specs("rework"))
    workflow.do_engine_steps()


def test_plain_spiffworkflow_recurses_on_a_loop_without_a_decision(tmp_path: Path) -> None:
    """The reason for the check: the loop's way out is the boundary timer, and plain SpiffWorkflow
    cannot even start the case."""
    path = write(tmp_path / "p", "rework.bpmn", rework_with_deadline(gateway=False))
    with pytest.raises(RecursionError):
        spiff_start(path)
    spiff_start(write(tmp_path / "g", "rework.bpmn", rework_with_deadline(gateway=True)))  # the fix runs


def test_validate_refuses_a_loop_without_a_decision_and_names_its_elements(tmp_path: Path) -> None:
    path = write(tmp_path / "p", "rework.bpmn", rework_with_deadline(gateway=False))
    found = validate_file(path).problems
    assert "BPMN-NO-END" not in {p.code for p in found}  # the boundary timer leads out
    [loop] = [p for p in found if p.code == "SPIFF-LOOP"]
    assert loop.severity == "error"
    assert loop.location.element == "correct" and loop.location.line
    assert '"correct", "check"' in loop.message and "exclusive gateway" in (loop.hint or "")


def test_deploy_refuses_it_with_exit_1_never_an_internal_error(tmp_path: Path) -> None:
    path = write(tmp_path / "p", "rework.bpmn", rework_with_deadline(gateway=False))
    url = f"sqlite:///{tmp_path / 'loops.db'}"
    Engine(url).upgrade(simulation=True)
    with Engine(url, clock=SimulatedClock(START)) as engine:
        with pytest.raises(FindingsError) as refused:
            engine.deploy(str(path), allow_findings=True)
        assert refused.value.exit_code == 1 and "[SPIFF-LOOP]" in refused.value.message


@pytest.mark.parametrize(
    "loop",
    [
        pytest.param(flow("check", "again") + "\n" + flow("again", "correct"), id="parallel-gateway"),
        pytest.param(flow("check", "note") + "\n" + flow("note", "correct"), id="throw-event"),
    ],
)
def test_a_parallel_gateway_or_an_event_on_the_loop_is_no_decision(tmp_path: Path, loop: str) -> None:
    body = "\n".join(
        [
            START_END,
            user("correct", "check"),
            '    <bpmn:parallelGateway id="again"/>',
            '    <bpmn:intermediateThrowEvent id="note"/>',
            flow("start", "correct"),
            flow("correct", "check"),
            loop,
            flow("again", "end") if "again" in loop else flow("note", "end", fid="unused"),
        ]
    )
    found = validate_file(write(tmp_path / "p", "m.bpmn", process("rework", body))).problems
    assert "SPIFF-LOOP" in {p.code for p in found}, found


def test_a_loop_through_a_boundary_event_or_a_gateway_passes(tmp_path: Path) -> None:
    """The flow from a host to its boundary event is no certain future, so a loop back through the
    boundary event is predicted as SpiffWorkflow runs it; a gateway on the loop decides."""
    body = "\n".join(
        [
            START_END,
            user("check", "correct"),
            f'    <bpmn:boundaryEvent id="deadline" attachedToRef="check">{TIMER}</bpmn:boundaryEvent>',
            flow("start", "check"),
            flow("check", "end"),
            flow("deadline", "correct"),
            flow("correct", "check"),
        ]
    )
    for text in (process("rework", body), rework_with_deadline(gateway=True)):
        found = validate_file(write(tmp_path / "p", "m.bpmn", text)).problems
        assert "SPIFF-LOOP" not in {p.code for p in found}, found


def test_a_case_start_on_such_a_loop_is_an_input_error_not_an_internal_one(tmp_path: Path) -> None:
    """A definition deployed before validate knew the loop still starts no case with exit 3."""
    path = write(tmp_path / "p", "rework.bpmn", rework_with_deadline(gateway=False))
    specs = build_specs(parse_file(path), str(path), "rework")
    engine = EngineScriptEngine(Sandbox(), allow_code=False, now=lambda: datetime(2026, 3, 2, tzinfo=UTC))
    with pytest.raises(StateError) as refused:
        new_workflow(specs, engine, {})
    assert refused.value.exit_code == 2 and "SPIFF-LOOP" in (refused.value.hint or "")
