"""Text output for people: Chinese names, local times to the second, durations in days and hours,
tables aligned by display width (a CJK character takes two terminal columns: wcwidth), and a
sentence where a list is empty. JSON output (`--format json`) is untouched by any of this."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from wcwidth import wcswidth

from ..clock.instants import SHANGHAI, as_utc

__all__ = [
    "EVENT_NAMES",
    "SCOPE_NAMES",
    "SIGNAL_NAMES",
    "STATE_NAMES",
    "TRIGGER_NAMES",
    "deadline_lines",
    "duration",
    "event_name",
    "table",
    "when",
]

# the timeline's event types, as a clerk says them
EVENT_NAMES: dict[str, str] = {
    "case.started": "受理",
    "case.completed": "办结",
    "case.terminated": "终止",
    "case.refused": "不予受理/不予许可",
    "case.withdrawn": "撤回申请",
    "case.error": "出错",
    "task.ready": "待办",
    "task.completed": "办理完成",
    "task.cancelled": "取消",
    "task.returned": "退回",
    "task.paused": "暂停计时",
    "task.resumed": "恢复计时",
    "task.extended": "延长期限",
    "task.claimed": "认领",
    "task.released": "退回队列",
    "task.assigned": "指派",
    "task.transferred": "转办",
    "message.delivered": "收到消息",
    "timer.fired": "定时触发",
    "signal.fired": "预警",
    "card.issued": "亮牌",
    "card.advanced": "督办记录更新",
    "card.accountability": "责任追究登记",
    "referral.closed": "移送结果登记",
    "deadline.recomputed": "期限重算",
    "calendar.loaded": "载入日历",
    "directory.loaded": "载入部门与人员目录",
    "definition.deployed": "部署流程",
    "commitment.signed": "签署告知承诺",
    "commitment.status_changed": "告知承诺状态变更",
    "commitment.verified": "告知承诺核查",
    "commitment.declined": "放弃告知承诺",
    "credit.recorded": "记入信用记录",
    "credit.repaired": "信用修复",
    "material.supplied": "补交材料",
    "licence.supplied": "补交证照",
    "licence.verified": "电子证照核验通过",
    "licence.unverified": "电子证照未核验",
    "licence.failed": "电子证照核验失败",
    "licence.not_found": "未查到电子证照",
    "licence.invalid": "电子证照无效",
    "licence.pending": "电子证照待核验",
    "supplement.required": "容缺受理，待补材料",
    "supplement.supplied": "容缺材料已补齐",
    "supplement.extended": "延长补交期限",
    "supplement.lapsed": "逾期未补交",
    "supplement.void": "容缺作废",
    "review.added": "评价",
    "review.rectification": "差评整改",
}
STATE_NAMES = {
    "ready": "待办",
    "paused": "暂停",
    "completed": "已办结",
    "cancelled": "已取消",
    "open": "办理中",
    "terminated": "已终止",
    "refused": "不予受理/不予许可",
    "withdrawn": "已撤回",
    "verifying": "核查中",
    "rectifying": "整改中",
    "reviewing": "上级复核中",
    "revisiting": "回访中",
    "closed": "已关闭",
    "feedback": "待反馈",
    "pending": "待发出",
    "fired": "已发出",
    "claimed": "发出中",
}
SIGNAL_NAMES = {
    "notice": "到期提醒",
    "yellow_light": "黄灯预警",
    "yellow": "黄牌",
    "red": "红牌",
    "yellow_card": "黄牌",
    "red_card": "红牌",
    "promised": "承诺期限",
    "legal": "法定期限",
    "record_overdue": "督办超期",
    "escalated": "黄牌逾期升级红牌",
}


TRIGGER_NAMES = {
    "notice_before": "到期前提醒",
    "yellow_light_at": "用时过半预警",
    "promised_passed": "超过承诺期限",
    "legal_passed": "超过法定期限",
    "overdue_workdays": "超过承诺期限且逾期",
    "escalated": "黄牌督办逾期升级",
    "repeated_supplement": "多次补正（未一次告知）",
    "supplement_missed": "容缺材料逾期未补交",
    "verify": "核查超期",
    "rectify": "整改超期",
    "review": "上级复核超期",
    "revisit": "回访超期",
}
SCOPE_NAMES = {"step": "环节", "case": "整件", "verify": "事后核查", "review": "差评整改"}


def event_name(kind: str) -> str:
    """The Chinese name of an event type; an unknown one keeps its type."""
    return EVENT_NAMES.get(kind, kind)


def when(value: datetime | str | None) -> str:
    """An instant as `YYYY-MM-DD HH:MM:SS` in Asia/Shanghai; "-" for none."""
    if value is None:
        return "-"
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            return value
        if parsed.tzinfo is None:
            return parsed.strftime("%Y-%m-%d %H:%M:%S")
        value = parsed
    return as_utc(value).astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M:%S")


def duration(seconds: float) -> str:
    """A duration as people say it: "1 天 2 小时", "3 小时 5 分", "45 秒"; two units at most."""
    total = round(abs(seconds))
    sign = "-" if seconds < 0 and total else ""
    if total == 0:
        return "0 秒"
    units = (("天", 86_400), ("小时", 3600), ("分", 60), ("秒", 1))
    parts: list[str] = []
    for name, size in units:
        count, total = divmod(total, size)
        if count and len(parts) < 2:
            parts.append(f"{count} {name}")
        elif parts:
            break  # "1 天 0 小时 5 分" says "1 天"
    return sign + " ".join(parts)


def _width(text: str) -> int:
    """Terminal columns of `text` (a CJK character counts two); its length where wcwidth cannot say."""
    shown = wcswidth(text)
    return shown if shown >= 0 else len(text)


def _pad(text: str, width: int) -> str:
    return text + " " * (width - _width(text))


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]], *, empty: str) -> str:
    """Columns aligned by their display width; `empty` (a sentence) when there are no rows."""
    if not rows:
        return empty
    cells = [[str(h) for h in headers]] + [
        ["-" if c is None or c == "" else str(c) for c in row] for row in rows
    ]
    widths = [max(_width(r[i]) for r in cells) for i in range(len(headers))]
    lines = ["  ".join(_pad(c, w) for c, w in zip(r, widths, strict=True)).rstrip() for r in cells]
    return "\n".join(lines)


def deadline_lines(deadlines: Mapping[str, Any] | None, *, running: bool = True) -> list[str]:
    """A deadline view as sentences: the due instants, what is pending, the signals and their state
    (working days left only while the case or step is `running`)."""
    if not deadlines:
        return []
    parts = []
    if deadlines.get("promised_due"):
        parts.append(f"承诺期限 {when(deadlines['promised_due'])}")
    if deadlines.get("legal_due"):
        parts.append(f"法定期限 {when(deadlines['legal_due'])}")
    left = deadlines.get("workdays_left")
    if isinstance(left, int) and running:
        parts.append(f"剩余 {left} 个工作日" if left >= 0 else f"已超期 {-left} 个工作日")
    pending = deadlines.get("pending")
    if pending:
        names = pending if isinstance(pending, list) else ["promised"]
        parts.append("待日历数据: " + "、".join(SIGNAL_NAMES.get(str(n), str(n)) for n in names))
    if deadlines.get("paused"):
        parts.append("计时暂停中")
    if deadlines.get("provisional"):
        parts.append("按暂定日历计算（国务院放假安排公布后重算）")
    lines = ["期限: " + "，".join(parts)] if parts else []
    signals = deadlines.get("signals") or []
    if signals:
        shown = [
            f"{SIGNAL_NAMES.get(str(s.get('name')), str(s.get('name')))} {when(s.get('at'))}"
            f"（{STATE_NAMES.get(str(s.get('state')), str(s.get('state')))}）"
            for s in signals
            if isinstance(s, Mapping)
        ]
        lines.append("预警: " + "；".join(shown))
    return lines
