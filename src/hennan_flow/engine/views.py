"""What the engine hands back to portals, built from rows: queue entries (`Task`) and timeline events.

A queue entry carries its deadlines as `clock.deadlines` shows them; the steps a start or a
completion made ready carry the deadlines that transaction just stored, from memory (`fresh_views`).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..clock.instants import as_utc, local_iso
from ..db.hotpath import TaskRecord
from ..db.models import EventRow, OutcomeRow, PauseRow, TaskRow
from ..db.raw import Raw
from ..db.transaction import DeadlineView, Tx
from ..entities import Event, Task
from . import pauses
from .context import EngineContext

__all__ = [
    "REMEDIES",
    "REMEDY_TEXT",
    "event_of",
    "open_pauses",
    "outcomes_of",
    "queue_entries",
    "ready_entries",
    "task_of",
]

REMEDIES = ("administrative_reconsideration", "administrative_litigation")
"""The applicant's remedies against a 不予许可 decision: 行政复议, 行政诉讼 (行政许可法 §38)."""
REMEDY_TEXT = "申请人不服的，可以依法申请行政复议或者提起行政诉讼（《中华人民共和国行政许可法》第三十八条）。"


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


def outcomes_of(session: Session, case_id: str) -> list[dict[str, Any]]:
    """The outcomes of a case as the case JSON shows them (reasons opened), oldest first."""
    out = []
    for row in session.scalars(
        select(OutcomeRow).where(OutcomeRow.case_id == case_id).order_by(OutcomeRow.id)
    ):
        doc: dict[str, Any] = {
            "kind": row.kind,
            "at": local_iso(as_utc(row.at)),
            "actor": row.actor,
            "reason": row.reason,
        }
        if row.task_id is not None:
            doc.update({"task": row.task_id, "step": row.step})
        if row.kind == "refused":
            doc["stage"] = row.stage
            if row.basis is not None:
                doc["basis"] = row.basis
            if row.stage == "decision":
                doc["remedies"] = list(REMEDIES)
                doc["remedy"] = REMEDY_TEXT
        if row.kind == "returned":
            doc["to"] = row.to_step
        out.append(doc)
    return out
