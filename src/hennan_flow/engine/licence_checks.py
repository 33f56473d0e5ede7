"""E-licence checks asked again (电子证照): the provider is asked outside any transaction.

A step accepted with e-licence materials records its checks `pending` when a provider is configured,
and they are asked once the acceptance has committed (`verify_after_commit`, scheduled by the step
lifecycle), so no lock — the case's, the outbox's — is held while a provider answers. `verify` asks
again for a step's pending, failed, not found, invalid and unverified checks; each answer is stored
unless the check changed meanwhile (supplied or verified by someone else).
"""

from __future__ import annotations

import logging

from sqlalchemy import select

from ..db.models import CaseRow, TaskRow
from ..db.raw import Raw
from ..db.service_rows import LicenceCheckRow
from ..errors import NotFoundError
from ..services.licences import RETRIED_STATES, LicenceRequest, apply, fetch, holder_of
from ..services.materials import case_materials
from ..services.steps import applicant_of
from ..services.tolerance import CaseMaterials
from .context import EngineContext

__all__ = ["verify", "verify_after_commit"]

log = logging.getLogger(__name__)


def verify(ctx: EngineContext, task_id: str, *, actor: str | None = None) -> CaseMaterials:
    """Ask the provider for the step's checks that are not verified, then store the answers."""
    with ctx.read() as session:
        found = session.execute(
            select(TaskRow.case_id, TaskRow.department).where(TaskRow.id == task_id)
        ).first()
        if found is None:
            raise NotFoundError(f"没有环节 {task_id!r}", hint="查看环节：hennan-flow task list")
        case_id, department = found[0], found[1]
        # refused before the provider is asked: an actor who may not verify learns nothing
        ctx.authority.check(Raw(session.connection()), actor, "licence.verify", department=department)
        case = session.get(CaseRow, case_id)
        assert case is not None
        bundle = ctx.definition(session, case.definition_id).bundle
        applicant = applicant_of(case.applicant)
        pending = [
            (r.id, r.rev, r.source, r.licence_type, r.step, r.material)
            for r in session.scalars(
                select(LicenceCheckRow).where(
                    LicenceCheckRow.task_id == task_id, LicenceCheckRow.state.in_(RETRIED_STATES)
                )
            )
        ]
    answers = []
    for check_id, rev, source, licence_type, step_id, material_id in pending:
        step = bundle.step(step_id)
        material = next((m for m in step.materials if m.id == material_id), None) if step else None
        request = LicenceRequest(
            material=material_id,
            licence_type=licence_type,
            source=source,
            case=case_id,
            holder=holder_of(applicant, material) if material is not None else None,
        )
        answers.append((check_id, rev, fetch(ctx.licences, request)))
    with ctx.write() as tx:
        now = ctx.now()
        tx.lock_case(case_id)
        ctx.authority.check(tx, actor, "licence.verify", department=department)
        session = tx.session
        for check_id, rev, outcome in answers:
            row = session.get(LicenceCheckRow, check_id, populate_existing=True)
            if row is None or row.rev != rev or row.state not in RETRIED_STATES:
                continue  # supplied or verified meanwhile
            before = row.state
            apply(row, outcome, provider=getattr(ctx.licences, "name", "custom"), now=now)
            tx.journal.record(
                f"licence.{row.state}",
                case=row.case_id,
                task=row.task_id,
                step=row.step,
                actor=actor,
                at=now,
                detail={"check": row.id, "material": row.material, "from": before, "code": row.error_code},
            )
        session.flush()
        return case_materials(session, task=task_id)


def verify_after_commit(ctx: EngineContext, task_id: str) -> None:
    """The checks of a step whose acceptance just committed; a failure leaves them pending (blocking,
    retryable with `verify`) and never undoes the acceptance."""
    try:
        verify(ctx, task_id)
    except Exception as exc:  # the acceptance stands; the checks stay pending
        log.warning("e-licence checks of task %s stay pending: %s", task_id, type(exc).__name__)
