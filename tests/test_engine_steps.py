"""`runtime.engine_steps` runs a case's automatic tasks exactly as SpiffWorkflow's own
`do_engine_steps` does, without its whole-tree walks where a flat pass over the tasks knows the answer.

Every BPMN process of the repository (and of the shared corpora, when present) is driven twice in
lockstep from the same start — once by SpiffWorkflow's loop, once by ours — completing the first
ready user step of the tree each time, and the two task trees (every task's spec, state and data,
subprocesses included, in the tree's order) must be equal after the start and after every step.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.parser import BpmnParser
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine
from SpiffWorkflow.bpmn.script_engine.python_environment import TaskDataEnvironment
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser
from SpiffWorkflow.util.task import TaskState

from differential import Model, folder_index, load_model
from helpers import CORPORA
from hennan_flow.bpmn.validate import BPMN_SUFFIXES
from hennan_flow.bpmn.xmlsafe import parse_file
from hennan_flow.runtime.engine_steps import do_engine_steps, skip_idle_waiting_walks
from hennan_flow.runtime.workflow import quiet_spiff_loggers

ROOT = Path(__file__).resolve().parent.parent
COMPLETIONS = 12
_BUILTINS = {
    n: getattr(builtins, n)
    for n in ("len", "int", "str", "float", "bool", "list", "dict", "sum", "min", "max")
}


def _bpmn_files(*folders: Path) -> list[Path]:
    return sorted(
        p
        for f in folders
        if f.is_dir()
        for p in f.rglob("*")
        if p.is_file() and p.name.lower().endswith(BPMN_SUFFIXES)
    )


def _models(files: list[Path]) -> list[Model]:
    index = folder_index(files)
    return [m for f in files if (m := load_model(f, index)) is not None]


def _snapshot(workflow: Any) -> tuple[Any, ...]:
    """The case's whole tree without ids: (spec, state, data) of every task, depth first, subprocesses in."""
    tasks = workflow.get_tasks(state=TaskState.ANY_MASK)
    return (workflow.completed, tuple((t.task_spec.name, t.state, repr(t.data)) for t in tasks))


def _drive(model: Model, pid: str, ours: bool) -> list[Any]:
    parser = SpiffBpmnParser() if model.spiff else BpmnParser()
    try:
        for path in model.files:
            parser.add_bpmn_xml(parse_file(path), filename=str(path))
        spec, subs = parser.get_spec(pid), parser.get_subprocess_specs(pid)
    except Exception as exc:  # refused by the parser: nothing to drive
        return [type(exc).__name__]
    engine = PythonScriptEngine(environment=TaskDataEnvironment({"__builtins__": _BUILTINS}))
    ran = [0]

    def count(task: Any) -> None:
        ran[0] += 1
        if ran[0] > 300 or len(task.workflow.top_workflow.subprocesses) > 20:
            raise RuntimeError("runaway")

    seen: list[Any] = []
    try:
        workflow = BpmnWorkflow(spec, subs, script_engine=engine)
        step: Callable[[], None] = (
            (lambda: do_engine_steps(workflow, count))
            if ours
            else (lambda: workflow.do_engine_steps(did_complete_task=count))
        )
        step()
        seen.append(_snapshot(workflow))
        for _ in range(COMPLETIONS):
            ready = workflow.get_tasks(state=TaskState.READY, manual=True)
            if not ready:
                break
            if ours:
                skip_idle_waiting_walks(workflow)
            ran[0] = 0
            ready[0].run()
            step()
            seen.append(_snapshot(workflow))
    except Exception as exc:  # the model's own failure: the same on both sides, or a difference
        seen.append(type(exc).__name__)
    return seen


def _assert_same(models: list[Model]) -> int:
    driven = 0
    for model in models:
        for pid in model.processes:
            theirs, ours = _drive(model, pid, ours=False), _drive(model, pid, ours=True)
            assert ours == theirs, f"{model.file} ({pid}): our engine steps left a different task tree"
            driven += len(theirs) > 1
    return driven


def _definitions(pid: str, elements: str) -> str:
    """A BPMN file holding one executable process of these elements."""
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d" targetNamespace="t">\n'
        f'  <bpmn:process id="{pid}" isExecutable="true">\n{elements}  </bpmn:process>\n</bpmn:definitions>\n'
    )


FORK = _definitions(
    "fork",
    """\
    <bpmn:startEvent id="start"/>
    <bpmn:parallelGateway id="split"/>
    <bpmn:intermediateThrowEvent id="left"/>
    <bpmn:intermediateThrowEvent id="right"/>
    <bpmn:userTask id="middle"/>
    <bpmn:parallelGateway id="join"/>
    <bpmn:userTask id="after"/>
    <bpmn:endEvent id="end"/>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="split"/>
    <bpmn:sequenceFlow id="f2" sourceRef="split" targetRef="left"/>
    <bpmn:sequenceFlow id="f3" sourceRef="split" targetRef="right"/>
    <bpmn:sequenceFlow id="f4" sourceRef="split" targetRef="middle"/>
    <bpmn:sequenceFlow id="f5" sourceRef="left" targetRef="join"/>
    <bpmn:sequenceFlow id="f6" sourceRef="right" targetRef="join"/>
    <bpmn:sequenceFlow id="f7" sourceRef="middle" targetRef="join"/>
    <bpmn:sequenceFlow id="f8" sourceRef="join" targetRef="after"/>
    <bpmn:sequenceFlow id="f9" sourceRef="after" targetRef="end"/>
""",
)


def test_engine_steps_leave_the_tree_spiffworkflow_leaves_on_the_repository_processes(tmp_path: Path) -> None:
    fork = tmp_path / "fork.bpmn"  # two automatic tasks ready at once: the tree's order decides
    fork.write_text(FORK, encoding="utf-8")
    driven = _assert_same(_models([*_bpmn_files(ROOT / "processes", ROOT / "tests" / "fixtures"), fork]))
    assert driven >= 20  # the comparison ran real cases, not just parser refusals


@pytest.mark.slow
@pytest.mark.skipif(not CORPORA.is_dir(), reason=f"no corpora at {CORPORA} (set HENNAN_FLOW_CORPORA)")
def test_engine_steps_leave_the_tree_spiffworkflow_leaves_on_the_corpora() -> None:
    assert _assert_same(_models(_bpmn_files(CORPORA))) > 0


SEQUENTIAL = _definitions(
    "chain",
    """\
    <bpmn:startEvent id="start"/>
    <bpmn:userTask id="a"/>
    <bpmn:userTask id="b"/>
    <bpmn:userTask id="c"/>
    <bpmn:endEvent id="end"/>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="a"/>
    <bpmn:sequenceFlow id="f2" sourceRef="a" targetRef="b"/>
    <bpmn:sequenceFlow id="f3" sourceRef="b" targetRef="c"/>
    <bpmn:sequenceFlow id="f4" sourceRef="c" targetRef="end"/>
""",
)


def test_a_sequential_case_runs_its_steps_without_walking_the_task_tree(tmp_path: Path) -> None:
    """The flat passes answer for a chain of steps: no walk of the tree from its root for READY
    tasks, up to and including the end event (SpiffWorkflow's own loop walks at every step). The
    SpiffWorkflow loggers stay at WARNING, as the engine keeps them (below INFO SpiffWorkflow walks
    the tree for its log records)."""
    quiet_spiff_loggers()
    file = tmp_path / "chain.bpmn"
    file.write_text(SEQUENTIAL, encoding="utf-8")
    for ours in (False, True):
        parser = BpmnParser()
        parser.add_bpmn_xml(parse_file(file), filename=str(file))
        workflow = BpmnWorkflow(parser.get_spec("chain"), parser.get_subprocess_specs("chain"))
        walks = [0]
        own_iterator = workflow.get_tasks_iterator

        def counting(*args: Any, _own: Any = own_iterator, _walks: list[int] = walks, **kwargs: Any) -> Any:
            _walks[0] += 1
            return _own(*args, **kwargs)

        workflow.get_tasks_iterator = counting
        workflow.do_engine_steps()
        steps = 0
        while ready := [
            t for t in workflow.tasks.values() if t.state == TaskState.READY and t.task_spec.manual
        ]:
            walks[0] = 0
            if ours:
                skip_idle_waiting_walks(workflow)
            ready[0].run()
            if ours:
                do_engine_steps(workflow, lambda _task: None)
            else:
                workflow.do_engine_steps()
            assert (walks[0] > 0) == (not ours)
            steps += 1
        assert steps == 3 and workflow.completed
