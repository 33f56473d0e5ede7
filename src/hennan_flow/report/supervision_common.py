"""Wording and number formats shared by the supervision report's text and HTML renderers."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from ..supervision.figures import Figures, Rate, SupervisionReport, Workdays

if TYPE_CHECKING:
    from ..supervision.figures import ReviewSummary

__all__ = [
    "OUTCOMES",
    "REASONS",
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

REASONS: dict[str, str] = {
    "supplement": "supplement 补正",
    "special_procedure": "special procedure 特别程序",
    "suspended": "suspended 挂起",
}
OUTCOMES: dict[str, str] = {
    "on_time": "on time",
    "late": "late",
    "overdue_open": "open, past due",
    "open_not_due": "open, not yet due",
    "not_judged": "no deadline",
    "cancelled": "cancelled",
}


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
    return f"{rate['on_time']} of {_judged(rate)}"


def rate_text(rate: Rate) -> str:
    head = "— (nothing judged yet)" if not _judged(rate) else f"{percent(rate)} on time ({rate_counts(rate)})"
    return (
        f"{head}; {rate['late']} late, {rate['overdue_open']} open past due; not rated: "
        f"{rate['open_not_due']} open not yet due, {rate['not_judged']} without a deadline"
    )


def num(value: float | int | None) -> str:
    if value is None:
        return "—"
    return f"{value:g}"


def workdays_text(w: Workdays, what: str = "completed steps") -> str:
    if not w["measured"]:
        return f"— (no {what} measured)"
    return (
        f"used mean {num(w['used_mean'])}, p90 {num(w['used_p90'])} vs promised mean "
        f"{num(w['promised_mean'])}, p90 {num(w['promised_p90'])} ({w['measured']} {what} measured)"
    )


def records_text(f: Figures) -> str:
    r = f["records"]
    s = r["states"]
    oldest = f" (oldest {r['oldest_open_age']} working days)" if r["oldest_open_age"] is not None else ""
    return (
        f"{r['open']} open{oldest}: {s['open']} open, {s['verifying']} verifying 核查, "
        f"{s['rectifying']} rectifying 整改; {r['closed']} closed"
    )


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
        return "(no department)"
    return f"{name} ({code})" if name else code


def period_text(report: SupervisionReport) -> str:
    p = report["period"]
    if p["from"] is None and p["to"] is None:
        span = "all dates"
    elif p["from"] is None:
        span = f"up to {p['to']}"
    elif p["to"] is None:
        span = f"from {p['from']}"
    else:
        span = f"{p['from']} to {p['to']}"
    return f"{span} (steps by acceptance date, cases by start, cards by the day issued for; {p['timezone']})"


def share(value: float | None) -> str:
    """A rate of the 好差评 section (0–1, 4 decimals) as a percentage, or a dash."""
    return "—" if value is None else f"{value:.2%}"


def reviews_text(doc: ReviewSummary) -> list[str]:
    """The 好差评 figures in two lines (`review summary`, the report's text)."""
    f = doc["rectifications"]
    return [
        f"reviews {doc['reviews']}, satisfaction {share(doc['satisfaction_rate'])}, bad {doc['bad']}",
        f"rectifications: {f['closed']} closed ({f['on_time']} on time, {f['late']} late), "
        f"{f['open']} open ({f['overdue_open']} overdue); on time {share(doc['rectified_on_time_rate'])}",
    ]
