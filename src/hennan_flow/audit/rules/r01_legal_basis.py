"""R1: cancel a material that no law requires or whose issuer cannot verify it."""

from __future__ import annotations

from collections.abc import Iterator

from ...bpmn.bundle import Material
from ..finding import Finding
from ..registry import BaseRule, BundleContext

__all__ = ["LegalBasisRule"]


class LegalBasisRule(BaseRule):
    """Cancel a material with no legal basis, with only vague ones, or that its issuer cannot verify.

    Every collected material needs at least one `hf:legalBasis` naming a law, regulation, rule or
    normative document; bases that are themselves vague (R10, e.g. `doc="有关规定"`) do not count.
    A proof (证明) the applicant has to fetch (source other than government) needs a law, regulation
    or rule: one whose every basis is a normative document (`level="normative_doc"`, or a document
    the legal-basis catalogue lists at that level) is cancelled — 没有法律法规规定的证明一律取消.
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
            elif self._proof_without_law(ctx, m):
                docs = "; ".join(b.doc for b in m.legal_bases if not ctx.catalog.vague_in(b.doc))
                yield self.material_finding(
                    ctx,
                    m,
                    quoted=docs,
                    message=f"“{m.name}” is a proof (证明) the applicant has to fetch, and every legal basis it "
                    f"cites is a normative document (规范性文件: {docs}), not a law, regulation or rule: "
                    "没有法律法规规定的证明一律取消, so it is cancelled",
                    fix="cite the law, regulation or rule that requires the proof, or remove it (the department "
                    "can accept a written commitment, 告知承诺, or check the fact itself)",
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

    @staticmethod
    def _proof_without_law(ctx: BundleContext, m: Material) -> bool:
        if m.source == "government" or "证明" not in ctx.catalog.normalizer.clean(m.name):
            return False
        bases = [b for b in m.legal_bases if not ctx.catalog.vague_in(b.doc)]
        return bool(bases) and all(ctx.level_of(b) == "normative_doc" for b in bases)
