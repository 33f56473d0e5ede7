"""The services' operations (告知承诺, 容缺, 好差评): each opens its transaction, locks the case and calls
the service module that owns the rule (`services.commitments`, `services.materials`,
`services.tolerance`, `services.reviews`); what ends a case goes through the step lifecycle.

Two outcomes terminate a case (终止办理, `lifecycle.terminate_case`): a false commitment found by the
post-verification, and a tolerated material whose supplement deadline passed (`lapse`: by the sweeper
at the deadline instant, or by a late supply that finds it passed first).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm.exc import StaleDataError

from ..clock.instants import as_utc, local_iso
from ..db.models import SignalRow, TaskRow
from ..db.service_rows import ToleranceRow
from ..db.transaction import Tx
from ..entities import Issued
from ..errors import ConflictError, NotFoundError, StateError
from ..services import commitments, materials, reviews, tolerance
from ..services.commitments import Commitment, CreditRecord
from ..services.reviews import Review
from ..services.steps import applicant_of
from ..services.tolerance import CaseMaterials
from ..supervision.cards import issued_of, mark_fired
from .context import EngineContext
from .lifecycle import terminate_case
from .rows import locked_case, locked_task

__all__ = [
    "add_review",
    "applicant_key",
    "decline_commitment",
    "extend_supplement",
    "fire_service_signals",
    "lapse",
    "move_review",
    "repair_credit",
    "supply_material",
    "verify_commitment",
]

_OPEN = ("ready", "paused")


# -- commitments (告知承诺) ----------------------------------------------------------------------------


def applicant_key(ctx: EngineContext, applicant: Mapping[str, Any]) -> str | None:
    with ctx.write() as tx:  # the first use may store the database's secret
        return commitments.applicant_key(tx, applicant)


def decline_commitment(ctx: EngineContext, commitment_id: str, *, actor: str | None) -> Commitment:
    with ctx.write() as tx:
        now = ctx.now()
        row = commitments.get(tx.session, commitment_id)
        tx.lock_case(row.case_id)
        tx.session.refresh(row)
        ctx.authority.check(tx, actor, "commitment.decline")
        state = tx.session.scalar(select(TaskRow.state).where(TaskRow.id == row.task_id))
        commitments.decline(tx, row, now=now, actor=actor, task_open=state in _OPEN)
        tx.session.flush()
        return commitments.commitment_of(row)


def verify_commitment(
    ctx: EngineContext, commitment_id: str, *, result: bool, method: str, note: str, actor: str | None
) -> Commitment:
    try:
        with ctx.write() as tx:
            now = ctx.now()
            row = commitments.get(tx.session, commitment_id)
            tx.lock_case(row.case_id)
            tx.session.refresh(row)
            department = tx.session.scalar(select(TaskRow.department).where(TaskRow.id == row.task_id))
            ctx.authority.check(tx, actor, "commitment.verify", department=department)
            commitments.verify(
                tx, ctx.deadlines, row, result=result, method=method, note=note, now=now, actor=actor
            )
            if not result:
                if row.decided_at is not None:
                    detail = {"commitment": row.id, "material": row.material, "reason": "false_commitment"}
                    tx.journal.announce(
                        "decision.revoked",
                        case=row.case_id,
                        task=row.task_id,
                        step=row.step,
                        actor=actor,
                        at=now,
                        ref=row.task_id,
                        detail=detail,
                        payload={
                            **detail,
                            "case": row.case_id,
                            "task": row.task_id,
                            "step": row.step,
                            "department": row.department,
                            "decided_at": local_iso(row.decided_at),
                            "at": local_iso(now),
                        },
                    )
                commitments.record_credit(tx, row, now=now, actor=actor)
                terminate_case(
                    ctx,
                    tx,
                    row.case_id,
                    at=now,
                    reason="false_commitment",
                    detail={"commitment": row.id, "material": row.material},
                    actor=actor,
                )
            tx.session.flush()
            return commitments.commitment_of(row)
    except StaleDataError as exc:
        raise ConflictError(f"承诺 {commitment_id} 在此期间已被修改", hint="重新查看后重试") from exc


def repair_credit(ctx: EngineContext, record_id: int, *, note: str, actor: str | None) -> CreditRecord:
    with ctx.write() as tx:
        ctx.authority.check(tx, actor, "credit.repair")
        credit = commitments.repair(tx, record_id, note=note, now=ctx.now(), actor=actor)
        tx.session.flush()
        return commitments.credit_of(credit)


# -- materials (容缺, refused commitments, e-licence checks) --------------------------------------------


def supply_material(ctx: EngineContext, task_id: str, material: str, *, actor: str | None) -> CaseMaterials:
    """A material the step waits for was handed in; a tolerated one past its deadline terminates the
    case at that instant instead, and StateError says so."""
    with ctx.write() as tx:
        now = ctx.now()
        task = locked_task(tx, task_id)
        ctx.authority.check(tx, actor, "material.supply")
        if task.state not in _OPEN:
            raise StateError(
                f"办件 {task.case_id} 的环节 {task.step!r} 的状态为 {task.state}，已不再等待材料"
            )
        passed = materials.lapsed(tx.session, task_id, material, now)
        if passed is None:
            materials.supply(
                tx,
                case_id=task.case_id,
                task_id=task_id,
                step=task.step,
                material=material,
                now=now,
                actor=actor,
            )
            return materials.case_materials(tx.session, task=task_id)
        lapse(ctx, tx, passed, at=as_utc(passed.due_at) if passed.due_at else now)
    assert passed.due_at is not None
    raise StateError(
        f"材料 {material!r} 的补交时限已于 {local_iso(passed.due_at)} 届满；办件 {task.case_id} "
        "已于该时刻终止办理"
    )


def extend_supplement(
    ctx: EngineContext,
    task_id: str,
    material: str,
    *,
    days: int,
    approver: str,
    reason: str,
    actor: str | None,
) -> CaseMaterials:
    with ctx.write() as tx:
        now = ctx.now()
        task = locked_task(tx, task_id)
        ctx.authority.check(tx, actor, "material.extend", department=task.department)
        tol = tx.session.scalar(
            select(ToleranceRow).where(ToleranceRow.task_id == task_id, ToleranceRow.material == material)
        )
        if tol is None:
            raise NotFoundError(
                f"办件 {task.case_id} 的环节 {task.step!r} 并未在缺 {material!r} 的情况下容缺受理"
            )
        tolerance.extend(
            tx,
            tol,
            days=days,
            approver=approver,
            reason=reason,
            calendar=ctx.calendar(tx),
            now=now,
            actor=actor,
        )
        tx.session.flush()
        return materials.case_materials(tx.session, task=task_id)


def lapse(ctx: EngineContext, tx: Tx, row: ToleranceRow, *, at: datetime) -> None:
    """A supplement deadline passed with the material missing: 终止办理 at the deadline instant."""
    tolerance.lapse(tx, row, at=at)
    terminate_case(
        ctx,
        tx,
        row.case_id,
        at=at,
        reason="supplement_missed",
        detail={"material": row.material, "tolerance": row.id, "task": row.task_id, "step": row.step},
    )


def fire_service_signals(
    ctx: EngineContext, tx: Tx, signals: Sequence[SignalRow], now: datetime, *, claimer: str | None
) -> list[Issued]:
    """Fire service deadlines (kind action: a supplement deadline terminates its case), fenced like cards."""
    if not signals:
        return []
    fired = mark_fired(tx.session, signals, now, claimer=claimer)
    out: list[Issued] = []
    for sig in sorted(signals, key=lambda s: (as_utc(s.due_at), s.id)):
        if sig.id not in fired:
            continue
        row = tx.session.get(ToleranceRow, sig.deadline_id) if sig.name == tolerance.SUPPLEMENT else None
        if row is None or row.state != "missing":
            tolerance.log.warning("service signal %s (%s) has nothing left to act on", sig.id, sig.name)
            continue
        issued = issued_of(sig)
        lapse(ctx, tx, row, at=issued.at)
        out.append(issued)
    return out


# -- reviews (好差评) ----------------------------------------------------------------------------------


def add_review(
    ctx: EngineContext,
    case_id: str,
    *,
    level: int,
    channel: str,
    task: str | None,
    real_name: bool,
    text: str | None,
    actor: str | None,
) -> Review:
    with ctx.write() as tx:
        now = ctx.now()
        case = locked_case(tx, case_id)
        ctx.authority.check(tx, actor, "review.add")
        step: str | None = None
        department: str | None = None
        if task is not None:
            found = tx.session.execute(
                select(TaskRow.case_id, TaskRow.step, TaskRow.state, TaskRow.department).where(
                    TaskRow.id == task
                )
            ).first()
            if found is None or found[0] != case_id:
                raise NotFoundError(f"办件 {case_id} 没有环节 {task!r}")
            if found[2] != "completed":
                raise StateError(f"环节 {found[1]!r} 的状态为 {found[2]}；环节办结后才能评价（一次一评）")
            step, department = found[1], found[3]
        else:
            if case.state == "open":
                raise StateError(
                    f"办件 {case_id} 仍在办理中；办件办结后才能评价（一事一评）",
                    hint="改为评价已办结的环节：--task TASK_ID",
                )
            department = ctx.lead_of(tx.session, case.definition_id)
        reviewer = commitments.applicant_key(tx, applicant_of(case.applicant)) if real_name else None
        row = reviews.add(
            tx,
            ctx.deadlines,
            case_id=case_id,
            task_id=task,
            step=step,
            department=department,
            level=level,
            channel=channel,
            real_name=real_name,
            text=text,
            reviewer=reviewer,
            now=now,
            actor=actor,
        )
        tx.session.flush()
        return reviews.reviews_of(tx.session, [row])[0]


_MOVES: dict[str, Callable[..., Any]] = {
    "verify": reviews.verify,
    "rectify": reviews.rectify,
    "answer": reviews.answer,
}


def move_review(ctx: EngineContext, review_id: str, move: str, **kwargs: Any) -> Review:
    """One move of a bad review's rectification record: verify (核实), rectify (整改), answer (反馈)."""
    try:
        with ctx.write() as tx:
            now = ctx.now()
            row, rect = reviews.find(tx.session, review_id)
            tx.lock_case(row.case_id)
            ctx.authority.check(tx, kwargs.get("actor"), "review.move", department=row.department)
            if rect is not None:
                tx.session.refresh(rect)
            _MOVES[move](tx, ctx.deadlines, row, rect, now=now, **kwargs)
            tx.session.flush()
            return reviews.reviews_of(tx.session, [row])[0]
    except StaleDataError as exc:
        raise ConflictError(f"评价 {review_id} 在此期间已被修改", hint="重新查看后重试") from exc
