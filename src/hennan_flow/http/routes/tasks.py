"""Tasks: the work queue, one task, its form (JSON Schema and HTML fragment) and every action."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse
from pydantic import Field

from ...errors import FieldError
from ..deps import engine, json_response, run
from ..hot import Hot, route_of
from .common import Body, Db, User

__all__ = ["HOT", "router"]

router = APIRouter(tags=["tasks"])

TaskDoc = dict[str, Any]
Text = Field(min_length=1, max_length=2000)


@router.get("/tasks")
def queue(
    db: Db,
    user: User,
    case: str | None = None,
    department: str | None = None,
    state: Literal["ready", "paused", "open", "completed", "cancelled"] | None = "open",
    assignee: str | None = None,
) -> list[TaskDoc]:
    """The work queue the user may read, as `task list --format json` (default: ready or paused)."""
    found = db.tasks(case=case, department=department, state=state, assignee=assignee, actor=user)
    return [t.as_dict() for t in found]


@router.get("/tasks/{task_id}")
def task(task_id: str, db: Db, user: User) -> TaskDoc:
    """One step instance with its deadlines and pause."""
    return db.task(task_id, actor=user).as_dict()


@router.get("/tasks/{task_id}/form")
def form(task_id: str, db: Db, user: User) -> dict[str, Any]:
    """The step's form as JSON Schema (what `complete` checks its `data` against)."""
    db.task(task_id, actor=user)
    return db.form_schema(task_id)


class FieldProblemIn(Body):
    pointer: str = Field(max_length=1000)
    detail: str = Field(max_length=2000)


class FormView(Body):
    data: dict[str, Any] = Field(default_factory=dict, description="values of a refused submission")
    errors: list[FieldProblemIn] = Field(default_factory=list, description="the 422 problem's errors")


def _html(db: Db, user: str, task_id: str, view: FormView) -> HTMLResponse:
    db.task(task_id, actor=user)
    errors = [FieldError(field=e.pointer, message=e.detail) for e in view.errors]
    return HTMLResponse(db.render_form(task_id, data=view.data, errors=errors))


@router.get("/tasks/{task_id}/form.html", response_class=HTMLResponse)
def form_html(task_id: str, db: Db, user: User) -> HTMLResponse:
    """The step's form as an accessible HTML fragment (prefilled from the case data)."""
    return _html(db, user, task_id, FormView())


@router.post("/tasks/{task_id}/form.html", response_class=HTMLResponse)
def form_html_with(task_id: str, view: FormView, db: Db, user: User) -> HTMLResponse:
    """The fragment again with a refused submission's values and its errors at their fields."""
    return _html(db, user, task_id, view)


class Complete(Body):
    data: dict[str, Any] = Field(default_factory=dict, description="the step's form data")


@router.post("/tasks/{task_id}/complete", response_model=TaskDoc)
async def complete(task_id: str, body: Complete, request: Request, db: Db, user: User) -> Response:
    """Complete the step (422 with errors at their JSON pointers when the form refuses the data)."""
    done = await run(request, lambda: db.complete_task(task_id, data=body.data, actor=user).as_dict())
    return json_response(done)


def _complete_arguments(request: Request, path: dict[str, Any], body: Any, user: str) -> dict[str, Any]:
    return {"task_id": path["task_id"], "body": body, "request": request, "db": engine(request), "user": user}


HOT = Hot(route_of(router.routes, complete), Complete, _complete_arguments)


@router.post("/tasks/{task_id}/claim")
def claim(task_id: str, db: Db, user: User) -> TaskDoc:
    """Take the step into the user's own queue (409 when another claimed it first)."""
    return db.claim_task(task_id, actor=user).as_dict()


@router.post("/tasks/{task_id}/release")
def release(task_id: str, db: Db, user: User) -> TaskDoc:
    """Put a claimed step back into its department's queue."""
    return db.release_task(task_id, actor=user).as_dict()


class Assign(Body):
    to: str = Field(min_length=1, max_length=255, description="a handler of the step's department")


@router.post("/tasks/{task_id}/assign")
def assign(task_id: str, body: Assign, db: Db, user: User) -> TaskDoc:
    """The department head gives the step to one of its handlers."""
    return db.assign_task(task_id, to=body.to, actor=user).as_dict()


class Transfer(Body):
    to: str = Field(min_length=1, max_length=64, description="the department code")
    reason: str = Text


@router.post("/tasks/{task_id}/transfer")
def transfer(task_id: str, body: Transfer, db: Db, user: User) -> TaskDoc:
    """转办 to another department's queue (deadlines unchanged)."""
    return db.transfer_task(task_id, to=body.to, reason=body.reason, actor=user).as_dict()


class Pause(Body):
    reason: Literal["supplement", "special_procedure", "suspended"]
    kind: str | None = Field(default=None, max_length=64)
    note: str | None = Field(default=None, max_length=2000)
    notice: str | None = Field(default=None, max_length=2000)
    materials: list[str] = Field(default_factory=list, max_length=200)


@router.post("/tasks/{task_id}/pause")
def pause(task_id: str, body: Pause, db: Db, user: User) -> TaskDoc:
    """Stop the step's clock: 补正 supplement, 特别程序 special_procedure or 挂起 suspended."""
    done = db.pause(
        task_id,
        reason=body.reason,
        kind=body.kind,
        note=body.note,
        notice=body.notice,
        materials=body.materials,
        actor=user,
    )
    return done.as_dict()


@router.post("/tasks/{task_id}/resume")
def resume(task_id: str, db: Db, user: User) -> TaskDoc:
    """Restart a paused step's clock."""
    return db.resume(task_id, actor=user).as_dict()


class Extend(Body):
    days: int = Field(ge=1, le=1000)
    approver: str = Field(min_length=1, max_length=255)
    reason: str = Text


@router.post("/tasks/{task_id}/extend")
def extend(task_id: str, body: Extend, db: Db, user: User) -> TaskDoc:
    """延长审批: move the step's deadlines by `days` working days."""
    return db.extend(
        task_id, days=body.days, approver=body.approver, reason=body.reason, actor=user
    ).as_dict()


class Material(Body):
    material: str = Field(min_length=1, max_length=255)


@router.post("/tasks/{task_id}/supply")
def supply(task_id: str, body: Material, db: Db, user: User) -> dict[str, Any]:
    """A material the step waits for was handed in; answers the step's materials."""
    return dict(db.supply_material(task_id, body.material, actor=user).as_dict())


class ExtendSupplement(Material):
    days: int = Field(ge=1, le=1000)
    approver: str = Field(min_length=1, max_length=255)
    reason: str = Text


@router.post("/tasks/{task_id}/extend-supplement")
def extend_supplement(task_id: str, body: ExtendSupplement, db: Db, user: User) -> dict[str, Any]:
    """Move a tolerated material's supplement deadline by `days` working days."""
    done = db.extend_supplement(
        task_id, body.material, days=body.days, approver=body.approver, reason=body.reason, actor=user
    )
    return dict(done.as_dict())


@router.post("/tasks/{task_id}/verify-licences")
def verify_licences(task_id: str, db: Db, user: User) -> dict[str, Any]:
    """Ask the e-licence service again for the step's unverified checks."""
    return dict(db.verify_licences(task_id, actor=user).as_dict())


class Return(Body):
    to: str = Field(min_length=1, max_length=255, description="the step (element id) to return to")
    reason: str = Text


@router.post("/tasks/{task_id}/return")
def return_(task_id: str, body: Return, db: Db, user: User) -> TaskDoc:
    """退回 (`task return`) to a step that ran before it in this case: the new instance of that step."""
    return db.return_task(task_id, to=body.to, reason=body.reason, actor=user).as_dict()
