"""BPMN messages a case waits for, and delivering one (the SpiffWorkflow side of `deliver_message`).

A case waits for a message at an intermediate message catch event, a receive task, a message
boundary event of a running step, or an event-based gateway with a message branch. SpiffWorkflow
names a message by the `name` of its `bpmn:message` (the dialect reads the same name). Delivering
merges the payload into the catching task's data and runs the case to its next wait state.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from SpiffWorkflow.bpmn.specs.event_definitions.message import MessageEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.multiple import MultipleEventDefinition
from SpiffWorkflow.bpmn.util import BpmnEvent
from SpiffWorkflow.exceptions import SpiffWorkflowException, WorkflowException
from SpiffWorkflow.util.task import TaskState

from ..errors import HennanFlowError
from .workflow import advance, spiff_runtime_error

__all__ = ["Waiting", "deliver", "waiting_messages"]


@dataclass(frozen=True)
class Waiting:
    """One element of a case that waits for a message: its BPMN id and the message's name."""

    element: str
    message: str


def waiting_messages(workflow: Any) -> list[Waiting]:
    """Every message the case waits for now, in a stable order (element id, message name)."""
    found: set[Waiting] = set()
    for task in list(workflow.event_manager.tasks.values()):
        spec = task.task_spec
        definition = getattr(spec, "event_definition", None)
        inner = (
            definition.event_definitions if isinstance(definition, MultipleEventDefinition) else [definition]
        )
        element = getattr(spec, "bpmn_id", None) or spec.name
        for one in inner:
            if isinstance(one, MessageEventDefinition) and one.name:
                found.add(Waiting(element, one.name))
    return sorted(found, key=lambda w: (w.element, w.message))


def deliver(workflow: Any, name: str, data: Mapping[str, Any]) -> None:
    """Deliver message `name` with `data` as its payload, then run to the next wait state.

    A non-interrupting boundary event keeps its host step running, and SpiffWorkflow gives the payload
    to the boundary's own path only; the running step gets it too, so that its handler sees what
    arrived (a third party's opinion while the answer is being prepared).
    """
    hosts = [
        sibling
        for task in list(workflow.event_manager.tasks.values())
        if _catches(task, name) and getattr(task.task_spec, "cancel_activity", True) is False
        for sibling in (task.parent.children if task.parent is not None else [])
        if sibling is not task and sibling.state == TaskState.READY
    ]
    try:
        workflow.send_event(BpmnEvent(MessageEventDefinition(name), payload=dict(data)))
    except (SpiffWorkflowException, WorkflowException, HennanFlowError) as exc:
        raise spiff_runtime_error(exc) from exc
    for host in hosts:
        host.data.update(data)
    advance(workflow)


def _catches(task: Any, name: str) -> bool:
    definition = getattr(task.task_spec, "event_definition", None)
    return isinstance(definition, MessageEventDefinition) and definition.name == name
