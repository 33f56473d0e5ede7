"""Form `pattern`s run on RE2: matching takes time linear in the value, whatever the designer wrote.

Python's `re` backtracks: `^(a+)+$` takes seconds on 30 characters and hours on 40, inside the write
transaction of a completion. RE2 (the `google-re2` wheel) compiles a pattern to an automaton, so a match
is linear in the value and the compiled program is bounded in memory; what it cannot bound it refuses
at compile time (look-around, back-references, repetition counts over 1000), and `validate` reports it.

JSON Schema patterns are ECMA-262 regular expressions; the few ECMA escapes RE2 spells differently are
translated (`\\uXXXX` and `\\u{X…}` → `\\x{…}`). Like ECMA-262 (and the browser's HTML `pattern`), `\\d`
and `\\w` are ASCII; `\\p{Han}` names a Unicode script.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

import re2

__all__ = ["PatternError", "compile_pattern", "compile_uncached", "pattern_error", "search"]

_MAX_PROGRAM_BYTES = 8 << 20  # RE2's own default; a pattern needing more is refused
_UNICODE_ESCAPE = re.compile(r"\\u(?:([0-9A-Fa-f]{4})|\{([0-9A-Fa-f]{1,6})\})")


class PatternError(ValueError):
    """A pattern RE2 cannot compile (the reason in RE2's words)."""


def _translate(pattern: str) -> str:
    """ECMA-262 escapes RE2 writes otherwise; every other character is passed through unchanged."""
    out: list[str] = []
    i = 0
    while i < len(pattern):
        if pattern[i] == "\\" and i + 1 < len(pattern):
            found = _UNICODE_ESCAPE.match(pattern, i)
            if found is not None:
                out.append("\\x{" + (found.group(1) or found.group(2)) + "}")
                i = found.end()
                continue
            out.append(pattern[i : i + 2])  # an escaped backslash must not start the next escape
            i += 2
            continue
        out.append(pattern[i])
        i += 1
    return "".join(out)


def _options() -> Any:
    options = re2.Options()
    options.log_errors = False  # RE2 would print every refused pattern on stderr
    options.max_mem = _MAX_PROGRAM_BYTES
    return options


def compile_uncached(pattern: str) -> Any:
    """The compiled RE2 program of a pattern; PatternError when RE2 cannot compile it."""
    try:
        return re2.compile(_translate(pattern), _options())
    except re2.error as exc:
        reason = exc.args[0] if exc.args else "invalid pattern"
        if isinstance(reason, bytes):
            reason = reason.decode("utf-8", "replace")
        raise PatternError(str(reason)) from None


@lru_cache(maxsize=1024)
def compile_pattern(pattern: str) -> Any:
    """`compile_uncached`, cached: for the patterns of schemas, never for submitted values."""
    return compile_uncached(pattern)


def pattern_error(pattern: str) -> str | None:
    """Why RE2 refuses a pattern, or None when it compiles."""
    try:
        compile_pattern(pattern)
    except PatternError as exc:
        return str(exc)
    return None


def search(pattern: str, text: str) -> bool:
    """Whether the pattern matches anywhere in the text (JSON Schema semantics: not anchored)."""
    return compile_pattern(pattern).search(text) is not None
