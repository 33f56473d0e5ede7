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
    source="applicant">` — 本县已实行告知承诺的证明，仍要求提交纸质材料。

    **Best practice**: `<hf:material id="premises_proof" name="住所（经营场所）使用证明" … commitment="true">`
    — 申请人改为签署一份告知承诺书。
    """

    id = "R3"
    name = "commitment"
    severity = "note"
    summary = "能以申请人书面承诺（告知承诺）解决的材料，免于提交。"
    source = "能够采取申请人书面承诺方式解决的材料一律免于提交"

    def check(self, ctx: BundleContext) -> Iterator[Finding]:
        for m in ctx.collected:
            if not m.commitment and ctx.catalog.settles_by_commitment(m.name):
                yield self.material_finding(
                    ctx,
                    m,
                    quoted=m.name,
                    message=f"材料“{m.name}”列入本县告知承诺材料目录，但该材料未声明告知承诺（commitment），"
                    "申请人仍需自行开具",
                    fix='在该材料上声明 commitment="true"：申请人改为签署告知承诺书',
                    verdict=None,
                    severity="warning",
                )
            if m.commitment:
                yield self.material_finding(
                    ctx,
                    m,
                    quoted='commitment="true"',
                    message=f"材料“{m.name}”免于提交：以申请人书面承诺（告知承诺）代替",
                    fix="无需修改；受理后核查承诺内容",
                    verdict="exempt",
                )
