"""The audit's results: per-material verdicts, the applicant's checklist, reduction figures, findings."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from .finding import Finding, Severity, Verdict
from .registry import RuleInfo

__all__ = ["AuditReport", "BundleAudit", "Figures", "MaterialVerdict", "StepAudit"]

ExemptBy = Literal["e_license", "commitment"]


@dataclass(frozen=True)
class MaterialVerdict:
    """What becomes of one declared material, and why."""

    step: str
    material: str
    name: str
    verdict: Verdict
    reason: str
    rules: tuple[str, ...] = ()  # the rules whose findings decided the verdict
    line: int | None = None
    necessity: str = "required"
    source: str = "applicant"
    exempt_by: ExemptBy | None = None
    produced_by: str | None = None  # the producing step of a generated material
    supplement_within: int | None = None


@dataclass(frozen=True)
class Figures:
    """Reduction figures: before = after + exempt (e-licence, commitment) + cancelled + generated."""

    before: int = 0
    after: int = 0
    exempt_e_license: int = 0
    exempt_commitment: int = 0
    cancelled: int = 0
    generated: int = 0

    @classmethod
    def of(cls, verdicts: tuple[MaterialVerdict, ...]) -> Figures:
        return cls(
            before=len(verdicts),
            after=sum(v.verdict == "keep" for v in verdicts),
            exempt_e_license=sum(v.verdict == "exempt" and v.exempt_by == "e_license" for v in verdicts),
            exempt_commitment=sum(v.verdict == "exempt" and v.exempt_by == "commitment" for v in verdicts),
            cancelled=sum(v.verdict == "cancel" for v in verdicts),
            generated=sum(v.verdict == "generated" for v in verdicts),
        )


@dataclass(frozen=True)
class StepAudit:
    """One step: its materials with verdicts and its figures."""

    id: str
    name: str
    line: int | None
    department: str | None
    materials: tuple[MaterialVerdict, ...]
    figures: Figures


@dataclass(frozen=True)
class BundleAudit:
    """One bundle (a BPMN process): findings, verdicts, the applicant's checklist, figures."""

    file: str
    key: str
    name: str
    line: int | None
    audited: bool  # False for a plain BPMN process without the hf: dialect (nothing to audit)
    steps: tuple[StepAudit, ...]
    findings: tuple[Finding, ...]
    figures: Figures

    @property
    def materials(self) -> tuple[MaterialVerdict, ...]:
        return tuple(v for s in self.steps for v in s.materials)

    @property
    def checklist(self) -> tuple[MaterialVerdict, ...]:
        """What the applicant is asked for after reduction: the materials kept."""
        return tuple(v for v in self.materials if v.verdict == "keep")

    @property
    def has_errors(self) -> bool:
        return any(f.severity == "error" for f in self.findings)


@dataclass(frozen=True)
class AuditReport:
    """The audit of one or more files.

    Usage::

        report = audit_paths(["processes/"])
        if report.has_errors: ...
        for finding in report.findings: print(finding.line_text())
    """

    bundles: tuple[BundleAudit, ...]
    findings: tuple[Finding, ...]
    files: tuple[str, ...]
    rules: tuple[RuleInfo, ...]

    @property
    def has_errors(self) -> bool:
        """True when a bundle does not audit clean (deploy refuses it)."""
        return any(f.severity == "error" for f in self.findings)

    def count(self, severity: Severity) -> int:
        return sum(f.severity == severity for f in self.findings)

    def fails(self, fail_on: str) -> bool:
        """True when a finding is at or above `fail_on` (error | warning | never)."""
        if fail_on == "never":
            return False
        levels = {"error": ("error",), "warning": ("error", "warning"), "note": ("error", "warning", "note")}
        worst = levels.get(fail_on, ("error",))
        return any(f.severity in worst for f in self.findings)
