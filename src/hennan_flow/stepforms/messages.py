"""What an applicant reads when a submission is refused: Chinese, naming the field and the rule.

One sentence per field error, the same at the field and in the error summary (the field's `title` is
in it: "请填写企业名称", "注册资本应为数字", "成立日期的日期格式应为 YYYY-MM-DD"). A message never
quotes the submitted value (it may be a 身份证号, or 100 MB long) and never carries jsonschema's English;
it is at most `MAX_MESSAGE` characters. A designer may word the message of one rule of one field with
`"x-hf-messages": {"pattern": "请填写18位公民身份号码"}` on that field's schema.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["MAX_LABEL", "MAX_MESSAGE", "label_of", "message_for", "short"]

MAX_LABEL = 40
MAX_MESSAGE = 200
FORM = "表单"

_TYPE = {
    "string": "文字",
    "integer": "整数",
    "number": "数字",
    "boolean": "“是”或“否”",
    "array": "列表",
    "object": "一组信息",
    "null": "空值",
}
_FORMAT = {
    "date": "日期格式应为 YYYY-MM-DD",
    "date-time": "时间格式应为 YYYY-MM-DDTHH:MM:SS（北京时间）",
    "time": "时间格式应为 HH:MM:SS",
    "email": "应为电子邮箱地址",
    "idn-email": "应为电子邮箱地址",
    "uri": "应为以 http:// 或 https:// 开头的网址",
    "iri": "应为以 http:// 或 https:// 开头的网址",
    "ipv4": "应为 IPv4 地址",
    "ipv6": "应为 IPv6 地址",
    "uuid": "应为 UUID",
    "regex": "应为正则表达式",
}


def short(text: object, limit: int = MAX_LABEL) -> str:
    """Designer or applicant text cut to `limit` characters (one line)."""
    shown = " ".join(str(text).split())
    return shown if len(shown) <= limit else shown[: limit - 1] + "…"


def label_of(steps: Sequence[tuple[str | int, str | None]]) -> str:
    """The field's name for a person, from the titles along its pointer: "家庭成员第 1 项的姓名"."""
    label = ""
    for segment, title in steps:
        if isinstance(segment, int):
            label += f"第 {segment + 1} 项"
            continue
        name = short(title or segment)
        label = f"{label}的{name}" if label else name
    return short(label or FORM, 2 * MAX_LABEL)


def _number(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return short(value, 30)


def _is_choice_list(members: Any) -> bool:
    return (
        isinstance(members, list)
        and bool(members)
        and all(isinstance(m, Mapping) and "const" in m for m in members)
    )


def message_for(
    keyword: str | None,
    value: Any,
    label: str,
    *,
    node: Mapping[str, Any] | None = None,
    key: str | None = None,
    parent: str | None = None,
) -> str:
    """The message for one refused rule (`keyword` with its schema `value`) of the field `label`.

    `node` is the field's schema (for `x-hf-messages`); `key` is an unknown field's name and `parent` the
    label of the object holding it.
    """
    custom = (node or {}).get("x-hf-messages")
    if isinstance(custom, Mapping) and isinstance(custom.get(keyword or "false"), str):
        return short(custom[keyword or "false"], MAX_MESSAGE)
    return short(_standard(keyword, value, label, key=key, parent=parent), MAX_MESSAGE)


def _standard(keyword: str | None, value: Any, label: str, *, key: str | None, parent: str | None) -> str:
    if keyword in {"required", "dependentRequired"}:
        return f"请填写{label}"
    if keyword in {"additionalProperties", "unevaluatedProperties"}:
        if key is None:
            return f"{label}中有本表单没有的项"
        if parent in {None, FORM}:
            return f"“{short(key)}”不是本表单的字段"
        return f"{parent}中没有“{short(key)}”这一项"
    if keyword is None or keyword == "false":
        return f"不应填写{label}"
    if keyword == "type":
        kinds = value if isinstance(value, list) else [value]
        return f"{label}应为" + "或".join(_TYPE.get(str(k), str(k)) for k in kinds)
    if keyword == "format":
        return f"{label}" + ("的" if value == "date" else "") + _FORMAT.get(str(value), "格式不正确")
    return _bounds(keyword, value, label)


def _bounds(keyword: str, value: Any, label: str) -> str:
    texts = {
        "pattern": f"{label}格式不正确",
        "minimum": f"{label}不能小于 {_number(value)}",
        "maximum": f"{label}不能大于 {_number(value)}",
        "exclusiveMinimum": f"{label}应大于 {_number(value)}",
        "exclusiveMaximum": f"{label}应小于 {_number(value)}",
        "multipleOf": f"{label}应为 {_number(value)} 的整数倍",
        "maxLength": f"{label}最多填写 {_number(value)} 个字",
        "minItems": f"{label}至少选择 {_number(value)} 项",
        "maxItems": f"{label}最多选择 {_number(value)} 项",
        "uniqueItems": f"{label}中有重复的项",
        "contains": f"{label}缺少应有的项",
        "minProperties": f"{label}至少填写 {_number(value)} 项",
        "maxProperties": f"{label}最多填写 {_number(value)} 项",
        "enum": f"请从所列选项中选择{label}",
    }
    if keyword == "minLength":
        return f"请填写{label}" if value == 1 else f"{label}至少填写 {_number(value)} 个字"
    if keyword == "const":
        if value is True:
            return f"请勾选{label}"
        shown = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
        return f"{label}应为“{short(shown, 30)}”"
    if keyword in {"oneOf", "anyOf"} and _is_choice_list(value):
        return f"请从所列选项中选择{label}"
    return texts.get(keyword, f"{label}不符合填写要求")
