"""The one record shape every audit renderer reads (text, JSON, SARIF, HTML).

`audit_records(report)` turns an `AuditReport` into builtins only (dicts, lists, str, int, bool,
None), sorted: validate errors first, then findings by file, line, rule, element, material; bundles by
file, line, key; materials in document order; scenarios in the order their choices are met. The JSON output *is* this record (`version` 1, schema
`hennan_flow/schemas/audit.schema.json`); the other renderers are pure functions over it.
"""

from __future__ import annotations

from importlib import metadata
from typing import Literal, TypedDict

from ..audit.finding import rule_order
from ..audit.registry import RuleInfo
from ..audit.result import AuditReport, BundleAudit, ChecklistEntry, Figures, MaterialVerdict, Scenario
from ..bpmn.diagnostics import Problem

__all__ = [
    "RECORDS_VERSION",
    "AuditRecords",
    "BundleRecord",
    "ChecklistRecord",
    "ChoiceRecord",
    "FindingRecord",
    "MaterialRecord",
    "OnlineFormRecord",
    "RuleRecord",
    "ScenarioRecord",
    "StepRecord",
    "SummaryRecord",
    "ToolRecord",
    "ValidationRecord",
    "audit_records",
    "findings_by_element",
]

RECORDS_VERSION = 1
_CountKey = Literal[
    "materials_before",
    "materials_after",
    "exempt_e_license",
    "exempt_commitment",
    "cancelled",
    "generated",
    "online_form",
]


class FindingRecord(TypedDict):
    rule: str
    severity: str
    file: str
    line: int | None
    element: str
    material: str | None
    quoted: str
    message: str
    fix: str
    bundle: str | None
    verdict: str | None
    related: str | None


class ValidationRecord(TypedDict):
    """A validate error of an audited file: it comes before the findings, and the file is not clean."""

    file: str
    line: int | None
    element: str | None
    code: str
    severity: str
    message: str
    hint: str | None


class MaterialRecord(TypedDict):
    step: str
    material: str
    name: str
    verdict: str
    reason: str
    rules: list[str]
    line: int | None
    necessity: str
    source: str
    exempt_by: str | None
    produced_by: str | None
    condition: str | None
    form: str | None


class ChecklistRecord(TypedDict):
    step: str
    material: str
    name: str
    kind: str  # material (to bring) | commitment (a 告知承诺书 to sign in the material's place)
    necessity: str
    supplement_within: int | None
    condition: str | None
    line: int | None


class ChoiceRecord(TypedDict):
    gateway: str
    gateway_name: str | None
    flow: str
    name: str


class ScenarioRecord(TypedDict):
    name: str
    choices: list[ChoiceRecord]
    steps: list[str]
    materials: int
    checklist: list[ChecklistRecord]


class OnlineFormRecord(TypedDict):
    step: str
    material: str
    name: str
    form: str | None


class _CountsRecord(TypedDict):
    """The figures of a step or a bundle by reason.

    materials_before = materials_after + exempt_e_license + exempt_commitment + cancelled + generated +
    online_form; `conditional` counts the kept materials brought only if older than a dated e-licence,
    `commitments` the letters signed in the place of the materials exempted by commitment.
    """

    materials_before: int
    materials_after: int
    exempt_e_license: int
    exempt_commitment: int
    cancelled: int
    generated: int
    online_form: int
    conditional: int
    commitments: int


class StepRecord(_CountsRecord):
    step: str
    name: str
    line: int | None
    department: str | None


class BundleRecord(_CountsRecord):
    file: str
    key: str
    name: str
    line: int | None
    audited: bool
    steps: int
    errors: int
    warnings: int
    notes: int
    per_step: list[StepRecord]
    materials: list[MaterialRecord]
    checklist: list[ChecklistRecord]
    online_forms: list[OnlineFormRecord]
    scenarios: list[ScenarioRecord]
    scenario_note: str | None


class RuleRecord(TypedDict):
    id: str
    name: str
    severity: str
    summary: str
    source: str
    description: str
    anti_pattern: str
    best_practice: str


class SummaryRecord(TypedDict):
    files: int
    bundles: int
    audited: int
    findings: int
    errors: int
    warnings: int
    notes: int
    validation_errors: int
    clean: bool
    materials_before: int
    materials_after: int
    exempt_e_license: int
    exempt_commitment: int
    cancelled: int
    generated: int
    online_form: int


class ToolRecord(TypedDict):
    name: str
    version: str


class AuditRecords(TypedDict):
    version: int
    tool: ToolRecord
    summary: SummaryRecord
    rules: list[RuleRecord]
    validation: list[ValidationRecord]
    findings: list[FindingRecord]
    bundles: list[BundleRecord]


def _tool_version() -> str:
    try:
        return metadata.version("hennan-flow")
    except metadata.PackageNotFoundError:  # running from a source tree
        return "0+unknown"


def _material(v: MaterialVerdict) -> MaterialRecord:
    return {
        "step": v.step,
        "material": v.material,
        "name": v.name,
        "verdict": v.verdict,
        "reason": v.reason,
        "rules": sorted(v.rules, key=rule_order),
        "line": v.line,
        "necessity": v.necessity,
        "source": v.source,
        "exempt_by": v.exempt_by,
        "produced_by": v.produced_by,
        "condition": v.condition,
        "form": v.form,
    }


def _counts(fig: Figures) -> _CountsRecord:
    return {
        "materials_before": fig.before,
        "materials_after": fig.after,
        "exempt_e_license": fig.exempt_e_license,
        "exempt_commitment": fig.exempt_commitment,
        "cancelled": fig.cancelled,
        "generated": fig.generated,
        "online_form": fig.online_form,
        "conditional": fig.conditional,
        "commitments": fig.commitments,
    }


def _entry(e: ChecklistEntry) -> ChecklistRecord:
    return {
        "step": e.step,
        "material": e.material,
        "name": e.name,
        "kind": e.kind,
        "necessity": e.necessity,
        "supplement_within": e.supplement_within,
        "condition": e.condition,
        "line": e.line,
    }


def _scenario(sc: Scenario) -> ScenarioRecord:
    return {
        "name": sc.name,
        "choices": [
            {"gateway": c.gateway, "gateway_name": c.gateway_name, "flow": c.flow, "name": c.name}
            for c in sc.choices
        ],
        "steps": list(sc.steps),
        "materials": sc.materials,
        "checklist": [_entry(e) for e in sc.checklist],
    }


def _problem(p: Problem) -> ValidationRecord:
    return {
        "file": p.location.file or "",
        "line": p.location.line,
        "element": p.location.element,
        "code": p.code,
        "severity": p.severity,
        "message": p.message,
        "hint": p.hint,
    }


def _bundle(b: BundleAudit) -> BundleRecord:
    per_step: list[StepRecord] = [
        {"step": s.id, "name": s.name, "line": s.line, "department": s.department, **_counts(s.figures)}
        for s in b.steps
    ]
    return {
        "file": b.file,
        "key": b.key,
        "name": b.name,
        "line": b.line,
        "audited": b.audited,
        "steps": len(b.steps),
        **_counts(b.figures),
        "errors": sum(f.severity == "error" for f in b.findings),
        "warnings": sum(f.severity == "warning" for f in b.findings),
        "notes": sum(f.severity == "note" for f in b.findings),
        "per_step": per_step,
        "materials": [_material(v) for v in b.materials],
        "checklist": [_entry(e) for e in b.checklist],
        "online_forms": [
            {"step": v.step, "material": v.material, "name": v.name, "form": v.form} for v in b.online_forms
        ],
        "scenarios": [_scenario(sc) for sc in b.scenarios],
        "scenario_note": b.scenario_note,
    }


def _rule(info: RuleInfo) -> RuleRecord:
    return {
        "id": info.id,
        "name": info.name,
        "severity": info.severity,
        "summary": info.summary,
        "source": info.source,
        "description": info.description,
        "anti_pattern": info.anti_pattern,
        "best_practice": info.best_practice,
    }


def audit_records(report: AuditReport) -> AuditRecords:
    """The sorted, builtins-only record of a report: the JSON output and every renderer's input."""
    findings: list[FindingRecord] = [
        {
            "rule": f.rule,
            "severity": f.severity,
            "file": f.file,
            "line": f.line,
            "element": f.element,
            "material": f.material,
            "quoted": f.quoted,
            "message": f.message,
            "fix": f.fix,
            "bundle": f.bundle,
            "verdict": f.verdict,
            "related": f.related,
        }
        for f in sorted(report.findings, key=lambda f: f.sort_key())
    ]
    bundles = [_bundle(b) for b in sorted(report.bundles, key=lambda b: (b.file, b.line or 0, b.key))]
    validation = [
        _problem(p)
        for p in sorted(
            report.validation, key=lambda p: (p.location.file or "", p.location.line or 0, p.code)
        )
    ]
    errors = report.count("error")

    def total(key: _CountKey) -> int:
        return sum(b[key] for b in bundles)

    summary: SummaryRecord = {
        "files": len(report.files),
        "bundles": len(bundles),
        "audited": sum(b["audited"] for b in bundles),
        "findings": len(findings),
        "errors": errors,
        "warnings": report.count("warning"),
        "notes": report.count("note"),
        "validation_errors": len(validation),
        "clean": errors == 0 and not validation,
        "materials_before": total("materials_before"),
        "materials_after": total("materials_after"),
        "exempt_e_license": total("exempt_e_license"),
        "exempt_commitment": total("exempt_commitment"),
        "cancelled": total("cancelled"),
        "generated": total("generated"),
        "online_form": total("online_form"),
    }
    return {
        "version": RECORDS_VERSION,
        "tool": {"name": "hennan-flow", "version": _tool_version()},
        "summary": summary,
        "rules": [_rule(r) for r in sorted(report.rules, key=lambda r: rule_order(r.id))],
        "validation": validation,
        "findings": findings,
        "bundles": bundles,
    }


def findings_by_element(records: AuditRecords, bundle: BundleRecord) -> dict[str, list[FindingRecord]]:
    """The findings of one bundle grouped by element id (a step, or the process for case-level ones)."""
    out: dict[str, list[FindingRecord]] = {}
    for f in records["findings"]:
        if f["file"] == bundle["file"] and f["bundle"] == bundle["key"]:
            out.setdefault(f["element"], []).append(f)
    return out
