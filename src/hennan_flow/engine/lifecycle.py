"""The step lifecycle: what happens, in one list, when a step becomes ready or ends and when a case ends.

Every path that opens or closes a step instance comes through here — the process advancing after a
start, a completion or a timer (`sync_steps`), a completion (`end_step` with `Ending.completed`), a
boundary event or a terminate end moving the process past an open step (`Ending.cancelled()`), and a
case ending by itself or terminated by a service (`end_case`, `terminate_case`) — so each of these
lists is the whole story, whoever calls:

**A step becomes ready** (`ready_step`, 受理)
  1. a rework loop past `max_cycles` is refused;
  2. its work-queue row (state ready, its lane's department);
  3. audit and outbox `task.ready` (with its promised deadline);
  4. its deadlines and signals stored, armed (`clock.deadlines`);
  5. the services: commitments signed, e-licences recorded (asked after the commit when a provider
     is configured), tolerated materials awaited (`services.steps.on_step_ready`).

**A step ends** (`end_step`: completed by its actor, or cancelled with the reason, if any)
  1. its work-queue row: final state and instant (and who completed it);
  2. an open pause is closed at that instant, and when it was the case's last supplement or
     special-procedure pause, the case clock runs again (`resume_case_clock`; when the case is
     ending, its deadline then closes with that pause counted);
  3. audit and outbox `task.completed` | `task.cancelled` | `task.returned` (the audit: with the
     reason; a cancelled step's outcome code, if the case was refused, withdrawn or terminated);
  4. its deadlines closed: what was already due fires now, at its due instant; the rest is cancelled;
  5. the services: a decision starts its commitments' post-verification; a cancelled step voids
     what it waited for (`services.steps.on_step_ended`).

**A case ends** (`end_case`: completed when its process finished, terminated by a service, refused
or withdrawn)
  1. its open steps end, cancelled with the case's reason (as above);
  2. the case record's state and end instant (written with its workflow, or at once when terminated);
  3. audit and outbox `case.completed` | `case.terminated` | `case.refused` | `case.withdrawn`;
  4. the case deadline closed (what was due fires at its instant);
  5. the services: nothing the case still awaited can lapse (`services.steps.on_case_ended`);
  6. a terminated case's workflow leaves the cache.

Each of these also goes to the outbox (`engine/events.py`: task.ready, task.completed,
task.cancelled, task.returned, case.completed, case.terminated, case.refused, case.withdrawn), ids
and codes only, written by the transaction's journal in the same batched statements. The outcomes
(`engine/outcomes.py`: refused, withdrawn, a step returned) are more `Ending` and `CaseEnd` values
through these same functions.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import Any, Literal

from sqlalchemy import func, select

from ..clock.deadlines import CASE_STOPPING_REASONS
from ..clock.instants import as_utc
from ..db import hotpath
from ..db.hotpath import CaseRecord, TaskRecord
from ..db.models import DeadlineRow, PauseRow
from ..db.transaction import Tx
from ..errors import StateError
from ..runtime.workflow import UserTask, check_depth, finished, ready_user_tasks
from ..services import steps as services
from . import events, licence_checks, pauses
from .context import EngineContext
from .definitions import LoadedDefinition

__all__ = [
    "CaseEnd",
    "Ending",
    "end_case",
    "end_step",
    "ready_step",
    "resume_case_clock",
    "sync_steps",
    "terminate_case",
]


@dataclass(frozen=True)
class Ending:
    """How a step instance ends: completed by `actor`, or cancelled (`reason`: why, None when the
    process itself moved past it — a boundary event, a terminate end)."""

    state: Literal["completed", "cancelled"]
    reason: str | None = None
    actor: str | None = None
    outcome: str | None = None
    """Why a cancelled step ended, as a code: the case `refused`, `withdrawn`, `terminated`, or the
    step `returned` (退回); None when the process moved past it."""
    detail: Mapping[str, Any] = field(default_factory=dict)
    """Codes the step's events carry besides (a return: the step it went back to)."""

    @property
    def event(self) -> str:
        """The event kind of this ending: task.completed, task.cancelled or task.returned."""
        return "task.returned" if self.outcome == "returned" else f"task.{self.state}"

    @classmethod
    def completed(cls, actor: str | None) -> Ending:
        return cls("completed", actor=actor)

    @classmethod
    def cancelled(
        cls, reason: str | None = None, *, actor: str | None = None, outcome: str | None = None
    ) -> Ending:
        return cls("cancelled", reason=reason, actor=actor, outcome=outcome)


@dataclass(frozen=True)
class CaseEnd:
    """How a case ends: completed (its process finished), terminated (终止办理 by a service, with
    its reason code), refused (不予受理/不予许可) or withdrawn (撤回) by its actor, with their reason."""

    state: Literal["completed", "terminated", "refused", "withdrawn"]
    reason: str | None = None
    detail: Mapping[str, Any] = field(default_factory=dict)
    """What the audit log keeps besides the reason."""
    actor: str | None = None
    public: Mapping[str, Any] = field(default_factory=dict)
    """The codes the outbox event carries besides the ids (never the reason's text)."""


# -- a step becomes ready -----------------------------------------------------------------------------


def ready_step(
    ctx: EngineContext, tx: Tx, case: CaseRecord, definition: LoadedDefinition, spiff: UserTask, now: datetime
) -> TaskRecord:
    """A user step SpiffWorkflow made ready enters its department's queue (the list above)."""
    raw = tx.raw
    if spiff.step in definition.cyclic_steps:  # only a step on a loop can come round again
        cycles = hotpath.count_instances(raw, case.id, spiff.step)
        if cycles >= ctx.max_cycles:
            raise StateError(
                f"办件 {case.id} 的环节 {spiff.step!r} 将第 {cycles + 1} 次办理；"
                f"返工最多 {ctx.max_cycles} 轮",
                hint="结束本办件并重新发起，或调高 Engine(max_cycles=…)"
                "（SpiffWorkflow 3.2.0 运行不了远超约 200 轮）",
            )
    step = definition.bundle.step(spiff.step)
    task = TaskRecord(
        id=spiff.id,
        case_id=case.id,
        step=spiff.step,
        name=spiff.name,
        department=step.department if step else None,
        state="ready",
        ready_at=now,
        doc_order=spiff.order,
    )
    hotpath.insert_task(raw, task)
    tx.journal.record("task.ready", case=case.id, task=task.id, step=task.step, at=now)
    bundle = (case.key, definition.version)
    if step is None:
        events.publish_task(tx, "task.ready", **_task_fields(case, bundle, task), actor=None, at=now)
        return task
    ctx.deadlines.start(
        tx,
        owner=task.id,
        case_id=case.id,
        task_id=task.id,
        scope="step",
        step=task.step,
        kind=step.kind,
        limit=step.time_limit,
        accepted_at=now,
    )
    shown = tx.started.get(task.id)
    events.publish_task(
        tx,
        "task.ready",
        **_task_fields(case, bundle, task),
        actor=None,
        at=now,
        deadline=shown["promised_due"] if shown else None,
    )
    fetch_later = services.on_step_ready(
        tx,
        plan=ctx.service_plan(definition),
        case_id=case.id,
        applicant=case.applicant,
        task_id=task.id,
        step=task.step,
        department=task.department,
        now=now,
        provider=ctx.licences,
        calendar=partial(ctx.calendar, tx),
        close=ctx.deadlines.close_of_business,
    )
    if fetch_later:  # no lock (the case's, the outbox's) is held while a provider answers
        tx.after_commit(partial(licence_checks.verify_after_commit, ctx, task.id))
    return task


def _task_fields(case: CaseRecord, bundle: events.Bundle, task: TaskRecord) -> dict[str, Any]:
    return {
        "case_id": case.id,
        "bundle": bundle,
        "task_id": task.id,
        "step": task.step,
        "department": task.department,
    }


# -- a step ends --------------------------------------------------------------------------------------


def end_step(
    ctx: EngineContext,
    tx: Tx,
    case: CaseRecord,
    task: TaskRecord,
    ending: Ending,
    at: datetime,
) -> None:
    """A ready or paused step instance ends (the list above); `task` is updated in place."""
    was_paused = task.state == "paused"
    task.state, task.ended_at = ending.state, at
    if ending.state == "completed":
        task.actor = ending.actor
    hotpath.end_task(tx.raw, task)
    if was_paused:  # (the rarer path: the ORM, so the case clock below sees the pause closed)
        for pause in tx.session.scalars(
            select(PauseRow).where(PauseRow.task_id == task.id, PauseRow.ended_at.is_(None))
        ).all():
            pauses.close(ctx, tx, pause, at, ending.actor)
        tx.session.flush()
        resume_case_clock(ctx, tx, case.id)
    codes = {"outcome": ending.outcome, **ending.detail} if ending.outcome else None
    tx.journal.record(
        ending.event,
        case=case.id,
        task=task.id,
        step=task.step,
        actor=ending.actor,
        at=at,
        detail={"reason": ending.reason, **(codes or {})} if ending.reason is not None else codes,
    )
    definition = ctx.definition_in(tx, case.definition_id)
    events.publish_task(
        tx,
        ending.event,
        **_task_fields(case, (case.key, definition.version), task),
        actor=ending.actor,
        at=at,
        extra=codes,
    )
    ctx.deadlines.close(tx, task.id, at)
    services.on_step_ended(
        tx,
        ctx.deadlines,
        plan=ctx.service_plan(definition),
        task_id=task.id,
        step=task.step,
        completed=ending.state == "completed",
        now=at,
    )


def resume_case_clock(ctx: EngineContext, tx: Tx, case_id: str) -> None:
    """The case clock runs again once no supplement or special-procedure pause of the case is open
    (a special procedure past its declared limit counts as ended at it; its deadlines move by the
    union of those pauses' working days)."""
    session = tx.session
    case_deadline = session.get(DeadlineRow, case_id)
    if case_deadline is None or case_deadline.paused_since is None or case_deadline.closed_at is not None:
        return
    still = session.scalar(
        select(func.count())
        .select_from(PauseRow)
        .where(
            PauseRow.case_id == case_id,
            PauseRow.ended_at.is_(None),
            PauseRow.overrun_at.is_(None),
            PauseRow.reason.in_(CASE_STOPPING_REASONS),
        )
    )
    if not still:
        ctx.deadlines.resume(tx, case_deadline)


# -- a case ends --------------------------------------------------------------------------------------


def end_case(
    ctx: EngineContext,
    tx: Tx,
    case: CaseRecord,
    end: CaseEnd,
    at: datetime,
    *,
    open_steps: Sequence[TaskRecord],
) -> None:
    """A case ends (the list above) with these steps still open; `case` is updated in place, and the
    caller writes its row (with the workflow, or `hotpath.end_case` for a termination)."""
    # a process that finished cancelled its open steps itself; an outcome is its actor's
    by = end.actor if end.state != "completed" else None
    outcome = end.state if end.state != "completed" else None
    for task in open_steps:  # in queue order
        ended = max(at, as_utc(task.ready_at)) if task.ready_at is not None else at
        end_step(ctx, tx, case, task, Ending.cancelled(end.reason, actor=by, outcome=outcome), ended)
    case.state, case.ended_at = end.state, at
    bundle = (case.key, ctx.definition_in(tx, case.definition_id).version)
    kind = f"case.{end.state}"
    if end.state == "completed":
        tx.journal.record(kind, case=case.id, actor=end.actor, at=at)
        events.publish_case(tx, kind, case_id=case.id, bundle=bundle, at=at)
    else:
        case.next_timer_at = None
        doc = {**({"reason": end.reason} if end.reason is not None else {}), **end.detail}
        tx.journal.record(kind, case=case.id, actor=end.actor, at=at, detail=doc)
        # the outbox: codes only (a terminating service's reason is a code; a user's is sealed text)
        extra = {**end.public, "actor": end.actor} if end.actor is not None else dict(end.public)
        if end.state == "terminated":  # (as it always carried: the key, the reason code and its detail)
            extra.update({"key": case.key, **doc})
        events.publish_case(
            tx, kind, case_id=case.id, bundle=bundle, at=at, recorded_at=ctx.now(), extra=extra
        )
    ctx.deadlines.close(tx, case.id, at)
    services.on_case_ended(
        tx, plan=ctx.service_plan(ctx.definition_in(tx, case.definition_id)), case_id=case.id, now=at
    )


def terminate_case(
    ctx: EngineContext,
    tx: Tx,
    case_id: str,
    *,
    at: datetime,
    reason: str,
    detail: Mapping[str, Any],
    actor: str | None = None,
) -> bool:
    """终止办理: the case becomes terminated at `at`, its open steps cancelled, its clocks stopped.

    The caller holds the case lock. False when the case is not open (nothing changes).
    """
    case = hotpath.read_case(tx.raw, case_id, lock=False)
    if case is None or case.state != "open":
        return False
    end_case(
        ctx,
        tx,
        case,
        CaseEnd("terminated", reason=reason, detail=detail, actor=actor),
        at,
        open_steps=hotpath.open_tasks(tx.raw, case_id),
    )
    hotpath.end_case(tx.raw, case)
    ctx.workflows.forget(case_id)
    return True


# -- after the process moved ----------------------------------------------------------------------


def sync_steps(
    ctx: EngineContext,
    tx: Tx,
    case: CaseRecord,
    definition: LoadedDefinition,
    workflow: Any,
    now: datetime,
    actor: str | None,
    open_rows: list[TaskRecord] | None = None,
) -> list[TaskRecord]:
    """Mirror SpiffWorkflow's ready user steps into the work queues after the process moved.

    Open steps the process moved past end cancelled; steps it made ready become ready; a finished
    process ends the case (`case.state` is set for the caller's `persist_case`). Returns the steps
    that became ready. `open_rows`: the case's open steps as they are now, when the caller read
    them already under the case lock (else they are read here).
    """
    ready = {t.id: t for t in ready_user_tasks(workflow)}
    if open_rows is None:
        open_rows = hotpath.open_tasks(tx.raw, case.id)
    gone = [t for t in open_rows if t.id not in ready]
    done = finished(workflow)
    if not done:
        for task in gone:
            end_step(ctx, tx, case, task, Ending.cancelled(), now)
    known = {t.id for t in open_rows}
    added = [
        ready_step(ctx, tx, case, definition, t, now) for task_id, t in ready.items() if task_id not in known
    ]
    check_depth(workflow)
    if done:
        end_case(ctx, tx, case, CaseEnd("completed", actor=actor), now, open_steps=gone)
    return added
