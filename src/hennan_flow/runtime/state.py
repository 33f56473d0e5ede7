"""A case's SpiffWorkflow state to and from TEXT: the top document plus one JSON fragment per task.

The stored state holds the tasks and data only; the spec is rebuilt from the deployed BPMN
(spiffworkflow-notes §5 "tasks-only"). Each step writes only the fragments it changed, and writing
them is on every operation's path, so `StateCodec.dump` avoids SpiffWorkflow's per-object registry
dispatch for the plain tasks it knows (`_fragment`): it builds the very dictionary SpiffWorkflow's
`TaskConverter.to_dict` builds and encodes it with SpiffWorkflow's own JSON encoder, so the text is
the same byte for byte; any other task goes through SpiffWorkflow's converter.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from itertools import compress, repeat
from json.encoder import encode_basestring_ascii
from math import isfinite
from operator import and_, attrgetter, is_not
from typing import Any
from uuid import UUID

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.serializer.config import DEFAULT_CONFIG
from SpiffWorkflow.bpmn.serializer.default.event_definition import TimerConditionalEventDefinitionConverter
from SpiffWorkflow.bpmn.serializer.default.workflow import (
    BpmnWorkflowConverter,
    TaskConverter,
    WorkflowConverter,
)
from SpiffWorkflow.task import Task
from SpiffWorkflow.util.task import TaskState

from ..bpmn.parser import ProcessSpecs
from ..errors import StateError
from .timers import TIMER_CLASSES

__all__ = ["Dump", "StateCodec", "forget_fragment"]

_LIVE = TaskState.READY | TaskState.WAITING | TaskState.STARTED | TaskState.ERROR
_FRAGMENT = "_hf_fragment"  # on each task: (its id, its key, its fragment) as last stored
_STORED = "_hf_stored"  # on the workflow: its `_Stored`; None: no task rows stored yet


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


def forget_fragment(workflow: Any, task: Any) -> None:
    """The next dump serializes this task again (for a change its fragment key does not see)."""
    task.__dict__.pop(_FRAGMENT, None)
    stored = getattr(workflow, _STORED, None)
    if stored is not None:
        stored.forced.append(task)


def _key(task: Any) -> tuple[Any, ...]:
    """What a task's own fragment depends on, besides its data (live tasks are always serialized)."""
    return (task._state, task.last_state_change, task.triggered, len(task._children))


_CHANGE = attrgetter("last_state_change")
_STATE = attrgetter("_state")


def _text_id(text_ids: dict[int, str], task_id: UUID) -> str:
    """`str(task_id)`, remembered (UUID's `__str__` is Python code, and every fragment lists ids)."""
    text = text_ids.get(task_id.int)
    if text is None:
        text = text_ids[task_id.int] = str(task_id)
    return text


class _Stored:
    """What a workflow's stored rows were made from: the task map and each task's state-change
    stamp at the last dump, and the ids of the rows."""

    def __init__(self) -> None:
        self.ids: set[str] = set()
        self.order: list[Any] = []
        self.changes: list[float] = []  # each task's `last_state_change` (the very object)
        self.text_ids: dict[int, str] = {}
        self.forced: list[Any] = []

    def text_id(self, task_id: UUID) -> str:
        return _text_id(self.text_ids, task_id)

    def touched(
        self, tasks: Mapping[Any, Any], now: list[Any], changes: list[float]
    ) -> list[tuple[Any, bool]]:
        """The tasks to serialize again, each with whether its own key changed: new tasks (and
        their parents: one more child), tasks whose key changed, live ones.

        When the map only grew since the last dump (the usual step) this runs in C over the
        unchanged tasks: a task's state changes only through `Task._set_state`, which stamps a new
        `last_state_change` object, and `triggered` is set as a task is made. Otherwise (tasks were
        dropped, or moved in the map) each task's key is compared with its fragment's.
        """
        old, forced = self.order, self.forced
        self.forced = []
        n = len(old)
        if len(now) >= n and now[:n] == old:  # (list equality: the same task objects, in order)
            moved = list(compress(now, map(is_not, changes, self.changes)))
            for task in now[n:]:
                moved.append(task)
                parent = tasks.get(task._parent) if task._parent is not None else None
                if parent is not None:
                    moved.append(parent)
        else:
            moved = [
                task
                for task in now
                if (before := getattr(task, _FRAGMENT, None)) is None
                or before[0] is not task.id
                or before[1] != _key(task)
            ]
        moved += forced
        live = compress(now, map(and_, map(_STATE, now), repeat(_LIVE)))
        return [(task, True) for task in moved] + [(task, False) for task in live]


class StateCodec:
    """Workflow state to and from TEXT, stamped with the serializer version that wrote it.

    `dump` keeps each task's JSON fragment on the task (with the key it was made from) and
    serializes again only the tasks a step touched: their key changed, they are live, or their
    parent was serialized again (a fragment stores its data as a delta against its parent's); only
    fragments whose text changed are written. So a step costs about the same at step 100 as at
    step 1. `compose` joins the stored rows back into the document a full serialization would write
    (tests cross-check both), ordered parent-first: SpiffWorkflow restores a task's data from its
    parent's, so the order of the task map matters (spiffworkflow-notes §5).
    """

    def __init__(self, converters: Mapping[type, type] | None = None) -> None:
        config = dict(DEFAULT_CONFIG)
        config[BpmnWorkflow] = _StateConverter
        for cls in TIMER_CLASSES.values():
            config[cls] = TimerConditionalEventDefinitionConverter
        config.update(converters or {})  # (tests: another converter for some class)
        registry = BpmnWorkflowSerializer.configure(config)
        self._serializer = BpmnWorkflowSerializer(registry)
        self._registry = registry
        self._converter = _StateConverter(BpmnWorkflow, registry)
        # one encoder for every fragment: `json.dumps(…, cls=…)` builds a new one per call (~4 µs);
        # its `encode` keeps no state between calls and writes exactly what `json.dumps` writes
        self._encode = self._serializer._encoder_cls().encode
        self.version: str = self._serializer.VERSION
        self._typename = self._value(registry.typenames[BpmnWorkflow])
        self._version_item = f"{self._value(self._serializer.VERSION_KEY)}: {self._value(self.version)}"
        # `_fragment` writes what SpiffWorkflow's TaskConverter and encoder write for a plain Task;
        # a task of another class, or a registry or encoder configured otherwise, takes their way
        self._task_typename = self._value(registry.typenames.get(Task))
        to_dict = registry.convert_to_dict.get(registry.typenames.get(Task))
        method = getattr(to_dict, "args", (None, None))[1:2]
        encoder = self._serializer._encoder_cls()
        stock = (
            bool(method)
            and getattr(method[0], "__func__", None) is TaskConverter.to_dict
            and (encoder.item_separator, encoder.key_separator) == (", ", ": ")
            and encoder.ensure_ascii
            and encoder.indent is None
            and not encoder.sort_keys
        )
        self._fast_class: type | None = Task if stock else None

    def dump_full(self, workflow: Any) -> str:
        """A complete serialization, ignoring any cached fragments (the reference for `dump`)."""
        return str(self._serializer.serialize_json(workflow))

    def fragment(self, task: Any) -> str:
        """One task's fragment as SpiffWorkflow's own converter and encoder write it (the reference
        for `dump`'s)."""
        registry = self._registry
        registry._encoder_mode = True
        try:
            return str(self._encode(registry.convert_to_dict[registry.typenames[type(task)]](task)))
        finally:
            registry._encoder_mode = False

    def dump(self, workflow: Any) -> Dump:
        """The changes to store since the workflow was last dumped (or loaded).

        What it keeps on the workflow says these rows are stored: a workflow whose dump or whose
        transaction failed is dropped and loaded again (the engine's `WorkflowCache.changing`).
        """
        if workflow.subprocesses:  # subprocesses hold their own task maps: store those cases whole
            setattr(workflow, _STORED, None)
            return Dump(self.dump_full(workflow), {}, (), full=True)
        tasks = workflow.tasks
        now = list(tasks.values())
        changes = list(map(_CHANGE, now))
        stored: _Stored | None = getattr(workflow, _STORED, None)
        first = stored is None
        if stored is None:  # no rows yet (or the case was stored whole): every task is written
            stored = _Stored()
            touched = [(task, True) for task in now]
        else:
            touched = stored.touched(tasks, now, changes)
        registry = self._registry
        changed: dict[str, str] = {}
        ids = stored.ids
        added = 0
        registry._encoder_mode = True
        try:
            done: set[int] = set()
            for task, keyed in touched:  # (a task serialized again: its children's deltas may change too)
                if id(task) in done:
                    continue
                done.add(id(task))
                before: Any = getattr(task, _FRAGMENT, None)
                previous = before[2] if not first and before is not None and before[0] is task.id else None
                parent = tasks.get(task._parent) if task._parent is not None else None
                text = self._fragment(task, parent, stored.text_ids)
                setattr(task, _FRAGMENT, (task.id, _key(task), text))
                if text == previous and not keyed:
                    continue
                if text != previous:
                    text_id = stored.text_id(task.id)
                    added += text_id not in ids
                    changed[text_id] = text
                for child_id in task._children:
                    child = tasks.get(child_id)
                    if child is not None and id(child) not in done:
                        touched.append((child, False))
            head = self._top(workflow, stored.text_ids)
        finally:
            registry._encoder_mode = False
        removed: tuple[str, ...] = ()
        if len(ids) + added == len(now):  # every stored row is still a task of the case
            ids.update(changed)
        else:  # some left the map (dropped predictions, a reset branch)
            current = {stored.text_id(task.id) for task in now}
            removed = tuple(text_id for text_id in ids if text_id not in current)
            for task in now:  # (and any task whose row is not stored yet is written)
                text_id = stored.text_id(task.id)
                if text_id not in ids:
                    changed.setdefault(text_id, getattr(task, _FRAGMENT)[2])
            stored.ids = current
        stored.order, stored.changes = now, changes
        setattr(workflow, _STORED, stored)
        return Dump(head, changed, removed)

    def _fragment(self, task: Any, parent: Any, text_ids: dict[int, str]) -> str:
        """`TaskConverter.to_dict` of a plain task as the encoder writes it; the registry's way for
        any other task.

        The fixed keys are written here; a value of any other type than the usual (and every
        non-empty data, delta or internal data) is written by SpiffWorkflow's encoder, which
        converts datetimes, sets, … through the registry. In encoder mode SpiffWorkflow's converter
        leaves the data to the encoder and only drops callables from `internal_data`.
        """
        cls: Any = type(task)
        if cls is not self._fast_class:
            return str(self._encode(self._registry.convert_to_dict[self._registry.typenames[cls]](task)))
        value = self._value
        task_data = task.data
        if parent is None:
            data, delta = value(task_data), "{}"
        else:
            before = parent.data
            updates = {k: task_data[k] for k in task_data if k not in before or task_data[k] != before[k]}
            deletions = [k for k in before if k not in task_data]
            data = "{}"
            delta = f'{{"updates": {value(updates)}, "deletions": {value(deletions)}}}'
        internal = task.internal_data
        if internal or type(internal) is not dict:
            internal = self._registry.convert(internal)
        children = ", ".join([f'"{_text_id(text_ids, child)}"' for child in task._children])
        return (
            f'{{"id": "{_text_id(text_ids, task.id)}", '
            f'"parent": {value(_text_id(text_ids, task._parent) if parent is not None else None)}, '
            f'"children": [{children}], '
            f'"last_state_change": {value(task.last_state_change)}, '
            f'"state": {value(task._state)}, '
            f'"task_spec": {value(task.task_spec.name)}, '
            f'"triggered": {value(task.triggered)}, '
            f'"internal_data": {value(internal)}, '
            f'"data": {data}, '
            f'"delta": {delta}, '
            f'"typename": {self._task_typename}}}'
        )

    def _value(self, value: Any) -> str:
        """What SpiffWorkflow's encoder writes for `value` (the usual scalars without calling it)."""
        cls: Any = type(value)
        if cls is str:
            return str(encode_basestring_ascii(value))
        if cls is bool:
            return "true" if value else "false"
        if cls is int:
            return int.__repr__(value)
        if cls is float and isfinite(value):
            return float.__repr__(value)
        if value is None:
            return "null"
        if not value and (cls is dict or cls is list):
            return "{}" if cls is dict else "[]"
        return str(self._encode(value))

    def _top(self, workflow: Any, text_ids: dict[int, str]) -> str:
        """The workflow's document without its task map: `WorkflowConverter.to_dict`'s keys, then
        `_StateConverter`'s, the registry's typename and the serializer's version, in that order."""
        registry, value = self._registry, self._value
        data, events, last = workflow.data, workflow.bpmn_events, workflow.last_task
        if data or type(data) is not dict:  # (an empty dict converts to itself)
            data = registry.convert(registry.clean(data))
        if events or type(events) is not list:
            events = registry.convert(events)
        last_task = "null" if last is None else '"' + _text_id(text_ids, last.id) + '"'  # (an id: no escapes)
        return (
            f'{{"data": {value(data)}, '
            f'"correlations": {value(workflow.correlations)}, '
            f'"last_task": {last_task}, '
            f'"success": {value(workflow.success)}, '
            f'"completed": {value(workflow.completed)}, '
            f'"root": "{_text_id(text_ids, workflow.task_tree.id)}", '
            f'"subprocesses": {{}}, '
            f'"bpmn_events": {value(events)}, '
            f'"typename": {self._typename}, '
            f"{self._version_item}}}"
        )

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
            stored = _Stored()
            for task in workflow.tasks.values():
                text_id = stored.text_id(task.id)
                if text_id in texts:
                    setattr(task, _FRAGMENT, (task.id, _key(task), texts[text_id]))
                    stored.ids.add(text_id)
            if len(stored.ids) == len(workflow.tasks):  # (else the next dump checks every task)
                stored.order = list(workflow.tasks.values())
                stored.changes = list(map(_CHANGE, stored.order))
            setattr(workflow, _STORED, stored)
        return workflow
