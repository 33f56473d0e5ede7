"""The one record shape every audit renderer reads (text, JSON, SARIF, HTML).

`audit_records(report)` turns an `AuditReport` into builtins only (dicts, lists, str, int, bool,
None), sorted: findings by file, line, rule, element, material; bundles by file, line, key; materials
in document order. The JSON output *is* this record (`version` 1, schema
`hennan_flow/schemas/audit.schema.json`); the other renderers are pure functions over it.
"""

from __future__ import annotations

from importlib import metadata
from typing import TypedDict

from ..audit.finding import rule_order
from ..audit.registry import RuleInfo
from ..audit.result import AuditReport, BundleAudit, Figures, MaterialVerdict

__all__ = [
    "RECORDS_VERSION",
    "AuditRecords",
    "BundleRecord",
    "ChecklistRecord",
    "FindingRecord",
    "MaterialRecord",
    "RuleRecord",
    "StepRecord",
    "SummaryRecord",
    "ToolRecord",
    "audit_records",
    "findings_by_element",
]

RECORDS_VERSION = 1


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


class ChecklistRecord(TypedDict):
    step: str
    material: str
    name: str
    necessity: str
    supplement_within: int | None
    line: int | None


class _CountsRecord(TypedDict):
    """The reduction figures of a step or a bundle (before = after + exempt + cancelled + generated)."""

    materials_before: int
    materials_after: int
    exempt_e_license: int
    exempt_commitment: int
    cancelled: int
    generated: int


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
    findings: int
    errors: int
    warnings: int
    notes: int
    clean: bool
    materials_before: int
    materials_after: int


class ToolRecord(TypedDict):
    name: str
    version: str


class AuditRecords(TypedDict):
    version: int
    tool: ToolRecord
    summary: SummaryRecord
    rules: list[RuleRecord]
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
    }


def _counts(fig: Figures) -> _CountsRecord:
    return {
        "materials_before": fig.before,
        "materials_after": fig.after,
        "exempt_e_license": fig.exempt_e_license,
        "exempt_commitment": fig.exempt_commitment,
        "cancelled": fig.cancelled,
        "generated": fig.generated,
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
        "checklist": [
            {
                "step": v.step,
                "material": v.material,
                "name": v.name,
                "necessity": v.necessity,
                "supplement_within": v.supplement_within,
                "line": v.line,
            }
            for v in b.checklist
        ],
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
    errors = report.count("error")
    summary: SummaryRecord = {
        "files": len(report.files),
        "bundles": len(bundles),
        "findings": len(findings),
        "errors": errors,
        "warnings": report.count("warning"),
        "notes": report.count("note"),
        "clean": errors == 0,
        "materials_before": sum(b["materials_before"] for b in bundles),
        "materials_after": sum(b["materials_after"] for b in bundles),
    }
    return {
        "version": RECORDS_VERSION,
        "tool": {"name": "hennan-flow", "version": _tool_version()},
        "summary": summary,
        "rules": [_rule(r) for r in sorted(report.rules, key=lambda r: rule_order(r.id))],
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
