"""Deployed bundle definitions."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from .common import Db, User

__all__ = ["router"]

router = APIRouter(tags=["definitions"])


@router.get("/definitions")
def definitions(db: Db, _user: User) -> list[dict[str, Any]]:
    """The latest deployed version of every bundle key (as `deploy --format json` lists them)."""
    return [d.as_dict() for d in db.definitions()]


@router.get("/definitions/{key}/commitments/{material}")
def commitment_text(key: str, material: str, db: Db, _user: User) -> dict[str, str]:
    """The 告知承诺书 a portal shows before the case starts."""
    return db.commitment_text(key, material)
