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
from ..supervision.figures import Rate, SupervisionReport
from .charts import GanttRow, RateRow, gantt_chart, month_cards_chart, rate_chart
from .supervision_common import (
    CASE_STATES,
    OUTCOMES,
    REASONS,
    RECORD_STATES,
    RECT_STATES,
    deadline,
    department_label,
    instant,
    issued_day,
    num,
    percent,
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
        rate_counts=_counts,
        num=num,
        instant=instant,
        deadline=deadline,
        issued_day=issued_day,
        share=share,
        hotline_rate=hotline_rate,
    )
    env.globals.update(
        REASONS=REASONS,
        OUTCOMES=OUTCOMES,
        LEVELS=LEVELS,
        STATES=RECORD_STATES,
        CASE_STATES=CASE_STATES,
        RECT_STATES=RECT_STATES,
        department_label=department_label,
    )
    return env.get_template(TEMPLATE)


def _period(report: SupervisionReport) -> str:
    p = report["period"]
    if p["from"] is None and p["to"] is None:
        span = "全部日期"
    elif p["from"] is None:
        span = f"截至 {p['to']}"
    elif p["to"] is None:
        span = f"{p['from']} 起"
    else:
        span = f"{p['from']} 至 {p['to']}"
    return f"{span}（环节按受理日期、案件按受理日期、红黄牌按亮牌所属日期；北京时间）"


def _label(code: str | None, name: str | None) -> str:
    """A department as a chart labels it: its name (the data table beside it gives the code)."""
    return name or code or "（无部门）"


def _counts(rate: Rate) -> str:
    """The counts behind a rate, as county staff say them: on time of judged."""
    return rate_counts(rate)


def _when(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


def _charts(report: SupervisionReport) -> dict[str, Markup | None]:
    rates = [
        RateRow(
            label=_label(d["code"], d["name"]) + ("" if d.get("accountable", True) else "（服务环境）"),
            series=tuple(
                (f"{word}时限", rate["rate"], f"{word} {percent(rate)}（{_counts(rate)}）")
                for word, rate in (("承诺", d["figures"]["promised"]), ("法定", d["figures"]["legal"]))
            ),
        )
        for d in report["departments"]
        if d["figures"]["steps"]["accepted"]
    ]
    out: dict[str, Markup | None] = {"rates": None, "months": None, "timeline": None}
    if rates:
        described = "；".join(f"{r.label}：{r.series[0][2]}，{r.series[1][2]}" for r in rates)
        out["rates"] = rate_chart(
            "chart-rates",
            title="各部门按时办结率（承诺时限与法定时限）",
            desc=f"横向条形图，0 至 100%。{described}。",
            rows=rates,
        )
    months = report["cards_by_month"]
    if months:
        described = "；".join(f"{m['month']}：黄牌 {m['yellow']} 张，红牌 {m['red']} 张" for m in months)
        out["months"] = month_cards_chart(
            "chart-months",
            title="每月红黄牌（黄牌在下，红牌在上）",
            desc=f"堆叠柱形图，每月一柱。{described}。",
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
                    label=s["name"] or s["step"],
                    start=start,
                    end=_when(s["ended_at"]),
                    promised_due=_when(s["promised_due"]),
                    legal_due=_when(s["legal_due"]),
                    late=s["promised"] in {"late", "overdue_open"},
                    note=f"承诺：{OUTCOMES[s['promised']]}；法定：{OUTCOMES[s['legal']]}",
                    pauses=tuple((p0, _when(p["end"])) for p in s["pauses"] if (p0 := _when(p["start"]))),
                )
            )
        described = "；".join(
            f"{s['name']}：受理 {instant(s['accepted_at'])}，办结 {instant(s['ended_at'])}，承诺时限 "
            f"{deadline(s['promised_due'])}（{OUTCOMES[s['promised']]}），法定时限 {deadline(s['legal_due'])}"
            f"（{OUTCOMES[s['legal']]}）"
            for s in t["steps"]
        )
        out["timeline"] = gantt_chart(
            "chart-timeline",
            title="该案件各环节与其时限",
            desc=f"每个环节一条，自受理至办结；时限以竖线标出。{described}。",
            rows=rows,
            now=now,
        )
    return out


def render_html(report: SupervisionReport, *, title: str = "红黄牌电子监察报告") -> str:
    """The report as one HTML page: no scripts, nothing fetched, readable printed and without colour."""
    template = _template()
    context: dict[str, Any] = {
        "report": report,
        "title": title,
        "period": _period(report),
        "charts": _charts(report),
    }
    return template.render(**context)
