"""Steps that become ready together come out in one order, every run (issue 29): document order of
their elements, then instance.

SpiffWorkflow makes parallel branches in the order of their shapes' y coordinates and names its
tasks with ids whose low bits are random; the runtime lists ready steps by their element's place
in the document, then their place in the task tree, and ids are strictly increasing within an engine
process (ids.py), so the instances of one step sort as they were made.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from fidelity_models import flow, process, user, write
from helpers import START, simulation
from hennan_flow.bpmn.parser import build_specs
from hennan_flow.bpmn.xmlsafe import parse_file
from hennan_flow.engine import Engine, SimulatedClock
from hennan_flow.runtime.sandbox import Sandbox
from hennan_flow.runtime.workflow import EngineScriptEngine, advance, new_workflow, ready_user_tasks

DOCUMENT_ORDER = ["a_first", "b_second", "c_third"]


def parallel_model() -> str:
    """A split to three steps written a, b, c; the flows are listed c, b, a and the diagram draws
    a lowest, so SpiffWorkflow itself makes them c, b, a."""
    body = [
        '    <bpmn:startEvent id="start"/>',
        user(*DOCUMENT_ORDER),
        '    <bpmn:parallelGateway id="split"/>',
        '    <bpmn:parallelGateway id="join"/>',
        '    <bpmn:endEvent id="end"/>',
        flow("start", "split"),
        *(flow("split", step) for step in reversed(DOCUMENT_ORDER)),
        *(flow(step, "join") for step in DOCUMENT_ORDER),
        flow("join", "end"),
    ]
    shapes = "".join(
        f'<bpmndi:BPMNShape id="s_{step}" bpmnElement="{step}"><dc:Bounds x="300" y="{300 - 100 * i}" '
        'width="100" height="80"/></bpmndi:BPMNShape>'
        for i, step in enumerate(DOCUMENT_ORDER)
    )
    diagram = (
        '  <bpmndi:BPMNDiagram id="d" xmlns:bpmndi="http://www.omg.org/spec/BPMN/20100524/DI"'
        ' xmlns:dc="http://www.omg.org/spec/DD/20100524/DC">'
        f'<bpmndi:BPMNPlane id="pl" bpmnElement="parallel">{shapes}</bpmndi:BPMNPlane></bpmndi:BPMNDiagram>\n'
    )
    return process("parallel", "\n".join(body), extra=diagram)


@pytest.fixture
def model(tmp_path: Path) -> Path:
    return write(tmp_path / "p", "parallel.bpmn", parallel_model())


def test_the_runtime_lists_steps_ready_together_in_document_order(model: Path) -> None:
    specs = build_specs(parse_file(model), str(model), "parallel")
    engine = EngineScriptEngine(Sandbox(), allow_code=False, now=lambda: datetime(2026, 3, 2, tzinfo=UTC))
    for _ in range(5):
        workflow = new_workflow(specs, engine, {})
        advance(workflow)
        ready = ready_user_tasks(workflow)
        assert [t.step for t in ready] == DOCUMENT_ORDER
        orders = [t.order for t in ready]
        assert orders == sorted(orders) and len(set(orders)) == 3  # a key the engine can store


def test_every_case_lists_its_parallel_steps_in_one_order(sqlite_url: str, model: Path) -> None:
    with simulation(sqlite_url, model, START) as (engine, _clock):
        orders = set()
        for _ in range(10):
            case = engine.start_case("parallel")
            orders.add(tuple(t.step for t in case.ready))
            orders.add(tuple(t.step for t in engine.tasks(case=case.id)))
        assert len(orders) == 1, orders


def test_the_engine_lists_steps_ready_together_in_document_order(db_url: str, model: Path) -> None:
    with simulation(db_url, model, START) as (engine, _clock):
        case = engine.start_case("parallel")
        assert [t.step for t in case.ready] == DOCUMENT_ORDER
        assert [t.step for t in engine.tasks(case=case.id)] == DOCUMENT_ORDER


def test_the_instances_of_a_step_come_out_in_instance_order(sqlite_url: str, tmp_path: Path) -> None:
    sign = (
        '    <bpmn:userTask id="sign" name="会签"><bpmn:extensionElements>'
        "<spiffworkflow:preScript>signed = person</spiffworkflow:preScript></bpmn:extensionElements>"
        '<bpmn:multiInstanceLoopCharacteristics spiffworkflow:scriptsOnInstances="true">'
        "<bpmn:loopDataInputRef>people</bpmn:loopDataInputRef>"
        "<bpmn:loopDataOutputRef>signatures</bpmn:loopDataOutputRef>"
        '<bpmn:inputDataItem id="person" name="person"/><bpmn:outputDataItem id="signed" name="signed"/>'
        "</bpmn:multiInstanceLoopCharacteristics></bpmn:userTask>"
    )
    body = ['    <bpmn:startEvent id="start"/>', sign, '    <bpmn:endEvent id="end"/>']
    path = write(
        tmp_path / "p",
        "mi.bpmn",
        process("countersign", "\n".join([*body, flow("start", "sign"), flow("sign", "end")])),
    )
    Engine(sqlite_url).upgrade(simulation=True)
    with Engine(sqlite_url, clock=SimulatedClock(START), allow_code_tasks=True) as engine:
        engine.deploy(str(path))
        people = [f"委员{i}" for i in range(8)]
        for _ in range(5):
            case = engine.start_case("countersign", data={"people": people})
            for task in engine.tasks(case=case.id):  # completed in the queue's order
                engine.complete_task(task.id)
            assert engine.case(case.id).state == "completed"
            assert engine.case_data(case.id)["signatures"] == people
