"""红黄牌 cards and their supervision records."""

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
    _user: User,
    state: Literal["open", "verifying", "rectifying", "reviewing", "revisiting", "closed"] | None = None,
    case: str | None = None,
    color: Literal["yellow", "red"] | None = None,
) -> list[dict[str, Any]]:
    """Yellow and red cards, oldest first (`card list --format json`); `state=open`: not closed yet."""
    return [dict(c.as_dict()) for c in db.cards(state=state, case=case, color=color)]


@router.get("/cards/{card_id}")
def card(card_id: str, db: Db, _user: User) -> dict[str, Any]:
    """A card with its supervision record (`card show --format json`)."""
    return db.card(card_id).record_dict()


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
