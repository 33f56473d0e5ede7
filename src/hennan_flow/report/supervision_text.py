"""The supervision report as plain text (terminal): one block of figures per group, then cards and records.

In Chinese (county staff read it), with the HTML report's terms; columns are padded by display width
(a CJK character takes two terminal columns).
"""

from __future__ import annotations

from wcwidth import wcswidth

from ..services.reviews import LEVELS
from ..supervision.figures import CaseFigures, Figures, SupervisionReport
from .supervision_common import (
    CASE_STATES,
    COLORS,
    OUTCOMES,
    REASONS,
    RECORD_STATES,
    RECT_STATES,
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

_W = 20  # display width of the figure names


def _width(text: str) -> int:
    shown = wcswidth(text)
    return shown if shown >= 0 else len(text)


def _pad(text: str, width: int) -> str:
    """`text` padded on the right to `width` terminal columns."""
    return text + " " * max(width - _width(text), 0)


def _rpad(text: str, width: int) -> str:
    """`text` padded on the left to `width` terminal columns."""
    return " " * max(width - _width(text), 0) + text


def _line(name: str, value: str) -> str:
    return f"  {_pad(name, _W)}{value}"


def _figures(f: Figures) -> list[str]:
    s = f["steps"]
    c = f["cards"]
    paused = "，".join(
        f"{REASONS.get(reason, reason)} {p['pauses']} 次（{p['workdays']} 个工作日）"
        for reason, p in f["paused"].items()
    )
    return [
        _line(
            "办理环节",
            f"受理 {s['accepted']}（办结 {s['completed']}，在办 {s['open']}，已取消 {s['cancelled']}）",
        ),
        _line("承诺时限", rate_text(f["promised"])),
        _line("法定时限", rate_text(f["legal"])),
        _line("用时（工作日）", workdays_text(f["workdays"])),
        _line("红黄牌", f"黄牌 {c['yellow']}，红牌 {c['red']}（以不属实或误报办结 {c['dismissed']}）"),
        _line("督办记录", records_text(f)),
        _line("暂停计时", paused),
        _line("延长审批", f"{f['extensions']['count']} 次（{f['extensions']['workdays']} 个工作日）"),
    ]


def _cases(c: CaseFigures) -> list[str]:
    n = c["cases"]
    return [
        _line(
            "整件案件",
            f"受理 {n['started']}（办结 {n['completed']}，在办 {n['open']}，已终止 {n['terminated']}，"
            f"不予受理 {n['refused']}，已撤回 {n['withdrawn']}）",
        ),
        _line("整件承诺时限", rate_text(c["promised"])),
        _line("整件法定时限", rate_text(c["legal"])),
        _line("整件用时（工作日）", workdays_text(c["workdays"], "已办结案件")),
    ]


def render_text(report: SupervisionReport) -> str:
    """The report as text, ending in a newline."""
    out = [
        "红黄牌督办报告",
        f"截至 {instant(report['generated_at'])}（北京时间），工作日历 {report['calendar']}",
        f"统计期间：{period_text(report)}",
        f"部门：{report['department'] or '全部'}",
    ]
    if report.get("provisional"):
        years = "、".join(str(y) for y in report.get("provisional_years", []))
        out.append(f"临时工作日历年份：{years}（按法定节假日名单推算）")
    if report["empty"]:
        where = f"部门 {report['department']} " if report["department"] else ""
        out += ["", f"本期间{where}没有受理的办理环节。"]
    else:
        out += ["", "全部环节", *_figures(report["totals"])]
    for d in report["departments"]:
        title = "部门" if d.get("accountable", True) else "服务环境（不计责任、不亮牌）"
        out += ["", f"{title} {department_label(d['code'], d['name'])}", *_figures(d["figures"])]
    for b in report["bundles"]:
        extra = "，".join(x for x in (b["code"], f"牵头部门 {b['lead']}" if b["lead"] else None) if x)
        title = (
            f"一件事 {b['key']}" + (f" {b['name']}" if b["name"] else "") + (f"（{extra}）" if extra else "")
        )
        out += ["", title, *_figures(b["figures"])]
        if b["cases"] is not None:
            out += _cases(b["cases"])
    if report["cards_by_month"]:
        out += ["", "每月红黄牌（按亮牌所属日期）"]
        out += [
            f"  {m['month']}  黄牌 {m['yellow']:>4}  红牌 {m['red']:>4}" for m in report["cards_by_month"]
        ]
    if report["open_records"]:
        out += ["", "未办结的督办记录，最久的在前（自亮牌所属日期起的工作日）"]
        for r in report["open_records"]:
            age = f"{r['age_workdays']} 个工作日" if r["age_workdays"] is not None else "— 个工作日"
            where = r["step"] or "（整件）"
            out.append(
                f"  {issued_day(r['issued_at'])}  {_rpad(age, 12)}  {_pad(COLORS.get(r['color'], r['color']), 4)}  "
                f"{_pad(RECORD_STATES.get(r['state'], r['state']), 10)}  "
                f"{_pad(r['department'] or '—', 8)}  {r['bundle'] or '—'}  {where}  牌 {r['card']}"
            )
    t = report["timeline"]
    if t is not None:
        out += [
            "",
            f"案件 {t['case']} 的办理时间线（{t['bundle']}"
            + (f" {t['bundle_name']}" if t["bundle_name"] else "")
            + f"），{CASE_STATES.get(t['state'], t['state'])}",
            _line(
                "整件",
                f"受理 {instant(t['started_at'])}，结束 {instant(t['ended_at'])}；承诺时限 "
                f"{deadline(t['promised_due'])}，法定时限 {deadline(t['legal_due'])}",
            ),
        ]
        for s in t["steps"]:
            pauses = "".join(
                f"；暂停计时（{REASONS.get(p['reason'], p['reason'])}）{instant(p['start'])} – {instant(p['end'])}"
                for p in s["pauses"]
            )
            out.append(
                _line(
                    s["step"],
                    f"{s['department'] or '—'}：受理 {instant(s['accepted_at'])}，结束 {instant(s['ended_at'])}；"
                    f"承诺时限 {deadline(s['promised_due'])}：{OUTCOMES[s['promised']]}；"
                    f"法定时限 {deadline(s['legal_due'])}：{OUTCOMES[s['legal']]}{pauses}",
                )
            )
    reviews = report["reviews"]
    if reviews is not None:
        out += ["", "好差评（按评价日期）", *(f"  {line}" for line in reviews_text(reviews))]
        levels = "，".join(f"{level} {LEVELS[int(level)]} {n}" for level, n in reviews["by_level"].items())
        out.append(f"  按等级：{levels}")
        for bad in reviews["bad_reviews"]:
            state = RECT_STATES.get(bad["state"], bad["state"]) if bad["state"] else "无整改记录"
            out.append(
                f"  {instant(bad['at'])}  {bad['level']} 级  {_pad(bad['department'] or '—', 8)}  "
                f"{bad['step'] or '（整件）'}  {state}，期限 {deadline(bad['due'])}  评价 {bad['review']}"
            )
    out += hotline_text(report.get("hotline"))
    return "\n".join(out) + "\n"
