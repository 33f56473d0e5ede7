"""Steps (work items): completing one, pausing and resuming its clock, extending it, reading queues.

`complete` is the hot path: the form data is checked first, outside any transaction (a refused
submission never waits for the write lock, and no lock is held while a schema is evaluated); then one
transaction reads the case (locked) and the step, checks the materials the result waits for,
completes the step in the workflow, ends it through the step lifecycle, mirrors what the process made
ready and writes the changed state. Of two concurrent completions of the same step exactly one wins,
the other gets `ConflictError`; completions of different parallel steps of one case both succeed (a
stale revision is read again, up to 8 times).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from ..bpmn.bundle import TimeLimit
from ..clock.deadlines import CASE_STOPPING_REASONS
from ..db import hotpath
from ..db.hotpath import TaskRecord
from ..db.models import CaseRow, DeadlineRow, ExtensionRow, PauseRow, TaskRow
from ..db.transaction import Tx
from ..entities import Task
from ..errors import ConflictError, HennanFlowError, InputError, NotFoundError, StateError
from ..runtime.workflow import complete as complete_in_workflow
from ..services.steps import before_result
from . import events, pauses
from .context import EngineContext
from .lifecycle import Ending, end_step, resume_case_clock, sync_steps
from .rows import locked_task
from .views import open_pauses, queue_entries, ready_entries, task_of
from .workflows import load_workflow, persist_case

__all__ = ["TASK_STATES", "complete", "extend", "one", "pause", "queue", "resume"]

TASK_STATES = ("ready", "paused", "completed", "cancelled")
_RETRIES = 8
_NO_TASK_HINT = "查看环节：hennan-flow task list"
_FINAL = frozenset({"completed", "cancelled"})


def complete(ctx: EngineContext, task_id: str, data: dict[str, Any], actor: str | None) -> Task:
    """Complete a ready step with its form data and run the case to its next wait state."""
    case_id = _check_data(ctx, task_id, data)
    for _attempt in range(_RETRIES):
        try:
            done, definition_id = _complete_once(ctx, task_id, case_id, data, actor)
        except StaleDataError:
            continue  # another step of the same case changed it first: read again
        ctx.handed_back.discard(task_id)
        ctx.handed_back.add(done.ready, definition_id)  # committed: the portal completes these next
        return done
    raise ConflictError(f"办理环节 {task_id} 时其办件一直在变化；请重试")


def _check_data(ctx: EngineContext, task_id: str, data: dict[str, Any]) -> str:
    """Check the form data before any lock is taken (it needs none, and a refusal should not wait
    for another worker's write, nor hold up others while a schema is evaluated); the case's id.

    A step this engine handed back (`HandedBack`) is checked without reading it: what it is now is
    read under the case lock. Data it refuses is answered as after a read, which comes first: a step
    completed or cancelled meanwhile is refused as such, not for its data."""
    known = ctx.handed_back.get(task_id)
    if known is not None:
        case_id, step, definition_id = known
        definition = ctx.loaded_definition(definition_id)
        if definition is not None:
            try:
                definition.check_data(step, data)
            except HennanFlowError:
                pass  # the read below decides what to answer
            else:
                return case_id
    with ctx.reading() as raw:
        found = hotpath.task_and_definition(raw, task_id)
    if found is None:
        raise NotFoundError(f"没有环节 {task_id!r}", hint=_NO_TASK_HINT)
    task, definition_id = found
    if task.state in _FINAL:  # answered without the lock too
        _check_completable(task)
    definition = ctx.loaded_definition(definition_id)
    if definition is None:  # read from the database once per process; else no session is opened
        with ctx.read() as session:
            definition = ctx.definition(session, definition_id)
    definition.check_data(task.step, data)
    return task.case_id


def _complete_once(
    ctx: EngineContext, task_id: str, case_id: str, data: dict[str, Any], actor: str | None
) -> tuple[Task, int]:
    """One attempt: the completed step (with the steps it made ready) and its case's definition id."""
    with ctx.workflows.changing(case_id) as change, ctx.write() as tx:
        now = ctx.now()
        raw = tx.raw
        # one writer per case: the case locked, and with it (sent together) the step as the lock
        # lets it be, the case's open steps and the directory's and the calendar's versions (the
        # form data was checked before: `_check_data`)
        case, task, open_rows, directory, tx.calendar_version = hotpath.completion_reads(
            raw, case_id, task_id
        )
        if case is None or task is None:  # gone since it was handed back (a deleted case)
            raise NotFoundError(f"没有环节 {task_id!r}", hint=_NO_TASK_HINT)
        if task.state in _FINAL:  # answered before the permission check, as `_check_data` does
            _check_completable(task)
        ctx.authority.check(
            tx,
            actor,
            "task.complete",
            department=task.department,
            claimed_by=task.claimed_by,
            newest=directory,
        )
        _check_completable(task)
        definition = ctx.definition_in(tx, case.definition_id)
        plan = ctx.service_plan(definition)
        if plan.of(task.step) is not None:  # a step without materials needs no ORM session
            before_result(tx.session, plan=plan, case_id=case_id, task_id=task_id, step=task.step)
        workflow = load_workflow(ctx, raw, case, definition)
        complete_in_workflow(workflow, task_id, data)
        end_step(ctx, tx, case, task, Ending.completed(actor), now)
        others = [t for t in open_rows if t.id != task_id]  # the completed step has ended
        added = sync_steps(ctx, tx, case, definition, workflow, now, actor, open_rows=others)
        change.keep(persist_case(ctx, tx.raw, case, workflow), workflow, case)
        ready = ready_entries(ctx, tx, added, now)
    return task_of(task, ready=ready), case.definition_id


def _check_completable(task: TaskRecord) -> None:
    if task.state == "completed":
        raise ConflictError(
            f"办件 {task.case_id} 的环节 {task.step!r} 已"
            + (f"由 {task.actor} " if task.actor else "")
            + "办结",
            hint="重新查看待办：hennan-flow task list",
        )
    if task.state != "ready":
        raise StateError(
            f"环节 {task.id}（{task.step!r}）的状态为 {task.state}，不是 ready（待办理）",
            hint="请先恢复：hennan-flow task resume"
            if task.state == "paused"
            else "查看待办理的环节：hennan-flow task list",
        )


# -- the step's clock -------------------------------------------------------------------------------


def pause(
    ctx: EngineContext,
    task_id: str,
    *,
    reason: str,
    actor: str | None,
    kind: str | None = None,
    note: str | None = None,
    notice: str | None = None,
    materials: Sequence[str] = (),
) -> Task:
    """Stop a ready step's clock (and the case clock, for a supplement or a special procedure);
    what the reason must carry is checked first (`pauses.check_request`)."""
    with ctx.write() as tx:
        now = ctx.now()
        row = locked_task(tx, task_id)
        ctx.authority.check(
            tx, actor, f"task.pause.{reason}", department=row.department, claimed_by=row.claimed_by
        )
        if row.state != "ready":
            raise StateError(f"环节 {row.step!r} 的状态为 {row.state}；只有办理中（ready）的环节才能暂停")
        session = tx.session
        case = session.get(CaseRow, row.case_id)
        assert case is not None
        step = ctx.definition(session, case.definition_id).bundle.step(row.step)
        request = pauses.check_request(
            step, row.step, reason=reason, kind=kind, note=note, notice=notice, materials=materials
        )
        row.state = "paused"
        deadline = session.get(DeadlineRow, row.id)
        if deadline is not None:
            ctx.deadlines.pause(tx, deadline, now)
        if reason in CASE_STOPPING_REASONS:
            case_deadline = session.get(DeadlineRow, row.case_id)
            if (
                case_deadline is not None
                and case_deadline.paused_since is None
                and case_deadline.closed_at is None
            ):
                ctx.deadlines.pause(tx, case_deadline, now)
        pauses.open_(ctx, tx, row, request, now, actor)
        tx.journal.record(
            "task.paused",
            case=row.case_id,
            task=row.id,
            step=row.step,
            actor=actor,
            at=now,
            detail=_pause_detail(request),
        )
        _publish(ctx, tx, "task.paused", row, actor, now, extra={"reason": reason})
        return _task(ctx, tx, row)


def resume(ctx: EngineContext, task_id: str, *, actor: str | None) -> Task:
    """Restart a paused step's clock; its deadlines move by the working days it was paused."""
    with ctx.write() as tx:
        now = ctx.now()
        row = locked_task(tx, task_id)
        ctx.authority.check(tx, actor, "task.resume", department=row.department, claimed_by=row.claimed_by)
        if row.state != "paused":
            raise StateError(f"环节 {row.step!r} 的状态为 {row.state}，未暂停，无需恢复")
        session = tx.session
        open_pause = session.scalar(
            select(PauseRow).where(PauseRow.task_id == row.id, PauseRow.ended_at.is_(None))
        )
        assert open_pause is not None
        pauses.close(ctx, tx, open_pause, now, actor)
        row.state = "ready"
        session.flush()
        deadline = session.get(DeadlineRow, row.id)
        if deadline is not None:
            ctx.deadlines.resume(tx, deadline)
        resume_case_clock(ctx, tx, row.case_id)
        tx.journal.record(
            "task.resumed",
            case=row.case_id,
            task=row.id,
            step=row.step,
            actor=actor,
            at=now,
            detail={"reason": open_pause.reason},
        )
        _publish(ctx, tx, "task.resumed", row, actor, now, extra={"reason": open_pause.reason}, deadline=True)
        return _task(ctx, tx, row)


def extend(
    ctx: EngineContext, task_id: str, *, days: int, approver: str, reason: str, actor: str | None
) -> Task:
    """延长审批: move a step's promised and legal deadlines (and its signals) by `days` working days."""
    with ctx.write() as tx:
        now = ctx.now()
        row = locked_task(tx, task_id)
        ctx.authority.check(tx, actor, "task.extend", department=row.department)
        if row.state not in {"ready", "paused"}:
            raise StateError(f"环节 {row.step!r} 的状态为 {row.state}；只有办理中的环节才能延期")
        session = tx.session
        deadline = session.get(DeadlineRow, row.id)
        if deadline is None:
            raise StateError(f"环节 {row.step!r} 没有时限，无从延期")
        case = session.get(CaseRow, row.case_id)
        assert case is not None
        step = ctx.definition(session, case.definition_id).bundle.step(row.step)
        _check_extension_bounds(session, row, step.time_limit if step is not None else None, days)
        ctx.deadlines.fire_due(tx, deadline, now)  # a passed deadline never moves
        session.add(
            ExtensionRow(
                case_id=row.case_id,
                task_id=row.id,
                days=days,
                approver=approver,
                reason=reason,
                at=now,
                actor=actor,
            )
        )
        session.flush()
        ctx.deadlines.recompute(tx, deadline)
        tx.journal.record(
            "task.extended",
            case=row.case_id,
            task=row.id,
            step=row.step,
            actor=actor,
            at=now,
            detail={"days": days, "approver": approver},
        )
        _publish(ctx, tx, "task.extended", row, actor, now, extra={"days": days}, deadline=True)
        return _task(ctx, tx, row)


def _check_extension_bounds(session: Session, row: TaskRow, limit: TimeLimit | None, days: int) -> None:
    """The step's `hf:timeLimit extensions` / `maxExtension` (e.g. 政府信息公开条例 §33: once, ≤ 20)."""
    if limit is None or (limit.extensions is None and limit.max_extension is None):
        return
    earlier = list(session.scalars(select(ExtensionRow.days).where(ExtensionRow.task_id == row.id)))
    if limit.extensions is not None and len(earlier) >= limit.extensions:
        raise InputError(
            f"环节 {row.step!r} 最多可延期 {limit.extensions} 次（hf:timeLimit extensions），"
            f"已延期 {len(earlier)} 次",
            hint="本环节不能再延期",
        )
    if limit.max_extension is not None and sum(earlier) + days > limit.max_extension:
        raise InputError(
            f"环节 {row.step!r} 合计最多可延期 {limit.max_extension} 个工作日"
            f"（hf:timeLimit maxExtension）；已用 {sum(earlier)} 个，再延 {days} 个将超出",
            hint=f"传入 --days {limit.max_extension - sum(earlier)} 或更少"
            if sum(earlier) < limit.max_extension
            else "本环节不能再延期",
        )


def _pause_detail(request: pauses.PauseRequest) -> dict[str, Any]:
    """What the audit log (the case timeline) keeps of a pause: its reason and what it carried."""
    detail: dict[str, Any] = {"reason": request.reason}
    for key, value in (("kind", request.kind), ("note", request.note), ("notice", request.notice)):
        if value is not None:
            detail[key] = value
    if request.materials:
        detail["materials"] = list(request.materials)
    return detail


def _publish(
    ctx: EngineContext,
    tx: Tx,
    kind: str,
    row: TaskRow,
    actor: str | None,
    now: datetime,
    *,
    extra: dict[str, Any],
    deadline: bool = False,
) -> None:
    """The outbox event of a step change of the rarer paths (pause, resume, extend)."""
    events.publish_task(
        tx,
        kind,
        case_id=row.case_id,
        bundle=events.bundle_of(ctx, tx, row.case_id),
        task_id=row.id,
        step=row.step,
        department=row.department,
        actor=actor,
        at=now,
        deadline=events.step_deadline(tx, row.id) if deadline else None,
        extra=extra,
    )


def _task(ctx: EngineContext, tx: Tx, row: TaskRow) -> Task:
    """A Task (with deadlines) for an ORM task row of the rarer paths (pause, resume, extend)."""
    return task_of(
        row,
        deadlines=ctx.deadlines.view(tx.raw, row.id, ctx.now()),
        pause=open_pauses(tx.raw, [row.id]).get(row.id) if row.state == "paused" else None,
    )


# -- reading ------------------------------------------------------------------------------------------


def queue(
    ctx: EngineContext,
    *,
    case: str | None,
    department: str | None,
    state: str | None,
    assignee: str | None = None,
    actor: str | None = None,
) -> list[Task]:
    """The work queue: user steps by case, department (lane), state and claimant, with their deadlines;
    given an `actor`, only the departments' steps that actor may read (DESIGN §8)."""
    with ctx.reading() as raw:
        reader = ctx.authority.reader(raw, actor)
        found = hotpath.queue(raw, case_id=case, department=department, state=state, assignee=assignee)
        if reader is not None:
            found = [t for t in found if t.department in reader.departments]
        return queue_entries(ctx, raw, found)


def one(ctx: EngineContext, task_id: str) -> Task:
    """One step instance, with its deadlines."""
    with ctx.reading() as raw:
        found = hotpath.task_of(raw, task_id)
        if found is None:
            raise NotFoundError(f"没有环节 {task_id!r}", hint=_NO_TASK_HINT)
        return queue_entries(ctx, raw, [found])[0]
