"""Running a case's automatic tasks without SpiffWorkflow's whole-tree walks where their answer is known.

SpiffWorkflow 3.2.0 (pinned) finds the tasks to run by walking the task tree from its root: every
round of `BpmnWorkflow.do_engine_steps` lists the READY tasks so, and every completed task has its
workflow walk the tree again for WAITING tasks (`Workflow.update_waiting_tasks`). A sequential case
of n steps has a tree of about n tasks, so its last step (the end event and the process's own end
run there, each a walk or two) cost several times its first. The tasks are also held in a flat dict
(`workflow.tasks`); one pass over it answers the same questions in the common cases:

- no WAITING task in the dict: the tree walk would find none either, and update nothing;
- at most one READY automatic task, visible to the tree walk (every ancestor at least FUTURE, within
  its depth cap): the walk would have run that one task (order cannot differ with one).

Anything else (two or more READY automatic tasks, where the walk's order decides which runs first;
a case with subprocesses, which the BPMN walk descends into) is handed to SpiffWorkflow's own code.
"""

from __future__ import annotations

from collections.abc import Callable
from types import MethodType
from typing import Any

from SpiffWorkflow.util.task import TaskState
from SpiffWorkflow.workflow import Workflow

__all__ = ["do_engine_steps", "skip_idle_waiting_walks"]

_READY = TaskState.READY
_WAITING = TaskState.WAITING
_FUTURE = TaskState.FUTURE
_DEPTH_CAP = 900  # SpiffWorkflow's iterators stop at 1000 (runtime.workflow.MAX_TREE_DEPTH)
_UNKNOWN = object()  # the flat pass cannot answer: ask SpiffWorkflow


def _update_waiting_tasks(self: Any) -> None:
    """`Workflow.update_waiting_tasks`, skipping its tree walk when no task of `self` is WAITING."""
    for task in self.tasks.values():
        if task._state == _WAITING:
            Workflow.update_waiting_tasks(self)
            return


def skip_idle_waiting_walks(workflow: Any) -> None:
    """Give the case's workflows (the top one and its subprocesses) the WAITING check above; idempotent."""
    for wf in (workflow, *workflow.subprocesses.values()):
        if "update_waiting_tasks" not in wf.__dict__:
            wf.update_waiting_tasks = MethodType(_update_waiting_tasks, wf)


def _only_ready_automatic(workflow: Any) -> Any:
    """The one READY automatic task the tree walk would run, None when it would run none, or _UNKNOWN."""
    found = None
    for task in workflow.tasks.values():
        if task._state == _READY and not task.task_spec.manual:
            if found is not None:
                return _UNKNOWN  # two or more: the walk's order decides
            found = task
    if found is None:
        return None
    depth, node = 0, found.parent
    while node is not None:  # the walk reaches a task only through ancestors at least FUTURE
        depth += 1
        if node._state < _FUTURE or depth >= _DEPTH_CAP:
            return _UNKNOWN
        node = node.parent
    return found


def _engine_round(workflow: Any, did_complete_task: Callable[[Any], None]) -> bool:
    """One round of `BpmnWorkflow._do_engine_steps` (SpiffWorkflow 3.2.0), the flat pass where it answers."""
    if workflow.subprocesses:
        return bool(workflow._do_engine_steps(did_complete_task=did_complete_task))
    task = _only_ready_automatic(workflow)
    if task is _UNKNOWN:
        return bool(workflow._do_engine_steps(did_complete_task=did_complete_task))
    if task is None:
        return False
    task.run()
    did_complete_task(task)
    return True  # ran one (a subprocess it started is seen by the next round)


def do_engine_steps(workflow: Any, did_complete_task: Callable[[Any], None]) -> None:
    """`BpmnWorkflow.do_engine_steps(did_complete_task=…)`, with the flat passes above."""
    skip_idle_waiting_walks(workflow)
    while _engine_round(workflow, did_complete_task):
        skip_idle_waiting_walks(workflow)  # a subprocess started by the round gets the check too
    workflow.refresh_timers()
