"""红黄牌 cards, their supervision records, accountability entries and referrals."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter
from pydantic import Field

from .common import Body, Db, User

__all__ = ["router"]

router = APIRouter(tags=["cards"])


@router.get("/cards")
def cards(
    db: Db,
    user: User,
    state: Literal["open", "verifying", "rectifying", "reviewing", "revisiting", "closed"] | None = None,
    case: str | None = None,
    color: Literal["yellow", "red"] | None = None,
) -> list[dict[str, Any]]:
    """Yellow and red cards, oldest first (`card list --format json`); `state=open`: not closed yet."""
    return [dict(c.as_dict()) for c in db.cards(state=state, case=case, color=color, actor=user)]


@router.get("/cards/{card_id}")
def card(card_id: str, db: Db, user: User) -> dict[str, Any]:
    """A card with its supervision record (`card show --format json`)."""
    return db.card(card_id, actor=user).record_dict()


class Advance(Body):
    to: str = Field(min_length=1, max_length=32, description="the record's next state")
    note: str = Field(min_length=1, max_length=2000)
    conclusion: str | None = Field(default=None, max_length=32)


@router.post("/cards/{card_id}/advance")
def advance(card_id: str, body: Advance, db: Db, user: User) -> dict[str, Any]:
    """Move the card's record (核查, 整改, 复核, 回访, closed with a conclusion), as §8 allows the user."""
    return db.advance_card(
        card_id, to=body.to, note=body.note, conclusion=body.conclusion, actor=user
    ).record_dict()


class Account(Body):
    person: str = Field(min_length=1, max_length=255, description="whom the measure concerns")
    measure: Literal["批评教育", "责令书面检查", "通报批评", "诫勉谈话", "移送纪检监察机关"]
    note: str = Field(min_length=1, max_length=2000)


@router.post("/cards/{card_id}/account")
def account(card_id: str, body: Account, db: Db, user: User) -> dict[str, Any]:
    """An accountability entry (责任追究, `card account`); 移送纪检监察机关 opens a referral."""
    return db.account_card(
        card_id, person=body.person, measure=body.measure, note=body.note, actor=user
    ).record_dict()


@router.get("/referrals")
def referrals(db: Db, user: User, state: Literal["open", "closed"] | None = None) -> list[dict[str, Any]]:
    """Referrals to 纪检监察机关 (`card referrals`): `discipline` users only, 403 for others."""
    return [r.as_dict() for r in db.referrals(state=state, actor=user)]


class CloseReferral(Body):
    outcome: str = Field(min_length=1, max_length=2000)


@router.post("/referrals/{referral_id}/close")
def close_referral(referral_id: str, body: CloseReferral, db: Db, user: User) -> dict[str, Any]:
    """Record a referral's outcome (`card referral close`); it closes."""
    return db.close_referral(referral_id, outcome=body.outcome, actor=user).as_dict()
