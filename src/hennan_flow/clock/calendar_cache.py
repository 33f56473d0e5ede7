"""The built working-day calendar, cached on disk per stored version (issue 28 item 8).

Building a `WorkCalendar` reads chinese-calendar's tables and parses every stored county file: tens
of milliseconds for a few files, far more for large ones, at every engine start (each CLI command).
The built calendar is plain data (`WorkCalendar.to_state`), so it is kept as JSON in the user's
cache folder, keyed by a SHA-256 of the stored files' texts and names, the chinese-calendar release
and the state format: a new file, another database or a new package release is another key. The
cache holds data, never code; an unreadable, foreign or damaged entry is ignored and rebuilt, and a
cache folder that cannot be written only costs the rebuild.

`HENNAN_FLOW_CACHE_DIR` sets the folder (default `$XDG_CACHE_HOME/hennan-flow`, else
`~/.cache/hennan-flow`); `HENNAN_FLOW_CACHE_DIR=off` turns the cache off.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path

from .workdays import STATE_FORMAT, CalendarOverride, WorkCalendar, parse_override

__all__ = ["cache_dir", "stored_calendar"]

log = logging.getLogger(__name__)


def cache_dir() -> Path | None:
    """Where built calendars are kept; None when the cache is off."""
    setting = os.environ.get("HENNAN_FLOW_CACHE_DIR")
    if setting is not None:
        return None if setting.strip().lower() in {"", "off", "0", "none"} else Path(setting)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return Path(xdg) / "hennan-flow" if xdg else Path.home() / ".cache" / "hennan-flow"


def _key(stored: Sequence[tuple[str, str]]) -> str:
    digest = hashlib.sha256()
    try:
        release = metadata.version("chinese-calendar")
    except metadata.PackageNotFoundError:  # pragma: no cover - it is a dependency
        release = "?"
    digest.update(f"hennan-flow-calendar/{STATE_FORMAT}/chinese-calendar-{release}\n".encode())
    for text, source in stored:
        for part in (source, text):
            data = part.encode("utf-8", "surrogatepass")
            digest.update(len(data).to_bytes(8, "big") + data)
    return digest.hexdigest()


def stored_calendar(stored: Sequence[tuple[str, str]]) -> WorkCalendar:
    """The calendar of these stored files ((text, source) in load order), from the cache when built before."""

    def overrides() -> list[CalendarOverride]:
        return [parse_override(text, source=source, stored=True) for text, source in stored]

    folder = cache_dir()
    path = None if folder is None else folder / f"calendar-{_key(stored)}.json"
    if path is not None:
        try:
            state = json.loads(path.read_text(encoding="utf-8"))
            return WorkCalendar.from_state(state, overrides)
        except FileNotFoundError:
            pass
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            log.info("calendar cache entry %s ignored: %s", path.name, exc)
    cal = WorkCalendar(overrides())
    if path is not None:
        _write(path, json.dumps(cal.to_state(), separators=(",", ":"), ensure_ascii=False))
    return cal


def _write(path: Path, text: str) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".calendar-", suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)  # atomic: a concurrent reader sees the old entry or the new one
    except OSError as exc:
        log.info("calendar cache not written (%s): the calendar is built at each start", exc)
