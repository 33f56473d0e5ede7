"""`exchange export`: the §6 data sets after an outbox cursor, as JSON Lines, one file per set.

The outbox is read after the cursor in pages, in one read transaction, up to the newest event; each
event of a reported kind gives its record (records.py). Records go to `<DIR>/<table>.jsonl`
(`up_pro_accept.jsonl`, …, one JSON object a line, UTF-8, Chinese as is), appended to what the file
already holds but only those whose `row_guid` it does not hold yet: exporting the same range twice,
or overlapping ranges, leaves each record once. Each file is rewritten whole through a temporary
file and a rename, so an interrupted export leaves the file as it was. The result names the new
cursor: the id of the last outbox event read (records or not), to pass as `--after` next time.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..db.models import OutboxRow
from ..errors import ConfigError, Location
from ..inputs import os_reason
from .datasets import SETS
from .records import Record, records_of

__all__ = ["ExportResult", "export", "pages"]

PAGE = 500


@dataclass
class ExportResult:
    """What an export did: the cursor it reached and the records written per exchange table."""

    after: int
    cursor: int
    events: int = 0
    written: dict[str, int] = field(default_factory=dict)
    already: int = 0  # records the files held already

    def as_dict(self) -> dict[str, Any]:
        return {
            "after": self.after,
            "cursor": self.cursor,
            "events": self.events,
            "written": dict(self.written),
            "already_present": self.already,
        }


def pages(
    session: Session, *, after: int, page: int = PAGE, applicant: bool = False, limit: int | None = None
) -> Iterator[tuple[int, list[Record]]]:
    """(last outbox id read, its records) page by page after `after`; at most `limit` events."""
    cursor, seen = after, 0
    while limit is None or seen < limit:
        size = page if limit is None else min(page, limit - seen)
        stmt = select(OutboxRow).where(OutboxRow.id > cursor).order_by(OutboxRow.id).limit(size)
        rows = list(session.scalars(stmt))
        if not rows:
            return
        cursor, seen = rows[-1].id, seen + len(rows)
        yield cursor, records_of(session, rows, applicant=applicant)
        if len(rows) < size:
            return


def export(session: Session, directory: str, *, after: int, applicant: bool = False) -> ExportResult:
    """Write the records of the outbox events after `after` into `directory` (created if missing)."""
    out = Path(directory)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(
            f"无法创建输出目录：{os_reason(exc)}",
            location=Location(file=directory),
            hint="用 --output 指定一个有写入权限的目录",
        ) from exc
    result = ExportResult(after=after, cursor=after)
    new: dict[str, list[Record]] = {s.table: [] for s in SETS}
    for cursor, records in pages(session, after=after, applicant=applicant):
        result.cursor = cursor
        for record in records:
            new[record.data_set.table].append(record)
    result.events = _count_events(session, after, result.cursor)
    for data_set in SETS:
        path = out / data_set.file
        have = _ids(path)
        lines = []
        for record in new[data_set.table]:
            if record.id in have:
                result.already += 1
                continue
            have.add(record.id)
            lines.append(json.dumps(record.as_dict(), ensure_ascii=False))
        result.written[data_set.table] = len(lines)
        if lines or not path.exists():
            _append(path, lines)
    return result


def _count_events(session: Session, after: int, cursor: int) -> int:
    stmt = select(func.count()).select_from(OutboxRow).where(OutboxRow.id > after, OutboxRow.id <= cursor)
    return int(session.execute(stmt).scalar_one())


def _ids(path: Path) -> set[str]:
    """The record ids a data-set file already holds."""
    if not path.exists():
        return set()
    ids: set[str] = set()
    try:
        with path.open(encoding="utf-8") as f:
            for number, line in enumerate(f, start=1):
                if not line.strip():
                    continue
                try:
                    ids.add(str(json.loads(line)["row_guid"]))
                except (ValueError, KeyError, TypeError):
                    raise ConfigError(
                        "文件中有一行不是数据集记录",
                        location=Location(file=str(path), line=number),
                        hint="导出到空目录，或删除该文件",
                    ) from None
    except OSError as exc:
        raise ConfigError(
            f"无法读取 {path.name}：{os_reason(exc)}", location=Location(file=str(path))
        ) from exc
    return ids


def _append(path: Path, lines: list[str]) -> None:
    """The file with `lines` appended, replaced whole (a temporary file renamed over it)."""
    tmp = path.with_name(path.name + ".tmp")
    try:
        old = path.read_bytes() if path.exists() else b""
        if old and not old.endswith(b"\n"):
            old += b"\n"
        with tmp.open("wb") as f:
            f.write(old)
            f.write("".join(line + "\n" for line in lines).encode("utf-8"))
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise ConfigError(
            f"无法写入 {path.name}：{os_reason(exc)}", location=Location(file=str(path))
        ) from exc
