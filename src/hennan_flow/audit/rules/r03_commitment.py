"""R3: exempt a material that a written commitment (告知承诺) settles."""

from __future__ import annotations

from collections.abc import Iterator

from ..finding import Finding
from ..registry import BaseRule, BundleContext

__all__ = ["CommitmentRule"]


class CommitmentRule(BaseRule):
    """Exempt a material that the applicant's written commitment (告知承诺) replaces.

    A material with `commitment="true"` is not collected: the applicant signs the commitment at
    acceptance and the department verifies afterwards (a note, not a defect).

    **Anti-pattern**: `<hf:material id="premises_proof" name="住所（经营场所）使用证明" necessity="required"
    source="applicant">` — a proof the county already accepts by commitment, still asked on paper.

    **Best practice**: `<hf:material id="premises_proof" name="住所（经营场所）使用证明" … commitment="true">`
    — the applicant signs one commitment instead.
    """

    id = "R3"
    name = "commitment"
    severity = "note"
    summary = "A material a written commitment (告知承诺) can settle is exempt."
    source = "能够采取申请人书面承诺方式解决的材料一律免于提交"

    def check(self, ctx: BundleContext) -> Iterator[Finding]:
        for m in ctx.collected:
            if m.commitment:
                yield self.material_finding(
                    ctx,
                    m,
                    quoted='commitment="true"',
                    message=f"“{m.name}” is exempt: the applicant's written commitment (告知承诺) replaces it",
                    fix="nothing to change; verify the commitment after acceptance",
                    verdict="exempt",
                )
