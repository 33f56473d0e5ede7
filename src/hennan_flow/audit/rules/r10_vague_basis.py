"""R10: cancel a material whose legal basis is itself vague (有关规定, 相关文件…)."""

from __future__ import annotations

from collections.abc import Iterator

from ..finding import Finding
from ..registry import BaseRule, BundleContext

__all__ = ["VagueBasisRule"]


class VagueBasisRule(BaseRule):
    """Cancel a material whose `hf:legalBasis` is itself vague (有关规定, 相关文件, 有关文件…).

    The vague wording counts only outside a 《title》: `doc="《国务院关于…有关问题的通知》"` names a
    document; `doc="有关规定"` and `doc="《公司法》及相关规定"` do not name one (the latter's
    catch-all part is flagged). The catalogue's `[vague_basis]` lists the phrases.

    **Anti-pattern**: `<hf:legalBasis doc="国家有关规定" level="normative_doc"/>`。

    **Best practice**: `<hf:legalBasis doc="《中华人民共和国行政许可法》" article="第三十一条" level="law"/>`
    — 申请人可以查到的文件名称和条款。
    """

    id = "R10"
    name = "vague_basis"
    severity = "error"
    summary = "设定依据本身为模糊表述（有关规定、相关文件）的，不构成依据，材料予以取消。"
    source = "（一致性检查）"

    def check(self, ctx: BundleContext) -> Iterator[Finding]:
        for m in ctx.collected:
            for basis in m.legal_bases:
                word = ctx.catalog.vague_in(basis.doc)
                if word is None:
                    continue
                yield self.material_finding(
                    ctx,
                    m,
                    quoted=basis.doc,
                    message=f"材料“{m.name}”的设定依据“{basis.doc}”本身为模糊表述（“{word}”），予以取消",
                    fix="写明法律法规的《名称》和条款，例如 "
                    'doc="《中华人民共和国行政许可法》" article="第三十一条" level="law"',
                    verdict="cancel",
                    line=basis.line,
                )
