"""Safety of the running engine (issue 4): designer expressions sandboxed wherever SpiffWorkflow
evaluates them, refusals rolled back, rework loops without false completion, recursion limit intact.

Every payload of `fixtures/safety/payloads.py` (each a working attack on SpiffWorkflow's default
engine, see test_sandbox.py) is placed, through the templates in `fixtures/safety/`, in
(a) a gateway condition, (b) an intermediate timer's timeDate, (c) a boundary timer's timeDate,
(d) a multi-instance loopCardinality and (e) a script task. For each:
- validate refuses it (SANDBOX-EXPRESSION at its file, line and element) and so does deploy;
- the definition is then put into the database directly, past deploy's validation, and the run-time
  sandbox refuses it: when a case starts ("pre": the element comes first) and when a step completes
  ("post": the element follows the first step), both in the engine that holds the case in memory
  and in a new Engine that reloads it from the database. The error names the element and the
  expression, the transaction rolls back (no case, task or event row changes) and the file the
  payload targets never appears.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from string import Template
from typing import Any
from xml.sax.saxutils import escape

import pytest
from lxml import etree
from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import Session

from helpers import SAFETY, migrated, safety_payloads, shown
from hennan_flow.bpmn.parser import build_specs
from hennan_flow.bpmn.validate import validate_file
from hennan_flow.cli import main
from hennan_flow.db.models import CaseRow, CaseTaskRow, DefinitionRow, EventRow, TaskRow
from hennan_flow.engine import Engine, SimulatedClock
from hennan_flow.engine.definitions import load_definition
from hennan_flow.errors import ExpressionError, FindingsError, HennanFlowError, StateError
from hennan_flow.runtime.sandbox import Sandbox
from hennan_flow.runtime.workflow import (
    MAX_ENGINE_STEPS,
    MAX_INSTANCES,
    MAX_TREE_DEPTH,
    EngineScriptEngine,
    StateCodec,
    advance,
    check_depth,
    complete,
    finished,
    ready_user_tasks,
)

KINDS = ("gateway", "timer", "boundary", "multi_instance", "script")
ENTRY = {"boundary": "guarded"}  # the element the flow enters (the boundary timer sits on it)
LANE_REFS = {"boundary": ["guarded"], "multi_instance": ["payload"]}
EXPRESSION_TAG = {
    "gateway": "<bpmn:conditionExpression>",
    "timer": "<bpmn:timeDate>",
    "boundary": "<bpmn:timeDate>",
    "multi_instance": "<bpmn:loopCardinality>",
    "script": "<bpmn:scriptTask",
}
BENIGN = {
    "gateway": "go == True",
    "timer": '"2020-01-01T00:00:00"',
    "boundary": '"2099-01-01T00:00:00"',
    "multi_instance": "2",
    "script": "y = 1",
}
LIVE = TaskState.READY | TaskState.WAITING | TaskState.STARTED | TaskState.ERROR


payloads = safety_payloads()
PAYLOADS = payloads.PAYLOADS


def bundle_xml(kind: str, where: str, expression: str, key: str) -> str:
    """The template with `expression` in the element under test, placed before or after `first`."""
    entry = ENTRY.get(kind, "payload")
    element = Template((SAFETY / f"{kind}.xml").read_text(encoding="utf-8")).substitute(
        expression=escape(expression), next="first" if where == "pre" else "end"
    )
    flows = (
        [("f_start", "start", entry), ("f_first", "first", "end")]
        if where == "pre"
        else [("f_start", "start", "first"), ("f_first", "first", entry)]
    )
    return Template((SAFETY / "process.bpmn.tmpl").read_text(encoding="utf-8")).substitute(
        key=key,
        kind=kind,
        order="payload → first" if where == "pre" else "first → payload",
        element=element,
        flows="\n".join(
            f'    <bpmn:sequenceFlow id="{i}" sourceRef="{s}" targetRef="{t}"/>' for i, s, t in flows
        ),
        lane_refs="\n".join(
            f"        <bpmn:flowNodeRef>{r}</bpmn:flowNodeRef>" for r in LANE_REFS.get(kind, [])
        ),
    )


def assert_names(err: ExpressionError, element: str, text: str) -> None:
    assert err.location is not None and err.location.element == element, err.location
    assert err.expression == text
    assert err.message.startswith(("expression refused: ", "expression failed: ")), err.message
    assert err.message.endswith(shown(text))
    assert str(err).startswith(f'element "{element}": expression ')
    assert err.exit_code == 2


def insert_definition(url: str, key: str, bpmn: str) -> None:
    """Put a definition straight into the database: the path that skips deploy's validation."""
    db = create_engine(url)
    try:
        with Session(db) as session, session.begin():
            latest = session.scalar(select(func.max(DefinitionRow.version)).where(DefinitionRow.key == key))
            session.add(
                DefinitionRow(
                    key=key,
                    version=(latest or 0) + 1,
                    content_hash="0" * 64,
                    name="tampered",
                    source_file=f"{key}.bpmn",
                    bpmn=bpmn,
                    forms="{}",
                    deployed_at=datetime.now(UTC),
                    deployed_by="attacker",
                )
            )
    finally:
        db.dispose()


def snapshot(url: str) -> tuple[Any, ...]:
    """Every case, task and event row that could change: a rolled-back operation leaves it equal."""
    db = create_engine(url)
    try:
        with Session(db) as session:
            cases = session.execute(
                select(CaseRow.id, CaseRow.rev, CaseRow.state, CaseRow.wf_state).order_by(CaseRow.id)
            ).all()
            tasks = session.execute(select(TaskRow.id, TaskRow.state).order_by(TaskRow.id)).all()
            events = session.scalar(select(func.count()).select_from(EventRow))
            return (tuple(cases), tuple(tasks), events)
    finally:
        db.dispose()


@pytest.fixture(scope="module")
def safety_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """One SQLite database for the payload matrix (each test uses its own process keys)."""
    return migrated(f"sqlite:///{tmp_path_factory.mktemp('safety') / 'hf.db'}")


def _digest(text: str) -> str:
    """A stable process key suffix for a parametrized expression."""
    return hashlib.sha256(text.encode()).hexdigest()[:10]


def _line_of(text: str, needle: str) -> int:
    return next(n for n, line in enumerate(text.splitlines(), start=1) if needle in line)


# -- the templates run when the expression is benign ------------------------------------------


@pytest.mark.parametrize("where", ["pre", "post"])
@pytest.mark.parametrize("kind", KINDS)
def test_the_templates_deploy_and_run_with_a_benign_expression(
    safety_url: str, tmp_path: Path, kind: str, where: str
) -> None:
    """So a refusal below is the payload's doing, and the element under test is reached."""
    key = f"benign_{kind}_{where}"
    (tmp_path / "processes").mkdir()
    (tmp_path / "processes" / f"{key}.bpmn").write_text(
        bundle_xml(kind, where, BENIGN[kind], key), encoding="utf-8"
    )
    with Engine(safety_url, allow_code_tasks=kind == "script") as engine:
        assert [d.key for d in engine.deploy(str(tmp_path / "processes"))] == [key]
        case = engine.start_case(key, data={"go": False})
        steps = []
        for _round in range(5):
            ready = engine.tasks(case=case.id)
            if not ready:
                break
            for task in ready:
                steps.append(task.step)
                engine.complete_task(task.id, data={})
        expected = {"gateway": ["first"], "multi_instance": ["first", "payload", "payload"]}.get(
            kind, ["first"]
        )
        if kind == "boundary":
            expected = ["guarded", "first"] if where == "pre" else ["first", "guarded"]
        if kind == "multi_instance" and where == "pre":
            expected = ["payload", "payload", "first"]
        assert steps == expected
        assert engine.case(case.id).state == "completed"
        if kind == "script":
            assert engine.case_data(case.id)["y"] == 1


# -- validate and deploy refuse every payload -------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("payload", PAYLOADS, ids=lambda p: p.id)
def test_validate_and_deploy_refuse_the_payload(
    safety_url: str, tmp_path: Path, payload: Any, kind: str
) -> None:
    target = tmp_path / "target"
    text = payload.text(str(target))
    folder = tmp_path / "processes"
    folder.mkdir()
    path = folder / "attack.bpmn"
    xml = bundle_xml(kind, "post", text, "attack")
    path.write_text(xml, encoding="utf-8")

    result = validate_file(str(path), allow_scripts=kind == "script")
    errors = [p for p in result.problems if p.severity == "error"]
    assert [p.code for p in errors] == ["SANDBOX-EXPRESSION"], [p.line_text() for p in errors]
    (problem,) = errors
    line = _line_of(xml, EXPRESSION_TAG[kind])
    element = "payload_yes" if kind == "gateway" else "payload"  # a condition belongs to its flow
    assert (problem.location.file, problem.location.line, problem.location.element) == (
        str(path),
        line,
        element,
    )
    assert problem.message.startswith("expression refused: ")

    before = snapshot(safety_url)
    with (
        Engine(safety_url, allow_code_tasks=kind == "script") as engine,
        pytest.raises(FindingsError) as info,
    ):
        engine.deploy(str(folder))
    assert (
        f'{path}:{line}: element "{element}": [SANDBOX-EXPRESSION] expression refused' in info.value.message
    )
    assert snapshot(safety_url) == before
    assert not target.exists()


# -- the run-time sandbox refuses every payload that got past deploy --------------------------


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("payload", PAYLOADS, ids=lambda p: p.id)
def test_a_payload_is_refused_when_a_case_starts(
    safety_url: str, tmp_path: Path, payload: Any, kind: str
) -> None:
    target = tmp_path / "target"
    text = payload.text(str(target))
    key = f"pre_{kind}_{payload.id}"
    insert_definition(safety_url, key, bundle_xml(kind, "pre", text, key))
    before = snapshot(safety_url)
    with Engine(safety_url, allow_code_tasks=kind == "script") as engine:
        with pytest.raises(ExpressionError) as info:
            engine.start_case(key, data={"go": True})
        assert engine.cases(key=key) == []
    assert_names(info.value, "payload", text)
    assert snapshot(safety_url) == before  # no case, no task, no event
    assert not target.exists()


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("payload", PAYLOADS, ids=lambda p: p.id)
def test_a_payload_is_refused_after_a_step_in_memory_and_after_a_reload(
    safety_url: str, tmp_path: Path, payload: Any, kind: str
) -> None:
    target = tmp_path / "target"
    text = payload.text(str(target))
    key = f"post_{kind}_{payload.id}"
    insert_definition(safety_url, key, bundle_xml(kind, "post", text, key))
    code = kind == "script"
    with Engine(safety_url, allow_code_tasks=code) as engine:
        case = engine.start_case(key, data={"go": True})
        (task,) = engine.tasks(case=case.id)
        assert task.step == "first"
        before = snapshot(safety_url)
        for _attempt in range(2):  # the case is in this engine's memory; a failure must not leave it stale
            with pytest.raises(ExpressionError) as info:
                engine.complete_task(task.id, data={"go": True})
            assert_names(info.value, "payload", text)
            assert snapshot(safety_url) == before
    with Engine(safety_url, allow_code_tasks=code) as reloaded:  # nothing in memory: from the database
        with pytest.raises(ExpressionError) as info:
            reloaded.complete_task(task.id, data={"go": True})
        assert_names(info.value, "payload", text)
        assert reloaded.task(task.id).state == "ready"
        assert reloaded.case(case.id).state == "open"
    assert snapshot(safety_url) == before
    assert not target.exists()


@pytest.mark.parametrize("payload_id", ["subclasses", "format_attribute", "huge_exponent", "decorator"])
def test_payloads_on_each_database(db_url: str, tmp_path: Path, payload_id: str) -> None:
    """The same refusals and rollbacks on SQLite and PostgreSQL, for every placement."""
    payload = payloads.BY_ID[payload_id]
    target = tmp_path / "target"
    text = payload.text(str(target))
    with Engine(db_url) as engine:
        engine.upgrade()
    for kind in KINDS:
        insert_definition(db_url, f"pre_{kind}", bundle_xml(kind, "pre", text, f"pre_{kind}"))
        insert_definition(db_url, f"post_{kind}", bundle_xml(kind, "post", text, f"post_{kind}"))
        with Engine(db_url, allow_code_tasks=kind == "script") as engine:
            before = snapshot(db_url)
            with pytest.raises(ExpressionError) as info:
                engine.start_case(f"pre_{kind}")
            assert_names(info.value, "payload", text)
            assert snapshot(db_url) == before
            case = engine.start_case(f"post_{kind}")
            (task,) = engine.tasks(case=case.id)
            before = snapshot(db_url)
            with pytest.raises(ExpressionError):
                engine.complete_task(task.id)
            assert snapshot(db_url) == before
        with Engine(db_url, allow_code_tasks=kind == "script") as reloaded:
            with pytest.raises(ExpressionError) as info:
                reloaded.complete_task(task.id)
            assert_names(info.value, "payload", text)
        assert snapshot(db_url) == before
    assert not target.exists()


# -- the command line: exit 2 and one line ------------------------------------------------------


def _cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as done:
        main(list(args))
    out, err = capsys.readouterr()
    code = done.value.code
    return (code if isinstance(code, int) else 0), out, err


@pytest.mark.parametrize("kind", ["gateway", "timer", "multi_instance"])
@pytest.mark.parametrize("payload_id", ["subclasses", "fstring", "huge_repeat"])
def test_the_cli_exits_2_with_one_line_naming_element_and_expression(
    safety_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], payload_id: str, kind: str
) -> None:
    payload = payloads.BY_ID[payload_id]
    target = tmp_path / "target"
    text = payload.text(str(target))
    pre, post = f"cli_pre_{kind}_{payload_id}", f"cli_post_{kind}_{payload_id}"
    insert_definition(safety_url, pre, bundle_xml(kind, "pre", text, pre))
    insert_definition(safety_url, post, bundle_xml(kind, "post", text, post))
    before = snapshot(safety_url)
    code, out, err = _cli(capsys, "--db", safety_url, "case", "start", pre)
    assert code == 2, err
    assert out == ""
    (line,) = err.strip().splitlines()
    assert line.startswith('错误：element "payload": expression refused: ')
    assert shown(text) in line
    assert snapshot(safety_url) == before

    code, out, err = _cli(capsys, "--db", safety_url, "--format", "json", "case", "start", post)
    assert code == 0, err
    case_id = json.loads(out)["id"]
    code, out, err = _cli(capsys, "--db", safety_url, "--format", "json", "task", "list", "--case", case_id)
    (task,) = json.loads(out)
    before = snapshot(safety_url)
    code, out, err = _cli(capsys, "--db", safety_url, "task", "complete", task["id"], "--data", "{}")
    assert code == 2, err
    (line,) = err.strip().splitlines()
    assert line.startswith('错误：element "payload": expression refused: ') and shown(text) in line
    assert snapshot(safety_url) == before
    assert not target.exists()


# -- a failing (not refused) expression rolls back the same way ---------------------------------


def test_a_failing_expression_rolls_the_step_back_and_names_the_gateway(safety_url: str) -> None:
    key = "failing_gateway"
    insert_definition(safety_url, key, bundle_xml("gateway", "post", 'data["missing"] > 1', key))
    with Engine(safety_url) as engine:
        case = engine.start_case(key, data={"data": {}})
        (task,) = engine.tasks(case=case.id)
        before = snapshot(safety_url)
        with pytest.raises(ExpressionError) as info:
            engine.complete_task(task.id)
    assert_names(info.value, "payload", 'data["missing"] > 1')
    assert info.value.message.startswith("expression failed: KeyError")
    assert snapshot(safety_url) == before


def _sweep_xml(key: str, expression: str) -> str:
    return Template((SAFETY / "sweep.bpmn.tmpl").read_text(encoding="utf-8")).substitute(
        key=key, expression=escape(expression), due="2026-03-02T12:00:00"
    )


@pytest.mark.parametrize("payload_id", ["subclasses", "import", "huge_exponent", "walrus"])
def test_in_a_sweep_a_refused_expression_marks_the_case_and_the_sweep_goes_on(
    tmp_path: Path, payload_id: str
) -> None:
    """The payload sits behind a timer, so only the sweeper reaches it (in no one's request)."""
    if not hasattr(Engine, "sweep"):
        pytest.skip("Engine.sweep does not exist yet (the sweeper)")
    payload = payloads.BY_ID[payload_id]
    target = tmp_path / "target"
    text = payload.text(str(target))
    url = migrated(f"sqlite:///{tmp_path / 'sweep.db'}", simulation=True)
    insert_definition(url, "attack", _sweep_xml("attack", text))
    insert_definition(url, "healthy", _sweep_xml("healthy", "go == True"))
    clock = SimulatedClock(datetime(2026, 3, 2, 1, 0, tzinfo=UTC))  # 09:00 in Shanghai; the timers: 12:00
    with Engine(url, clock=clock) as engine:
        bad = engine.start_case("attack")
        good = engine.start_case("healthy", data={"go": False})
        stored = {r[0]: r for r in snapshot(url)[0]}
        clock.set(datetime(2026, 3, 2, 5, 0, tzinfo=UTC))  # 13:00: both timers are due
        result = engine.sweep()
        assert result.timers_fired == (good.id,)
        ((case_id, message),) = result.timer_errors
        assert case_id == bad.id
        assert message.startswith('element "payload": expression refused: ') and shown(text) in message
        assert engine.case(good.id).state == "completed"
        shown_bad = engine.case(bad.id)
        assert shown_bad.state == "open"
        assert [e.type for e in shown_bad.events][-1] == "case.error"
    after = {r[0]: r for r in snapshot(url)[0]}
    assert after[bad.id][3] == stored[bad.id][3]  # the workflow state is what it was before the sweep
    db = create_engine(url)
    with Session(db) as session:
        row = session.get(CaseRow, bad.id)
        assert row is not None and row.error == message and row.next_timer_at is None
    db.dispose()
    assert not target.exists()


# -- values of the wrong kind, floods and endless loops -------------------------------------------


@pytest.mark.parametrize(
    ("cardinality", "why"),
    [
        (str(MAX_INSTANCES + 1), "outside that range"),
        ("10**70", "outside that range"),
        ("-1", "outside that range"),
        ("'abc'", "not a str"),
        ("2.5", "not a float"),
        ("True", "not a bool"),
        ("len(reviewers) * 1000", "outside that range"),
    ],
)
def test_a_multi_instance_cardinality_is_a_bounded_whole_number(
    safety_url: str, cardinality: str, why: str
) -> None:
    """Before the bound, `20000` made 20,000 tasks in one call (28 s); `'abc'` escaped as a TypeError."""
    key = f"mi_{_digest(cardinality)}"
    insert_definition(safety_url, key, bundle_xml("multi_instance", "pre", cardinality, key))
    before = snapshot(safety_url)
    with Engine(safety_url) as engine, pytest.raises(ExpressionError) as info:
        engine.start_case(key, data={"reviewers": ["a", "b"]})
    assert_names(info.value, "payload", cardinality)
    assert (
        f"must be a whole number from 0 to {MAX_INSTANCES}, " in info.value.message
        and why in info.value.message
    )
    assert snapshot(safety_url) == before


def test_the_largest_allowed_cardinality_runs(safety_url: str) -> None:
    key = "mi_largest"
    insert_definition(safety_url, key, bundle_xml("multi_instance", "pre", "n", key))
    with Engine(safety_url) as engine:
        case = engine.start_case(key, data={"n": MAX_INSTANCES})
        assert len(engine.tasks(case=case.id)) == MAX_INSTANCES


@pytest.mark.parametrize(
    ("tag", "expression", "why"),
    [
        ("timeDate", "'tomorrow'", "timeDate needs an instant"),
        ("timeDate", "5", "timeDate needs an instant"),
        ("timeDate", "'2026' * 2000", "timeDate needs an instant"),
        ("timeDate", "['2026-03-02']", "timeDate needs an instant"),
        ("timeDuration", "'five days'", "timeDuration needs an ISO-8601 duration"),
        ("timeDuration", "'P99999999999D'", "timeDuration needs an ISO-8601 duration"),
        ("timeCycle", "'R3'", "timeCycle needs"),
        ("timeCycle", "'R/x/y/z'", "timeCycle needs"),
    ],
)
def test_a_timer_value_of_the_wrong_kind_names_the_element(
    safety_url: str, tag: str, expression: str, why: str
) -> None:
    """Before, these escaped as a bare ValueError or Exception: an internal error (exit 3)."""
    key = f"tm_{tag}_{_digest(expression)}"
    xml = bundle_xml("timer", "pre", expression, key).replace("timeDate>", f"{tag}>")
    insert_definition(safety_url, key, xml)
    before = snapshot(safety_url)
    with Engine(safety_url) as engine, pytest.raises(ExpressionError) as info:
        engine.start_case(key)
    assert_names(info.value, "payload", expression)
    assert info.value.message.startswith(f"expression failed: {why}")
    assert "timer expression gives an instant" in (info.value.hint or "")
    assert snapshot(safety_url) == before


@pytest.mark.parametrize(
    ("key", "elements"),
    [
        ("runaway_subprocess", ("rs_inner_start", "rs_inner_end", "rs_loop")),
        ("runaway_event", ("re_loop",)),
        ("runaway_gateways", ("rg_merge", "rg_split")),
    ],
)
def test_a_loop_without_a_user_step_is_stopped_and_rolled_back(
    safety_url: str, key: str, elements: tuple[str, ...]
) -> None:
    """Before the bound, the two standard loops never returned from start_case."""
    insert_definition(safety_url, key, (SAFETY / "runaway.bpmn").read_text(encoding="utf-8"))
    before = snapshot(safety_url)
    with Engine(safety_url) as engine, pytest.raises(StateError) as info:
        engine.start_case(key)
    assert info.value.message.startswith(f"办件连续运行了 {MAX_ENGINE_STEPS} 个自动环节")
    assert info.value.location is not None and info.value.location.element in elements
    assert snapshot(safety_url) == before


# -- script tasks ---------------------------------------------------------------------------------


def test_script_tasks_are_refused_unless_the_engine_allows_them(safety_url: str, tmp_path: Path) -> None:
    key = "scripted"
    script = "fee = 100\nif amount > 100:\n    fee += 20\n    level = '加急'\nelse:\n    level = '普通'\n"
    folder = tmp_path / "processes"
    folder.mkdir()
    path = folder / f"{key}.bpmn"
    path.write_text(bundle_xml("script", "post", script, key), encoding="utf-8")
    codes = [p.code for p in validate_file(str(path)).problems if p.severity == "error"]
    assert codes == ["SANDBOX-CODE-TASK"]
    with Engine(safety_url) as engine:
        with pytest.raises(FindingsError, match=r'element "payload": \[SANDBOX-CODE-TASK\]'):
            engine.deploy(str(folder))
        # past deploy (straight into the database), a default engine still refuses to run it
        insert_definition(safety_url, key, bundle_xml("script", "post", script, key))
        case = engine.start_case(key, data={"amount": 150})
        (task,) = engine.tasks(case=case.id)
        before = snapshot(safety_url)
        with pytest.raises(ExpressionError, match="本引擎未启用脚本任务") as info:
            engine.complete_task(task.id)
        assert info.value.location is not None and info.value.location.element == "payload"
        assert snapshot(safety_url) == before
    with Engine(safety_url, allow_code_tasks=True) as allowed:
        assert [d.key for d in allowed.deploy(str(folder))] == [key]
        allowed.complete_task(task.id)
        assert allowed.case(case.id).state == "completed"
        data = allowed.case_data(case.id)
        assert (data["fee"], data["level"]) == (120, "加急")


# -- legitimate expressions in a running case -----------------------------------------------------


@pytest.mark.parametrize(
    ("condition", "data", "taken"),
    [
        ("amount > 100 and kind in ['restaurant', 'shop']", {"amount": 120, "kind": "shop"}, True),
        ("amount > 100 and kind in ['restaurant', 'shop']", {"amount": 80, "kind": "shop"}, False),
        ('len(items) >= 2 and items[0] == "营业执照"', {"items": ["营业执照", "身份证"]}, True),
        ('data["k"] == 1 or not approved', {"data": {"k": 2}, "approved": True}, False),
        ("amount * rate - 10 >= 50", {"amount": 120, "rate": 0.5}, True),
        ("max(scores) < 60 or min(scores) > 90", {"scores": [70, 95]}, False),
    ],
)
def test_legitimate_conditions_route_a_running_case(
    safety_url: str, condition: str, data: dict[str, Any], taken: bool, tmp_path: Path
) -> None:
    key = "route_" + _digest(condition + json.dumps(data, sort_keys=True))
    folder = tmp_path / "processes"
    folder.mkdir()
    (folder / f"{key}.bpmn").write_text(bundle_xml("gateway", "pre", condition, key), encoding="utf-8")
    with Engine(safety_url) as engine:
        engine.deploy(str(folder))
        case = engine.start_case(key, data=data)
        # the condition leads straight to an end event; the default flow to the first step
        assert [t.step for t in engine.tasks(case=case.id)] == ([] if taken else ["first"])
        assert engine.case(case.id).state == ("completed" if taken else "open")


def test_legitimate_cardinality_and_timer_expressions_run(safety_url: str, tmp_path: Path) -> None:
    folder = tmp_path / "processes"
    folder.mkdir()
    (folder / "mi_len.bpmn").write_text(
        bundle_xml("multi_instance", "pre", "len(reviewers) + 1", "mi_len"), encoding="utf-8"
    )
    (folder / "timer_data.bpmn").write_text(
        bundle_xml("timer", "pre", 'start_date + "T09:00:00"', "timer_data"), encoding="utf-8"
    )
    with Engine(safety_url) as engine:
        engine.deploy(str(folder))
        case = engine.start_case("mi_len", data={"reviewers": ["a", "b"]})
        assert [t.step for t in engine.tasks(case=case.id)] == ["payload"] * 3
        past = engine.start_case("timer_data", data={"start_date": "2020-01-01"})
        assert [t.step for t in engine.tasks(case=past.id)] == ["first"]  # the instant has passed
        future = engine.start_case("timer_data", data={"start_date": "2099-01-01"})
        assert engine.tasks(case=future.id) == []  # waiting for 2099


def test_workdays_in_a_timer_waits_for_working_days(tmp_path: Path) -> None:
    url = migrated(f"sqlite:///{tmp_path / 'sim.db'}", simulation=True)
    clock = SimulatedClock(datetime(2026, 3, 2, 1, 0, tzinfo=UTC))  # Monday 09:00 in Shanghai
    folder = tmp_path / "processes"
    folder.mkdir()
    (folder / "wd.bpmn").write_text(bundle_xml("timer", "post", "workdays(2)", "wd"), encoding="utf-8")
    with Engine(url, clock=clock) as engine:
        engine.deploy(str(folder))
        case = engine.start_case("wd")
        engine.complete_task(engine.tasks(case=case.id)[0].id)
        assert engine.case(case.id).state == "open"  # the timer waits
        clock.set(datetime(2026, 3, 3, 12, 0, tzinfo=UTC))  # Tuesday 20:00: one working day gone
        assert engine.fire_timers(case.id) is False
        assert engine.case(case.id).state == "open"
        clock.set(datetime(2026, 3, 5, 1, 0, tzinfo=UTC))  # Thursday 09:00: two working days gone
        engine.fire_timers(case.id)
        assert engine.case(case.id).state == "completed"


# -- rework loops -----------------------------------------------------------------------------------


@pytest.fixture
def rework_url(tmp_path: Path) -> str:
    url = migrated(f"sqlite:///{tmp_path / 'rework.db'}")
    with Engine(url) as engine:
        engine.deploy(str(SAFETY / "rework.bpmn"))
    return url


def cross_check(url: str, case_id: str) -> bool:
    """Load the stored state afresh; `is_completed()` must agree with a scan of every task."""
    db = create_engine(url)
    try:
        with Session(db) as session:
            case = session.get(CaseRow, case_id)
            assert case is not None
            d = session.get(DefinitionRow, case.definition_id)
            assert d is not None
            loaded = load_definition(d.id, d.key, d.version, d.source_file, d.bpmn, d.forms)
            rows = session.execute(
                select(CaseTaskRow.task_id, CaseTaskRow.doc).where(CaseTaskRow.case_id == case_id)
            ).all()
            workflow = StateCodec().load(case.wf_state, loaded.specs, [(t, d) for t, d in rows])
            live = [t for t in workflow.tasks.values() if t.state & LIVE]
            assert workflow.is_completed() == (not live), [t.task_spec.name for t in live]
            assert (case.state == "completed") == workflow.is_completed()
            return bool(workflow.is_completed())
    finally:
        db.dispose()


def run_rework(engine: Engine, url: str, case_id: str, cycles: int, *, check: bool = True) -> int:
    """Send the case round the 补正 loop `cycles` times, cross-checking after every step."""
    rounds = 0
    while ready := engine.tasks(case=case_id):
        (task,) = ready
        data = {"needs_supplement": rounds < cycles} if task.step == "decide" else {}
        engine.complete_task(task.id, data=data)
        if task.step == "decide":
            rounds += 1
        if check:
            cross_check(url, case_id)
    return rounds


def test_a_twenty_cycle_rework_loop_completes(rework_url: str) -> None:
    with Engine(rework_url) as engine:
        case = engine.start_case("rework")
        assert cross_check(rework_url, case.id) is False
        assert run_rework(engine, rework_url, case.id, cycles=20) == 21
        assert engine.case(case.id).state == "completed"
        assert cross_check(rework_url, case.id) is True
        steps = [t.step for t in engine.tasks(case=case.id, state="completed")]
        assert (steps.count("accept"), steps.count("decide"), steps.count("supplement")) == (1, 21, 20)


def test_a_three_hundred_cycle_loop_stops_at_the_configured_limit(rework_url: str) -> None:
    with Engine(rework_url, max_cycles=30) as engine:
        case = engine.start_case("rework")
        with pytest.raises(StateError) as info:
            run_rework(engine, rework_url, case.id, cycles=300)
        assert "将第 31 次办理" in info.value.message
        assert "返工最多 30 轮" in info.value.message
        assert "max_cycles" in (info.value.hint or "")
        assert engine.case(case.id).state == "open"  # never a false completion
        # the step that would have started a 31st cycle was rolled back: supplement is still ready
        assert [t.step for t in engine.tasks(case=case.id)] == ["supplement"]
        steps = [t.step for t in engine.tasks(case=case.id, state="completed")]
        assert steps.count("decide") == 30 and steps.count("supplement") == 29
        assert cross_check(rework_url, case.id) is False
    assert Engine(rework_url).max_cycles == 100  # the documented default
    with pytest.raises(HennanFlowError, match="max_cycles"):
        Engine(rework_url, max_cycles=0)


def test_the_default_cycle_limit_is_a_hundred(rework_url: str) -> None:
    with Engine(rework_url) as engine:
        case = engine.start_case("rework")
        with pytest.raises(StateError, match="返工最多 100 轮"):
            run_rework(engine, rework_url, case.id, cycles=300, check=False)
        steps = [t.step for t in engine.tasks(case=case.id, state="completed")]
        assert steps.count("decide") == 100


def _specs(path: Path, key: str) -> Any:
    tree = etree.parse(str(path))
    return build_specs(tree, str(path), key)


def _depth(task: Any) -> int:
    depth = 0
    while task.parent is not None:
        depth, task = depth + 1, task.parent
    return depth


def test_the_depth_guard_trips_before_spiffworkflows_cap_and_false_completion_is_refused() -> None:
    """In memory: SpiffWorkflow's iterators stop at depth 1000 and then call the loop case completed."""
    specs = _specs(SAFETY / "rework.bpmn", "rework")
    engine = EngineScriptEngine(Sandbox(), allow_code=False, now=lambda: datetime.now(UTC))
    workflow = BpmnWorkflow(specs.spec, specs.subprocess_specs, script_engine=engine)
    advance(workflow)
    tripped_at: int | None = None
    lie: tuple[int, list[Any]] | None = None
    for step in range(2000):
        ready = ready_user_tasks(workflow)
        live = [t for t in workflow.tasks.values() if t.state & LIVE]
        deepest = max(_depth(t) for t in live)
        if deepest <= 1000:  # SpiffWorkflow's own view agrees with a scan of every task
            assert workflow.is_completed() is False and finished(workflow) is False
        if tripped_at is None:
            try:
                check_depth(workflow)
            except StateError as exc:
                tripped_at = deepest
                assert "通常是返工循环次数过多" in exc.message
        else:
            assert deepest > MAX_TREE_DEPTH
        if not ready:
            lie = (step, live)
            break
        complete(workflow, ready[0].id, {"needs_supplement": True})
    assert tripped_at is not None and MAX_TREE_DEPTH < tripped_at < 1000
    # past the guard SpiffWorkflow stalls: nothing ready, a task still live, and it reports completion
    assert lie is not None, "the loop never stalled"
    _step, live = lie
    assert live and min(_depth(t) for t in live) > 1000
    assert workflow.is_completed() is True  # the lie
    with pytest.raises(HennanFlowError, match="拒绝这一错误的办结"):
        finished(workflow)


def _chain_xml(length: int) -> bytes:
    ids = ["start", *(f"t{i}" for i in range(length)), "end"]
    nodes = "".join(f'<bpmn:userTask id="t{i}"/>' for i in range(length))
    flows = "".join(
        f'<bpmn:sequenceFlow id="f{i}" sourceRef="{a}" targetRef="{b}"/>'
        for i, (a, b) in enumerate(itertools.pairwise(ids))
    )
    return (
        '<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d" targetNamespace="urn:x">'
        f'<bpmn:process id="chain" isExecutable="true"><bpmn:startEvent id="start"/>{nodes}'
        f'<bpmn:endEvent id="end"/>{flows}</bpmn:process></bpmn:definitions>'
    ).encode()


@pytest.fixture
def no_recursion_limit_changes(monkeypatch: pytest.MonkeyPatch) -> Iterator[int]:
    """Fails the test if anything sets the process-wide recursion limit (an embedding portal's)."""
    limit = sys.getrecursionlimit()

    def refuse(n: int) -> None:
        raise AssertionError(f"sys.setrecursionlimit({n}) called")

    monkeypatch.setattr(sys, "setrecursionlimit", refuse)
    yield limit
    assert sys.getrecursionlimit() == limit


def test_a_450_element_chain_parses_and_runs_without_touching_the_recursion_limit(
    no_recursion_limit_changes: int,
) -> None:
    tree = etree.ElementTree(etree.fromstring(_chain_xml(450)))
    specs = build_specs(tree, "chain.bpmn", "chain")
    assert sys.getrecursionlimit() == no_recursion_limit_changes
    engine = EngineScriptEngine(Sandbox(), allow_code=False, now=lambda: datetime.now(UTC))
    workflow = BpmnWorkflow(specs.spec, specs.subprocess_specs, script_engine=engine)
    advance(workflow)
    done = 0
    while ready := ready_user_tasks(workflow):
        complete(workflow, ready[0].id, {})
        done += 1
        if done % 50 == 0:
            check_depth(workflow)
    assert done == 450
    assert finished(workflow) is True
    assert sys.getrecursionlimit() == no_recursion_limit_changes


def test_the_engine_parses_a_long_chain_in_a_thread_with_the_default_limit(
    safety_url: str, no_recursion_limit_changes: int
) -> None:
    """Through the engine (definition loaded from the database), in a worker thread of a portal."""
    insert_definition(safety_url, "chain", _chain_xml(450).decode())
    outcome: list[Any] = []

    def worker() -> None:
        try:
            with Engine(safety_url) as engine:
                case = engine.start_case("chain")
                outcome.append([t.step for t in engine.tasks(case=case.id)])
        except BaseException as exc:
            outcome.append(exc)

    thread = threading.Thread(target=worker)
    thread.start()
    thread.join(timeout=300)
    assert outcome == [["t0"]]
    assert sys.getrecursionlimit() == no_recursion_limit_changes
