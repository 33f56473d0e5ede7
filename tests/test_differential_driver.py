"""The differential driver (`differential.py`, issue 29) on an own model, without the corpora: when
several instances of the step it completes next are ready, both sides complete the instance made
first, so the two sides' list orders (SpiffWorkflow's task tree depth first, hennan_flow's work
queue by ready time and id) cannot make a difference where the engines agree.

The model is the shape of Flowable's nested call-activity tests: two parallel instances of a
subprocess, each with a sequential multi-instance step. After the first completion the step has an
instance in each branch, and the one SpiffWorkflow lists first is the newer one.
"""

from __future__ import annotations

from pathlib import Path

from differential import compare, folder_index, load_model
from fidelity_models import flow, process, write
from helpers import START
from hennan_flow.engine import Engine, SimulatedClock


def nested_instances() -> str:
    inner = "\n".join(
        [
            '      <bpmn:startEvent id="inner_start"/>',
            '      <bpmn:userTask id="sign" name="sign"><bpmn:multiInstanceLoopCharacteristics'
            ' isSequential="true"><bpmn:loopCardinality>3</bpmn:loopCardinality>'
            "</bpmn:multiInstanceLoopCharacteristics></bpmn:userTask>",
            '      <bpmn:userTask id="file" name="file"/>',
            '      <bpmn:endEvent id="inner_end"/>',
            flow("inner_start", "sign"),
            flow("sign", "file"),
            flow("file", "inner_end"),
        ]
    )
    body = "\n".join(
        [
            '    <bpmn:startEvent id="start"/>',
            '    <bpmn:subProcess id="branches"><bpmn:multiInstanceLoopCharacteristics isSequential="false">'
            f"<bpmn:loopCardinality>2</bpmn:loopCardinality></bpmn:multiInstanceLoopCharacteristics>\n{inner}\n"
            "    </bpmn:subProcess>",
            '    <bpmn:endEvent id="end"/>',
            flow("start", "branches"),
            flow("branches", "end"),
        ]
    )
    return process("nested", body)


def test_both_sides_complete_the_instance_made_first(tmp_path: Path) -> None:
    path = write(tmp_path / "m", "nested.bpmn", nested_instances())
    model = load_model(path, folder_index([path]))
    assert model is not None
    url = f"sqlite:///{tmp_path / 'driver.db'}"
    Engine(url).upgrade(simulation=True)
    result = compare([model], lambda: Engine(url, clock=SimulatedClock(START)))
    assert result["unclassified"] == []
    assert dict(result["counts"]) == {"processes": 1, "identical": 1}
