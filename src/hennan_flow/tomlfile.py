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
        raise ConfigError(
            f"cannot read the {what}: {exc.message}", location=where, hint=exc.hint or hint
        ) from exc
    try:
        return data.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise ConfigError(
            f"the {what} is not UTF-8 text (byte 0x{data[exc.start]:02x})",
            location=Location(file=display or str(path), line=line),
            hint="save the file as UTF-8",
        ) from exc


def parse_toml(text: str, fail: Callable[[str, int | None], ConfigError]) -> dict[str, Any]:
    """`tomllib.loads`; a syntax error raises `fail("not valid TOML: …", line)` (tomllib's own line)."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        found = _TOML_WHERE.search(message)
        line: int | None = None
        if found:  # "at end of document": the last line
            line = int(found.group(1)) if found.group(1) else max(len(text.splitlines()), 1)
        raise fail(f"not valid TOML: {_TOML_WHERE.sub('', message)}", line) from exc
    except RecursionError as exc:  # arrays or tables nested thousands deep
        raise fail("not valid TOML here: nested too deeply", None) from exc
    except ValueError as exc:  # e.g. an integer of more than 4,300 digits
        raise fail(f"not valid TOML here: {str(exc)[:120]}", None) from exc
