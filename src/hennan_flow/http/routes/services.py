"""Services: reviews (好差评), commitments (告知承诺) and a case's or step's materials."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Request, Response
from pydantic import Field

from ..idempotent import idempotent
from .common import Body, Db, IdempotencyKey, User

__all__ = ["router"]

router = APIRouter(tags=["services"])
Note = Field(min_length=1, max_length=2000)


class AddReview(Body):
    case: str = Field(min_length=1, max_length=64)
    level: int = Field(ge=1, le=5, description="1 非常满意 … 5 非常不满意")
    channel: str = Field(min_length=1, max_length=32, description="window, web, mobile, …")
    task: str | None = Field(default=None, max_length=64)
    real_name: bool = False
    text: str | None = Field(default=None, max_length=2000)


@router.post("/reviews", status_code=201, response_model=None, responses={201: {"description": "the review"}})
def add_review(
    body: AddReview, request: Request, db: Db, user: User, _key: IdempotencyKey = None
) -> Response:
    """A review of an ended case or a completed step (Idempotency-Key: a retry adds no second one)."""

    def run() -> dict[str, Any]:
        review = db.add_review(
            body.case,
            level=body.level,
            channel=body.channel,
            task=body.task,
            real_name=body.real_name,
            text=body.text,
            actor=user,
        )
        return dict(review.as_dict())

    return idempotent(request, db, user, body.model_dump(), run)


@router.get("/reviews")
def reviews(
    db: Db, _user: User, case: str | None = None, bad: bool | None = None, open_only: bool = False
) -> list[dict[str, Any]]:
    """Reviews, oldest first."""
    return [dict(r.as_dict()) for r in db.reviews(case=case, bad=bad, open_only=open_only)]


@router.get("/reviews/{review_id}")
def review(review_id: str, db: Db, _user: User) -> dict[str, Any]:
    """One review with its rectification record."""
    return dict(db.review(review_id).as_dict())


class VerifyReview(Body):
    finding: Literal["founded", "unfounded"]
    note: str = Note
    complexity: Literal["simple", "complex"] | None = None


@router.post("/reviews/{review_id}/verify")
def verify_review(review_id: str, body: VerifyReview, db: Db, user: User) -> dict[str, Any]:
    """核实 a bad review."""
    done = db.verify_review(
        review_id, finding=body.finding, note=body.note, complexity=body.complexity, actor=user
    )
    return dict(done.as_dict())


class NoteBody(Body):
    note: str = Note


@router.post("/reviews/{review_id}/rectify")
def rectify_review(review_id: str, body: NoteBody, db: Db, user: User) -> dict[str, Any]:
    """整改 done; the feedback phase starts."""
    return dict(db.rectify_review(review_id, note=body.note, actor=user).as_dict())


@router.post("/reviews/{review_id}/answer")
def answer_review(review_id: str, body: NoteBody, db: Db, user: User) -> dict[str, Any]:
    """反馈 given; the rectification record closes."""
    return dict(db.answer_review(review_id, note=body.note, actor=user).as_dict())


@router.get("/commitments")
def commitments(
    db: Db,
    _user: User,
    case: str | None = None,
    task: str | None = None,
    state: str | None = None,
    applicant: str | None = None,
) -> list[dict[str, Any]]:
    """Commitment records, oldest first."""
    found = db.commitments(case=case, task=task, state=state, applicant=applicant)
    return [dict(c.as_dict()) for c in found]


@router.get("/commitments/{commitment_id}")
def commitment(commitment_id: str, db: Db, _user: User) -> dict[str, Any]:
    """One commitment record."""
    return dict(db.commitment(commitment_id).as_dict())


@router.post("/commitments/{commitment_id}/decline")
def decline_commitment(commitment_id: str, db: Db, user: User) -> dict[str, Any]:
    """The applicant hands in the material instead of the commitment."""
    return dict(db.decline_commitment(commitment_id, actor=user).as_dict())


class VerifyCommitment(Body):
    result: bool = Field(description="true: the commitment was kept")
    method: str = Field(min_length=1, max_length=255)
    note: str = Note


@router.post("/commitments/{commitment_id}/verify")
def verify_commitment(commitment_id: str, body: VerifyCommitment, db: Db, user: User) -> dict[str, Any]:
    """事后核查 of a commitment."""
    done = db.verify_commitment(
        commitment_id, result=body.result, method=body.method, note=body.note, actor=user
    )
    return dict(done.as_dict())


@router.get("/materials")
def materials(db: Db, _user: User, case: str | None = None, task: str | None = None) -> dict[str, Any]:
    """A case's or step's commitments, tolerated materials, e-licence checks and what is missing."""
    return dict(db.materials(case=case, task=task).as_dict())
