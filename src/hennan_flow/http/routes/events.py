"""The outbox: events after a cursor, with long-poll."""

from __future__ import annotations

import time
from typing import Annotated, Any

from fastapi import APIRouter, Query

from .common import Db, User

__all__ = ["router"]

router = APIRouter(tags=["events"])
POLL = 0.1  # seconds between two reads while a long-poll waits


@router.get("/events")
def events(
    db: Db,
    user: User,
    after: Annotated[int, Query(ge=0, le=2**62, description="the last event id seen (cursor)")] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    wait: Annotated[float, Query(ge=0, le=30, description="seconds to wait for a first event")] = 0,
) -> list[dict[str, Any]]:
    """Outbox events with id > `after`, oldest first; with `wait`, answers as soon as one exists (or
    an empty list after `wait` seconds)."""
    deadline = time.monotonic() + wait
    while True:
        found = db.events(after=after, limit=limit, actor=user)
        if found or time.monotonic() >= deadline:
            return [e.as_dict() for e in found]
        time.sleep(min(POLL, max(0.0, deadline - time.monotonic())))
