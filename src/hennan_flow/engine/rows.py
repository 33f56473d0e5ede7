"""A step's or a case's ORM row for a state change of the rarer paths, read under the case lock.

One writer per case: every operation locks the case row first (`Tx.lock_case`) and reads what it
changes after the lock, so on PostgreSQL it sees what another worker committed meanwhile.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from ..db.models import CalendarRow, CaseRow, DirectoryRow, TaskRow
from ..db.transaction import Tx
from ..errors import ConfigError, NotFoundError

__all__ = ["locked_case", "locked_task", "store_file"]

_NO_TASK_HINT = "查看环节：hennan-flow task list"


def locked_case(tx: Tx, case_id: str) -> CaseRow:
    """The case row, its case locked (NotFoundError for an unknown case)."""
    if tx.lock_case(case_id) is None:
        raise NotFoundError(f"没有办件 {case_id!r}", hint="查看办件：hennan-flow case list")
    row = tx.session.get(CaseRow, case_id, populate_existing=True)
    assert row is not None
    return row


def locked_task(tx: Tx, task_id: str) -> TaskRow:
    """The step's work-queue row, its case locked (NotFoundError for an unknown task)."""
    found = tx.session.execute(select(TaskRow.case_id).where(TaskRow.id == task_id)).first()
    if found is None:
        raise NotFoundError(f"没有环节 {task_id!r}", hint=_NO_TASK_HINT)
    tx.lock_case(found[0])
    row = tx.session.get(TaskRow, task_id, populate_existing=True)
    assert row is not None
    return row


def store_file(
    tx: Tx,
    row_type: type[CalendarRow] | type[DirectoryRow],
    *,
    what: str,
    version: str,
    source: str,
    text: str,
    now: datetime,
    actor: str | None,
) -> None:
    """Keep a county file (calendar, directory) whole under its version; a version is stored once."""
    session = tx.session
    if session.scalar(select(row_type).where(row_type.version == version)) is not None:
        raise ConfigError(f"{what}版本 {version!r} 已经载入", hint='给文件一个新的 version = "…"')
    session.add(row_type(version=version, source=source, text=text, loaded_at=now, loaded_by=actor))
    session.flush()
