"""`StateCodec.dump` writes each task's fragment itself (runtime/state.py): the text must be the very
text SpiffWorkflow's own converter and encoder write, for every shape and every kind of data, or
the stored cases stop being readable as they were.

After every step of every model here (parallel branches, gateways that drop predicted branches, a
rework loop, timers, multi-instance, boundary timers), each stored row is compared with
`StateCodec.fragment` (SpiffWorkflow's TaskConverter and encoder) and the top document with the
full serialization, as text; the rows are also restored by a second codec, which carries on.
Hypothesis feeds data of every JSON type, and values the registry or the encoder converts.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from SpiffWorkflow.bpmn.serializer.default.workflow import TaskConverter
from SpiffWorkflow.task import Task
from SpiffWorkflow.util.task import TaskState

from fidelity_models import chain, flow, process, timer_catch, user, write
from hennan_flow.bpmn.parser import ProcessSpecs, build_specs
from hennan_flow.bpmn.xmlsafe import parse_file
from hennan_flow.runtime.sandbox import Sandbox
from hennan_flow.runtime.state import Dump, StateCodec
from hennan_flow.runtime.workflow import EngineScriptEngine, advance, complete, new_workflow, return_to

T0 = datetime(2026, 3, 2, 9, tzinfo=UTC)


def _models() -> dict[str, str]:
    gateway = "\n".join(
        [
            '    <bpmn:startEvent id="start"/>',
            user("review", "yes", "no", "last"),
            '    <bpmn:exclusiveGateway id="gw" default="f_gw_no"/>',
            '    <bpmn:exclusiveGateway id="merge"/>',
            '    <bpmn:endEvent id="end"/>',
            flow("start", "review"),
            flow("review", "gw"),
            flow("gw", "yes", "pick == 1"),
            flow("gw", "no"),
            flow("yes", "merge"),
            flow("no", "merge"),
            flow("merge", "last"),
            flow("last", "end"),
        ]
    )
    parallel = "\n".join(
        [
            '    <bpmn:startEvent id="start"/>',
            user("a", "b", "c", "after"),
            '    <bpmn:parallelGateway id="split"/>',
            '    <bpmn:parallelGateway id="join"/>',
            '    <bpmn:endEvent id="end"/>',
            flow("start", "split"),
            *(flow("split", s) for s in "abc"),
            *(flow(s, "join") for s in "abc"),
            flow("join", "after"),
            flow("after", "end"),
        ]
    )
    rework = "\n".join(
        [
            '    <bpmn:startEvent id="start"/>',
            user("fill", "check"),
            '    <bpmn:exclusiveGateway id="again" default="f_again_end"/>',
            '    <bpmn:endEvent id="end"/>',
            chain("start", "fill", "check", "again"),
            flow("again", "fill", "pick == 1"),
            flow("again", "end"),
        ]
    )
    timers = "\n".join(
        [
            '    <bpmn:startEvent id="start"/>',
            user("first", "guarded", "late", "done"),
            timer_catch("wait", "timeDuration", '"PT1H"'),
            '    <bpmn:boundaryEvent id="deadline" attachedToRef="guarded"><bpmn:timerEventDefinition>'
            '<bpmn:timeDuration><![CDATA["P1D"]]></bpmn:timeDuration></bpmn:timerEventDefinition>'
            "</bpmn:boundaryEvent>",
            '    <bpmn:endEvent id="end"/>',
            '    <bpmn:endEvent id="end_late"/>',
            chain("start", "first", "wait", "guarded", "done", "end"),
            chain("deadline", "late", "end_late"),
        ]
    )
    multi = "\n".join(
        [
            '    <bpmn:startEvent id="start"/>',
            '    <bpmn:userTask id="each"><bpmn:multiInstanceLoopCharacteristics isSequential="false">'
            "<bpmn:loopCardinality>3</bpmn:loopCardinality></bpmn:multiInstanceLoopCharacteristics>"
            "</bpmn:userTask>",
            user("after"),
            '    <bpmn:endEvent id="end"/>',
            chain("start", "each", "after", "end"),
        ]
    )
    return {"gateway": gateway, "parallel": parallel, "rework": rework, "timers": timers, "multi": multi}


MODELS = _models()


@pytest.fixture(scope="module")
def specs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, ProcessSpecs]:
    folder = tmp_path_factory.mktemp("fragments")
    built = {}
    for pid, body in MODELS.items():
        path = write(folder, f"{pid}.bpmn", process(pid, body))
        built[pid] = build_specs(parse_file(path), str(path), pid)
    return built


class Store:
    """The rows a database would hold for one case, from the dumps; checked against SpiffWorkflow."""

    def __init__(self, codec: StateCodec) -> None:
        self.codec = codec
        self.top = ""
        self.rows: dict[str, str] = {}
        self.reloaded = False

    def save(self, workflow: Any) -> Dump:
        dump = self.codec.dump(workflow)
        self.top = dump.top
        self.rows.update(dump.changed)
        for task_id in dump.removed:
            del self.rows[task_id]
        check(self.codec, workflow, self.top, self.rows if not self.reloaded else dump.changed)
        assert set(self.rows) == {str(task_id) for task_id in workflow.tasks}
        return dump


def check(codec: StateCodec, workflow: Any, top: str, rows: dict[str, str]) -> None:
    """Each of these rows is SpiffWorkflow's own text for its task; the top document is the full
    serialization's (as the encoder writes it without the task map)."""
    reference = StateCodec()
    for task_id, text in rows.items():
        task = workflow.tasks[UUID(task_id)]
        assert text == reference.fragment(task), task.task_spec.name
    whole = json.loads(reference.dump_full(workflow))
    del whole["tasks"]
    assert top == codec._encode(whole)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


def run_case(
    specs: ProcessSpecs,
    start: dict[str, Any],
    steps: Iterator[dict[str, Any]],
    *,
    reload_every: int = 3,
    drop: Callable[[dict[str, Any]], list[str]] = lambda data: [],
    leave: frozenset[str] = frozenset(),
) -> list[str]:
    """Drive a case to its end (or 40 steps), saving and checking after every operation; every
    `reload_every` steps the case is restored from the rows by a new codec, as another process would
    (SpiffWorkflow's restore rebuilds the data, so the whole rows compare with a full serialization
    of the workflow in memory only until then: `test_state_storage` compares documents)."""
    clock = Clock()
    engine = EngineScriptEngine(Sandbox(), allow_code=False, now=clock)
    codec = StateCodec()
    store = Store(codec)
    workflow = new_workflow(specs, engine, start)
    advance(workflow)
    store.save(workflow)
    done = []
    for count in range(40):
        ready = [
            t
            for t in workflow.tasks.values()
            if t.state == TaskState.READY and t.task_spec.manual and t.task_spec.name not in leave
        ]
        if not ready:
            if workflow.is_completed():
                break
            clock.now += timedelta(hours=2)  # a timer is due
            advance(workflow)
        else:
            data = next(steps)
            task = ready[0]
            for key in drop(task.data):
                task.data.pop(key, None)
            complete(workflow, str(task.id), data)
            done.append(task.task_spec.name)
        store.save(workflow)
        if count % reload_every == reload_every - 1:
            codec = StateCodec()
            workflow = codec.load(store.top, specs, list(store.rows.items()))
            workflow.script_engine = engine
            store.codec = codec
            # a restored task's data may hold its keys in another order, or a set as a list: from
            # here on the rows a dump writes are checked, the others stay as they were stored
            store.reloaded = True
    return done


SCALARS = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8)
# one level of containers: SpiffWorkflow's DeepMerge copies data shallowly and merges parallel and
# multi-instance branches into the copies in place, so a container two levels down is shared with
# tasks stored earlier, whose data then changes in memory after their rows were written (any codec
# leaves such a row as it was stored; deeper lists of dicts also make DeepMerge itself fail)
JSON = SCALARS | st.lists(SCALARS, max_size=3) | st.dictionaries(st.text(max_size=5), SCALARS, max_size=3)
CONVERTED = st.one_of(  # what the registry converts ({"typename": …})
    st.datetimes(timezones=st.none() | st.just(UTC)),
    st.timedeltas().map(lambda d: timedelta(days=d.days, seconds=d.seconds)),
    st.uuids(),
)
LOSSY = st.one_of(  # what the encoder writes as something else (a list; whole seconds)
    st.frozensets(st.integers(), max_size=3).map(set),
    st.tuples(st.integers(), st.text(max_size=3)),
    st.timedeltas(),
    st.just(len),  # (a callable: written as null)
)
KEYS = st.sampled_from(["x", "y", "名称", "n", "opinion"])


def data_of(values: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    return st.dictionaries(KEYS, values, max_size=4)


@st.composite
def cases(draw: st.DrawFn) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    values = JSON | CONVERTED | LOSSY
    return draw(data_of(values)), draw(st.lists(data_of(values), min_size=1, max_size=6))


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    pid=st.sampled_from(sorted(MODELS)),
    case=cases(),
    picks=st.lists(st.sampled_from([0, 1]), min_size=1, max_size=6),
    drop=st.booleans(),
    reload=st.booleans(),
)
def test_every_row_is_spiffworkflows_own_text_after_every_step(
    specs: dict[str, ProcessSpecs],
    pid: str,
    case: tuple[dict[str, Any], list[dict[str, Any]]],
    picks: list[int],
    drop: bool,
    reload: bool,
) -> None:
    start, steps = case
    picked = iter(picks * 10)

    def step_data() -> Iterator[dict[str, Any]]:
        for i in range(100):
            yield {**steps[i % len(steps)], "pick": next(picked, 0)}

    def dropping(data: dict[str, Any]) -> list[str]:  # keys a step inherited: deletions in its delta
        return [k for k in data if k in ("x", "名称")] if drop else []

    run_case(specs[pid], {**start, "pick": 0}, step_data(), drop=dropping, reload_every=3 if reload else 1000)


@pytest.mark.parametrize("pid", sorted(MODELS))
def test_each_shape_runs_to_its_end_with_plain_data(specs: dict[str, ProcessSpecs], pid: str) -> None:
    def data() -> Iterator[dict[str, Any]]:
        i = 0
        while True:
            i += 1
            yield {"n": i, "opinion": "同意", "ok": True, "score": 1.5, "none": None, "pick": int(i < 3)}

    assert len(run_case(specs[pid], {"applicant": "张三", "items": [1, 2]}, data(), reload_every=2)) >= 2


@pytest.mark.parametrize("reload_every", [2, 1000])
def test_a_boundary_timer_that_fires_is_stored_as_spiffworkflow_writes_it(
    specs: dict[str, ProcessSpecs], reload_every: int
) -> None:
    """The guarded step is left open: its boundary timer fires a day later, cancels it and opens
    the late step (waiting, cancelled and newly predicted tasks in one operation)."""
    steps = iter([{"n": i, "when": T0 + timedelta(days=i)} for i in range(10)])
    done = run_case(specs["timers"], {}, steps, reload_every=reload_every, leave=frozenset({"guarded"}))
    assert done == ["first", "late"]


def test_a_return_writes_the_step_again_under_its_new_id(specs: dict[str, ProcessSpecs]) -> None:
    engine = EngineScriptEngine(Sandbox(), allow_code=False, now=lambda: T0)
    store = Store(StateCodec())
    workflow = new_workflow(specs["gateway"], engine, {"pick": 0})
    advance(workflow)
    store.save(workflow)
    review = next(t for t in workflow.tasks.values() if t.task_spec.name == "review")
    complete(workflow, str(review.id), {"pick": 0})
    store.save(workflow)
    now = next(t for t in workflow.tasks.values() if t.state == TaskState.READY)
    assert return_to(workflow, str(now.id), str(review.id))
    dump = store.save(workflow)
    assert str(review.id) in dump.changed and dump.removed


def test_callables_in_internal_data_and_data_are_written_as_spiffworkflow_writes_them(
    specs: dict[str, ProcessSpecs],
) -> None:
    engine = EngineScriptEngine(Sandbox(), allow_code=False, now=lambda: T0)
    store = Store(StateCodec())
    workflow = new_workflow(specs["parallel"], engine, {"f": len})
    advance(workflow)
    for task in workflow.tasks.values():
        task.internal_data = {"keep": 1, "drop": len, "when": T0}
    store.save(workflow)
    assert '"f": null' in store.rows[str(workflow.task_tree.id)]
    assert '"drop"' not in "".join(store.rows.values())


@pytest.mark.parametrize(
    "value", [math.nan, math.inf, -math.inf, 1_700_000_000, True, "x", None, 1.0000000000000002]
)
def test_fields_of_unusual_types_are_written_by_the_encoder(
    specs: dict[str, ProcessSpecs], value: Any
) -> None:
    """A field of another type than SpiffWorkflow sets (NaN, an int, …) is written as its encoder
    writes it (json writes NaN and Infinity; float.__repr__ would write nan)."""
    engine = EngineScriptEngine(Sandbox(), allow_code=False, now=lambda: T0)
    workflow = new_workflow(specs["parallel"], engine, {})
    advance(workflow)
    for task in workflow.tasks.values():
        task.last_state_change = value
    store = Store(StateCodec())
    store.save(workflow)  # (checks every row against SpiffWorkflow's text)


class _TaggedTaskConverter(TaskConverter):  # type: ignore[misc]
    """A registry configured with another task converter (as a portal or a later SpiffWorkflow may)."""

    def to_dict(self, task: Any) -> dict[str, Any]:
        dct: dict[str, Any] = super().to_dict(task)
        dct["tagged"] = True
        return dct


def test_a_task_converter_other_than_spiffworkflows_is_used_as_it_is(specs: dict[str, ProcessSpecs]) -> None:
    """The hand-written fragment is SpiffWorkflow 3.2's TaskConverter: with any other converter the
    codec falls back to the registry, and the rows are that converter's text."""
    codec = StateCodec({Task: _TaggedTaskConverter})
    engine = EngineScriptEngine(Sandbox(), allow_code=False, now=lambda: T0)
    workflow = new_workflow(specs["gateway"], engine, {"pick": 1, "when": T0, "id": UUID(int=7)})
    advance(workflow)
    dump = codec.dump(workflow)
    assert dump.changed and all('"tagged": true' in text for text in dump.changed.values())
    assert dump.changed == {str(i): codec.fragment(t) for i, t in workflow.tasks.items()}


def test_a_task_of_another_class_is_written_by_the_registry(specs: dict[str, ProcessSpecs]) -> None:
    class OtherTask(Task):  # type: ignore[misc]
        pass

    codec = StateCodec({OtherTask: _TaggedTaskConverter})
    engine = EngineScriptEngine(Sandbox(), allow_code=False, now=lambda: T0)
    workflow = new_workflow(specs["parallel"], engine, {})
    advance(workflow)
    odd = next(t for t in workflow.tasks.values() if t.state == TaskState.READY)
    odd.__class__ = OtherTask
    dump = codec.dump(workflow)
    assert '"tagged": true' in dump.changed[str(odd.id)]
    assert dump.changed[str(odd.id)] == codec.fragment(odd)
    others = [t for t in workflow.tasks.values() if t is not odd]
    assert all(dump.changed[str(t.id)] == codec.fragment(t) for t in others)


def test_the_models_cover_what_the_codec_must_see(specs: dict[str, ProcessSpecs]) -> None:
    """Dropped predictions (the gateway) and removed tasks (the rework loop) take dump's slow path,
    timers and boundary events make waiting tasks: the shapes above reach them."""
    engine = EngineScriptEngine(Sandbox(), allow_code=False, now=lambda: T0)
    codec = StateCodec()
    workflow = new_workflow(specs["rework"], engine, {"pick": 1})
    advance(workflow)
    codec.dump(workflow)
    removed = False
    for _ in range(3):
        ready = next(t for t in workflow.tasks.values() if t.state == TaskState.READY)
        complete(workflow, str(ready.id), {"pick": 1})
        removed |= bool(codec.dump(workflow).removed)
    assert removed
    workflow = new_workflow(specs["timers"], engine, {})
    advance(workflow)
    first = next(t for t in workflow.tasks.values() if t.state == TaskState.READY)
    complete(workflow, str(first.id), {})
    assert any(t.state == TaskState.WAITING for t in workflow.tasks.values())


def test_a_case_stored_whole_and_then_without_subprocesses_writes_every_row_again(
    specs: dict[str, ProcessSpecs], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Stored whole, a case has no task rows (persist_case deletes them): when its subprocesses are
    gone, the next dump writes every task, whatever fragments its tasks still carry."""
    codec = StateCodec()
    engine = EngineScriptEngine(Sandbox(), allow_code=False, now=lambda: T0)
    workflow = new_workflow(specs["parallel"], engine, {})
    advance(workflow)
    assert len(codec.dump(workflow).changed) == len(workflow.tasks)
    monkeypatch.setattr(codec, "dump_full", lambda workflow: "{}")
    workflow.subprocesses[UUID(int=1)] = object()
    assert codec.dump(workflow).full
    del workflow.subprocesses[UUID(int=1)]
    dump = codec.dump(workflow)
    assert not dump.full and dump.changed == {str(i): codec.fragment(t) for i, t in workflow.tasks.items()}


def test_a_task_that_gains_a_child_without_changing_state_is_written_again(
    specs: dict[str, ProcessSpecs],
) -> None:
    """SpiffWorkflow predicts children under tasks whose state stays as it is: the parent's row
    lists its children, so it is written again although its state-change stamp is the same."""
    engine = EngineScriptEngine(Sandbox(), allow_code=False, now=lambda: T0)
    store = Store(StateCodec())
    workflow = new_workflow(specs["parallel"], engine, {})
    advance(workflow)
    store.save(workflow)
    parent = next(t for t in workflow.tasks.values() if t.state == TaskState.COMPLETED and t.children)
    stamp = parent.last_state_change
    child = parent._add_child(parent.children[0].task_spec, TaskState.MAYBE)
    assert parent.last_state_change is stamp
    dump = store.save(workflow)
    assert str(parent.id) in dump.changed and str(child.id) in dump.changed
