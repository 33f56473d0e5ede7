"""The 红牌通报 (`report bulletin`) as text, JSON (schemas/bulletin.schema.json) and one HTML page.

Everything a reader sees is in Chinese; the HTML page is self-contained (no script, no external
resource), wraps on a phone and prints. It shows only what `supervision.bulletin` put in the record.
"""

from __future__ import annotations

import json
from functools import cache

from jinja2 import Template

from ..supervision.bulletin import Bulletin, BulletinEntry
from .templating import environment

__all__ = ["SCHEMA", "STATE_WORDS", "TRIGGER_WORDS", "render_html", "render_json", "render_text"]

SCHEMA = "bulletin.schema.json"  # in hennan_flow/schemas
STATE_WORDS = {
    "open": "待核查",
    "verifying": "核查中",
    "rectifying": "整改中",
    "reviewing": "上级复核中",
    "revisiting": "回访中",
    "closed": "已办结",
}
TRIGGER_WORDS = {
    "legal_passed": "超过法定期限",
    "overdue_workdays": "超过承诺期限且逾期",
    "escalated": "黄牌督办逾期升级",
    "promised_passed": "超过承诺期限",
    "repeated_supplement": "多次补正（未一次告知）",
}


def _period(b: Bulletin) -> str:
    start, end = b["period"]["from"], b["period"]["to"]
    if start and end:
        return f"{start} 至 {end}"
    if start:
        return f"{start} 起"
    if end:
        return f"截至 {end}"
    return "全部"


def _what(e: BulletinEntry) -> str:
    if e["scope"] == "case":
        return f"{e['bundle_name'] or e['bundle'] or '-'}（整件事）"
    step = e["step_name"] or e["step"] or "-"
    return f"{e['bundle_name'] or e['bundle'] or '-'} · {step}"


def _over(e: BulletinEntry) -> str:
    return "-" if e["workdays_over"] is None else f"{e['workdays_over']} 个工作日"


def _measures(e: BulletinEntry) -> str:
    return "；".join(f"{m['person']}：{m['measure']}" for m in e["measures"]) or "-"


def render_json(b: Bulletin) -> str:
    return json.dumps(b, ensure_ascii=False, indent=2) + "\n"


def render_text(b: Bulletin) -> str:
    lines = [
        f"红牌通报（{_period(b)}）",
        f"共 {b['count']} 张红牌；生成于 {b['generated_at'][:16].replace('T', ' ')}",
    ]
    if not b["entries"]:
        lines.append("本期没有红牌。")
        return "\n".join(lines) + "\n"
    lines.append("")
    lines.append("按部门：")
    for d in b["departments"]:
        lines.append(
            f"  {d['department_name'] or d['department'] or '-'}：红牌 {d['red']} 张，已办结 {d['closed']} 张，"
            f"属实 {d['founded']} 张，责任追究 {d['measures']} 人次"
        )
    lines.append("")
    for n, e in enumerate(b["entries"], start=1):
        lines.append(f"{n}. {e['issued_for']}  {e['department_name'] or e['department'] or '-'}  {_what(e)}")
        lines.append(
            f"   事项编码 {e['item'] or '-'}；超期 {_over(e)}；亮牌原因 {TRIGGER_WORDS.get(e['trigger'], e['trigger'])}；"
            f"状态 {STATE_WORDS.get(e['state'], e['state'])}；结论 {e['conclusion'] or '-'}"
        )
        lines.append(f"   责任追究：{_measures(e)}")
    return "\n".join(lines) + "\n"


@cache
def _template() -> Template:
    return environment().get_template("bulletin.html.j2")


def render_html(b: Bulletin) -> str:
    return _template().render(
        b=b,
        period=_period(b),
        what=_what,
        over=_over,
        states=STATE_WORDS,
        triggers=TRIGGER_WORDS,
    )
