"""The audit's Chinese wording shared by its rules and every report (text, HTML, JSON, SARIF, CLI).

Machine values stay as they are (severity codes, verdict codes, rule ids, element ids): these maps
and helpers turn them into the words a county's process designers and auditors read.
"""

from __future__ import annotations

from datetime import date

__all__ = [
    "SEVERITY_NAMES",
    "UNIT_NAMES",
    "VERDICT_NAMES",
    "counts_text",
    "day",
    "span",
]

SEVERITY_NAMES: dict[str, str] = {"error": "错误", "warning": "警告", "note": "提示"}
# what becomes of a material, as the checklist reader says it
VERDICT_NAMES: dict[str, str] = {
    "keep": "需携带",
    "cancel": "取消",
    "exempt": "免交",
    "generated": "内部生成",
    "online_form": "在线填报",
}
UNIT_NAMES: dict[str, str] = {"workday": "个工作日", "natural_day": "个自然日", "hour": "小时"}


def day(value: date) -> str:
    """A date as a county document writes it: 2022年7月25日."""
    return f"{value.year}年{value.month}月{value.day}日"


def span(count: int | None, unit: str) -> str:
    """A time limit: "3 个工作日", "10 个自然日", "4 小时" (an unknown unit is kept as written); "未设定"
    for none."""
    return "未设定" if count is None else f"{count} {UNIT_NAMES.get(unit, unit)}"


def counts_text(errors: int, warnings: int, notes: int) -> str:
    """The findings by severity: 错误 0 项、警告 1 项、提示 3 项."""
    return f"错误 {errors} 项、警告 {warnings} 项、提示 {notes} 项"
