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
from ..db.models import EventRow, PauseRow, TaskRow
from ..db.raw import Raw
from ..db.transaction import DeadlineView, Tx
from ..entities import Event, Task
from . import pauses
from .context import EngineContext

__all__ = ["event_of", "open_pauses", "queue_entries", "ready_entries", "task_of"]


def task_of(
    row: TaskRecord | TaskRow,
    *,
    deadlines: DeadlineView | None = None,
    ready: tuple[Task, ...] = (),
    pause: dict[str, Any] | None = None,
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
        pause=pause,
        assignee=row.claimed_by,
    )


def queue_entries(ctx: EngineContext, raw: Raw, rows: Sequence[TaskRecord]) -> list[Task]:
    """Queue entries with their deadlines (two driver-level queries whatever their number)."""
    views = ctx.deadlines.views(raw, [r.id for r in rows], ctx.now())
    paused = open_pauses(raw, [r.id for r in rows if r.state == "paused"])
    return [task_of(r, deadlines=views.get(r.id), pause=paused.get(r.id)) for r in rows]


_PAUSE_COLUMNS = (
    "task_id",
    "reason",
    "kind",
    "note",
    "notice",
    "materials",
    "started_at",
    "started_by",
    "limit_at",
    "overrun_at",
)


def open_pauses(raw: Raw, task_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
    """task id → its open pause as portals see it (`pauses.describe`); one query per 500 steps, none
    when no step is paused (the queue's usual case)."""
    out: dict[str, dict[str, Any]] = {}
    for start in range(0, len(task_ids), 500):
        chunk = list(task_ids[start : start + 500])
        for values in raw.rows(
            f"SELECT {', '.join(_PAUSE_COLUMNS)} FROM hf_pause WHERE ended_at IS NULL"
            f" AND task_id IN ({raw.placeholders(len(chunk))})",
            tuple(chunk),
        ):
            doc = dict(zip(_PAUSE_COLUMNS, values, strict=True))
            for key in ("started_at", "limit_at", "overrun_at"):
                doc[key] = raw.instant(doc[key])
            described = pauses.describe(PauseRow(**doc))
            assert described is not None
            out[doc["task_id"]] = described
    return out


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
