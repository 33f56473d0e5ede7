"""Health, and who the caller is."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends

from ...engine.facade import Engine
from ..deps import engine
from .common import User

__all__ = ["router"]

router = APIRouter(tags=["system"])


@router.get("/healthz")
def healthz(db: Annotated[Engine, Depends(engine)]) -> dict[str, Any]:
    """Alive, and the database schema's revision (anonymous)."""
    status = db.status()
    return {"ok": True, "revision": status.get("revision")}


@router.get("/me")
def me(user: User) -> dict[str, str]:
    """The directory user the credentials name."""
    return {"user": user}
