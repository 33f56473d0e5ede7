"""The 12345 hotline section of the supervision report (三率, 退单, 重办 per 承办单位), text and HTML.

Its own module and template (`supervision_hotline.html.j2`, included by the report's page) so that
the section stays apart from the rest of the report. Labels are Chinese (county users read them).
"""

from __future__ import annotations

from ..supervision.figures import HotlineFigures, UnitFigures

__all__ = ["hotline_rate", "hotline_text"]


def hotline_rate(value: float | None) -> str:
    """A rate as a percentage with one decimal, or a dash when nothing was judged."""
    return "—" if value is None else f"{100 * value:.1f}%"


def _unit_line(u: UnitFigures, label: str) -> str:
    return (
        f"  {label}：工单 {u['orders']}；响应率 {hotline_rate(u['response_rate'])}"
        f"（按时签收 {u['signed_on_time']}/{u['sign_ins']}）；解决率 {hotline_rate(u['resolution_rate'])}"
        f"（{u['resolved']}/{u['revisits']}）；满意率 {hotline_rate(u['satisfaction_rate'])}"
        f"（{u['satisfied']}/{u['revisits']}）；退单 {u['returns']}；重办 {u['reworks']}"
    )


def hotline_text(h: HotlineFigures | None) -> list[str]:
    """The section's lines for the text report (none without hotline orders in the period)."""
    if h is None:
        return []
    out = ["", f"12345热线工单（{h['bundle']}）：本期受理 {h['orders']} 件", _unit_line(h["totals"], "合计")]
    for u in h["units"]:
        out.append(_unit_line(u, f"{u['name'] or u['code']}（{u['code']}）"))
    return out
