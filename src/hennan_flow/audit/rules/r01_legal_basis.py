"""R1: cancel a material that no law requires or whose issuer cannot verify it."""

from __future__ import annotations

from collections.abc import Iterator

from ..finding import Finding
from ..registry import BaseRule, BundleContext

__all__ = ["LegalBasisRule"]


class LegalBasisRule(BaseRule):
    """Cancel a material with no legal basis, with only vague ones, or that its issuer cannot verify.

    Every collected material needs at least one `hf:legalBasis` naming a law, regulation, rule or
    normative document; bases that are themselves vague (R10, e.g. `doc="有关规定"`) do not count.
    A material whose issuer cannot investigate and verify what it certifies
    (`issuerCanVerify="false"`) is cancelled as well.

    **Anti-pattern**: `<hf:material id="residence_proof" name="居住证明" necessity="required"
    source="other" issuer="村民委员会" issuerCanVerify="false"/>` — no hf:legalBasis, and an issuer
    that cannot check what it certifies.

    **Best practice**: cite the law and the article that require the material, e.g.
    `<hf:legalBasis doc="《中华人民共和国市场主体登记管理条例》" article="第十六条" level="admin_regulation"/>`;
    drop every material that no law requires.
    """

    id = "R1"
    name = "legal_basis"
    severity = "error"
    summary = (
        "A material with no (or only vague) legal basis, or that its issuer cannot verify, is cancelled."
    )
    source = "没有法律法规规定或开具单位无法调查核实证明的材料一律取消"

    def check(self, ctx: BundleContext) -> Iterator[Finding]:
        for m in ctx.collected:
            if not m.legal_bases:
                yield self.material_finding(
                    ctx,
                    m,
                    quoted=m.name,
                    message=f"“{m.name}” has no hf:legalBasis: no law requires it, so it is cancelled",
                    fix='cite the law that requires it (<hf:legalBasis doc="《…》" article="第…条" '
                    'level="law|admin_regulation|…"/>), or remove the material',
                    verdict="cancel",
                )
            elif all(ctx.catalog.vague_in(b.doc) for b in m.legal_bases):
                docs = "; ".join(b.doc for b in m.legal_bases)
                yield self.material_finding(
                    ctx,
                    m,
                    quoted=docs,
                    message=f"“{m.name}” has only vague legal bases ({docs}), so no law requires it; "
                    "it is cancelled",
                    fix="cite the law or regulation by its 《title》 and article instead, or remove the material",
                    verdict="cancel",
                )
            if not m.issuer_can_verify:
                issuer = f"{m.issuer}: " if m.issuer else ""
                yield self.material_finding(
                    ctx,
                    m,
                    quoted=f'{issuer}issuerCanVerify="false"',
                    message=f"the issuer of “{m.name}” ({m.issuer or 'not named'}) cannot investigate and "
                    "verify what it certifies, so it is cancelled",
                    fix="remove the material, or replace it with a written commitment (告知承诺) or a record "
                    "the department checks itself",
                    verdict="cancel",
                )
