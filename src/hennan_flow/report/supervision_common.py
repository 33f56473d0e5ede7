"""Wording and number formats shared by the supervision report's text and HTML renderers."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from ..supervision.figures import Figures, Rate, SupervisionReport, Workdays

if TYPE_CHECKING:
    from ..supervision.figures import ReviewSummary

__all__ = [
    "CASE_STATES",
    "COLORS",
    "OUTCOMES",
    "REASONS",
    "RECORD_STATES",
    "RECT_STATES",
    "deadline",
    "department_label",
    "instant",
    "issued_day",
    "num",
    "percent",
    "period_text",
    "rate_counts",
    "rate_text",
    "records_text",
    "reviews_text",
    "share",
    "workdays_text",
]

REASONS: dict[str, str] = {"supplement": "补正", "special_procedure": "特别程序", "suspended": "挂起"}
OUTCOMES: dict[str, str] = {
    "on_time": "按时",
    "late": "超时",
    "overdue_open": "在办已超期",
    "open_not_due": "在办未到期",
    "not_judged": "无此时限",
    "cancelled": "已取消",
}
RECORD_STATES: dict[str, str] = {
    "open": "待核查",
    "verifying": "核查中",
    "rectifying": "整改中",
    "reviewing": "上级复核中",
    "revisiting": "回访中",
    "closed": "已办结",
}
CASE_STATES: dict[str, str] = {
    "open": "办理中",
    "completed": "已办结",
    "terminated": "已终止",
    "withdrawn": "已撤回",
    "error": "出错",
}
RECT_STATES: dict[str, str] = {
    "verifying": "核实中",
    "rectifying": "整改中",
    "feedback": "待反馈",
    "closed": "已办结",
}
COLORS: dict[str, str] = {"yellow": "黄牌", "red": "红牌"}


def _judged(rate: Rate) -> int:
    """The steps (or cases) in the rate: on time, late, or open past due."""
    return rate["on_time"] + rate["late"] + rate["overdue_open"]


def percent(rate: Rate) -> str:
    """The on-time share from the counts (one decimal), or a dash when nothing was judged."""
    judged = _judged(rate)
    if not judged:
        return "—"
    return f"{100 * rate['on_time'] / judged:.1f}%"


def rate_counts(rate: Rate) -> str:
    return f"{rate['on_time']}/{_judged(rate)}"


def rate_text(rate: Rate) -> str:
    head = (
        "—（尚无可评判的环节）"
        if not _judged(rate)
        else f"按时率 {percent(rate)}（按时 {rate_counts(rate)}）"
    )
    return (
        f"{head}；超时 {rate['late']}，在办已超期 {rate['overdue_open']}；不计入：在办未到期 "
        f"{rate['open_not_due']}，无此时限 {rate['not_judged']}"
    )


def num(value: float | int | None) -> str:
    if value is None:
        return "—"
    return f"{value:g}"


def workdays_text(w: Workdays, what: str = "已办结环节") -> str:
    if not w["measured"]:
        return f"—（没有可计入的{what}）"
    return (
        f"实际用时 平均 {num(w['used_mean'])}，90分位 {num(w['used_p90'])}；承诺时限 平均 "
        f"{num(w['promised_mean'])}，90分位 {num(w['promised_p90'])}（计入{what} {w['measured']} 个）"
    )


def records_text(f: Figures) -> str:
    r = f["records"]
    s = r["states"]
    oldest = f"（最久 {r['oldest_open_age']} 个工作日）" if r["oldest_open_age"] is not None else ""
    # every state of a record (DESIGN §9), as the JSON and HTML reports show them: the five open
    # ones, then the closed
    states = "，".join(
        f"{name} {s.get(state, 0)}" for state, name in RECORD_STATES.items() if state != "closed"
    )
    return f"未办结 {r['open']}{oldest}：{states}；{RECORD_STATES['closed']} {r['closed']}"


def _parse(text: str) -> datetime:
    return datetime.fromisoformat(text)


def instant(text: str | None) -> str:
    """A local ISO instant as `YYYY-MM-DD HH:MM`."""
    if text is None:
        return "—"
    return _parse(text).strftime("%Y-%m-%d %H:%M")


def deadline(text: str | None) -> str:
    """A deadline; one at local midnight is shown as 24:00 of the day before (the end of that day)."""
    if text is None:
        return "—"
    value = _parse(text)
    if (value.hour, value.minute, value.second, value.microsecond) == (0, 0, 0, 0):
        return (value - timedelta(days=1)).strftime("%Y-%m-%d") + " 24:00"
    return value.strftime("%Y-%m-%d %H:%M")


def issued_day(text: str | None) -> str:
    """The day a card was issued for (its deadline's day)."""
    if text is None:
        return "—"
    return deadline(text)[:10]


def department_label(code: str | None, name: str | None) -> str:
    if code is None:
        return "（无部门）"
    return f"{name}（{code}）" if name else code


def period_text(report: SupervisionReport) -> str:
    p = report["period"]
    if p["from"] is None and p["to"] is None:
        span = "全部日期"
    elif p["from"] is None:
        span = f"截至 {p['to']}"
    elif p["to"] is None:
        span = f"{p['from']} 起"
    else:
        span = f"{p['from']} 至 {p['to']}"
    zone = "北京时间" if p["timezone"] == "Asia/Shanghai" else p["timezone"]
    return f"{span}（办理环节按受理日期、案件按受理日期、红黄牌按亮牌所属日期；{zone}）"


def share(value: float | None) -> str:
    """A rate of the 好差评 section (0–1, 4 decimals) as a percentage, or a dash."""
    return "—" if value is None else f"{value:.2%}"


def reviews_text(doc: ReviewSummary) -> list[str]:
    """The 好差评 figures in two lines (`review summary`, the report's text)."""
    f = doc["rectifications"]
    return [
        f"评价 {doc['reviews']}，满意率 {share(doc['satisfaction_rate'])}，差评 {doc['bad']}",
        f"差评整改：已办结 {f['closed']}（按时 {f['on_time']}，超时 {f['late']}），"
        f"未办结 {f['open']}（已超期 {f['overdue_open']}）；按时整改率 {share(doc['rectified_on_time_rate'])}",
    ]
