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

import json
import logging
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from importlib import metadata
from typing import Any
from uuid import UUID

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine
from SpiffWorkflow.bpmn.script_engine.python_environment import BasePythonScriptEngineEnvironment
from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.serializer.config import DEFAULT_CONFIG
from SpiffWorkflow.bpmn.serializer.default.event_definition import TimerConditionalEventDefinitionConverter
from SpiffWorkflow.bpmn.serializer.default.workflow import BpmnWorkflowConverter, WorkflowConverter
from SpiffWorkflow.exceptions import SpiffWorkflowException, TaskNotFoundException, WorkflowException
from SpiffWorkflow.util.task import TaskState

from ..bpmn.parser import ProcessSpecs
from ..errors import ExpressionError, HennanFlowError, Location, StateError
from ..ids import use_for_spiff_tasks, uuid7
from .engine_steps import do_engine_steps, skip_idle_waiting_walks
from .instances import MAX_INSTANCES
from .sandbox import Sandbox, expression_failed
from .timers import TIMER_CLASSES, due_instant

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


# -- state ------------------------------------------------------------------------------------


class _StateConverter(BpmnWorkflowConverter):  # type: ignore[misc]
    """Tasks and data only: the spec comes from the deployed definition, not from the state."""

    def to_dict(self, workflow: Any) -> dict[str, Any]:
        dct: dict[str, Any] = WorkflowConverter.to_dict(self, workflow)
        dct["subprocesses"] = self.mapping_to_dict(workflow.subprocesses)
        dct["bpmn_events"] = self.registry.convert(workflow.bpmn_events)
        return dct

    def restore(self, dct: dict[str, Any], specs: ProcessSpecs) -> Any:
        workflow = self.target_class(specs.spec, specs.subprocess_specs, deserializing=True)
        workflow.tasks = self.mapping_from_dict(dct["tasks"], UUID, workflow=workflow)
        workflow.task_tree = workflow.tasks.get(UUID(dct["root"]))
        self.set_default_attributes(workflow, dct)
        self.subprocesses_from_dict(dct["subprocesses"], workflow)
        workflow.bpmn_events = self.registry.restore(dct.pop("bpmn_events", []))
        return workflow


@dataclass(frozen=True)
class Dump:
    """What a step changed in a case's stored state.

    `top` is the workflow's own document (its data, events, root…) without the task map; the tasks
    are stored one row each, and only `changed` ones are written, `removed` ones deleted. A workflow
    with subprocesses is stored whole in `top` (`full`), with no task rows.
    """

    top: str
    changed: dict[str, str]
    removed: tuple[str, ...]
    full: bool = False


class StateCodec:
    """Workflow state to and from TEXT, stamped with the serializer version that wrote it.

    `dump` keeps each task's JSON fragment on the workflow object (with what it was made from) and
    serializes again only the tasks a step touched (their state, children or parent's state changed,
    or they are live); only those are written. So a step costs the same at step 100 as at step 1.
    `compose` joins the stored rows back into the document a full serialization would write (tests
    cross-check both), ordered parent-first: SpiffWorkflow restores a task's data from its parent's,
    so the order of the task map matters (spiffworkflow-notes §5).
    """

    def __init__(self) -> None:
        config = dict(DEFAULT_CONFIG)
        config[BpmnWorkflow] = _StateConverter
        for cls in TIMER_CLASSES.values():
            config[cls] = TimerConditionalEventDefinitionConverter
        registry = BpmnWorkflowSerializer.configure(config)
        self._serializer = BpmnWorkflowSerializer(registry)
        self._registry = registry
        self._converter = _StateConverter(BpmnWorkflow, registry)
        self._encoder = self._serializer._encoder_cls
        # one encoder for every fragment: `json.dumps(…, cls=…)` builds a new one per call (~4 µs);
        # its `encode` keeps no state between calls and writes exactly what `json.dumps` writes
        self._encode = self._encoder().encode
        self.version: str = self._serializer.VERSION

    def dump_full(self, workflow: Any) -> str:
        """A complete serialization, ignoring any cached fragments (the reference for `dump`)."""
        return str(self._serializer.serialize_json(workflow))

    def dump(self, workflow: Any) -> Dump:
        """The changes to store since the workflow was last dumped (or loaded)."""
        if workflow.subprocesses:  # subprocesses hold their own task maps: store those cases whole
            workflow._hf_fragments = {}
            return Dump(self.dump_full(workflow), {}, (), full=True)
        registry = self._registry
        stored: dict[Any, tuple[tuple[Any, ...], str]] = getattr(workflow, "_hf_fragments", None) or {}
        fresh: dict[Any, tuple[tuple[Any, ...], str]] = {}
        changed: dict[str, str] = {}
        tasks = workflow.tasks
        registry._encoder_mode = True
        try:
            to_dict = registry.convert_to_dict[registry.typenames[type(workflow.task_tree)]]
            for task_id, task in tasks.items():
                parent = tasks.get(task._parent) if task._parent is not None else None
                key = _fragment_key(task, parent)
                before = stored.get(task_id)
                if before is not None and before[0] == key and not task._state & _LIVE:
                    fresh[task_id] = before
                    continue
                text = self._encode(to_dict(task))
                fresh[task_id] = (key, text)
                if before is None or before[1] != text:
                    changed[str(task_id)] = text
            top = WorkflowConverter.to_dict(self._converter, _NoTasks(workflow))
            del top["tasks"]  # stored one row per task; `compose` puts the map back
            top["subprocesses"] = {}
            top["bpmn_events"] = registry.convert(workflow.bpmn_events)
            top["typename"] = registry.typenames[type(workflow)]
            top[self._serializer.VERSION_KEY] = self.version
            head = self._encode(top)
        finally:
            registry._encoder_mode = False
        removed = tuple(str(task_id) for task_id in stored if task_id not in fresh)
        workflow._hf_fragments = fresh
        return Dump(head, changed, removed)

    def compose(self, top: str, rows: Iterable[tuple[str, str]]) -> str:
        """The whole state document from the top document and the stored task rows."""
        fragments = dict(rows)
        if not fragments:
            return top  # stored whole
        root = json.loads(top)["root"]
        order, queue = [], [root]
        while queue:  # parent-first, as SpiffWorkflow needs it
            task_id = queue.pop(0)
            text = fragments.get(task_id)
            if text is None:
                continue
            order.append(task_id)
            queue.extend(json.loads(text)["children"])
        body = ", ".join(f"{json.dumps(t)}: {fragments[t]}" for t in order)
        return top[:-1] + ', "tasks": {' + body + "}}"

    def load(self, text: str, specs: ProcessSpecs, rows: Iterable[tuple[str, str]] = ()) -> Any:
        """Restore a workflow from its stored state (the top document and its task rows)."""
        rows = list(rows)
        dct = json.loads(self.compose(text, rows))
        stored = dct.pop(self._serializer.VERSION_KEY, None)
        if stored != self.version:
            raise StateError(
                f"办件状态以序列化格式 {stored!r} 写入；本引擎读取 {self.version!r}",
                hint="请用写入该办件的 hennan_flow/SpiffWorkflow 版本办理",
            )
        workflow = self._converter.restore(dct, specs)
        if rows:  # what is stored now: the next dump writes only what changes
            texts = dict(rows)
            workflow._hf_fragments = {
                task_id: (_fragment_key(task, task.parent), texts[str(task_id)])
                for task_id, task in workflow.tasks.items()
                if str(task_id) in texts
            }
        return workflow


def _fragment_key(task: Any, parent: Any) -> tuple[Any, ...]:
    """What a task's stored fragment depends on (its delta is computed against its parent's data)."""
    return (
        task._state,
        task.last_state_change,
        task.triggered,
        len(task._children),
        None if parent is None else (parent._state, parent.last_state_change),
    )


class _NoTasks:
    """A view of a workflow whose task map is empty (the tasks are serialized fragment by fragment)."""

    def __init__(self, workflow: Any) -> None:
        self._workflow = workflow
        self.tasks: dict[Any, Any] = {}

    def __getattr__(self, name: str) -> Any:
        return getattr(self._workflow, name)


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


_NO_POSITION = 1 << 62  # a spec built without positions sorts after every placed one


def ready_user_tasks(workflow: Any) -> list[UserTask]:
    """The ready user steps in a deterministic order: document order of their elements, then
    instance (their place in the task tree, which is the order SpiffWorkflow made them in)."""
    found = []
    for task in all_tasks(workflow):
        if task.state == TaskState.READY and task.task_spec.manual:
            spec = task.task_spec
            position = getattr(spec, "hf_position", None)
            order = _NO_POSITION if position is None else int(position)
            user = UserTask(
                str(task.id), spec.bpmn_id or spec.name, spec.bpmn_name or spec.bpmn_id or spec.name, order
            )
            found.append(((order, _tree_path(task)), user))
    found.sort(key=lambda pair: pair[0])
    return [user for _key, user in found]


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
        stored = getattr(workflow, "_hf_fragments", None)
        if stored:  # the parent's stored fragment lists the old id: write it again (StateCodec.dump)
            stored.pop(parent.id, None)
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
    live = [t for t in all_tasks(workflow) if t.state & _LIVE]
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
