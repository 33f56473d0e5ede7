"""What a portal reads beside the work queue: a step's form schema, a case's element states for its
diagram, and the §8 read check of one case for a given actor."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, exists, or_, select
from sqlalchemy.orm import aliased

from ..db.models import CaseRow, TaskRow
from ..db.raw import Raw
from ..errors import NotFoundError, PermissionDenied
from ..supervision import cards as card_records
from . import deployments, tasks
from .context import EngineContext

__all__ = ["Readable", "check_readable", "element_states", "form_schema", "readable"]

_COLOURS = {"red": 2, "yellow": 1}


@dataclass(frozen=True)
class Readable:
    """What one actor may read (DESIGN §8): the cases they started or that have a step in
    `departments` (their own; for a reviewer also those whose superior is theirs, whose red cards
    they review)."""

    user: str
    departments: frozenset[str]

    def case(self, column: Any) -> ColumnElement[bool]:
        """`column` (a case id) names a case this actor may read: correlated lookups by the case's
        key and task index, so checking one case reads that case's rows only."""
        started = aliased(CaseRow)  # an alias: not correlated away when the outer query is on hf_case
        return or_(
            exists().where(started.id == column, started.started_by == self.user),
            exists().where(TaskRow.case_id == column, TaskRow.department.in_(self.departments)),
        )


def readable(ctx: EngineContext, raw: Raw, actor: str | None) -> Readable | None:
    """What `actor` may read; None: everything (no actor, or supervisor, auditor, admin)."""
    reader = ctx.authority.reader(raw, actor)
    if reader is None:
        return None
    departments = set(reader.departments)
    if "reviewer" in reader.roles:  # (the directory is read again only for them)
        directory = ctx.authority.directory(raw)
        if directory is not None:
            departments |= {
                d.code for d in directory.departments.values() if d.superior in reader.departments
            }
    return Readable(reader.id, frozenset(departments))


def check_readable(ctx: EngineContext, case_id: str, actor: str | None) -> None:
    """Refuse (PermissionDenied) unless `actor` may read the case: they started it, it has a step in
    their departments, or they read everything (DESIGN §8); no actor reads with the database's rights."""
    with ctx.read() as session:
        reader = readable(ctx, Raw(session.connection()), actor)
        if reader is None:
            return
        found = session.execute(
            select(CaseRow.id).where(CaseRow.id == case_id, reader.case(CaseRow.id))
        ).first()
        if found is None and session.get(CaseRow, case_id) is not None:
            raise PermissionDenied(
                f"{reader.user} 不能读取办件 {case_id}：办件不是其发起的，也没有其部门的环节",
                hint="需要该办件有环节在该用户的部门，或角色为 supervisor/auditor/admin",
            )


def form_schema(ctx: EngineContext, task_id: str) -> dict[str, Any]:
    """The JSON Schema of a step's form (`{"type": "object"}` for a step without a form)."""
    task = tasks.one(ctx, task_id)
    with ctx.read() as session:
        definition = ctx.definition(session, deployments.of_case(session, task.case))
    return definition.form_of(task.step) or {"type": "object"}


def element_states(ctx: EngineContext, case_id: str) -> dict[str, dict[str, Any]]:
    """Per BPMN element id of the case's user steps: the newest instance's state (ready, paused,
    completed, cancelled), task id, department, deadlines, and the colour of the worst card not yet
    closed (red, yellow or None)."""
    steps = tasks.queue(ctx, case=case_id, department=None, state=None, assignee=None, actor=None)
    with ctx.read() as session:
        if not steps and session.get(CaseRow, case_id) is None:
            raise NotFoundError(f"没有办件 {case_id!r}", hint="查看办件：hennan-flow case list")
        years = ctx.calendar(session).provisional_years
        cards = card_records.list_cards(
            session, state="open", case=case_id, color=None, provisional_years=years
        )
    worst: dict[str, str] = {}
    for card in cards:
        if card.step is not None and _COLOURS[card.color] > _COLOURS.get(worst.get(card.step, ""), 0):
            worst[card.step] = card.color
    out: dict[str, dict[str, Any]] = {}
    for step in sorted(steps, key=lambda t: (t.ready_at, t.id)):
        out[step.step] = {
            "state": step.state,
            "task": step.id,
            "name": step.name,
            "department": step.department,
            "deadlines": step.deadlines,
            "card": worst.get(step.step),
        }
    return out
