"""Run the rules over bundles and turn their findings into verdicts, checklists and figures."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path

from ..bpmn.bundle import Bundle, Material, Step
from ..bpmn.diagnostics import Problem
from ..bpmn.dialect import Document, load_document
from ..bpmn.validate import bundle_files, validate_file
from ..errors import BpmnError, Location
from .catalog import Catalog, load_catalog
from .finding import Finding, Verdict
from .registry import BundleContext, RuleSet
from .result import (
    AuditReport,
    BundleAudit,
    ExemptBy,
    Figures,
    MaterialVerdict,
    Scenario,
    StepAudit,
    bring_if_older,
    checklist_of,
)
from .scenarios import LIMIT, plan_scenarios
from .wording import day

__all__ = ["FATAL_PROBLEMS", "audit_bundle", "audit_document", "audit_paths", "default_rules"]

logger = logging.getLogger(__name__)

# Reader problems that leave nothing sound to audit (the CLI exits 2 on them).
FATAL_PROBLEMS = ("HF-MATERIAL", "HF-DUP-MATERIAL", "HF-UNKNOWN-REF")
_PRIORITY: tuple[Verdict, ...] = ("cancel", "generated")
ALL_APPLICANTS = "所有申请人"  # the one scenario of a bundle without an applicant's choice
UNION = "合并清单（所有情形）"


def default_rules() -> RuleSet:
    """A new rule set with every rule of DESIGN §3 and §12 (R1…R8, R10, R11)."""
    from .rules import rule_classes

    rules = RuleSet()
    for cls in rule_classes():
        rules.register(cls)
    return rules


def audit_bundle(bundle: Bundle, *, catalog: Catalog, rules: RuleSet) -> BundleAudit:
    """Audit one bundle: findings of every rule, then one verdict per material."""
    ctx = BundleContext(bundle, catalog)
    findings: list[Finding] = []
    if bundle.has_hf:  # a plain BPMN process declares no materials and no limits: nothing to audit
        for rule in rules:
            findings.extend(rule.check(ctx))
    findings.sort(key=Finding.sort_key)
    by_material: dict[str, list[Finding]] = {}
    for f in findings:
        if f.material is not None:
            by_material.setdefault(f.material, []).append(f)
    steps = []
    for step in bundle.steps:
        verdicts = tuple(_verdict(ctx, step, m, by_material.get(m.id, [])) for m in step.materials)
        steps.append(
            StepAudit(
                id=step.id,
                name=step.name,
                line=step.line,
                department=step.department,
                materials=verdicts,
                figures=Figures.of(verdicts),
                form=step.form,
            )
        )
    all_verdicts = tuple(v for s in steps for v in s.materials)
    scenarios, note = _scenarios(bundle, all_verdicts) if bundle.has_hf else ((), None)
    return BundleAudit(
        file=bundle.file,
        key=bundle.key,
        name=bundle.name,
        line=bundle.line,
        audited=bundle.has_hf,
        steps=tuple(steps),
        findings=tuple(findings),
        figures=Figures.of(all_verdicts),
        scenarios=scenarios,
        scenario_note=note,
    )


def _scenarios(
    bundle: Bundle, verdicts: tuple[MaterialVerdict, ...]
) -> tuple[tuple[Scenario, ...], str | None]:
    """The applicant scenarios (DESIGN §12), each with the checklist entries of the steps that run in it."""
    union = checklist_of(verdicts)
    order = [s.id for s in bundle.steps]
    plans = plan_scenarios(bundle, {s.id for s in bundle.steps if s.materials})
    out = []
    for plan in plans.scenarios:
        name = plan.name or (UNION if plans.more_than else ALL_APPLICANTS)
        steps = tuple(s for s in order if s in plan.steps)
        out.append(Scenario(name, plan.choices, steps, tuple(e for e in union if e.step in plan.steps)))
    note = (
        f"申请情形超过 {LIMIT} 种（排他网关的选择组合过多），只列出合并清单"
        if plans.more_than is not None
        else None
    )
    return tuple(out), note


def _verdict(ctx: BundleContext, step: Step, material: Material, findings: list[Finding]) -> MaterialVerdict:
    m = material
    kept = MaterialVerdict(
        step=m.step,
        material=m.id,
        name=m.name,
        verdict="keep",
        reason="向申请人收取",
        line=m.line,
        necessity=m.necessity,
        source=m.source,
        supplement_within=m.supplement_within,
    )
    if ctx.bundle.has_hf and ctx.produced_validly(m):
        return replace(
            kept,
            verdict="generated",
            reason=f"由环节 {m.produced_by} 的办理结果内部流转",
            produced_by=m.produced_by,
        )
    for verdict in _PRIORITY:
        deciding = [f for f in findings if f.verdict == verdict]
        if deciding:
            return replace(
                kept,
                verdict=verdict,
                reason=deciding[0].message,
                rules=tuple(dict.fromkeys(f.rule for f in deciding)),
                produced_by=deciding[0].related if verdict == "generated" else None,
            )
    if ctx.bundle.has_hf and step.form is not None and ctx.catalog.normalizer.is_form(m.name):
        return replace(
            kept,
            verdict="online_form",
            reason=f"表单类材料，由本环节表单在线填报（hf:form {step.form}），不列入清单",
            form=step.form,
        )
    deciding = [f for f in findings if f.verdict == "exempt"]
    if deciding:
        exempt_by: ExemptBy = "e_license" if any(f.rule == "R2" for f in deciding) else "commitment"
        return replace(
            kept,
            verdict="exempt",
            reason=deciding[0].message,
            rules=tuple(dict.fromkeys(f.rule for f in deciding)),
            exempt_by=exempt_by,
        )
    dated = ctx.dated_licence(m) if ctx.bundle.has_hf else None
    if dated is not None and dated.since is not None:
        return replace(
            kept,
            reason=f"{day(dated.since)}前颁发的{dated.name}向申请人收取（此后颁发的有电子证照）",
            rules=("R2",),
            condition=bring_if_older(dated.since),
        )
    return kept


def _fatal(doc: Document) -> None:
    fatal = [p for p in doc.problems if p.code in FATAL_PROBLEMS]
    if not fatal:
        return
    fatal.sort(key=lambda p: p.location.line or 0)
    first = fatal[0]
    more = f"（本文件另有 {len(fatal) - 1} 处同类问题）" if len(fatal) > 1 else ""
    material = first.location.material
    which = f'material "{material}": ' if material and f'"{material}"' not in first.message else ""
    raise BpmnError(
        f"[{first.code}] {which}{first.message.rstrip('.')}{more}",
        hint=first.hint,
        code=first.code,
        location=Location(
            file=first.location.file or doc.file,
            line=first.location.line,
            element=first.location.element,
            material=first.location.material,
        ),
    )


def audit_document(
    doc: Document, *, catalog: Catalog | None = None, rules: RuleSet | None = None
) -> AuditReport:
    """Audit every bundle of a read document; raises BpmnError when the reader found a fatal problem.

    It does not validate the document (deploy, its caller, has validated it already).
    """
    catalog = catalog if catalog is not None else load_catalog()
    rules = rules if rules is not None else default_rules()
    _fatal(doc)
    bundles = tuple(audit_bundle(b, catalog=catalog, rules=rules) for b in doc.bundles)
    return _report(bundles, (doc.file,), rules)


def audit_paths(
    paths: Iterable[str],
    *,
    catalog: Catalog | None = None,
    rules: RuleSet | None = None,
    forms: str | None = None,
) -> AuditReport:
    """Audit the files named, and the *.bpmn / *.bpmn20.xml files under the folders named.

    A file that is missing, unreadable, not XML or not BPMN, or that the reader cannot make sound
    (a material without id or name, a duplicate material id, an unknown producedBy/coveredBy),
    raises `BpmnError` (an `InputError`, CLI exit 2) when it is the only file; in a batch (several
    files, or a folder) it is reported as a validate error and the other files are audited, as
    `validate` does. A file that uses the hf: dialect is also
    validated (`hennan-flow validate`, form references resolved under `forms` as validate does): its
    validate errors come first in the report (`AuditReport.validation`) and the report is not clean
    (DESIGN §12). A plain BPMN file has nothing to audit and is reported as such, never as clean.
    The audit opens no database.
    """
    catalog = catalog if catalog is not None else load_catalog()
    rules = rules if rules is not None else default_rules()
    bundles: list[BundleAudit] = []
    files: list[str] = []
    validation: list[Problem] = []
    found = list(bundle_files(paths))
    for path, exists in found:
        if not exists:
            raise BpmnError("文件或目录不存在", hint="检查路径", location=Location(file=path), code="IO-READ")
        batch = (
            len(found) > 1
        )  # in a batch, as `validate` does: an unsound file is an error, the rest audited
        try:
            doc = load_document(Path(path), display=path)
        except BpmnError as exc:
            if not batch:
                raise
            validation.append(Problem.from_error(exc.code or "IO-READ", exc))
            files.append(path)
            continue
        files.append(path)
        fatal = [p for p in doc.problems if p.code in FATAL_PROBLEMS]
        if fatal and batch:
            validation.extend(sorted(fatal, key=lambda p: p.location.line or 0))
            continue
        _fatal(doc)
        if doc.has_hf:  # a bundle for hennan_flow: what validate rejects is never reported clean
            checked = validate_file(path, display=path, forms_dir=forms)
            validation.extend(p for p in checked.problems if p.severity == "error")
        bundles.extend(audit_bundle(b, catalog=catalog, rules=rules) for b in doc.bundles)
        logger.debug("audited %s: %d bundle(s)", path, len(doc.bundles))
    return _report(tuple(bundles), tuple(files), rules, tuple(validation))


def _report(
    bundles: tuple[BundleAudit, ...],
    files: tuple[str, ...],
    rules: RuleSet,
    validation: tuple[Problem, ...] = (),
) -> AuditReport:
    findings = tuple(sorted((f for b in bundles for f in b.findings), key=Finding.sort_key))
    return AuditReport(
        bundles=bundles, findings=findings, files=files, rules=rules.infos(), validation=validation
    )
