"""R11: a legal basis must cite a document in force, by an article it has, at its level."""

from __future__ import annotations

from collections.abc import Iterator

from ..finding import Finding
from ..legal import LEVEL_NAMES, article_numbers
from ..registry import BaseRule, BundleContext

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
    — the law has 83 articles.

    **Best practice**: `<hf:legalBasis doc="《中华人民共和国行政许可法》" article="第三十一条" level="law"/>`
    — a title the catalogue knows and an article its text has.
    """

    id = "R11"
    name = "legal_citation"
    severity = "error"
    summary = (
        "A legal basis citing a repealed document or an article beyond its count is an error; a wrong "
        "level a warning; an uncatalogued document a note."
    )
    source = "(consistency)"

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
                        message=f"the legal basis “{basis.doc}” of “{m.name}” is not in the legal-basis catalogue, "
                        "so its articles, level and dates are not checked",
                        fix="check the citation against the published text, and add the document to a county "
                        'catalogue ([[law]] title = "…" level = "…" articles = N since = YYYY-MM-DD)',
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
                        message=f"“{law.title}”, cited for “{m.name}”, was repealed on {law.repealed.isoformat()}: "
                        "it is no basis in force",
                        fix="cite the document in force that replaced it, or remove the material",
                        verdict=None,
                        line=basis.line,
                    )
                beyond = [n for n in article_numbers(basis.article) if law.articles and n > law.articles]
                if beyond:
                    yield self.material_finding(
                        ctx,
                        m,
                        quoted=quoted,
                        message=f"“{law.title}” has {law.articles} articles, so {basis.article} cited for "
                        f"“{m.name}” does not exist",
                        fix=f"cite the article that requires the material (第一条 to 第{law.articles}条 of the "
                        "text in force)",
                        verdict=None,
                        line=basis.line,
                    )
                if basis.level != law.level:
                    yield self.material_finding(
                        ctx,
                        m,
                        quoted=f'level="{basis.level}"',
                        message=f"“{law.title}” is catalogued at level {law.level} "
                        f"({LEVEL_NAMES.get(law.level, law.level)}), but the citation for “{m.name}” says "
                        f'level="{basis.level}"',
                        fix=f'write level="{law.level}"',
                        verdict=None,
                        severity="warning",
                        line=basis.line,
                    )
