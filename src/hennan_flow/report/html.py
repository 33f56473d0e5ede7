"""HTML audit report (Jinja2), labelled in Chinese: summary, validate errors, the applicant's checklist per
scenario, findings per step, before/after tables; one self-contained page."""

from __future__ import annotations

from functools import cache

from jinja2 import Template

from ..audit.wording import SEVERITY_NAMES, VERDICT_NAMES
from .records import AuditRecords, findings_by_element
from .templating import environment

__all__ = ["render_html"]

TEMPLATE = "audit.html.j2"


@cache
def _template() -> Template:
    return environment().get_template(TEMPLATE)


def render_html(records: AuditRecords, *, title: str = "“五个一律”申请材料审查报告") -> str:
    """The report as one HTML page: no scripts, no external resources, readable without colour."""
    template = _template()
    grouped = {(b["file"], b["key"]): findings_by_element(records, b) for b in records["bundles"]}
    return template.render(
        records=records, grouped=grouped, title=title, SEV=SEVERITY_NAMES, VERDICT=VERDICT_NAMES
    )
