"""TOML files the county writes (calendar overrides, audit catalogues): read as UTF-8, errors with their line."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .errors import ConfigError, Location
from .inputs import ReadRefused, read_input

__all__ = ["parse_toml", "read_toml_text"]

_TOML_WHERE = re.compile(r"\s*\(at (?:line (\d+), column \d+|end of document)\)\s*$")

# tomllib's own wording, in Chinese; a message not listed here is quoted as tomllib says it
_TOML_CHINESE = (
    (re.compile(r"Cannot overwrite a value"), "值重复定义"),
    (re.compile(r"Cannot declare (.+) twice"), r"\1 重复声明"),
    (re.compile(r"Cannot redefine namespace (.+)"), r"表 \1 重复定义"),
    (re.compile(r"Cannot mutate immutable namespace (.+)"), r"表 \1 不可再修改"),
    (re.compile(r"Duplicate inline table key (.+)"), r"内联表的键 \1 重复"),
    (re.compile(r"Unterminated string"), "字符串没有结束引号"),
    (re.compile(r"Unescaped '\\' in a string"), "字符串中有未转义的反斜杠"),
    (re.compile(r"Unclosed inline table"), "内联表没有闭合"),
    (re.compile(r"Unclosed array"), "数组没有闭合"),
    (re.compile(r"Invalid value"), "值无效"),
    (re.compile(r"Invalid statement"), "语句无效"),
    (re.compile(r"Invalid initial character for a key part"), "键的首字符无效"),
    (re.compile(r"Invalid hex value"), "十六进制值无效"),
    (re.compile(r"Invalid date or datetime"), "日期或日期时间无效"),
    (re.compile(r"Illegal character (.+)"), r"非法字符 \1"),
    (re.compile(r"Found invalid character (.+)"), r"无效字符 \1"),
    (re.compile(r"Expected '=' after a key in a key/value pair"), "键之后缺少 '='"),
    (re.compile(r"Expected '\]' at the end of a table declaration"), "表头末尾缺少 ']'"),
    (re.compile(r"Expected '\]\]' at the end of an array declaration"), "表数组头末尾缺少 ']]'"),
    (re.compile(r"Expected newline or end of document after a statement"), "一条语句之后须换行"),
    (re.compile(r"Expected (.+)"), r"此处应为 \1"),
    (re.compile(r"Escaped character is not a Unicode scalar value"), "转义字符不是有效的 Unicode 字符"),
)


def _toml_reason(message: str) -> str:
    """tomllib's message (its position taken off) in Chinese where it is one of tomllib's known ones."""
    for pattern, chinese in _TOML_CHINESE:
        if pattern.fullmatch(message):
            return pattern.sub(chinese, message)
    return message


MAX_BYTES = 4 << 20


def read_toml_text(
    path: str | Path,
    *,
    what: str,
    display: str | None = None,
    hint: str | None = None,
    max_bytes: int = MAX_BYTES,
) -> str:
    """The UTF-8 text of a TOML file (a regular file, bounded); else `ConfigError` naming `what`."""
    where = Location(file=display or str(path))
    try:
        data = read_input(path, max_bytes=max_bytes)
    except ReadRefused as exc:
        raise ConfigError(f"无法读取{what}：{exc.message}", location=where, hint=exc.hint or hint) from exc
    try:
        return data.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise ConfigError(
            f"{what}不是 UTF-8 文本（字节 0x{data[exc.start]:02x}）",
            location=Location(file=display or str(path), line=line),
            hint="把文件另存为 UTF-8 编码",
        ) from exc


def parse_toml(text: str, fail: Callable[[str, int | None], ConfigError]) -> dict[str, Any]:
    """`tomllib.loads`; a syntax error raises `fail("不是有效的 TOML：…", line)` (tomllib's own line)."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        found = _TOML_WHERE.search(message)
        line: int | None = None
        if found:  # "at end of document": the last line
            line = int(found.group(1)) if found.group(1) else max(len(text.splitlines()), 1)
        raise fail(f"不是有效的 TOML：{_toml_reason(_TOML_WHERE.sub('', message))}", line) from exc
    except RecursionError as exc:  # arrays or tables nested thousands deep
        raise fail("不是有效的 TOML：嵌套层数过多", None) from exc
    except ValueError as exc:  # e.g. an integer of more than 4,300 digits
        raise fail("不是有效的 TOML：数字的位数过多", None) from exc
