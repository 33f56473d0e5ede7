"""The only place that runs SpiffWorkflow: create, load, advance and store a case's workflow.

* Every expression SpiffWorkflow evaluates goes through the sandbox (`SandboxEnvironment` covers
  the calls made on the script engine and those made on its environment directly); the script
  engine also carries the engine's clock for the timers (`timers.py`). It is not serialized, so
  `load` re-attaches it every time.
* The stored state holds the tasks and data only; the spec is rebuilt from the deployed BPMN and
  kept in memory, keyed by definition (spiffworkflow-notes §5 "tasks-only"). The state is TEXT.
* SpiffWorkflow's task iterator stops at depth 1000 and then reports a false completion
  (notes §10.1): `check_depth` refuses any operation that would take a case near that depth, and
  `finished` cross-checks `is_completed()` against a scan of every task.
* Run-time exceptions from SpiffWorkflow are mapped here onto hennan_flow errors.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from importlib import metadata
from itertools import compress, repeat
from operator import and_, attrgetter
from typing import Any
from uuid import UUID

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine
from SpiffWorkflow.bpmn.script_engine.python_environment import BasePythonScriptEngineEnvironment
from SpiffWorkflow.exceptions import SpiffWorkflowException, TaskNotFoundException, WorkflowException
from SpiffWorkflow.util.task import TaskState

from ..bpmn.parser import ProcessSpecs
from ..errors import ExpressionError, HennanFlowError, Location, StateError
from ..ids import use_for_spiff_tasks, uuid7
from .engine_steps import do_engine_steps, skip_idle_waiting_walks
from .instances import MAX_INSTANCES
from .sandbox import Sandbox, expression_failed
from .state import Dump, StateCodec, forget_fragment
from .task_state import quiet_state_logging
from .timers import due_instant

__all__ = [
    "MAX_ENGINE_STEPS",
    "MAX_INSTANCES",
    "MAX_TREE_DEPTH",
    "SPIFF_VERSION",
    "Dump",
    "EngineScriptEngine",
    "StateCodec",
    "UserTask",
    "advance",
    "check_depth",
    "finished",
    "next_timer",
    "ready_user_tasks",
    "return_to",
]

SPIFF_VERSION = metadata.version("SpiffWorkflow")
use_for_spiff_tasks()  # time-ordered task ids: new step rows land beside the last ones (ids.py)
quiet_state_logging()  # no log details built for records the logger drops (task_state.py)
SPIFF_LOGGERS = ("spiff", "spiff.task", "spiff.workflow", "spiff.data", "spiff.dmn")


SQL_LOGGER = "sqlalchemy.engine.Engine.hennan_flow"  # create_engine(logging_name="hennan_flow")


class _WithholdPersonalData(logging.Filter):
    """Strips case data from dependency log records, whatever level a portal sets later.

    SpiffWorkflow attaches task data as the `data`/`internal_data` extras of its records (and does so
    whenever a logger's own level is below INFO); SQLAlchemy logs result rows at DEBUG.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name.startswith("sqlalchemy") and record.msg == "Row %r":
            return False
        for attr in ("data", "internal_data"):
            if attr in record.__dict__:
                setattr(record, attr, "<withheld: case data>")
        return True


_WITHHOLD = _WithholdPersonalData()


def quiet_spiff_loggers() -> None:
    """Below INFO, SpiffWorkflow attaches task data (personal data) to its log records: keep them at WARNING.

    A filter on each of these loggers (and on the engine's own SQLAlchemy logger) also strips case
    data from records, so a portal that turns every logger up to DEBUG later still logs none.
    """
    for name in SPIFF_LOGGERS:
        logger = logging.getLogger(name)
        if logger.getEffectiveLevel() < logging.WARNING or logger.level == logging.NOTSET:
            logger.setLevel(logging.WARNING)
    for name in (*SPIFF_LOGGERS, SQL_LOGGER):
        logger = logging.getLogger(name)
        if _WITHHOLD not in logger.filters:
            logger.addFilter(_WITHHOLD)


MAX_TREE_DEPTH = 900  # SpiffWorkflow's iterators stop at 1000; stay clear of it
MAX_ENGINE_STEPS = 1000  # automatic tasks one operation may run (runaway loops)
_LIVE = TaskState.READY | TaskState.WAITING | TaskState.STARTED | TaskState.ERROR


# -- expressions ------------------------------------------------------------------------------


class SandboxEnvironment(BasePythonScriptEngineEnvironment):  # type: ignore[misc]
    """SpiffWorkflow's script environment, answered by the sandbox."""

    def __init__(self, sandbox: Sandbox, allow_code: bool) -> None:
        super().__init__({})
        self.sandbox = sandbox
        self.allow_code = allow_code

    def evaluate(self, expression: str, context: Mapping[str, Any], external_context: Any = None) -> Any:
        variables = {**context, **external_context} if external_context else context
        return self.sandbox.evaluate(expression, variables)

    def execute(self, script: str, context: dict[str, Any], external_context: Any = None) -> bool:
        if not self.allow_code:
            raise ExpressionError(
                "本引擎未启用脚本任务",
                expression=script,
                hint="审查后用 Engine(..., allow_code_tasks=True) 启用",
            )
        self.sandbox.execute(script, context)
        return True

    def call_service(self, context: Any, **kwargs: Any) -> Any:
        raise ExpressionError(
            "hennan_flow 不运行服务任务",
            hint="把这项工作建模为由执行它的系统办理的用户环节",
        )


class EngineScriptEngine(PythonScriptEngine):  # type: ignore[misc]
    """The script engine of one Engine: the sandbox and the engine's clock (`now`)."""

    def __init__(self, sandbox: Sandbox, *, allow_code: bool, now: Callable[[], datetime]) -> None:
        super().__init__(environment=SandboxEnvironment(sandbox, allow_code))
        self.now = now

    def evaluate(self, task: Any, expression: str, external_context: Any = None) -> Any:
        try:
            value = self.environment.evaluate(expression, task.data, external_context)
        except ExpressionError as exc:
            raise _located(exc, task) from None
        if expression == getattr(task.task_spec, "cardinality", None):
            _check_cardinality(value, expression, task)
        return value

    def execute(self, task: Any, script: str, external_context: Any = None) -> bool:
        try:
            return bool(self.environment.execute(script, task.data, external_context or {}))
        except ExpressionError as exc:
            raise _located(exc, task) from None

    def call_service(self, task: Any, **kwargs: Any) -> Any:
        try:
            return self.environment.call_service(task.data, **kwargs)
        except ExpressionError as exc:
            raise _located(exc, task) from None


def _check_cardinality(value: Any, expression: str, task: Any) -> None:
    """A multi-instance step makes one task per instance: a whole number, and not a flood of them."""
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_INSTANCES:
        return
    spec = task.task_spec
    whole = isinstance(value, int) and not isinstance(value, bool)
    raise expression_failed(
        f"a multi-instance cardinality must be a whole number from 0 to {MAX_INSTANCES}"
        + (", and this one is outside that range" if whole else f", not a {type(value).__name__}"),
        expression,
        getattr(spec, "bpmn_id", None) or spec.name,
        hint="count the instances from case data, e.g. len(departments)",
    )


def _located(exc: ExpressionError, task: Any) -> ExpressionError:
    element = getattr(task.task_spec, "bpmn_id", None) or getattr(task.task_spec, "name", None)
    return ExpressionError(
        exc.message, expression=exc.expression, hint=exc.hint, location=Location(element=element)
    )


def spiff_runtime_error(exc: BaseException) -> HennanFlowError:
    """Map an exception raised while SpiffWorkflow runs a case onto our errors (the run-time seam)."""
    if isinstance(exc, HennanFlowError):
        return exc
    cause = getattr(exc, "exception", None) or exc.__cause__
    if isinstance(cause, HennanFlowError):
        return cause
    task = getattr(exc, "task", None)
    spec = getattr(exc, "task_spec", None) or getattr(task, "task_spec", None)
    element = getattr(spec, "bpmn_id", None) or getattr(spec, "name", None)
    if isinstance(exc, SpiffWorkflowException):
        message = str(exc.args[0]) if exc.args else type(exc).__name__
        return ExpressionError(
            f"the case cannot advance: {message.rstrip('. ')}",
            hint="check the case data the gateway or event reads, and the process model",
            location=Location(element=element),
        )
    return HennanFlowError(f"SpiffWorkflow failed: {type(exc).__name__}: {exc}")


# -- running ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class UserTask:
    """A ready user step as SpiffWorkflow sees it.

    `order` is its element's place in document order (the same for every instance of one element):
    steps that become ready together sort by it, then by id, which is creation order within an
    engine process (ids.py), so the instances of one element sort as SpiffWorkflow made them.
    """

    id: str
    step: str
    name: str
    order: int = 0


def all_tasks(workflow: Any) -> Iterator[Any]:
    """Every task of the case, subprocesses included, without SpiffWorkflow's depth-capped iterator."""
    yield from workflow.tasks.values()
    for sub in workflow.subprocesses.values():
        yield from sub.tasks.values()


_STATE = attrgetter("_state")  # (`Task.state` is a property: a Python call per task per scan)


def _tasks_in(workflow: Any, states: int) -> list[Any]:
    """The tasks of the case (subprocesses included) in any of `states`: the scans every operation
    makes over every task, run in C."""
    tasks = list(all_tasks(workflow)) if workflow.subprocesses else list(workflow.tasks.values())
    return list(compress(tasks, map(and_, map(_STATE, tasks), repeat(states))))


_NO_POSITION = 1 << 62  # a spec built without positions sorts after every placed one


def ready_user_tasks(workflow: Any) -> list[UserTask]:
    """The ready user steps in a deterministic order: document order of their elements, then
    instance (their place in the task tree, which is the order SpiffWorkflow made them in; only
    the instances of an element that has several ready are placed: the walk up is the tree's depth)."""
    found = []
    for task in _tasks_in(workflow, TaskState.READY):
        spec = task.task_spec
        if not spec.manual:
            continue
        position = getattr(spec, "hf_position", None)
        order = _NO_POSITION if position is None else int(position)
        user = UserTask(
            str(task.id), spec.bpmn_id or spec.name, spec.bpmn_name or spec.bpmn_id or spec.name, order
        )
        found.append((order, task, user))
    counts = Counter(order for order, _task, _user in found)
    keyed = [((order, _tree_path(task) if counts[order] > 1 else ()), user) for order, task, user in found]
    keyed.sort(key=lambda pair: pair[0])
    return [user for _key, user in keyed]


def _tree_path(task: Any) -> tuple[int, ...]:
    """Child indices from the case's root task down to `task`, across subprocesses."""
    path: list[int] = []
    node = task
    while node is not None:
        parent = node.parent
        if parent is None:  # the root of a subprocess: go on from the task that started it
            sub = node.workflow
            parent_id = getattr(sub, "parent_task_id", None)
            if parent_id is None:
                break
            node = sub.top_workflow.get_task_from_id(parent_id)
            path.append(-1)
            continue
        path.append(parent._children.index(node.id))
        node = parent
    return tuple(reversed(path))


def new_workflow(specs: ProcessSpecs, script_engine: EngineScriptEngine, data: Mapping[str, Any]) -> Any:
    try:
        workflow = BpmnWorkflow(specs.spec, specs.subprocess_specs, script_engine=script_engine)
    except RecursionError as exc:  # a definition deployed before validate knew SPIFF-LOOP
        raise StateError(
            "SpiffWorkflow 3.2.0 无法启动该流程：它会无休止地预测一个没有决定网关的循环",
            hint="对该文件执行 hennan-flow validate（[SPIFF-LOOP] 指出该循环），修正后重新部署",
        ) from exc
    start = workflow.task_tree
    start.data.update(data)
    for child in start.children:
        child.data.update(data)
    return workflow


def advance(workflow: Any) -> None:
    """Run to the next wait state (ready user step, timer, message), mapping SpiffWorkflow errors.

    At most MAX_ENGINE_STEPS automatic tasks run per call: a loop that needs no user step (a
    standard loop whose condition stays true, a gateway cycle) would otherwise never return.
    """
    ran: Counter[str] = Counter()

    def count(task: Any) -> None:
        ran[getattr(task.task_spec, "bpmn_id", None) or ""] += 1
        if ran.total() > MAX_ENGINE_STEPS:
            looping = [element for element, _n in ran.most_common() if element]
            raise StateError(
                f"办件连续运行了 {MAX_ENGINE_STEPS} 个自动环节，未到达用户环节或定时器；流程陷入无尽循环",
                hint="给该循环加一个用户环节、loopMaximum 或会变为假的条件",
                location=Location(element=looping[0] if looping else None),
            )

    try:
        workflow.refresh_timers()
        do_engine_steps(workflow, count)  # SpiffWorkflow's, without its walks where the answer is known
    except (SpiffWorkflowException, WorkflowException, HennanFlowError) as exc:
        raise spiff_runtime_error(exc) from exc


def complete(workflow: Any, task_id: str, data: Mapping[str, Any]) -> None:
    task = workflow.get_task_from_id(UUID(task_id))
    if task is None or task.state != TaskState.READY:
        raise StateError(f"环节 {task_id} 在办件的流程中不是待办理状态")
    try:
        task.data.update(data)
        skip_idle_waiting_walks(workflow)
        task.run()
    except (SpiffWorkflowException, WorkflowException, HennanFlowError) as exc:
        raise spiff_runtime_error(exc) from exc
    advance(workflow)


def return_to(workflow: Any, from_task_id: str, to_task_id: str) -> bool:
    """退回: the process goes back to the completed step `to_task_id`, an ancestor of the open step
    `from_task_id` in the same process, and runs on to it again as a new instance (a new id: the
    earlier instance stays in the case's history), with the data the case held before it first ran.
    False when `to_task_id` is not such a step (nothing changes)."""
    try:
        target = workflow.get_task_from_id(UUID(to_task_id))
        source = workflow.get_task_from_id(UUID(from_task_id))
    except (TaskNotFoundException, ValueError):
        return False
    if (
        target is None
        or source is None
        or target.state != TaskState.COMPLETED
        or target.workflow is not source.workflow
        or target.workflow is not workflow  # (a step of a called process: its subprocess would be undone)
        or not source.is_descendant_of(target)
    ):
        return False
    try:
        workflow.reset_from_task_id(target.id)
        # SpiffWorkflow resets the task in place; the new instance gets its own id
        parent = target.parent
        old, new = target.id, uuid7()
        parent._children[parent._children.index(old)] = new
        workflow.tasks.pop(old)
        target.id = new
        workflow.tasks[new] = target
        for child in target.children:  # (the branch it predicted again points at it)
            child._parent = new
        forget_fragment(workflow, target)  # stored under its old id; the parent's lists that id:
        forget_fragment(workflow, parent)  # write both again (StateCodec.dump)
    except (SpiffWorkflowException, WorkflowException) as exc:
        raise spiff_runtime_error(exc) from exc
    advance(workflow)
    return True


def task_data(workflow: Any, task_id: str) -> dict[str, Any] | None:
    """The data of one task of the case (a completed user step: the values it took, with what the
    case held then), or None when the workflow no longer has that task."""
    try:
        task = workflow.get_task_from_id(UUID(task_id))
    except (TaskNotFoundException, ValueError):
        return None
    return None if task is None else dict(task.data)


def finished(workflow: Any) -> bool:
    """True only when SpiffWorkflow says so *and* no task anywhere is still live.

    The scan comes first: while a task is live the case is not finished, whatever SpiffWorkflow's
    depth-capped `is_completed()` would say (and that walk from the root is skipped on every step).
    """
    live = _tasks_in(workflow, _LIVE)
    if not live:
        return bool(workflow.is_completed())
    if workflow.completed:
        raise HennanFlowError(
            f"SpiffWorkflow 报告办件已办结，但仍有 {len(live)} 个环节未结束"
            f"（如 {live[0].task_spec.name}）；拒绝这一错误的办结"
        )
    return False


def check_depth(workflow: Any, limit: int = MAX_TREE_DEPTH) -> None:
    """Refuse a case whose task tree nears SpiffWorkflow's iterator depth cap (rework loops)."""
    if len(workflow.tasks) + sum(len(sub.tasks) for sub in workflow.subprocesses.values()) <= limit:
        return  # a task has fewer ancestors than the tree has tasks: no walk up needed
    for task in all_tasks(workflow):
        if not task.state & _LIVE:
            continue
        depth, node = 0, task
        while node.parent is not None:
            depth += 1
            node = node.parent
        if depth > limit:
            raise StateError(
                f"办件的任务树在环节 '{task.task_spec.name}' 处已深 {depth} 层"
                f"（SpiffWorkflow 3.2.0 无法超过 {limit} 层）；通常是返工循环次数过多",
                hint="办结或关闭本办件，另起新办件继续返工",
                location=Location(element=task.task_spec.name),
            )


def next_timer(workflow: Any) -> datetime | None:
    """The earliest instant a BPMN timer of this case is due, for the sweeper's index.

    Every waiting event task counts: timer events, and the timers an event-based gateway (or an
    event with several definitions) waits for beside its messages and signals.
    """
    due = [d for task in list(workflow.event_manager.tasks.values()) if (d := due_instant(task)) is not None]
    return min(due) if due else None
