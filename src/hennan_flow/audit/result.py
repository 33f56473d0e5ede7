"""The audit's results: per-material verdicts, the applicant's checklists (per scenario and their union),
reduction figures by reason, findings, and the validate errors that come before them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Literal

from ..bpmn.diagnostics import Problem
from .finding import Finding, Severity, Verdict
from .registry import RuleInfo
from .scenarios import Choice
from .wording import day

__all__ = [
    "AuditReport",
    "BundleAudit",
    "ChecklistEntry",
    "Figures",
    "MaterialVerdict",
    "Scenario",
    "StepAudit",
    "bring_if_older",
    "checklist_of",
    "commitment_letter",
]

ExemptBy = Literal["e_license", "commitment"]
EntryKind = Literal["material", "commitment"]


def commitment_letter(name: str) -> str:
    """The checklist entry an R3 exemption leaves: the applicant signs a 告知承诺书 in the material's place."""
    return f"签署告知承诺书（替代：{name}）"


def bring_if_older(since: date) -> str:
    """The checklist's condition on a material a dated e-licence proves only when issued since `since`."""
    return f"{day(since)}前颁发的，请携带原件；此后新申领的，窗口调取电子证照，无需携带"


@dataclass(frozen=True)
class MaterialVerdict:
    """What becomes of one declared material, and why.

    `condition` is set on a kept material that an e-licence proves only when issued since a date
    (a dated catalogue entry): the applicant brings it only if theirs is older (Chinese, for users).
    `form` is the `hf:form` ref of an `online_form` material (collected by the step's own form).
    """

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
    condition: str | None = None
    form: str | None = None


@dataclass(frozen=True)
class ChecklistEntry:
    """One line of the applicant's checklist: a material to bring, or a commitment letter to sign.

    A `commitment` entry stands for the material `material` that an R3 exemption replaced; its name
    is "签署告知承诺书（替代：…）".
    """

    step: str
    material: str
    name: str
    kind: EntryKind = "material"
    necessity: str = "required"
    supplement_within: int | None = None
    condition: str | None = None
    line: int | None = None


@dataclass(frozen=True)
class Figures:
    """Reduction figures by reason.

    before = after + exempt (e-licence or online check, commitment) + cancelled + generated +
    online_form; `after` counts the materials the applicant brings (verdict keep, `conditional` of
    them only if older than a dated e-licence); `commitments` the letters signed in the place of the
    materials exempted by commitment (on the checklist, but not materials).
    """

    before: int = 0
    after: int = 0
    exempt_e_license: int = 0
    exempt_commitment: int = 0
    cancelled: int = 0
    generated: int = 0
    online_form: int = 0
    conditional: int = 0

    @property
    def commitments(self) -> int:
        return self.exempt_commitment

    @property
    def reduced(self) -> int:
        """What the applicant no longer brings on paper: every reason but the online forms."""
        return self.exempt_e_license + self.exempt_commitment + self.cancelled + self.generated

    @classmethod
    def of(cls, verdicts: tuple[MaterialVerdict, ...]) -> Figures:
        return cls(
            before=len(verdicts),
            after=sum(v.verdict == "keep" for v in verdicts),
            exempt_e_license=sum(v.verdict == "exempt" and v.exempt_by == "e_license" for v in verdicts),
            exempt_commitment=sum(v.verdict == "exempt" and v.exempt_by == "commitment" for v in verdicts),
            cancelled=sum(v.verdict == "cancel" for v in verdicts),
            generated=sum(v.verdict == "generated" for v in verdicts),
            online_form=sum(v.verdict == "online_form" for v in verdicts),
            conditional=sum(v.verdict == "keep" and v.condition is not None for v in verdicts),
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
    form: str | None = None


@dataclass(frozen=True)
class Scenario:
    """One applicant scenario (DESIGN §12): the choices that make it, the steps that may run, the checklist."""

    name: str
    choices: tuple[Choice, ...]
    steps: tuple[str, ...]
    checklist: tuple[ChecklistEntry, ...]

    @property
    def materials(self) -> int:
        return sum(e.kind == "material" for e in self.checklist)


@dataclass(frozen=True)
class BundleAudit:
    """One bundle (a BPMN process): findings, verdicts, the applicant's checklists, figures."""

    file: str
    key: str
    name: str
    line: int | None
    audited: bool  # False for a plain BPMN process without the hf: dialect (nothing to audit)
    steps: tuple[StepAudit, ...]
    findings: tuple[Finding, ...]
    figures: Figures
    scenarios: tuple[Scenario, ...] = ()
    scenario_note: str | None = None  # set when the scenarios were too many to list (the union stands)

    @property
    def materials(self) -> tuple[MaterialVerdict, ...]:
        return tuple(v for s in self.steps for v in s.materials)

    @property
    def checklist(self) -> tuple[ChecklistEntry, ...]:
        """The union checklist: every material kept, and a commitment letter per R3 exemption."""
        return checklist_of(self.materials)

    @property
    def online_forms(self) -> tuple[MaterialVerdict, ...]:
        """The materials collected online by their step's own form (verdict online_form)."""
        return tuple(v for v in self.materials if v.verdict == "online_form")

    @property
    def has_errors(self) -> bool:
        return any(f.severity == "error" for f in self.findings)


def checklist_of(verdicts: tuple[MaterialVerdict, ...]) -> tuple[ChecklistEntry, ...]:
    """The checklist entries of these verdicts, in their order."""
    out = []
    for v in verdicts:
        if v.verdict == "keep":
            out.append(
                ChecklistEntry(
                    v.step,
                    v.material,
                    v.name,
                    "material",
                    v.necessity,
                    v.supplement_within,
                    v.condition,
                    v.line,
                )
            )
        elif v.verdict == "exempt" and v.exempt_by == "commitment":
            out.append(
                ChecklistEntry(v.step, v.material, commitment_letter(v.name), "commitment", line=v.line)
            )
    return tuple(out)


@dataclass(frozen=True)
class AuditReport:
    """The audit of one or more files.

    `validation` holds the errors `validate` found in the audited files (DESIGN §12: a file that
    validate rejects is never reported clean); they come before the findings in every report.

    Usage::

        report = audit_paths(["processes/"])
        if report.has_errors: ...
        for finding in report.findings: print(finding.line_text())
    """

    bundles: tuple[BundleAudit, ...]
    findings: tuple[Finding, ...]
    files: tuple[str, ...]
    rules: tuple[RuleInfo, ...]
    validation: tuple[Problem, ...] = ()

    @property
    def has_errors(self) -> bool:
        """True when a bundle does not audit clean (deploy refuses it), or validate rejects a file."""
        return bool(self.validation) or any(f.severity == "error" for f in self.findings)

    def count(self, severity: Severity) -> int:
        return sum(f.severity == severity for f in self.findings)

    def fails(self, fail_on: str) -> bool:
        """True when a finding (or a validate error) is at or above `fail_on` (error | warning | never)."""
        if fail_on == "never":
            return False
        if self.validation:
            return True
        levels = {"error": ("error",), "warning": ("error", "warning"), "note": ("error", "warning", "note")}
        worst = levels.get(fail_on, ("error",))
        return any(f.severity in worst for f in self.findings)
