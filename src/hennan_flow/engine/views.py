"""What the engine hands back to portals, built from rows: queue entries (`Task`) and timeline events.

A queue entry carries its deadlines as `clock.deadlines` shows them; the steps a start or a
completion made ready carry the deadlines that transaction just stored, from memory (`fresh_views`).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from ..clock.instants import as_utc
from ..db.hotpath import TaskRecord
from ..db.models import EventRow, TaskRow
from ..db.raw import Raw
from ..db.transaction import DeadlineView, Tx
from ..entities import Event, Task
from .context import EngineContext

__all__ = ["event_of", "queue_entries", "ready_entries", "task_of"]


def task_of(
    row: TaskRecord | TaskRow, *, deadlines: DeadlineView | None = None, ready: tuple[Task, ...] = ()
) -> Task:
    """The Task a portal sees for a work-queue row."""
    return Task(
        id=row.id,
        case=row.case_id,
        step=row.step,
        name=row.name,
        department=row.department,
        state=row.state,
        ready_at=as_utc(row.ready_at) or datetime.min.replace(tzinfo=UTC),
        ended_at=as_utc(row.ended_at),
        actor=row.actor,
        deadlines=deadlines,
        ready=ready,
        assignee=row.claimed_by,
    )


def queue_entries(ctx: EngineContext, raw: Raw, rows: Sequence[TaskRecord]) -> list[Task]:
    """Queue entries with their deadlines (two driver-level queries whatever their number)."""
    views = ctx.deadlines.views(raw, [r.id for r in rows], ctx.now())
    return [task_of(r, deadlines=views.get(r.id)) for r in rows]


def ready_entries(ctx: EngineContext, tx: Tx, rows: Sequence[TaskRecord], now: datetime) -> tuple[Task, ...]:
    """Queue entries for steps that just became ready, with the deadlines this transaction stored
    (in the queue's order: they share their ready instant, so by document order, then id)."""
    if not rows:
        return ()
    ordered = sorted(rows, key=lambda r: (r.doc_order is None, r.doc_order or 0, r.id))
    views = ctx.deadlines.fresh_views(tx, [r.id for r in ordered], now)
    return tuple(task_of(r, deadlines=views.get(r.id)) for r in ordered)


def event_of(row: EventRow) -> Event:
    detail: dict[str, Any] = json.loads(row.detail or "{}")
    return Event(
        at=as_utc(row.at),
        type=row.type,
        step=row.step,
        actor=row.actor,
        role=row.role,
        task=row.task_id,
        detail=detail,
    )
