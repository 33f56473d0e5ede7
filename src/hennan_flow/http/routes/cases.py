"""Cases: start (Idempotency-Key), list, one case, its timeline, its element states, its messages and its outcomes."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Request, Response
from pydantic import Field

from ..deps import engine, run
from ..hot import Hot, route_of
from ..idempotent import idempotent
from .common import IDEMPOTENCY_KEY_MAX, Body, Db, IdempotencyKey, User

__all__ = ["HOT", "router"]

router = APIRouter(tags=["cases"])


class StartCase(Body):
    key: str = Field(min_length=1, max_length=64, description="the bundle key")
    data: dict[str, Any] = Field(default_factory=dict, description="process data the first steps see")
    applicant: dict[str, Any] = Field(default_factory=dict, description="who applies (Engine.start_case)")


@router.post(
    "/cases",
    status_code=201,
    response_model=None,
    responses={201: {"description": "the case started, as `case start --format json` shows it"}},
)
async def start_case(
    body: StartCase, request: Request, db: Db, user: User, _key: IdempotencyKey = None
) -> Response:
    """Start a case of the latest version of `key`, as the authenticated user (clerk or portal)."""

    def start() -> dict[str, Any]:
        case = db.start_case(body.key, applicant=body.applicant, data=body.data, actor=user)
        return {**case.as_dict(), "ready": [t.as_dict() for t in case.ready]}

    return await run(request, lambda: idempotent(request, db, user, body.model_dump(), start))


def _start_arguments(request: Request, _path: dict[str, Any], body: Any, user: str) -> dict[str, Any] | None:
    key = request.headers.get("idempotency-key")
    if key is not None and len(key) > IDEMPOTENCY_KEY_MAX:
        return None  # FastAPI's 400
    return {"body": body, "request": request, "db": engine(request), "user": user, "_key": key}


HOT = Hot(route_of(router.routes, start_case), StartCase, _start_arguments)


@router.get("/cases")
def cases(
    db: Db,
    user: User,
    state: Literal["open", "completed", "terminated", "refused", "withdrawn"] | None = None,
    key: str | None = None,
) -> list[dict[str, Any]]:
    """Cases the user may read, newest first (without their timelines)."""
    return [c.as_dict() for c in db.cases(state=state, key=key, actor=user)]


@router.get("/cases/{case_id}")
def case(case_id: str, db: Db, user: User) -> dict[str, Any]:
    """A case with its timeline and deadlines (`case show --format json`)."""
    return db.case(case_id, actor=user).as_dict()


@router.get("/cases/{case_id}/timeline")
def timeline(case_id: str, db: Db, user: User) -> list[dict[str, Any]]:
    """The case's events, oldest first: who did what, when, in which role."""
    return [e.as_dict() for e in db.case(case_id, actor=user).events]


@router.get("/cases/{case_id}/elements")
def elements(case_id: str, db: Db, user: User) -> dict[str, dict[str, Any]]:
    """Per BPMN element id: state, task, department, deadlines and open card colour (for a diagram)."""
    return db.element_states(case_id, actor=user)


class Refuse(Body):
    stage: Literal["acceptance", "decision"] = Field(
        description="不予受理 (acceptance) or 不予许可 (decision)"
    )
    reason: str = Field(min_length=1, max_length=2000)
    basis: str | None = Field(
        default=None, min_length=1, max_length=2000, description="decision: the legal basis"
    )


@router.post("/cases/{case_id}/refuse")
def refuse(case_id: str, body: Refuse, db: Db, user: User) -> dict[str, Any]:
    """不予受理 / 不予许可 (`case refuse`): the open steps close, their deadlines stop (§10)."""
    return db.refuse_case(
        case_id, stage=body.stage, reason=body.reason, basis=body.basis, actor=user
    ).as_dict()


class Withdraw(Body):
    reason: str = Field(min_length=1, max_length=2000)


@router.post("/cases/{case_id}/withdraw")
def withdraw(case_id: str, body: Withdraw, db: Db, user: User) -> dict[str, Any]:
    """撤回 (`case withdraw`): the applicant withdraws; the open steps close (§10)."""
    return db.withdraw_case(case_id, reason=body.reason, actor=user).as_dict()


class Message(Body):
    name: str = Field(min_length=1, max_length=255, description="the bpmn:message name the case waits for")
    data: dict[str, Any] = Field(default_factory=dict, description="what the message brings")


@router.post("/cases/{case_id}/messages")
def message(case_id: str, body: Message, db: Db, user: User) -> list[dict[str, Any]]:
    """Deliver a message to the waiting case (`case message`): the steps it made ready."""
    return [t.as_dict() for t in db.deliver_message(case_id, body.name, body.data, actor=user)]
