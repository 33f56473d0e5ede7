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
        raise StateError(f"环节 {step!r} 的状态为 {row_state}；只有办理中的环节才能{what}")


def claim(ctx: EngineContext, task_id: str, *, actor: str | None) -> Task:
    """A handler of the step's department takes it into their own queue."""
    with ctx.write() as tx:
        now = ctx.now()
        row = locked_task(tx, task_id)
        ctx.authority.check(tx, actor, "task.claim", department=row.department)
        _running(row.state, row.step, "认领")
        if row.claimed_by is not None:
            raise ConflictError(
                f"办件 {row.case_id} 的环节 {row.step!r} 已由 {row.claimed_by} 认领",
                hint="重新查看待办：hennan-flow task list",
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
        _running(row.state, row.step, "释放")
        if row.claimed_by is None:
            raise StateError(f"办件 {row.case_id} 的环节 {row.step!r} 未被认领，无需释放")
        before, row.claimed_by = row.claimed_by, None
        _record(ctx, tx, "task.released", row, actor, now, {"from": before})
        return task_of(row)


def assign(ctx: EngineContext, task_id: str, *, to: str, actor: str | None) -> Task:
    """The head of the step's department gives it to one of the department's handlers."""
    with ctx.write() as tx:
        now = ctx.now()
        row = locked_task(tx, task_id)
        ctx.authority.check(tx, actor, "task.assign", department=row.department)
        _running(row.state, row.step, "指派")
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
                    f"{to} 不是部门 {row.department} 的在岗经办人",
                    hint="指派给该环节所在部门的经办人（hennan-flow directory show）",
                )
        before, row.claimed_by = row.claimed_by, to
        _record(ctx, tx, "task.assigned", row, actor, now, {"assignee": to, "from": before})
        return task_of(row)


def transfer(ctx: EngineContext, task_id: str, *, to: str, reason: str, actor: str | None) -> Task:
    """转办: the step instance moves to department `to`'s queue; its deadlines stay as they are."""
    reason = (reason or "").strip()
    if not reason:
        raise InputError("转办须写明理由", hint="传入 --reason TEXT")
    with ctx.write() as tx:
        now = ctx.now()
        row = locked_task(tx, task_id)
        ctx.authority.check(tx, actor, "task.transfer", department=row.department)
        _running(row.state, row.step, "转办")
        directory = ctx.authority.directory(tx.raw)
        target = directory.department(to) if directory is not None else None
        if target is None:
            raise NotFoundError(
                f"部门 {to!r} 不在部门与人员目录中",
                hint="转办给目录中的部门（hennan-flow directory show）",
            )
        if target.external:
            raise InputError(
                f"部门 {to}（{target.name}）不属于本县，没有待办队列",
                hint="转办给本县的部门",
            )
        if to == row.department:
            raise InputError(f"环节 {row.step!r} 已在部门 {to} 的待办中")
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
