"""TOML files the county writes (calendar overrides, audit catalogues): read as UTF-8, errors with their line."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .errors import ConfigError, Location

__all__ = ["parse_toml", "read_toml_text"]

_TOML_WHERE = re.compile(r"\s*\(at (?:line (\d+), column \d+|end of document)\)\s*$")


def read_toml_text(
    path: str | Path, *, what: str, display: str | None = None, hint: str | None = None
) -> str:
    """The UTF-8 text of a TOML file; unreadable or not UTF-8 raises `ConfigError` naming `what`."""
    where = Location(file=display or str(path))
    try:
        return Path(path).read_bytes().decode("utf-8")
    except OSError as exc:
        raise ConfigError(
            f"cannot read the {what}: {exc.strerror or exc}", location=where, hint=hint
        ) from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(f"the {what} is not UTF-8 text", location=where) from exc


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
