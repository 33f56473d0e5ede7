"""R3: exempt a material that a written commitment (告知承诺) settles."""

from __future__ import annotations

from collections.abc import Iterator

from ..finding import Finding
from ..registry import BaseRule, BundleContext

__all__ = ["CommitmentRule"]


class CommitmentRule(BaseRule):
    """Exempt a material that the applicant's written commitment (告知承诺) replaces.

    A material with `commitment="true"` is not collected: the applicant signs the commitment at
    acceptance and the department verifies afterwards (a note, not a defect). The checklist then
    lists "签署告知承诺书（替代：NAME）" in the material's place (DESIGN §12). A material the county's
    commitment catalogue lists (`[commitment]`, e.g. 住所证明) that declares no commitment is a
    warning: the applicant is asked to fetch what a signature would settle.

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
            if not m.commitment and ctx.catalog.settles_by_commitment(m.name):
                yield self.material_finding(
                    ctx,
                    m,
                    quoted=m.name,
                    message=f"“{m.name}” is on the county's list of materials settled by written commitment "
                    "(告知承诺), but the material declares no commitment, so the applicant is asked to fetch it",
                    fix='declare commitment="true" on the material: the applicant signs a 告知承诺书 instead',
                    verdict=None,
                    severity="warning",
                )
            if m.commitment:
                yield self.material_finding(
                    ctx,
                    m,
                    quoted='commitment="true"',
                    message=f"“{m.name}” is exempt: the applicant's written commitment (告知承诺) replaces it",
                    fix="nothing to change; verify the commitment after acceptance",
                    verdict="exempt",
                )
