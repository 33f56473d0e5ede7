"""The county's bundle library (issue 9): every bundle validates, audits clean and runs every branch.

The walks come from `tests/fixtures/bundles/walks.json`: per bundle, valid form data per step
(`step_data`) and `branches`, each the exact set of steps a case runs with its `overrides` of step
data (the gateway variables). Departments are checked against the lanes read straight from the BPMN
XML, not through the bundle model, so a reader bug that moved a step to another lane shows here.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from helpers import FORMS, PROCESSES, REPO, START, WALKS, simulation
from hennan_flow import FormDataError
from hennan_flow.audit import FlowGraph
from hennan_flow.bpmn.bundle import Bundle
from hennan_flow.bpmn.dialect import load_document
from hennan_flow.cli import main
from hennan_flow.engine import Engine, SimulatedClock

APPLICANT = {"name": "李湘南", "id_number": "430422199001011234", "phone": "13807340001"}
NS = {"bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL", "hf": "urn:hennan-flow:bpmn:1"}

BUNDLE_FILES = sorted(PROCESSES.glob("*.bpmn"))
BRANCHES = [(key, name) for key in sorted(WALKS) for name in WALKS[key]["branches"]]


def _bundle(key: str) -> Bundle:
    doc = load_document(PROCESSES / f"{key}.bpmn", display=f"processes/{key}.bpmn")
    return next(b for b in doc.bundles if b.key == key)


def _schema(bundle: Bundle, step: str) -> dict[str, Any] | None:
    s = bundle.step(step)
    if s is None or s.form is None:
        return None
    data: dict[str, Any] = json.loads((FORMS / f"{s.form}.schema.json").read_text(encoding="utf-8"))
    return data


def lanes_from_xml(path: Path) -> dict[str, str]:
    """Flow node id → the `hf:department code` of its lane, read from the XML (innermost lane wins)."""
    tree = etree.parse(str(path))
    out: dict[str, str] = {}
    for lane in tree.iter(f"{{{NS['bpmn']}}}lane"):  # document order: nested lanes come later
        codes = lane.xpath("bpmn:extensionElements/hf:department/@code", namespaces=NS)
        if not codes:
            continue
        for ref in lane.xpath("bpmn:flowNodeRef/text()", namespaces=NS):
            out[str(ref).strip()] = str(codes[0])
    return out


def step_data(key: str, branch: str, step: str, round_: int = 0) -> dict[str, Any]:
    """A step's walk data; an override given as a list is per round of a step that comes round again."""
    data = dict(WALKS[key]["step_data"].get(step, {}))
    override = WALKS[key]["branches"][branch]["overrides"].get(step, {})
    if isinstance(override, list):
        override = override[min(round_, len(override) - 1)]
    data.update(override)
    return data


def unique_steps(key: str, branch: str) -> list[str]:
    """The branch's steps once each (a reworked step is listed once per round it runs)."""
    return list(dict.fromkeys(WALKS[key]["branches"][branch]["steps"]))


def _missing_from(expected: Mapping[str, Any], actual: Mapping[str, Any]) -> dict[str, Any]:
    """The entries of `expected` that `actual` lacks or holds with another value."""
    return {k: v for k, v in expected.items() if k not in actual or actual[k] != v}


@pytest.fixture
def sim(sqlite_url: str) -> Iterator[tuple[Engine, SimulatedClock]]:
    # a fixed instant inside the working-day calendar's data
    with simulation(sqlite_url, PROCESSES, START) as sim:
        yield sim


@dataclass
class Walk:
    case: str
    ran: list[str] = field(default_factory=list)
    submitted: dict[str, dict[str, Any]] = field(default_factory=dict)
    delivered: list[str] = field(default_factory=list)


def walk(engine: Engine, clock: SimulatedClock, key: str, branch: str) -> Walk:
    """Run one case of `key` down `branch`, checking every ready step on the way."""
    bundle = _bundle(key)
    graph = FlowGraph.of(bundle)
    lanes = lanes_from_xml(PROCESSES / f"{key}.bpmn")
    expected = list(WALKS[key]["branches"][branch]["steps"])
    # messages the case receives on the way (Engine.deliver_message): one with `before` right before
    # that step is completed (a boundary message of a running step), the others when nothing is ready
    messages = list(WALKS[key]["branches"][branch].get("messages", []))
    case = engine.start_case(key, applicant=APPLICANT, actor="window-1")
    assert case.ready == tuple(engine.tasks(case=case.id)), f"{key}: start hands back its queue entries"
    result = Walk(case.id)
    for _round in range(len(expected) + len(messages) + 1):
        ready = engine.tasks(case=case.id)
        if not ready:
            if messages and "before" not in messages[0]:
                message = messages.pop(0)
                clock.advance(minutes=30)
                made = engine.deliver_message(case.id, message["name"], message["data"], actor="portal-1")
                assert made == tuple(engine.tasks(case=case.id)), (
                    f"{key}: {message['name']} hands back its steps"
                )
                result.delivered.append(message["name"])
                continue
            break
        for task in ready:
            assert task.step in expected, f"{key}/{branch}: step {task.step!r} is not on this branch"
            assert result.ran.count(task.step) < expected.count(task.step), (
                f"{key}/{branch}: step {task.step!r} came round more often than the branch says"
            )
            while messages and messages[0].get("before") == task.step:
                message = messages.pop(0)
                engine.deliver_message(case.id, message["name"], message["data"], actor="portal-1")
                result.delivered.append(message["name"])
            assert task.department == lanes[task.step], (
                f"{key}: step {task.step!r} is in lane {lanes[task.step]!r}, the engine says {task.department!r}"
            )
            # data entered once: the results of the steps that run before this one are in its data
            now = engine.case_data(case.id)
            for earlier in result.ran:
                if graph.runs_before(earlier, task.step):
                    lost = _missing_from(result.submitted[earlier], now)
                    assert not lost, f"{key}: {task.step!r} does not see {earlier!r}'s {sorted(lost)}"
            payload = step_data(key, branch, task.step, result.ran.count(task.step))
            clock.advance(minutes=30)
            done = engine.complete_task(task.id, data=payload, actor=f"clerk-{task.department}")
            assert done.state == "completed" and done.department == lanes[task.step]
            # what the completion hands back is what the queue lists as made ready by it, deadlines included
            made = tuple(t for t in engine.tasks(case=case.id) if t.ready_at == done.ended_at)
            assert done.ready == made, f"{key}/{branch}: {task.step!r} handed back {done.ready} not {made}"
            result.ran.append(task.step)
            result.submitted[task.step] = payload
    assert not messages, f"{key}/{branch}: messages {messages} were never delivered"
    return result


# -- the library as files ----------------------------------------------------------------------


def test_the_walk_fixture_covers_every_bundle_and_every_step() -> None:
    keys = {_key_of(path) for path in BUNDLE_FILES}
    assert keys == set(WALKS), "every bundle in processes/ needs its walks in walks.json"
    for key in keys:
        bundle = _bundle(key)
        branches = WALKS[key]["branches"].values()
        on_some_branch = set().union(*(set(b["steps"]) for b in branches))
        assert on_some_branch == {s.id for s in bundle.steps}, f"{key}: a step is on no branch"
        # a path: the steps (a reworked one once per round) and the messages received on the way
        paths = [
            (tuple(sorted(b["steps"])), tuple(m["name"] for m in b.get("messages", []))) for b in branches
        ]
        assert len(set(paths)) == len(paths), f"{key}: two branches walk the same steps"


def _key_of(path: Path) -> str:
    doc = load_document(path, display=str(path))
    [bundle] = [b for b in doc.bundles if b.executable]
    return str(bundle.key)


def test_validate_processes_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["validate", "--format", "json", str(PROCESSES)])
    assert info.value.code == 0
    report = json.loads(capsys.readouterr().out)
    assert {Path(f["file"]).name for f in report["files"]} == {p.name for p in BUNDLE_FILES}
    problems = [p for f in report["files"] for p in f["problems"]]
    assert problems == []


@pytest.mark.parametrize("path", BUNDLE_FILES, ids=lambda p: p.stem)
def test_each_bundle_validates_on_its_own(path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["validate", str(path)])
    assert info.value.code == 0, capsys.readouterr().out
    assert "0 with errors, 0 error(s), 0 warning(s)" in capsys.readouterr().err


def test_audit_processes_fail_on_error_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["audit", "--format", "json", "--fail-on", "error", str(PROCESSES)])
    assert info.value.code == 0
    summary = json.loads(capsys.readouterr().out)["summary"]
    assert summary["clean"] is True and summary["errors"] == 0 and summary["bundles"] == len(BUNDLE_FILES)


# -- every branch, end to end -------------------------------------------------------------------


@pytest.mark.parametrize(("key", "branch"), BRANCHES, ids=[f"{k}-{b}" for k, b in BRANCHES])
def test_branch_walks_to_completion(sim: tuple[Engine, SimulatedClock], key: str, branch: str) -> None:
    engine, clock = sim
    done = walk(engine, clock, key, branch)
    expected = WALKS[key]["branches"][branch]["steps"]
    assert sorted(done.ran) == sorted(expected)
    messages = WALKS[key]["branches"][branch].get("messages", [])
    assert done.delivered == [m["name"] for m in messages]
    case = engine.case(done.case)
    assert case.state == "completed"
    assert case.events[0].type == "case.started"
    assert case.events[-1].type == "case.completed"
    assert [e.step for e in case.events if e.type == "task.completed"] == done.ran
    assert [e.detail["message"] for e in case.events if e.type == "message.delivered"] == done.delivered
    assert engine.tasks(case=done.case) == []
    completed = engine.tasks(case=done.case, state="completed")
    lanes = lanes_from_xml(PROCESSES / f"{key}.bpmn")
    assert sorted((t.step, t.department) for t in completed) == sorted((s, lanes[s]) for s in expected)
    # every step's result reaches the end of the case
    final = engine.case_data(done.case)
    for step, payload in done.submitted.items():
        assert not _missing_from(payload, final), f"{key}: {step!r}'s data is not in the case's data"
    for message in messages:  # what a message brought is case data too
        assert set(message["data"]) <= set(final), (
            f"{key}: {message['name']}'s data is not in the case's data"
        )


@pytest.mark.parametrize(("key", "branch"), BRANCHES, ids=[f"{k}-{b}" for k, b in BRANCHES])
def test_no_form_on_a_branch_asks_again_for_a_field(key: str, branch: str) -> None:
    """一次采集: a field is collected by one form of the branch only (parallel steps included)."""
    bundle = _bundle(key)
    asked: dict[str, str] = {}
    for step in unique_steps(key, branch):
        schema = _schema(bundle, step)
        for name in (schema or {}).get("properties", {}):
            assert name not in asked, (
                f"{key}/{branch}: {step!r} asks again for {name!r} ({asked[name]!r} has it)"
            )
            asked[name] = step
    # and the walk data fits the forms: exactly the fields each form declares
    for step in WALKS[key]["branches"][branch]["steps"]:
        schema = _schema(bundle, step)
        for round_ in range(WALKS[key]["branches"][branch]["steps"].count(step)):
            assert set(step_data(key, branch, step, round_)) <= set((schema or {}).get("properties", {})), (
                step
            )


def test_one_walk_on_each_database(db_url: str) -> None:
    """The branch with the most features (parallel split, inclusive gateway, four options) on SQLite and PostgreSQL."""
    with simulation(db_url, PROCESSES, START) as (eng, clock):
        done = walk(eng, clock, "after_death", "all_optional")
        assert sorted(done.ran) == sorted(WALKS["after_death"]["branches"]["all_optional"]["steps"])
        assert eng.case(done.case).state == "completed"


MESSAGE_BUNDLES = ("cross_region_intake", "hotline_work_order", "information_disclosure")


@pytest.mark.parametrize("key", MESSAGE_BUNDLES)
def test_every_branch_of_the_issue_26_bundles_on_postgresql(postgres: Any, key: str) -> None:
    """依申请公开, 12345 and 跨省通办 (messages, rework loops): every branch on PostgreSQL too."""
    with simulation(postgres.create_database(), PROCESSES, START) as (eng, clock):
        for branch, spec in WALKS[key]["branches"].items():
            done = walk(eng, clock, key, branch)
            assert sorted(done.ran) == sorted(spec["steps"]), branch
            assert done.delivered == [m["name"] for m in spec.get("messages", [])], branch
            assert eng.case(done.case).state == "completed", branch


# -- invalid submissions ------------------------------------------------------------------------


def _bad_submission(schema: Mapping[str, Any], valid: Mapping[str, Any]) -> tuple[dict[str, Any], str, str]:
    """Valid data with a required field left out, another given the wrong type, and a stray field."""
    props: dict[str, Any] = schema["properties"]
    missing = schema["required"][0]
    wrong = next(n for n in props if n != missing and n in valid)
    kind = props[wrong].get("type")
    bad = dict(valid)
    del bad[missing]
    bad[wrong] = {"string": 12345, "integer": "十二", "number": "多", "boolean": "是", "array": "公章"}[kind]
    bad["nickname"] = "小李"
    return bad, missing, wrong


@pytest.mark.parametrize("key", sorted(WALKS))
def test_an_invalid_submission_is_refused_with_field_errors_and_changes_nothing(
    sim: tuple[Engine, SimulatedClock], key: str
) -> None:
    engine, _clock = sim
    bundle = _bundle(key)
    branch = next(iter(WALKS[key]["branches"]))
    case = engine.start_case(key, applicant=APPLICANT)
    [task] = engine.tasks(case=case.id)
    schema = _schema(bundle, task.step)
    assert schema is not None, f"{key}: the first step {task.step!r} has no form"
    valid = step_data(key, branch, task.step)
    bad, missing, wrong = _bad_submission(schema, valid)
    events, data = engine.case(case.id).events, engine.case_data(case.id)

    with pytest.raises(FormDataError) as info:
        engine.complete_task(task.id, data=bad, actor="clerk")

    errors = {f.field: f.message for f in info.value.fields}
    assert set(errors) == {f"/{missing}", f"/{wrong}", "/nickname"}
    assert schema["properties"][missing]["title"] in errors[f"/{missing}"]
    assert info.value.exit_code == 2
    # no state change: the step is still ready, no event, the same data, the case still open
    assert engine.task(task.id).state == "ready"
    assert engine.tasks(case=case.id) == [engine.task(task.id)]
    assert engine.case(case.id).events == events
    assert engine.case(case.id).state == "open"
    assert engine.case_data(case.id) == data
    # the very same step then takes the valid data
    assert engine.complete_task(task.id, data=valid, actor="clerk").state == "completed"


# -- docs/bundles.md: the library's tables are generated from the bundles and the audit ------------

DOC = REPO / "docs" / "bundles.md"
LIFECYCLE = {
    "enterprise": "企业 enterprise",
    "person": "个人 person",
    "project": "项目 project",
    "other": "other",
}
UNIT = {"workday": "wd", "natural_day": "natural days", "hour": "h"}
PROCEDURE = {
    "publicity": "公示",
    "expert_review": "专家评审",
    "intermediary": "中介服务",
    "site_survey": "现场勘查",
    "hearing": "听证",
    "inspection": "检验",
    "testing": "检测",
    "appraisal": "鉴定",
}


def _longest(bundle: Bundle, attr: str) -> int:
    """The largest sum of step limits (`promised` or `legal`, working days) along a path start → end."""
    succ: dict[str, list[str]] = {}
    for f in bundle.flows:
        succ.setdefault(f.source, []).append(f.target)
    memo: dict[str, int] = {}

    def limit(node: str) -> int:
        step = bundle.step(node)
        if step is None or step.kind == "immediate" or step.time_limit is None:
            return 0
        value = getattr(step.time_limit, attr)
        return int(value or 0)

    def walk_from(node: str, seen: frozenset[str]) -> int:
        if node in memo:
            return memo[node]
        after = [walk_from(n, seen | {node}) for n in succ.get(node, []) if n not in seen]
        memo[node] = limit(node) + max(after, default=0)
        return memo[node]

    starts = [n.id for n in bundle.nodes if n.kind == "startEvent" and n.parent is None]
    return max((walk_from(s, frozenset()) for s in starts), default=0)


def _figures_text(f: Any) -> str:
    """The figures by reason (DESIGN §12): before → after (reductions; online forms; conditional)."""
    parts = []
    if f.cancelled:
        parts.append(f"{f.cancelled} cancelled")
    if f.exempt_e_license:
        parts.append(f"{f.exempt_e_license} e-licence or online check")
    if f.exempt_commitment:
        parts.append(f"{f.exempt_commitment} commitment")
    if f.generated:
        parts.append(f"{f.generated} passed in the case")
    if f.online_form:
        parts.append(f"{f.online_form} online form{'s' if f.online_form > 1 else ''}")
    more = f"; {f.conditional} only if issued before the e-licence" if f.conditional else ""
    return f"{f.before} → {f.after}" + (f" ({', '.join(parts)}{more})" if parts or more else "")


def _entry_text(e: Any) -> str:
    if e.kind == "commitment":
        return f"{e.name} (`{e.step}`)"
    return f"{e.name} (`{e.step}`" + (f"; {e.condition}" if e.condition else "") + ")"


def _limit_text(bundle_or_step: Any) -> str:
    if getattr(bundle_or_step, "kind", None) == "immediate":
        return "immediate"
    tl = bundle_or_step.time_limit
    if tl is None:
        return "—"
    return f"{tl.promised} / {tl.legal} {UNIT.get(tl.unit, tl.unit)}"


def generated_sections() -> dict[str, str]:
    """The generated blocks of docs/bundles.md, by name (summary, details, gateways)."""
    from hennan_flow.audit import audit_paths

    report = audit_paths([str(p) for p in BUNDLE_FILES])
    audits = {b.key: b for b in report.bundles}
    bundles = [_bundle(_key_of(p)) for p in BUNDLE_FILES]
    summary = [
        "| bundle | lifecycle | steps | departments | materials before → after the audit | "
        "case limit promised / legal (working days) | step limits on the longest path, promised / legal |",
        "|---|---|---:|---:|---|---|---|",
    ]
    details: list[str] = []
    gateways = [
        "| bundle | gateway | variable: condition → step | default flow → | collected by (step / field) |",
        "|---|---|---|---|---|",
    ]
    for b in bundles:
        audit = audits[b.key]
        tl = b.time_limit
        assert tl is not None and tl.unit == "workday"
        legal = tl.legal if tl.legal is not None else "—"
        summary.append(
            f"| {b.name} (`{b.key}`, {b.code}) | {LIFECYCLE[b.lifecycle]} | {len(b.steps)} | {len(b.departments)} | "
            f"{_figures_text(audit.figures)} | {tl.promised} / {legal} | "
            f"{_longest(b, 'promised')} / {_longest(b, 'legal')} |"
        )
        details += [f"### {b.name} (`{b.key}`)", ""]
        lead = b.department(b.lead or "")
        details.append(
            f"Code {b.code}, lifecycle {b.lifecycle}, lead department {lead.name if lead else b.lead} "
            f"(`{b.lead}`); case limit promised {tl.promised} / legal {legal} working days; "
            f"materials {_figures_text(audit.figures)}."
        )
        details += [
            "",
            "Departments (lanes): " + "; ".join(f"{d.name} `{d.code}`" for d in b.departments),
            "",
        ]
        details += [
            "| step | name | department | promised / legal | special procedures (not counted) | result | "
            "materials before → after |",
            "|---|---|---|---|---|---|---|",
        ]
        for s, sa in zip(b.steps, audit.steps, strict=True):
            procedures = ", ".join(
                f"{PROCEDURE.get(p.kind, p.kind)} {p.limit} {UNIT.get(p.unit, p.unit)}"
                for p in s.special_procedures
            )
            details.append(
                f"| `{s.id}` | {s.name} | `{s.department}` | {_limit_text(s)} | {procedures or '—'} | "
                f"{s.result or '—'} | {_figures_text(sa.figures)} |"
            )
        details.append("")
        for sc in audit.scenarios:
            choices = "; ".join(f"{c.gateway_name or c.gateway} → {c.name}" for c in sc.choices)
            entries = [_entry_text(e) for e in sc.checklist]
            details.append(
                f"Applicant's checklist, scenario “{sc.name}”"
                + (f" ({choices})" if choices else "")
                + f" ({len(entries)}): "
                + ("; ".join(entries) or "nothing to bring")
                + "."
            )
            details.append("")
        online = [f"{v.name} (`{v.step}`)" for v in audit.online_forms]
        if online:
            details += [
                f"Collected online by the step's own form ({len(online)}): " + "; ".join(online) + ".",
                "",
            ]
        waived = []
        for v in audit.materials:
            if v.verdict == "generated":
                waived.append(f"{v.name} (`{v.step}`, passed from `{v.produced_by}`)")
            elif v.verdict == "exempt":
                waived.append(
                    f"{v.name} (`{v.step}`, {'commitment' if v.exempt_by == 'commitment' else 'e-licence'})"
                )
            elif v.verdict == "cancel":
                waived.append(f"{v.name} (`{v.step}`, cancelled)")
        details += [
            f"Not asked of the applicant ({len(waived)}): " + ("; ".join(waived) or "none") + ".",
            "",
        ]
        nodes = {n.id: n for n in b.nodes}
        fields = {name: s.id for s in b.steps for name in ((_schema(b, s.id) or {}).get("properties") or {})}
        for gw in (n for n in b.nodes if n.kind in {"exclusiveGateway", "inclusiveGateway"}):
            conditional = [f for f in b.flows if f.source == gw.id and f.condition]
            if not conditional:
                continue
            default = next((f.target for f in b.flows if f.id == gw.default), None)
            variables = sorted(
                {v for f in conditional for v in fields if re.search(rf"\b{v}\b", f.condition or "")}
            )
            gateways.append(
                f"| `{b.key}` | {gw.name} (`{gw.id}`, {'inclusive' if gw.kind == 'inclusiveGateway' else 'exclusive'}) | "
                + "<br>".join(f"`{f.condition}` → `{f.target}`" for f in conditional)
                + f" | {('`' + default + '`') if default else '—'}"
                + (f" ({nodes[default].name})" if default and nodes[default].name else "")
                + " | "
                + ", ".join(f"`{fields[v]}` / `{v}`" for v in variables)
                + " |"
            )
    return {
        "summary": "\n".join(summary),
        "details": "\n".join(details).rstrip(),
        "gateways": "\n".join(gateways),
    }


def _doc_sections(text: str) -> dict[str, str]:
    return {
        m.group(1): m.group(2).strip()
        for m in re.finditer(r"<!-- generated:(\w+) -->\n(.*?)<!-- /generated:\1 -->", text, re.DOTALL)
    }


def test_docs_bundles_md_tables_are_current() -> None:
    """docs/bundles.md shows what the bundles and the audit say; HENNAN_FLOW_UPDATE_DOCS=1 rewrites it."""
    expected = generated_sections()
    text = DOC.read_text(encoding="utf-8")
    if os.environ.get("HENNAN_FLOW_UPDATE_DOCS") == "1":
        for name, block in expected.items():
            start, end = f"<!-- generated:{name} -->\n", f"<!-- /generated:{name} -->"
            head, rest = text.split(start, 1)
            text = head + start + block + "\n" + end + rest.split(end, 1)[1]
        DOC.write_text(text, encoding="utf-8")
    assert _doc_sections(text) == expected, (
        "run HENNAN_FLOW_UPDATE_DOCS=1 pytest tests/test_bundles.py -k docs"
    )
