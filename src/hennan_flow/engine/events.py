"""The outbox events of cases and steps (DESIGN §10): what a portal reacts to, ids and codes only.

Every case and step state change tells the outbox (`hf_outbox`) beside the audit log, through the
transaction's journal, so they are written with the change, in its transaction, in the journal's one
multi-row INSERT (no statement per event). Payloads never carry personal data nor free texts (a
reason is sealed in the audit log; the outbox says only that there was one):

- every event: `case` (id), `bundle` (key) and `version` (the deployed version the case runs), `at`
  (the local instant of the change);
- step events (`task.*`): `task` (the step instance's id), `step` (its BPMN element id),
  `department` (its lane's code, after a transfer the receiving one), `actor` (the user id; absent
  when the system acted), `deadline` (the step's promised due instant) on the events that set or
  move it (`task.ready`, `task.resumed`, `task.extended`);
- and per kind the codes listed in docs/events.md (one JSON Schema per kind in
  `hennan_flow/schemas/events/<kind>.json`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from functools import cache
from typing import Any

from ..clock.instants import as_utc, local_iso
from ..db.models import DeadlineRow
from ..db.transaction import Tx
from ..resources import schema_path
from .context import EngineContext

__all__ = [
    "CASE_KINDS",
    "KINDS",
    "RECORD_KINDS",
    "TASK_KINDS",
    "Bundle",
    "bundle_of",
    "publish_case",
    "publish_task",
    "schema",
    "step_deadline",
]

CASE_KINDS = ("case.started", "case.completed", "case.refused", "case.withdrawn", "case.terminated")
TASK_KINDS = (
    "task.ready",
    "task.claimed",
    "task.released",
    "task.assigned",
    "task.transferred",
    "task.completed",
    "task.cancelled",
    "task.returned",
    "task.paused",
    "task.resumed",
    "task.extended",
)

KINDS = CASE_KINDS + TASK_KINDS
# the record events whose staff write a free text (a note, a reason, an approver's name): their
# schemas list every field so that text never reaches the outbox (the record keeps it, sealed)
RECORD_KINDS = ("card.advanced", "review.rectification", "supplement.extended")

Bundle = tuple[str, int]
"""A case's bundle: its key and the deployed version it runs."""


@cache
def schema(kind: str) -> dict[str, Any]:
    """The JSON Schema of one case, step or record event kind's payload, as shipped in the package."""
    if kind not in KINDS and kind not in RECORD_KINDS:
        raise KeyError(kind)
    loaded: dict[str, Any] = json.loads(schema_path(f"events/{kind}.json").read_text(encoding="utf-8"))
    return loaded


def bundle_of(ctx: EngineContext, tx: Tx, case_id: str) -> Bundle:
    """The bundle key and version of a case (the rarer paths: one indexed read)."""
    found = tx.raw.row("SELECT key, definition_id FROM hf_case WHERE id = ?", (case_id,))
    assert found is not None
    return str(found[0]), ctx.definition_in(tx, int(found[1])).version


def step_deadline(tx: Tx, task_id: str) -> str | None:
    """A step's promised due instant (local ISO) as now stored, None when it has none."""
    row = tx.session.get(DeadlineRow, task_id)
    if row is None or row.promised_due is None:
        return None
    return local_iso(as_utc(row.promised_due))


def publish_case(
    tx: Tx,
    kind: str,
    *,
    case_id: str,
    bundle: Bundle,
    at: datetime,
    recorded_at: datetime | None = None,
    extra: Mapping[str, Any] | None = None,
) -> None:
    """A case event to the outbox (ref: the case)."""
    payload: dict[str, Any] = {
        "case": case_id,
        "bundle": bundle[0],
        "version": bundle[1],
        "at": local_iso(at),
    }
    if extra:
        payload.update(extra)
    tx.journal.publish(kind, case=case_id, ref=case_id, at=at, recorded_at=recorded_at, payload=payload)


def publish_task(
    tx: Tx,
    kind: str,
    *,
    case_id: str,
    bundle: Bundle,
    task_id: str,
    step: str,
    department: str | None,
    actor: str | None,
    at: datetime,
    deadline: str | None = None,
    extra: Mapping[str, Any] | None = None,
) -> None:
    """A step event to the outbox (ref: the step instance)."""
    payload: dict[str, Any] = {
        "case": case_id,
        "bundle": bundle[0],
        "version": bundle[1],
        "task": task_id,
        "step": step,
        "department": department,
        "at": local_iso(at),
    }
    if actor is not None:
        payload["actor"] = actor
    if deadline is not None:
        payload["deadline"] = deadline
    if extra:
        payload.update(extra)
    tx.journal.publish(kind, case=case_id, ref=task_id, at=at, payload=payload)
