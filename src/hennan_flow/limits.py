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
        raise InputError(f"{what} must be text, not {type(value).__name__}")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InputError(
            f"{what} {printable(value)} is not valid UTF-8 text (character {exc.start + 1})",
            hint="set the terminal and the file to UTF-8 (e.g. LANG=zh_CN.UTF-8) and type it again",
        ) from exc
    if len(value) > limit:
        raise InputError(f"{what} is {len(value):,} characters long; at most {limit:,} are kept")
    return value


def check_name(value: str, what: str = "name") -> str:
    """A person's or a role's name (actor, approver): UTF-8 text of at most MAX_NAME characters."""
    value = _text(value, what, MAX_NAME)
    if not value.strip():
        raise InputError(f"{what} is empty")
    return value


def check_id(value: str, what: str = "id") -> str:
    """An id, key or code given to look something up: UTF-8 text of at most MAX_ID characters."""
    return _text(value, what, MAX_ID)


def check_text(value: str, what: str = "text") -> str:
    """Free text (a note, a reason, a review): UTF-8 text of at most MAX_TEXT characters."""
    return _text(value, what, MAX_TEXT)


def check_document(value: str, what: str = "document") -> str:
    """A JSON document given inline or as @FILE: UTF-8 text of at most MAX_DATA_BYTES characters."""
    return _text(value, what, MAX_DATA_BYTES)


def check_path(value: str, what: str = "path") -> str:
    """A file or folder name: UTF-8 text of at most 4,096 characters (PATH_MAX)."""
    return _text(value, what, 4096)


def check_extension_days(days: int) -> int:
    """Working days of one extension: a whole number from 1 to MAX_EXTENSION_DAYS."""
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= MAX_EXTENSION_DAYS:
        raise InputError(
            f"an extension adds 1 to {MAX_EXTENSION_DAYS} working days, not {printable(str(days))}",
            hint="extend again later if the law allows a longer extension",
        )
    return days


def check_data(value: Any, what: str = "data") -> Any:
    """Case or form data: nesting, integers and text that every backend and SpiffWorkflow can keep."""
    stack: list[tuple[Any, int, str]] = [(value, 0, "")]
    while stack:
        item, depth, pointer = stack.pop()
        if depth > MAX_DATA_DEPTH:
            raise InputError(f"{what} is nested more than {MAX_DATA_DEPTH} levels deep (at {pointer or '/'})")
        if isinstance(item, dict):
            for key, child in item.items():
                if not isinstance(key, str):
                    raise InputError(f"{what}: the keys of an object must be text (at {pointer or '/'})")
                _text(key, f"{what} key at {pointer or '/'}", MAX_TEXT)
                stack.append((child, depth + 1, f"{pointer}/{key}"))
        elif isinstance(item, list):
            stack.extend((child, depth + 1, f"{pointer}/{i}") for i, child in enumerate(item))
        elif isinstance(item, str):
            _text(item, f"{what} at {pointer or '/'}", MAX_DATA_BYTES)
        elif isinstance(item, bool) or item is None:
            continue
        elif isinstance(item, int):
            if abs(item) >= 10**MAX_INT_DIGITS:
                raise InputError(
                    f"{what} at {pointer or '/'}: the number has more than {MAX_INT_DIGITS} digits",
                    hint="send long numbers (身份证号, account numbers) as text",
                )
        elif isinstance(item, float):
            if not math.isfinite(item):
                raise InputError(f"{what} at {pointer or '/'}: {item} is not a number JSON can hold")
        else:
            raise InputError(f"{what} at {pointer or '/'}: {type(item).__name__} is not JSON data")
    return value


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def load_json(text: str, what: str, *, option: str | None = None) -> Any:
    """`json.loads` that refuses what the standard library would let through or crash on."""
    option = option or what
    if len(text) > MAX_DATA_BYTES:
        raise InputError(f"{what} is {len(text):,} characters; at most {MAX_DATA_BYTES:,} are read")
    try:
        parsed = json.loads(text, parse_constant=_no_constant)
    except json.JSONDecodeError as exc:
        raise InputError(
            f"{what} is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}",
            hint=f'pass a JSON object, e.g. {option} \'{{"name": "value"}}\' or {option} @file.json',
        ) from exc
    except RecursionError as exc:
        raise InputError(f"{what} is nested more than {MAX_DATA_DEPTH} levels deep") from exc
    except ValueError as exc:  # NaN/Infinity, or an integer of more than 4,300 digits
        raise InputError(f"{what} is not valid JSON: {str(exc)[:100]}") from exc
    return check_data(parsed, what)
