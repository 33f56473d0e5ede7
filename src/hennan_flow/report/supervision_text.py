"""The supervision report as plain text (terminal): one block of figures per group, then cards and records."""

from __future__ import annotations

from ..services.reviews import LEVELS
from ..supervision.figures import CaseFigures, Figures, SupervisionReport
from .supervision_common import (
    OUTCOMES,
    REASONS,
    deadline,
    department_label,
    instant,
    issued_day,
    period_text,
    rate_text,
    records_text,
    reviews_text,
    workdays_text,
)
from .supervision_hotline import hotline_text

__all__ = ["render_text"]

_W = 20  # width of the figure names


def _line(name: str, value: str) -> str:
    return f"  {name:<{_W}}{value}"


def _figures(f: Figures) -> list[str]:
    s = f["steps"]
    c = f["cards"]
    paused = ", ".join(
        f"{REASONS.get(reason, reason)} {p['pauses']} ({p['workdays']} wd)"
        for reason, p in f["paused"].items()
    )
    return [
        _line(
            "steps accepted",
            f"{s['accepted']} ({s['completed']} completed, {s['open']} open, {s['cancelled']} cancelled)",
        ),
        _line("promised limit", rate_text(f["promised"])),
        _line("legal limit", rate_text(f["legal"])),
        _line("working days", workdays_text(f["workdays"])),
        _line(
            "cards", f"{c['yellow']} yellow, {c['red']} red ({c['dismissed']} dismissed as 不属实/系统误报)"
        ),
        _line("records", records_text(f)),
        _line("paused", paused),
        _line("extensions", f"{f['extensions']['count']} ({f['extensions']['workdays']} wd)"),
    ]


def _cases(c: CaseFigures) -> list[str]:
    n = c["cases"]
    return [
        _line(
            "whole cases",
            f"{n['started']} started ({n['completed']} completed, {n['open']} open, {n['terminated']} terminated, "
            f"{n['refused']} refused, {n['withdrawn']} withdrawn)",
        ),
        _line("case promised", rate_text(c["promised"])),
        _line("case legal", rate_text(c["legal"])),
        _line("case working days", workdays_text(c["workdays"], "completed cases")),
    ]


def render_text(report: SupervisionReport) -> str:
    """The report as text, ending in a newline."""
    out = [
        "红黄牌 supervision report",
        f"As of {instant(report['generated_at'])} (Asia/Shanghai), calendar {report['calendar']}",
        f"Period: {period_text(report)}",
        f"Department: {report['department'] or 'all'}",
    ]
    if report.get("provisional"):
        years = ", ".join(str(y) for y in report.get("provisional_years", []))
        out.append(f"Provisional calendar years: {years} (built from the statutory holiday list)")
    if report["empty"]:
        where = f" in department {report['department']}" if report["department"] else ""
        out += ["", f"No steps were accepted in this period{where}."]
    else:
        out += ["", "All steps", *_figures(report["totals"])]
    for d in report["departments"]:
        title = (
            "Department" if d.get("accountable", True) else "Service environment (not accountable, no cards)"
        )
        out += ["", f"{title} {department_label(d['code'], d['name'])}", *_figures(d["figures"])]
    for b in report["bundles"]:
        extra = ", ".join(x for x in (b["code"], f"lead {b['lead']}" if b["lead"] else None) if x)
        title = (
            f"Bundle {b['key']}" + (f" {b['name']}" if b["name"] else "") + (f" ({extra})" if extra else "")
        )
        out += ["", title, *_figures(b["figures"])]
        if b["cases"] is not None:
            out += _cases(b["cases"])
    if report["cards_by_month"]:
        out += ["", "Cards by month (by the day issued for)"]
        out += [
            f"  {m['month']}  {m['yellow']:>4} yellow  {m['red']:>4} red" for m in report["cards_by_month"]
        ]
    if report["open_records"]:
        out += ["", "Open supervision records (not closed), oldest first"]
        for r in report["open_records"]:
            age = f"{r['age_workdays']} wd" if r["age_workdays"] is not None else "— wd"
            where = r["step"] or "(case)"
            out.append(
                f"  {issued_day(r['issued_at'])}  {age:>6}  {r['color']:<6}  {r['state']:<10}  "
                f"{r['department'] or '—':<8}  {r['bundle'] or '—'}  {where}  card {r['card']}"
            )
    t = report["timeline"]
    if t is not None:
        out += [
            "",
            f"Timeline of case {t['case']} ({t['bundle']}"
            + (f" {t['bundle_name']}" if t["bundle_name"] else "")
            + f"), {t['state']}",
            _line(
                "case",
                f"started {instant(t['started_at'])}, ended {instant(t['ended_at'])}; promised by "
                f"{deadline(t['promised_due'])}, legal by {deadline(t['legal_due'])}",
            ),
        ]
        for s in t["steps"]:
            pauses = "".join(
                f"; paused ({REASONS.get(p['reason'], p['reason'])}) {instant(p['start'])} – {instant(p['end'])}"
                for p in s["pauses"]
            )
            out.append(
                _line(
                    s["step"],
                    f"{s['department'] or '—'}: accepted {instant(s['accepted_at'])}, ended {instant(s['ended_at'])}; "
                    f"promised by {deadline(s['promised_due'])}: {OUTCOMES[s['promised']]}; "
                    f"legal by {deadline(s['legal_due'])}: {OUTCOMES[s['legal']]}{pauses}",
                )
            )
    reviews = report["reviews"]
    if reviews is not None:
        out += ["", "Reviews 好差评 (by the day given)", *(f"  {line}" for line in reviews_text(reviews))]
        levels = ", ".join(f"{level} {LEVELS[int(level)]} {n}" for level, n in reviews["by_level"].items())
        out.append(f"  by level: {levels}")
        for bad in reviews["bad_reviews"]:
            out.append(
                f"  {instant(bad['at'])}  level {bad['level']}  {bad['department'] or '—':<8}  {bad['step'] or '(case)'}  "
                f"{bad['state'] or 'no record'}, due {deadline(bad['due'])}  review {bad['review']}"
            )
    out += hotline_text(report.get("hotline"))
    return "\n".join(out) + "\n"
