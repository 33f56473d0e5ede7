"""SpiffWorkflow's task state changes build their log details only for records the logger keeps."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest
from SpiffWorkflow import task as spiff_task
from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.parser import BpmnParser
from SpiffWorkflow.util.task import TaskState

from hennan_flow.runtime import task_state, workflow  # noqa: F401  (importing the runtime installs it)

BPMN = """<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d" targetNamespace="t">
  <process id="p" isExecutable="true">
    <startEvent id="s"/><sequenceFlow id="f1" sourceRef="s" targetRef="a"/>
    <userTask id="a" name="受理"/><sequenceFlow id="f2" sourceRef="a" targetRef="b"/>
    <userTask id="b" name="审批"/><sequenceFlow id="f3" sourceRef="b" targetRef="e"/>
    <endEvent id="e"/>
  </process>
</definitions>"""


def run_case() -> list[tuple[str, int]]:
    """A two-step case run to its end: every task's (spec name, state) at the end."""
    parser = BpmnParser()
    parser.add_bpmn_str(BPMN.encode())
    wf = BpmnWorkflow(parser.get_spec("p"))
    wf.do_engine_steps()
    for _ in range(2):
        [ready] = wf.get_tasks(state=TaskState.READY, manual=True)
        ready.run()
        wf.do_engine_steps()
    assert wf.is_completed()
    return sorted((t.task_spec.name, t.state) for t in wf.tasks.values())


class Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.seen: list[tuple[str, str, Any, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        r: Any = record
        self.seen.append((record.levelname, record.getMessage(), r.task_spec, r.state))


@pytest.fixture
def spiff_log() -> Iterator[tuple[logging.Logger, Records]]:
    log = logging.getLogger("spiff.task")
    level, handler = log.level, Records()
    log.addHandler(handler)
    try:
        yield log, handler
    finally:
        log.removeHandler(handler)
        log.setLevel(level)


def test_the_runtime_installs_the_quiet_state_change() -> None:
    assert spiff_task.Task._set_state is task_state._set_state
    task_state.quiet_state_logging()  # idempotent
    assert spiff_task.Task._set_state is task_state._set_state


def test_no_log_details_are_built_while_the_logger_drops_them(
    spiff_log: tuple[logging.Logger, Records], monkeypatch: pytest.MonkeyPatch
) -> None:
    log, handler = spiff_log
    log.setLevel(logging.WARNING)  # as the engine keeps it (workflow.quiet_spiff_loggers)

    def refuse(self: Any, dct: Any = None) -> dict[str, Any]:
        raise AssertionError("log details built for a record nobody keeps")

    monkeypatch.setattr(spiff_task.Task, "collect_log_extras", refuse)
    states = run_case()  # fails with SpiffWorkflow's own _set_state, which builds them always
    assert {state for _name, state in states} == {TaskState.COMPLETED}
    assert handler.seen == []


@pytest.mark.parametrize("level", [logging.INFO, logging.DEBUG])
def test_a_logger_turned_on_gets_the_records_spiffworkflow_writes(
    spiff_log: tuple[logging.Logger, Records], monkeypatch: pytest.MonkeyPatch, level: int
) -> None:
    log, handler = spiff_log
    log.setLevel(level)
    ours_states = run_case()
    ours = list(handler.seen)
    handler.seen.clear()
    monkeypatch.setattr(spiff_task.Task, "_set_state", task_state._ORIGINAL)
    theirs_states = run_case()
    assert ours_states == theirs_states
    assert ours == handler.seen
    assert any(message.startswith("State changed to") for _lvl, message, _spec, _state in ours)
