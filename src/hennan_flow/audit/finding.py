"""What the audit says about a bundle: findings and material verdicts (frozen values, never exceptions)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from .wording import SEVERITY_NAMES

__all__ = ["SEVERITIES", "VERDICTS", "Finding", "Severity", "Verdict", "rule_order", "severity_rank"]

Severity = Literal["error", "warning", "note"]
Verdict = Literal["keep", "cancel", "exempt", "generated", "online_form"]

SEVERITIES: tuple[Severity, ...] = ("error", "warning", "note")
VERDICTS: tuple[Verdict, ...] = ("keep", "cancel", "exempt", "generated", "online_form")


def severity_rank(severity: str) -> int:
    """0 for error, 1 for warning, 2 for note: lower is worse."""
    return SEVERITIES.index(severity) if severity in SEVERITIES else len(SEVERITIES)


def rule_order(rule: str) -> tuple[int, str]:
    """Sort key that puts R2 before R10."""
    digits = rule.lstrip("R")
    return (int(digits), rule) if digits.isdigit() else (10**6, rule)


@dataclass(frozen=True)
class Finding:
    """One thing a rule says about a material (or a step): where, what, and the concrete fix.

    `verdict` is the finding's effect on its material (cancel, exempt, generated) or None when it
    leaves the verdict alone (R6 on a misplaced producedBy, R7, R8). `material` is None for
    step-level findings. `bundle` is the process id; `related` the id of the other element involved
    (the step whose result it is, the material that covers it), if any.
    """

    rule: str
    severity: Severity
    file: str
    line: int | None
    element: str
    material: str | None
    quoted: str
    message: str
    fix: str
    bundle: str | None = None
    verdict: Verdict | None = None
    related: str | None = None  # the other element the finding points at: producing step, covering material

    def sort_key(self) -> tuple[str, int, tuple[int, str], str, str]:
        return (self.file, self.line or 0, rule_order(self.rule), self.element, self.material or "")

    def line_text(self) -> str:
        """`file:line: 错误 R5 元素 "step" 材料 "m"：message；修改建议：fix` — one line."""
        where = self.file + (f":{self.line}" if self.line else "")
        what = f'元素 "{self.element}"'
        if self.material:
            what += f' 材料 "{self.material}"'
        severity = SEVERITY_NAMES.get(self.severity, self.severity)
        return f"{where}: {severity} {self.rule} {what}：{self.message}；修改建议：{self.fix}"
