"""What the route modules share: the dependency aliases and the JSON body base."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header
from pydantic import BaseModel, ConfigDict

from ...engine.facade import Engine
from ..deps import authenticated, served

__all__ = ["IDEMPOTENCY_KEY_MAX", "Body", "Db", "IdempotencyKey", "User"]

IDEMPOTENCY_KEY_MAX = 255

Db = Annotated[Engine, Depends(served)]
User = Annotated[str, Depends(authenticated)]
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        max_length=IDEMPOTENCY_KEY_MAX,
        description="a retried request with the same key gets the first response",
    ),
]


class Body(BaseModel):
    """A request body: unknown fields are refused (400)."""

    model_config = ConfigDict(extra="forbid")
