"""A step's materials across the services: what it holds and waits for, and a material handed in.

`case_materials` gathers a case's or a step's commitment records, tolerated materials (容缺) and
e-licence checks into `tolerance.CaseMaterials` (with what is still missing). `supply` records a
material the step waits for: a tolerated one in time, one a refused commitment needs, or one whose
e-licence could not be verified. A tolerated material whose supplement deadline has passed is not
supplied: `lapsed` finds it, and the engine terminates the case at that instant instead.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..db.service_rows import CommitmentRow, LicenceCheckRow, ToleranceRow
from ..db.transaction import Tx
from ..errors import StateError
from .commitments import commitment_of
from .licences import RETRIED_STATES, check_of
from .tolerance import CaseMaterials, StepPlan, passed, tolerance_of
from .tolerance import supply as supply_tolerated

__all__ = ["case_materials", "lapsed", "supply"]


def case_materials(
    session: Session, *, case: str | None = None, task: str | None = None, plan: StepPlan | None = None
) -> CaseMaterials:
    """The commitments, tolerated materials and e-licence checks of a case or step (what `plan` has)."""

    def rows(model: Any, wanted: bool) -> list[Any]:
        if not wanted:
            return []
        query = select(model)
        if case is not None:
            query = query.where(model.case_id == case)
        if task is not None:
            query = query.where(model.task_id == task)
        return list(session.scalars(query.order_by(model.step, model.material, model.id)))

    return CaseMaterials(
        commitments=tuple(
            commitment_of(r) for r in rows(CommitmentRow, plan is None or bool(plan.commitments))
        ),
        tolerated=tuple(tolerance_of(r) for r in rows(ToleranceRow, plan is None or bool(plan.tolerable))),
        licences=tuple(check_of(r) for r in rows(LicenceCheckRow, plan is None or bool(plan.licences))),
    )


def lapsed(session: Session, task_id: str, material: str, now: datetime) -> ToleranceRow | None:
    """The step's tolerated `material`, when it is still missing and its supplement deadline has passed."""
    row = session.scalar(
        select(ToleranceRow).where(ToleranceRow.task_id == task_id, ToleranceRow.material == material)
    )
    return row if row is not None and passed(row, now) else None


def supply(
    tx: Tx, *, case_id: str, task_id: str, step: str, material: str, now: datetime, actor: str | None
) -> None:
    """Record `material` as handed in for every record of the step that waits for it (a tolerated one
    in time, a refused commitment's, an e-licence not verified); StateError when none does."""
    session = tx.session
    supplied = False
    tol = session.scalar(
        select(ToleranceRow).where(ToleranceRow.task_id == task_id, ToleranceRow.material == material)
    )
    if tol is not None and tol.state == "missing":
        supply_tolerated(tx, tol, now=now, actor=actor)
        supplied = True
    com = session.scalar(
        select(CommitmentRow).where(
            CommitmentRow.task_id == task_id,
            CommitmentRow.material == material,
            CommitmentRow.state == "refused",
            CommitmentRow.supplied_at.is_(None),
        )
    )
    if com is not None:
        com.supplied_at, com.supplied_by = now, actor
        tx.journal.record(
            "material.supplied",
            case=case_id,
            task=task_id,
            step=step,
            actor=actor,
            at=now,
            detail={"material": material, "commitment": com.id, "kind": "commitment"},
        )
        supplied = True
    check = session.scalar(
        select(LicenceCheckRow).where(
            LicenceCheckRow.task_id == task_id,
            LicenceCheckRow.material == material,
            LicenceCheckRow.state.in_(RETRIED_STATES),
        )
    )
    if check is not None:
        before = check.state
        check.state, check.supplied_at, check.supplied_by = "supplied", now, actor
        tx.journal.record(
            "licence.supplied",
            case=case_id,
            task=task_id,
            step=step,
            actor=actor,
            at=now,
            detail={"material": material, "check": check.id, "from": before},
        )
        supplied = True
    if not supplied:
        waiting = case_materials(session, task=task_id).missing
        raise StateError(
            f"step {step!r} of case {case_id} does not wait for material {material!r}",
            hint="it waits for: " + ", ".join(m.material for m in waiting)
            if waiting
            else "it waits for no material",
        )
    session.flush()
