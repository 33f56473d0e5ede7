"""Who works a step (DESIGN §8): claim, release, assign to a user, transfer (转办) to a department.

A claimed step leaves its department's shared queue for its claimant's (`tasks(assignee=…)`); only
the claimant completes, pauses or resumes it. Of two handlers claiming the same step at once exactly
one wins (the case row is locked); the other gets `ConflictError`. A transfer moves the step instance
to another department's queue with its deadlines unchanged and writes the outbox event
`task.transferred`; the receiving department must be in the directory and not external.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ..db.models import TaskRow
from ..db.transaction import Tx
from ..entities import Task
from ..errors import ConflictError, InputError, NotFoundError, StateError
from . import events
from .context import EngineContext
from .rows import locked_task
from .views import task_of

__all__ = ["assign", "claim", "release", "transfer"]

_RUNNING = {"ready", "paused"}


def _running(row_state: str, step: str, what: str) -> None:
    if row_state not in _RUNNING:
        raise StateError(f"step {step!r} is {row_state}; only a running step can be {what}")


def claim(ctx: EngineContext, task_id: str, *, actor: str | None) -> Task:
    """A handler of the step's department takes it into their own queue."""
    with ctx.write() as tx:
        now = ctx.now()
        row = locked_task(tx, task_id)
        ctx.authority.check(tx, actor, "task.claim", department=row.department)
        _running(row.state, row.step, "claimed")
        if row.claimed_by is not None:
            raise ConflictError(
                f"step {row.step!r} of case {row.case_id} is already claimed by {row.claimed_by}",
                hint="reload the work queue: hennan-flow task list",
            )
        row.claimed_by = actor
        _record(ctx, tx, "task.claimed", row, actor, now, {"assignee": actor})
        return task_of(row)


def release(ctx: EngineContext, task_id: str, *, actor: str | None) -> Task:
    """The claimant puts the step back into its department's queue."""
    with ctx.write() as tx:
        now = ctx.now()
        row = locked_task(tx, task_id)
        ctx.authority.check(tx, actor, "task.release", department=row.department, claimed_by=row.claimed_by)
        _running(row.state, row.step, "released")
        if row.claimed_by is None:
            raise StateError(
                f"step {row.step!r} of case {row.case_id} is not claimed; there is nothing to release"
            )
        before, row.claimed_by = row.claimed_by, None
        _record(ctx, tx, "task.released", row, actor, now, {"from": before})
        return task_of(row)


def assign(ctx: EngineContext, task_id: str, *, to: str, actor: str | None) -> Task:
    """The head of the step's department gives it to one of the department's handlers."""
    with ctx.write() as tx:
        now = ctx.now()
        row = locked_task(tx, task_id)
        ctx.authority.check(tx, actor, "task.assign", department=row.department)
        _running(row.state, row.step, "assigned")
        directory = ctx.authority.directory(tx.raw)
        if directory is not None:
            user = directory.user(to)
            if (
                user is None
                or not user.active
                or row.department not in user.departments
                or ("handler" not in user.roles)
            ):
                raise InputError(
                    f"{to} is not an active handler of department {row.department}",
                    hint="assign to a handler of the step's department (hennan-flow directory show)",
                )
        before, row.claimed_by = row.claimed_by, to
        _record(ctx, tx, "task.assigned", row, actor, now, {"assignee": to, "from": before})
        return task_of(row)


def transfer(ctx: EngineContext, task_id: str, *, to: str, reason: str, actor: str | None) -> Task:
    """转办: the step instance moves to department `to`'s queue; its deadlines stay as they are."""
    reason = (reason or "").strip()
    if not reason:
        raise InputError("a transfer (转办) needs its reason", hint="pass --reason TEXT")
    with ctx.write() as tx:
        now = ctx.now()
        row = locked_task(tx, task_id)
        ctx.authority.check(tx, actor, "task.transfer", department=row.department)
        _running(row.state, row.step, "transferred")
        directory = ctx.authority.directory(tx.raw)
        target = directory.department(to) if directory is not None else None
        if target is None:
            raise NotFoundError(
                f"department {to!r} is not in the directory",
                hint="transfer to a department of the directory (hennan-flow directory show)",
            )
        if target.external:
            raise InputError(
                f"department {to} ({target.name}) is outside the county and has no work queue",
                hint="transfer to a county department",
            )
        if to == row.department:
            raise InputError(f"step {row.step!r} is already in department {to}'s queue")
        before = row.department
        row.department, row.claimed_by = to, None
        _record(ctx, tx, "task.transferred", row, actor, now, {"from": before, "to": to}, reason=reason)
        return task_of(row)


def _record(
    ctx: EngineContext,
    tx: Tx,
    type_: str,
    row: TaskRow,
    actor: str | None,
    now: datetime,
    codes: dict[str, Any],
    *,
    reason: str | None = None,
) -> None:
    """The audit event (with the reason, if any) and the outbox event (the codes only)."""
    detail = {**codes, "reason": reason} if reason is not None else codes
    tx.journal.record(type_, case=row.case_id, task=row.id, step=row.step, actor=actor, at=now, detail=detail)
    events.publish_task(
        tx,
        type_,
        case_id=row.case_id,
        bundle=events.bundle_of(ctx, tx, row.case_id),
        task_id=row.id,
        step=row.step,
        department=row.department,
        actor=actor,
        at=now,
        extra=codes,
    )
