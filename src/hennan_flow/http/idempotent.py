"""Idempotency-Key on the POSTs that create something (DESIGN §11).

The request's hash (method, path and the canonical JSON body) is stored with the first response: a
retry with the same key and request answers that response again (header `Idempotency-Replayed:
true`), the same key with another request is a 409 conflict. A request that failed stores nothing,
so its retry runs again.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

from fastapi import Request, Response

from ..engine.facade import Engine

__all__ = ["idempotent"]


def _json(document: Any) -> str:
    return json.dumps(document, ensure_ascii=False, default=str)


def idempotent(
    request: Request, engine: Engine, user: str, body: Any, run: Callable[[], Any], *, status: int = 201
) -> Response:
    """Answer `run()`'s document with `status`, once per Idempotency-Key of this user."""
    key = request.headers.get("idempotency-key")
    if key is None:
        return Response(_json(run()), status_code=status, media_type="application/json")
    canonical = json.dumps([request.method, request.url.path, body], sort_keys=True, ensure_ascii=False)
    digest = hashlib.sha256(canonical.encode("utf-8")).hexdigest()
    first = engine.idempotency.replay(user, key, digest)
    if first is not None:
        return Response(
            first.body,
            status_code=first.status,
            media_type="application/json",
            headers={"Idempotency-Replayed": "true"},
        )
    stored = engine.idempotency.store(user, key, digest, status, _json(run()))
    return Response(stored.body, status_code=stored.status, media_type="application/json")
