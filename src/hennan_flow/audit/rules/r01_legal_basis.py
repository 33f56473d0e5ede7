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
    source="other" issuer="村民委员会" issuerCanVerify="false"/>` — 未列设定依据（hf:legalBasis），开具单位也无法核实所证明的事项。

    **Best practice**: 写明规定该材料的法律法规及条款，例如
    `<hf:legalBasis doc="《中华人民共和国市场主体登记管理条例》" article="第十六条" level="admin_regulation"/>`；
    没有法律法规规定的材料一律删除。
    """

    id = "R1"
    name = "legal_basis"
    severity = "error"
    summary = "没有设定依据（或只有模糊依据）、或开具单位无法调查核实的材料，予以取消。"
    source = "没有法律法规规定或开具单位无法调查核实证明的材料一律取消"

    def check(self, ctx: BundleContext) -> Iterator[Finding]:
        for m in ctx.collected:
            if not m.legal_bases:
                yield self.material_finding(
                    ctx,
                    m,
                    quoted=m.name,
                    message=f"材料“{m.name}”未列明设定依据（hf:legalBasis），没有法律法规规定，予以取消",
                    fix='补充规定该材料的法律法规依据（<hf:legalBasis doc="《…》" article="第…条" '
                    'level="law|admin_regulation|…"/>），或删除该材料',
                    verdict="cancel",
                )
            elif all(ctx.catalog.vague_in(b.doc) for b in m.legal_bases):
                docs = "; ".join(b.doc for b in m.legal_bases)
                yield self.material_finding(
                    ctx,
                    m,
                    quoted=docs,
                    message=f"材料“{m.name}”的设定依据均为模糊表述（{docs.replace('; ', '、')}），没有法律法规规定，"
                    "予以取消",
                    fix="改为写明法律法规的《名称》和条款，或删除该材料",
                    verdict="cancel",
                )
            elif self._proof_without_law(ctx, m):
                docs = "; ".join(b.doc for b in m.legal_bases if not ctx.catalog.vague_in(b.doc))
                yield self.material_finding(
                    ctx,
                    m,
                    quoted=docs,
                    message=f"材料“{m.name}”是需申请人自行开具的证明，所列设定依据均为规范性文件"
                    f"（{docs.replace('; ', '、')}），"
                    "不是法律、法规或规章；没有法律法规规定的证明一律取消，予以取消",
                    fix="补充规定该证明的法律、法规或规章依据，或删除该证明（部门可改行告知承诺，或自行核查相关事实）",
                    verdict="cancel",
                )
            if not m.issuer_can_verify:
                issuer = f"{m.issuer}: " if m.issuer else ""
                yield self.material_finding(
                    ctx,
                    m,
                    quoted=f'{issuer}issuerCanVerify="false"',
                    message=f"材料“{m.name}”的开具单位（{m.issuer or '未写明'}）无法调查核实所证明的事项，予以取消",
                    fix="删除该材料，或改为申请人书面承诺（告知承诺），或由部门自行核查有关记录",
                    verdict="cancel",
                )

    @staticmethod
    def _proof_without_law(ctx: BundleContext, m: Material) -> bool:
        if m.source == "government" or "证明" not in ctx.catalog.normalizer.clean(m.name):
            return False
        bases = [b for b in m.legal_bases if not ctx.catalog.vague_in(b.doc)]
        return bool(bases) and all(ctx.level_of(b) == "normative_doc" for b in bases)
