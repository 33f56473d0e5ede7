"""HTML audit report (Jinja2): summary, findings per step, before/after checklist; one self-contained page."""

from __future__ import annotations

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from .records import AuditRecords, findings_by_element

__all__ = ["render_html"]

TEMPLATE = "audit.html.j2"


def _environment() -> Environment:
    return Environment(
        loader=PackageLoader("hennan_flow", "templates"),
        autoescape=select_autoescape(enabled_extensions=("html", "j2"), default=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render_html(records: AuditRecords, *, title: str = "五个一律 material audit") -> str:
    """The report as one HTML page: no scripts, no external resources, readable without colour."""
    template = _environment().get_template(TEMPLATE)
    grouped = {(b["file"], b["key"]): findings_by_element(records, b) for b in records["bundles"]}
    return template.render(records=records, grouped=grouped, title=title)
