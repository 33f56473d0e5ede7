"""The limits every input is held to before anything stores it, the same on SQLite and PostgreSQL.

PostgreSQL refuses a 300-character actor (`varchar(255)`) where SQLite stores it; an integer over
the column range fails on one backend and not the other; text with a lone surrogate (bytes a GBK
terminal sent, decoded by Python with `surrogateescape`) fails when it is encoded for the database
or the screen. So lengths, ranges and text are checked here, once, with an `InputError` (exit 2)
naming the input: the CLI calls these for its arguments, and the engine for its API arguments.
"""

from __future__ import annotations

import json
import math
from typing import Any

from .errors import InputError

__all__ = [
    "MAX_DATA_BYTES",
    "MAX_DATA_DEPTH",
    "MAX_EXTENSION_DAYS",
    "MAX_ID",
    "MAX_NAME",
    "MAX_TEXT",
    "check_data",
    "check_document",
    "check_extension_days",
    "check_id",
    "check_name",
    "check_path",
    "check_text",
    "load_json",
    "printable",
]

MAX_NAME = 255  # actor, approver, signer: the varchar(255) columns
MAX_ID = 255  # case, task, card, record ids, bundle keys, department codes, material ids
MAX_TEXT = 4000  # notes, reasons, review text
MAX_EXTENSION_DAYS = 365  # working days one extension may add (延长审批)
MAX_DATA_BYTES = 1 << 20  # a --data / --applicant document
MAX_DATA_DEPTH = 32  # nesting of case and form data (objects and arrays)
MAX_INT_DIGITS = 18  # integers in data stay within a signed 64-bit column on every backend


def printable(value: str) -> str:
    """`value` as an error may quote it: its repr, short, with undecodable bytes shown as escapes."""
    shown = repr(value)
    return shown if len(shown) <= 60 else shown[:57] + "..."


def _text(value: str, what: str, limit: int) -> str:
    if not isinstance(value, str):
        raise InputError(f"{what} 须为文本，不能是 {type(value).__name__}")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InputError(
            f"{what} {printable(value)} 不是有效的 UTF-8 文本（第 {exc.start + 1} 个字符）",
            hint="把终端和文件都设为 UTF-8（如 LANG=zh_CN.UTF-8）后重新输入",
        ) from exc
    if len(value) > limit:
        raise InputError(f"{what} 长 {len(value):,} 个字符；最多 {limit:,} 个")
    return value


def check_name(value: str, what: str = "名称") -> str:
    """A person's or a role's name (actor, approver): UTF-8 text of at most MAX_NAME characters."""
    value = _text(value, what, MAX_NAME)
    if not value.strip():
        raise InputError(f"{what} 为空")
    return value


def check_id(value: str, what: str = "编号") -> str:
    """An id, key or code given to look something up: UTF-8 text of at most MAX_ID characters."""
    return _text(value, what, MAX_ID)


def check_text(value: str, what: str = "文字") -> str:
    """Free text (a note, a reason, a review): UTF-8 text of at most MAX_TEXT characters."""
    return _text(value, what, MAX_TEXT)


def check_document(value: str, what: str = "文档") -> str:
    """A JSON document given inline or as @FILE: UTF-8 text of at most MAX_DATA_BYTES characters."""
    return _text(value, what, MAX_DATA_BYTES)


def check_path(value: str, what: str = "路径") -> str:
    """A file or folder name: UTF-8 text of at most 4,096 characters (PATH_MAX)."""
    return _text(value, what, 4096)


def check_extension_days(days: int) -> int:
    """Working days of one extension: a whole number from 1 to MAX_EXTENSION_DAYS."""
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= MAX_EXTENSION_DAYS:
        raise InputError(
            f"一次延期须为 1 至 {MAX_EXTENSION_DAYS} 个工作日，收到 {printable(str(days))}",
            hint="如法律允许更长的延期，以后再次申请延期",
        )
    return days


def check_data(value: Any, what: str = "数据") -> Any:
    """Case or form data: nesting, integers and text that every backend and SpiffWorkflow can keep."""
    stack: list[tuple[Any, int, str]] = [(value, 0, "")]
    while stack:
        item, depth, pointer = stack.pop()
        if depth > MAX_DATA_DEPTH:
            raise InputError(f"{what} 嵌套超过 {MAX_DATA_DEPTH} 层（位置 {pointer or '/'}）")
        if isinstance(item, dict):
            for key, child in item.items():
                if not isinstance(key, str):
                    raise InputError(f"{what}：对象的键须为文本（位置 {pointer or '/'}）")
                _text(key, f"{what} 在 {pointer or '/'} 处的键", MAX_TEXT)
                stack.append((child, depth + 1, f"{pointer}/{key}"))
        elif isinstance(item, list):
            stack.extend((child, depth + 1, f"{pointer}/{i}") for i, child in enumerate(item))
        elif isinstance(item, str):
            _text(item, f"{what} 在 {pointer or '/'} 处的值", MAX_DATA_BYTES)
        elif isinstance(item, bool) or item is None:
            continue
        elif isinstance(item, int):
            if abs(item) >= 10**MAX_INT_DIGITS:
                raise InputError(
                    f"{what} 在 {pointer or '/'} 处的数字超过 {MAX_INT_DIGITS} 位",
                    hint="长数字（身份证号、账号）请以文本形式提交",
                )
        elif isinstance(item, float):
            if not math.isfinite(item):
                raise InputError(f"{what} 在 {pointer or '/'} 处的 {item} 不是 JSON 能表示的数")
        else:
            raise InputError(f"{what} 在 {pointer or '/'} 处的 {type(item).__name__} 不是 JSON 数据")
    return value


# the json module's reasons, in Chinese; any other is quoted as the module says it
_JSON_REASONS = {
    "Expecting value": "此处应为一个值",
    "Expecting ',' delimiter": "此处应为逗号 ','",
    "Expecting ':' delimiter": "此处应为冒号 ':'",
    "Expecting property name enclosed in double quotes": "此处应为双引号括起的键名",
    "Extra data": "JSON 之后还有多余的内容",
    "Unterminated string starting at": "字符串没有结束引号",
    "Invalid control character at": "有无效的控制字符",
    "Invalid \\escape": "有无效的转义",
    "Invalid \\uXXXX escape": "有无效的 \\uXXXX 转义",
    "Illegal trailing comma before end of object": "对象末尾多了逗号",
    "Illegal trailing comma before end of array": "数组末尾多了逗号",
}


class _NotJson(ValueError):
    """NaN, Infinity or -Infinity: Python's json reads them, JSON has no such values."""


def _no_constant(name: str) -> Any:
    raise _NotJson(f"{name} 不是 JSON 的值")


def load_json(text: str, what: str, *, option: str | None = None) -> Any:
    """`json.loads` that refuses what the standard library would let through or crash on."""
    option = option or what
    if len(text) > MAX_DATA_BYTES:
        raise InputError(f"{what} 有 {len(text):,} 个字符；最多读取 {MAX_DATA_BYTES:,} 个")
    try:
        parsed = json.loads(text, parse_constant=_no_constant)
    except json.JSONDecodeError as exc:
        raise InputError(
            f"{what} 不是有效的 JSON：{_JSON_REASONS.get(exc.msg, exc.msg)}（第 {exc.lineno} 行第 {exc.colno} 列）",
            hint=f'请提交一个 JSON 对象，如 {option} \'{{"name": "value"}}\' 或 {option} @file.json',
        ) from exc
    except RecursionError as exc:
        raise InputError(f"{what} 嵌套超过 {MAX_DATA_DEPTH} 层") from exc
    except _NotJson as exc:
        raise InputError(f"{what} 不是有效的 JSON：{exc}") from exc
    except ValueError as exc:  # an integer of more than 4,300 digits
        raise InputError(f"{what} 不是有效的 JSON：数字的位数过多") from exc
    return check_data(parsed, what)
