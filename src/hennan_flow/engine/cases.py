"""Cases (办件): starting one, its due BPMN timers, marking one in error, and reading cases.

`start` runs a new case of the latest deployed version to its first wait state in one transaction:
the case row, its deadline, then the step lifecycle for what the process made ready (or the case's
end, if it ran through). `fire_timers` advances a case whose next timer is due, the same way. A case
that cannot advance (a refused expression in a timer) is marked in error and left alone.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from typing import Any

from sqlalchemy import select

from ..clock.instants import as_utc
from ..db import hotpath
from ..db.hotpath import CaseRecord
from ..db.models import CaseRow, DefinitionRow, EventRow
from ..db.raw import Raw
from ..entities import Case, Issued
from ..errors import NotFoundError
from ..ids import new_id
from ..runtime.workflow import SPIFF_VERSION, advance, new_workflow, ready_user_tasks, task_data
from . import events, portal
from .context import EngineContext
from .lifecycle import sync_steps
from .rows import locked_case
from .views import event_of, outcomes_of, ready_entries
from .workflows import load_workflow, persist_case

__all__ = [
    "CASE_STATES",
    "case",
    "case_data",
    "cases",
    "due_timer_cases",
    "fire_timers",
    "mark_error",
    "start",
    "step_data",
]

CASE_STATES = ("open", "completed", "terminated", "refused", "withdrawn")


def start(
    ctx: EngineContext, key: str, *, applicant: Mapping[str, Any], data: Mapping[str, Any], actor: str | None
) -> Case:
    """Start a case of the latest deployed version of `key` and run it to its first wait state."""
    case_id = new_id()  # time-ordered: see ids.py
    with ctx.workflows.changing(case_id) as change, ctx.write() as tx:
        now = ctx.now()
        raw = tx.raw
        ctx.authority.check(tx, actor, "case.start")
        latest = hotpath.latest_definition(raw, key)
        if latest is None:
            known = hotpath.definition_keys(raw)
            raise NotFoundError(
                f"没有已部署的事项包 {key!r}",
                hint=f"已部署的事项包：{'、'.join(known)}" if known else "请先部署：hennan-flow deploy PATH",
            )
        definition_id, version = latest
        definition = ctx.definition_in(tx, definition_id)
        ctx.check_plaintext(tx, applicant, definition.sensitive_fields)
        workflow = new_workflow(definition.specs, ctx.script_engine, dict(data))
        advance(workflow)
        case = CaseRecord(
            id=case_id,
            definition_id=definition_id,
            key=key,
            state="open",
            applicant=json.dumps(dict(applicant), ensure_ascii=False),
            started_at=now,
            ended_at=None,
            started_by=actor,
            rev=1,
            spiff_version=SPIFF_VERSION,
            next_timer_at=None,
            error=None,
        )
        change.keep(persist_case(ctx, raw, case, workflow, new=True), workflow, case)
        tx.journal.record(
            "case.started", case=case_id, actor=actor, at=now, detail={"key": key, "version": version}
        )
        events.publish_case(
            tx,
            "case.started",
            case_id=case_id,
            bundle=(key, version),
            at=now,
            extra={"actor": actor} if actor is not None else None,
        )
        ctx.deadlines.start(
            tx,
            owner=case_id,
            case_id=case_id,
            task_id=None,
            scope="case",
            step=None,
            kind="promised",
            limit=definition.bundle.time_limit,
            accepted_at=now,
        )
        ready = ready_entries(ctx, tx, sync_steps(ctx, tx, case, definition, workflow, now, actor), now)
        if case.state != "open":  # it ran through: the row was written open
            hotpath.end_case(tx.raw, case)
    ctx.handed_back.add(ready, definition_id)  # committed: the portal completes these next
    return Case(
        id=case_id,
        key=key,
        version=version,
        state=case.state,
        started_at=now,
        ended_at=case.ended_at,
        ready=ready,
    )


def fire_timers(ctx: EngineContext, case_id: str) -> list[Issued] | None:
    """Load a case and let its due BPMN timers fire (one transaction): what the steps it ended late
    issued, or None when no timer was due."""
    with ctx.workflows.changing(case_id) as change, ctx.write() as tx:
        now = ctx.now()
        case = hotpath.read_case(tx.raw, case_id, lock=True)
        if case is None:
            raise NotFoundError(f"没有办件 {case_id!r}")
        if case.state != "open" or case.next_timer_at is None or case.next_timer_at > now:
            return None
        definition = ctx.definition_in(tx, case.definition_id)
        workflow = load_workflow(ctx, tx.raw, case, definition)
        advance(workflow)
        tx.journal.record("timer.fired", case=case_id, at=now)
        sync_steps(ctx, tx, case, definition, workflow, now, None)
        change.keep(persist_case(ctx, tx.raw, case, workflow), workflow, case)
        issued = list(tx.issued)
    return issued


def mark_error(ctx: EngineContext, case_id: str, message: str) -> None:
    """A case that cannot advance (e.g. a refused expression in a timer) is marked, with an event."""
    with ctx.write() as tx:
        row = locked_case(tx, case_id)
        row.error = message
        row.next_timer_at = None
        tx.journal.record("case.error", case=case_id, at=ctx.now(), detail={"message": message})
    ctx.workflows.forget(case_id)


def due_timer_cases(ctx: EngineContext, limit: int) -> list[str]:
    """Open cases whose next BPMN timer is due (indexed on next_timer_at)."""
    now = ctx.now()
    with ctx.read() as session:
        return list(
            session.scalars(
                select(CaseRow.id)
                .where(CaseRow.next_timer_at <= now, CaseRow.state == "open")
                .order_by(CaseRow.next_timer_at)
                .limit(limit)
            )
        )


# -- reading ------------------------------------------------------------------------------------


def case(ctx: EngineContext, case_id: str) -> Case:
    """A case with its timeline of events and its deadlines."""
    with ctx.read() as session:
        row = session.get(CaseRow, case_id)
        if row is None:
            raise NotFoundError(f"没有办件 {case_id!r}", hint="查看办件：hennan-flow case list")
        version = session.scalar(select(DefinitionRow.version).where(DefinitionRow.id == row.definition_id))
        events = session.scalars(
            select(EventRow).where(EventRow.case_id == case_id).order_by(EventRow.id)
        ).all()
        return Case(
            id=row.id,
            key=row.key,
            version=version or 0,
            state=row.state,
            started_at=as_utc(row.started_at),
            ended_at=as_utc(row.ended_at),
            events=tuple(event_of(e) for e in events),
            deadlines=ctx.deadlines.view(Raw(session.connection()), row.id, ctx.now()),
            outcomes=tuple(outcomes_of(session, case_id)),
        )


def cases(ctx: EngineContext, *, state: str | None, key: str | None, actor: str | None = None) -> list[Case]:
    """Cases, newest first (without their timelines); given `actor`, only those that actor may read:
    the cases they started and those with a step in their departments (DESIGN §8)."""
    with ctx.read() as session:
        reader = portal.readable(ctx, Raw(session.connection()), actor)
        query = select(CaseRow, DefinitionRow.version).join(
            DefinitionRow, DefinitionRow.id == CaseRow.definition_id
        )
        if reader is not None:
            query = query.where(reader.case(CaseRow.id))
        if state:
            query = query.where(CaseRow.state == state)
        if key:
            query = query.where(CaseRow.key == key)
        rows = session.execute(query.order_by(CaseRow.started_at.desc(), CaseRow.id)).all()
        return [
            Case(
                id=r.id,
                key=r.key,
                version=v,
                state=r.state,
                started_at=as_utc(r.started_at),
                ended_at=as_utc(r.ended_at),
            )
            for r, v in rows
        ]


def case_data(ctx: EngineContext, case_id: str) -> dict[str, Any]:
    """The case's current process data (what earlier steps entered and issued)."""
    workflow = _read_workflow(ctx, case_id)
    if workflow.is_completed():
        return dict(workflow.data)
    data: dict[str, Any] = {}
    for t in ready_user_tasks(workflow):
        task = workflow.get_task_from_id(uuid.UUID(t.id))
        data.update(task.data)
    return data or dict(workflow.last_task.data if workflow.last_task else {})


def step_data(ctx: EngineContext, case_id: str, task_id: str) -> dict[str, Any]:
    """The data one step of the case held when it ended (for a completed step: the values it took);
    the case's current data when its workflow no longer has that step."""
    data = task_data(_read_workflow(ctx, case_id), task_id)
    return case_data(ctx, case_id) if data is None else data


def _read_workflow(ctx: EngineContext, case_id: str) -> Any:
    """The case's workflow as stored, read without a lock (for views, never for a state change)."""
    with ctx.read() as session:
        raw = Raw(session.connection())
        found = hotpath.read_case(raw, case_id, lock=False)
        if found is None:
            raise NotFoundError(f"没有办件 {case_id!r}")
        return load_workflow(ctx, raw, found, ctx.definition(session, found.definition_id))
