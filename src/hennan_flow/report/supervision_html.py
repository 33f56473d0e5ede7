"""The supervision report as one self-contained HTML page (Jinja2): tables, SVG charts, print CSS.

Nothing is fetched when the page is viewed: no script, no external style, font or image. Every chart
is an inline SVG with a title and a description, followed by a data table with the same figures.
"""

from __future__ import annotations

from datetime import datetime
from functools import cache
from typing import Any

from jinja2 import Template
from markupsafe import Markup

from ..services.reviews import LEVELS
from ..supervision.figures import SupervisionReport
from .charts import GanttRow, RateRow, gantt_chart, month_cards_chart, rate_chart
from .supervision_common import (
    OUTCOMES,
    REASONS,
    deadline,
    department_label,
    instant,
    issued_day,
    num,
    percent,
    period_text,
    rate_counts,
    share,
)
from .supervision_hotline import hotline_rate
from .templating import environment

__all__ = ["render_html"]

TEMPLATE = "supervision.html.j2"


@cache
def _template() -> Template:
    env = environment()
    env.filters.update(
        percent=percent,
        rate_counts=rate_counts,
        num=num,
        instant=instant,
        deadline=deadline,
        issued_day=issued_day,
        share=share,
        hotline_rate=hotline_rate,
    )
    env.globals.update(REASONS=REASONS, OUTCOMES=OUTCOMES, LEVELS=LEVELS, department_label=department_label)
    return env.get_template(TEMPLATE)


def _when(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


def _charts(report: SupervisionReport) -> dict[str, Markup | None]:
    rates = [
        RateRow(
            label=department_label(d["code"], d["name"])
            + ("" if d.get("accountable", True) else " (service environment)"),
            series=tuple(
                (kind, rate["rate"], f"{kind} {percent(rate)} ({rate_counts(rate)})")
                for kind, rate in (("promised", d["figures"]["promised"]), ("legal", d["figures"]["legal"]))
            ),
        )
        for d in report["departments"]
        if d["figures"]["steps"]["accepted"]
    ]
    out: dict[str, Markup | None] = {"rates": None, "months": None, "timeline": None}
    if rates:
        described = "; ".join(f"{r.label}: {r.series[0][2]}, {r.series[1][2]}" for r in rates)
        out["rates"] = rate_chart(
            "chart-rates",
            title="On-time rate per department, against the promised and the legal limit",
            desc=f"Horizontal bars from 0 to 100 per cent. {described}.",
            rows=rates,
        )
    months = report["cards_by_month"]
    if months:
        described = "; ".join(f"{m['month']}: {m['yellow']} yellow, {m['red']} red" for m in months)
        out["months"] = month_cards_chart(
            "chart-months",
            title="Cards per month by colour (yellow at the bottom, red on top)",
            desc=f"Stacked bars, one per month. {described}.",
            months=[(m["month"], m["yellow"], m["red"]) for m in months],
        )
    t = report["timeline"]
    now = _when(report["generated_at"])
    if t is not None and t["steps"] and now is not None:
        rows = []
        for s in t["steps"]:
            start = _when(s["accepted_at"])
            if start is None:
                continue
            rows.append(
                GanttRow(
                    label=f"{s['name']} ({s['step']})",
                    start=start,
                    end=_when(s["ended_at"]),
                    promised_due=_when(s["promised_due"]),
                    legal_due=_when(s["legal_due"]),
                    late=s["promised"] in {"late", "overdue_open"},
                    note=f"promised: {OUTCOMES[s['promised']]}; legal: {OUTCOMES[s['legal']]}",
                    pauses=tuple((p0, _when(p["end"])) for p in s["pauses"] if (p0 := _when(p["start"]))),
                )
            )
        described = "; ".join(
            f"{s['name']}: accepted {instant(s['accepted_at'])}, ended {instant(s['ended_at'])}, promised by "
            f"{deadline(s['promised_due'])} ({OUTCOMES[s['promised']]}), legal by {deadline(s['legal_due'])} "
            f"({OUTCOMES[s['legal']]})"
            for s in t["steps"]
        )
        out["timeline"] = gantt_chart(
            "chart-timeline",
            title=f"Steps of case {t['case']} against their deadlines",
            desc=f"One bar per step from acceptance to its end; deadlines as ticks. {described}.",
            rows=rows,
            now=now,
        )
    return out


def render_html(report: SupervisionReport, *, title: str = "红黄牌 supervision report") -> str:
    """The report as one HTML page: no scripts, nothing fetched, readable printed and without colour."""
    template = _template()
    context: dict[str, Any] = {
        "report": report,
        "title": title,
        "period": period_text(report),
        "charts": _charts(report),
    }
    return template.render(**context)
