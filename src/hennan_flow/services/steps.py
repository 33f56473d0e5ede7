"""What the services do in a step's life (告知承诺, 容缺, e-licences): the step lifecycle calls these.

- **ready** (受理): each material exempted by commitment becomes a signed commitment record (or a
  declined one, or refused for a barred applicant); each exempted by e-licence a licence check (asked
  at once without a provider, else after the commit with no lock held); each tolerable one the intake
  lists as missing a tolerance record with its supplement deadline. A bad `intake` refuses the start.
- **before the result**: the step's result waits for tolerated materials not yet supplied, refused
  commitments whose material is missing and e-licences not verified (StateError naming them).
- **ended**: a completed step (its decision) starts its commitments' post-verification clocks; a
  cancelled one voids its signed commitments and its missing tolerated materials.
- **case ended**: nothing the case still awaited (容缺) can lapse any more.

Bundles without any such material cost nothing here: the plan of each definition is computed once
(`tolerance.plan_of`, the audit's verdicts) and a step without a plan returns at once.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, time
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..clock.deadlines import Deadlines
from ..clock.workdays import WorkCalendar
from ..db.service_rows import ToleranceRow
from ..db.transaction import Tx
from ..errors import StateError
from . import commitments, licences, tolerance
from .materials import case_materials
from .tolerance import MaterialPlan

__all__ = ["applicant_of", "before_result", "on_case_ended", "on_step_ended", "on_step_ready"]


def applicant_of(applicant: str | None) -> dict[str, Any]:
    """The applicant JSON of a case (personal data: never logged)."""
    try:
        found = json.loads(applicant or "{}")
    except json.JSONDecodeError:
        return {}
    return found if isinstance(found, dict) else {}


def on_step_ready(
    tx: Tx,
    *,
    plan: MaterialPlan,
    case_id: str,
    applicant: str | None,
    task_id: str,
    step: str,
    department: str | None,
    now: datetime,
    provider: licences.LicenceProvider,
    calendar: Callable[[], WorkCalendar],
    close: time | None,
) -> bool:
    """A step was accepted: commitments signed, e-licences recorded, tolerated materials awaited.

    True when e-licence checks wait to be asked once the acceptance has committed.
    """
    step_plan = plan.of(step)
    if step_plan is None and '"intake"' not in (applicant or ""):
        return False  # the common case: nothing to do, nothing parsed
    who = applicant_of(applicant)
    intake = tolerance.intake_of(who, plan)  # a bad intake refuses the case's start
    if step_plan is None:
        return False
    if step_plan.commitments:
        commitments.open_for_step(
            tx,
            case_id=case_id,
            task_id=task_id,
            step=step,
            department=department,
            materials=step_plan.commitments,
            key=commitments.applicant_key(tx, who),
            declined=intake.declined,
            now=now,
            actor=None,
        )
    fetch_later = False
    if step_plan.licences:
        fetch_now = isinstance(provider, licences.NoProvider)  # nothing to wait for
        fetch_later = not fetch_now
        for check in licences.record(
            tx.session,
            provider=provider,
            case_id=case_id,
            task_id=task_id,
            step=step,
            materials=step_plan.licences,
            applicant=who,
            now=now,
            fetch_now=fetch_now,
        ):
            tx.journal.record(
                f"licence.{check.state}",
                case=case_id,
                task=task_id,
                step=step,
                at=now,
                detail={
                    "check": check.id,
                    "material": check.material,
                    "provider": check.provider,
                    "code": check.error_code,
                },
            )
    tolerated = [m for m in step_plan.tolerable if m.id in intake.missing]
    if tolerated:
        tolerance.open_for_step(
            tx,
            case_id=case_id,
            task_id=task_id,
            step=step,
            materials=tolerated,
            calendar=calendar(),
            close=close,
            now=now,
            actor=None,
        )
    return fetch_later


def before_result(session: Session, *, plan: MaterialPlan, case_id: str, task_id: str, step: str) -> None:
    """The step's result waits for tolerated, refused-commitment and unverified e-licence materials."""
    step_plan = plan.of(step)
    if step_plan is None:
        return
    missing = case_materials(session, task=task_id, plan=step_plan).missing
    if missing:
        raise StateError(
            f"办件 {case_id} 的环节 {step!r} 还不能出具结果，尚缺材料："
            + "；".join(m.line() for m in missing),
            hint=f"补交材料：hennan-flow material supply {task_id} MATERIAL"
            + (
                f"；重新核验电子证照：hennan-flow material verify {task_id}"
                if any(m.kind == "licence" for m in missing)
                else ""
            ),
        )


def on_step_ended(
    tx: Tx,
    deadlines: Deadlines,
    *,
    plan: MaterialPlan,
    task_id: str,
    step: str,
    completed: bool,
    now: datetime,
) -> None:
    """A decision starts the commitments' verification clocks; a cancelled step voids what waited."""
    step_plan = plan.of(step)
    if step_plan is None:
        return
    if completed:
        if step_plan.commitments:
            commitments.start_verification(
                tx, deadlines, commitments.rows_of_task(tx.session, task_id), now=now
            )
        return
    if step_plan.commitments:
        commitments.void_for_task(tx, task_id, now=now)
    if step_plan.tolerable:
        tolerance.void_for_task(tx, task_id, now=now)


def on_case_ended(tx: Tx, *, plan: MaterialPlan, case_id: str, now: datetime) -> None:
    """A case ended: nothing it still awaited (容缺) can lapse any more."""
    if not any(s.tolerable for s in plan.steps.values()):
        return
    for (task_id,) in tx.session.execute(
        select(ToleranceRow.task_id).where(ToleranceRow.case_id == case_id, ToleranceRow.state == "missing")
    ).all():
        tolerance.void_for_task(tx, task_id, now=now)
