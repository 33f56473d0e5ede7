"""R11: a legal basis must cite a document in force, by an article it has, at its level."""

from __future__ import annotations

from collections.abc import Iterator

from ..finding import Finding
from ..legal import LEVEL_NAMES, article_numbers
from ..registry import BaseRule, BundleContext
from ..wording import day

__all__ = ["LegalCitationRule"]


class LegalCitationRule(BaseRule):
    """Check each `hf:legalBasis` against the packaged legal-basis catalogue (extendable by a county file).

    The catalogue lists laws and regulations with their level, number of articles, the date they are in
    force since and, once repealed, the date they were repealed on (`[[law]]` entries). A citation of a
    catalogued document whose article is beyond its article count, or of a document repealed on or
    before today, is an error: the material has no basis in force. A level that differs from the
    catalogue's is a warning (R1 reads the catalogue's level). An uncatalogued document is a note, so
    that the county can add it and have its citations checked. Vague bases are R10's and not repeated
    here. Verdicts are left alone.

    **Anti-pattern**: `<hf:legalBasis doc="《中华人民共和国行政许可法》" article="第九十九条" level="law"/>`
    — 该法共 83 条。

    **Best practice**: `<hf:legalBasis doc="《中华人民共和国行政许可法》" article="第三十一条" level="law"/>`
    — 目录收录的文件，文本中确有的条款。
    """

    id = "R11"
    name = "legal_citation"
    severity = "error"
    summary = "引用已废止文件或超出条款数的条款，为错误；效力层级不符，为警告；未列入目录的文件，为提示。"
    source = "（一致性检查）"

    def check(self, ctx: BundleContext) -> Iterator[Finding]:
        catalog = ctx.catalog
        for m in ctx.collected:
            for basis in m.legal_bases:
                if catalog.vague_in(basis.doc):
                    continue
                quoted = basis.doc + (f" {basis.article}" if basis.article else "")
                law = catalog.law_for(basis.doc)
                if law is None:
                    yield self.material_finding(
                        ctx,
                        m,
                        quoted=basis.doc,
                        message=f"材料“{m.name}”的设定依据“{basis.doc}”未列入法律依据目录，未核对其条款数、"
                        "效力层级和施行、废止日期",
                        fix="对照公布的文本核对引用，并将该文件补入县级目录"
                        '（[[law]] title = "…" level = "…" articles = N since = YYYY-MM-DD）',
                        verdict=None,
                        severity="note",
                        line=basis.line,
                    )
                    continue
                if law.repealed_by(ctx.today):
                    assert law.repealed is not None
                    yield self.material_finding(
                        ctx,
                        m,
                        quoted=quoted,
                        message=f"材料“{m.name}”引用的《{law.title}》已于{day(law.repealed)}废止，不是现行有效的依据",
                        fix="改为引用取代它的现行文件，或删除该材料",
                        verdict=None,
                        line=basis.line,
                    )
                beyond = [n for n in article_numbers(basis.article) if law.articles and n > law.articles]
                if beyond:
                    yield self.material_finding(
                        ctx,
                        m,
                        quoted=quoted,
                        message=f"《{law.title}》共 {law.articles} 条，材料“{m.name}”引用的{basis.article}并不存在",
                        fix=f"引用规定该材料的条款（现行文本第一条至第{law.articles}条）",
                        verdict=None,
                        line=basis.line,
                    )
                if basis.level != law.level:
                    yield self.material_finding(
                        ctx,
                        m,
                        quoted=f'level="{basis.level}"',
                        message=f"《{law.title}》在目录中的效力层级为 {law.level}"
                        f"（{LEVEL_NAMES.get(law.level, law.level)}），但材料“{m.name}”的引用写为 "
                        f'level="{basis.level}"',
                        fix=f'改为 level="{law.level}"',
                        verdict=None,
                        severity="warning",
                        line=basis.line,
                    )
