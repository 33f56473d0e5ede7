"""Parameter types of the CLI: every value is checked (length, UTF-8, range, finite) before it reaches
the engine, with the limits of `hennan_flow.limits`, so SQLite and PostgreSQL see the same inputs."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import click

from .. import limits
from ..errors import InputError

__all__ = ["DAYS", "DOCUMENT", "ID", "NAME", "PATH", "TEXT", "FiniteFloat"]


class _Checked(click.ParamType):  # type: ignore[type-arg]  # generic from click 8.2 on; 8.1 is not
    """Text checked by one of the `limits` functions."""

    def __init__(self, name: str, check: Callable[[str, str], str]) -> None:
        self.name = name
        self._check = check

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if not isinstance(value, str):
            return value
        what = (
            f"--{param.name.replace('_', '-')}"
            if isinstance(param, click.Option) and param.name
            else (param.human_readable_name if param is not None else "值")
        )
        try:
            return self._check(value, what)
        except InputError as exc:
            self.fail(exc.message, param, ctx)


class FiniteFloat(click.ParamType):  # type: ignore[type-arg]  # as above
    """A finite number of seconds within [low, high] (click's FloatRange lets nan and inf through)."""

    name = "seconds"

    def __init__(self, low: float, high: float) -> None:
        self.low, self.high = low, high

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        try:
            number = float(value)
        except (TypeError, ValueError, OverflowError):
            self.fail(f"{limits.printable(str(value))} 不是数字", param, ctx)
        if not math.isfinite(number) or not self.low <= number <= self.high:
            self.fail(
                f"{limits.printable(str(value))} 不是 {self.low:g} 到 {self.high:g} 之间的数",
                param,
                ctx,
            )
        return number


NAME = _Checked("name", limits.check_name)
ID = _Checked("id", limits.check_id)
TEXT = _Checked("text", limits.check_text)
DOCUMENT = _Checked("json", limits.check_document)
PATH = _Checked("path", limits.check_path)
DAYS = click.IntRange(1, limits.MAX_EXTENSION_DAYS)
