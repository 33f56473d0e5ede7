"""Click's usage errors in Chinese, rendered from their structured fields (param, choices, names).

Click words its own errors in English ("Invalid value for '--state': ..."); a county user reads
Chinese. The boundary in `cli/__init__.py` turns each click exception into one Chinese sentence
here; option names, command names and the values typed stay as written.
"""

from __future__ import annotations

import re

import click

__all__ = ["usage_message"]

_TYPE_NAMES = {"integer": "整数", "float": "数字", "boolean": "是/否", "text": "文字", "path": "路径"}


def _param_name(exc: click.BadParameter) -> str:
    if exc.param_hint is not None:
        hint = exc.param_hint
        return " / ".join(hint) if not isinstance(hint, str) else hint
    if isinstance(exc.param, click.Argument):
        return exc.param.human_readable_name
    if exc.param is not None:
        return " / ".join(exc.param.opts) or (exc.param.name or "")
    return ""


def _bad_value(exc: click.BadParameter) -> str:
    name = _param_name(exc)
    where = f"参数 {name} 的值无效" if name else "参数的值无效"
    ptype = exc.param.type if exc.param is not None else None
    if isinstance(ptype, click.Choice):
        typed = re.match(r"^('[^']*'|\"[^\"]*\") is not", exc.message)
        got = f"（收到 {typed.group(1)}）" if typed else ""
        return f"{where}{got}：可选值为 {'、'.join(str(c) for c in ptype.choices)}"
    if isinstance(ptype, click.IntRange | click.FloatRange):
        typed = re.match(r"^('[^']*'|\S+) is not (?:in the range|a valid)", exc.message)
        got = f"（收到 {typed.group(1)}）" if typed else ""
        return f"{where}{got}：须为{_range_words(ptype)}"
    if isinstance(ptype, click.DateTime):
        return f"{where}：须为日期时间，格式 {'、'.join(ptype.formats)}"
    if isinstance(ptype, click.Path | click.File):
        return f"{where}：文件或目录不存在或无法读取"
    if ptype is not None and ptype.name in _TYPE_NAMES:
        return f"{where}：须为{_TYPE_NAMES[ptype.name]}"
    return f"{where}：{exc.message}" if exc.message else where


def _range_words(ptype: click.IntRange | click.FloatRange) -> str:
    """ "1 到 365 之间的整数", "不小于 0 的整数", "大于 0 且不大于 60 的数"."""
    kind = "整数" if isinstance(ptype, click.IntRange) else "数"
    low, high = ptype.min, ptype.max
    if low is not None and high is not None and not ptype.min_open and not ptype.max_open:
        return f" {low} 到 {high} 之间的{kind}"
    bounds = []
    if low is not None:
        bounds.append(f"大于 {low}" if ptype.min_open else f"不小于 {low}")
    if high is not None:
        bounds.append(f"小于 {high}" if ptype.max_open else f"不大于 {high}")
    return f"{' 且'.join(bounds)} 的{kind}" if bounds else kind


def usage_message(exc: click.ClickException) -> str:
    """One Chinese sentence for a click exception (the names and values the user typed kept as is)."""
    if isinstance(exc, click.NoSuchOption):
        text = f"没有选项 {exc.option_name}"
        if exc.possibilities:
            text += f"（是否想用：{'、'.join(sorted(exc.possibilities))}）"
        return text
    if isinstance(exc, click.exceptions.NoSuchCommand):
        text = f"没有命令 {exc.command_name}"
        if exc.possibilities:
            text += f"（是否想用：{'、'.join(sorted(exc.possibilities))}）"
        return text
    if isinstance(exc, click.MissingParameter):
        name = _param_name(exc)
        kind = "参数" if exc.param is None or isinstance(exc.param, click.Argument) else "选项"
        return f"缺少{kind} {name}" if name else f"缺少{kind}"
    if isinstance(exc, click.BadParameter):
        return _bad_value(exc)
    if isinstance(exc, click.BadOptionUsage):
        return f"选项 {exc.option_name} 用法不对：{_option_usage(exc.message)}"
    if isinstance(exc, click.BadArgumentUsage):
        return f"参数用法不对：{exc.message}"
    if isinstance(exc, click.FileError):
        return f"无法打开文件 {exc.ui_filename}"
    if isinstance(exc, click.UsageError):
        return _generic_usage(exc.message)
    return exc.format_message()


def _option_usage(message: str) -> str:
    if "requires an argument" in message or ("requires" in message and "arguments" in message):
        return "缺少它的值"
    if "does not take a value" in message:
        return "不接受值"
    return message


def _generic_usage(message: str) -> str:
    if message.startswith("Got unexpected extra argument"):
        extra = message.split("(", 1)[1].rstrip(")") if "(" in message else ""
        return f"多余的参数 {extra}".rstrip()
    if message == "Missing command.":
        return "缺少子命令"
    return message
