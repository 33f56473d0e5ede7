"""The dependencies every route shares: the engine and the authenticated directory user.

Both are `async` dependencies: FastAPI runs a plain `def` dependency in its thread pool, one hop
(≈0.1–0.3 ms here) per dependency per request. `current_user` is one indexed read of the API key
(or a JWT checked against keys already in memory), so it runs on the event loop; only a bearer token
against a JWKS URL may fetch keys over the network and goes to the thread pool.

`run` is how the hot routes call the engine: on the event loop when the call can only wait for the
database (`inline`), else in the thread pool. Safe because uvicorn gives every worker process its
own loop and its own engine: a call on the loop holds that one process for a few milliseconds of
database work, which a thread-pool call holds too (one SQLite writer at a time; a PostgreSQL
deployment scales by worker processes, docs/http.md), and nothing else of the process waits on the
loop meanwhile that could not wait that long (the events long-poll sleeps in the thread pool).
A call that may wait on another service (an e-licence provider is configured) never runs inline.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, TypeVar

from fastapi import Request, Response
from starlette.concurrency import run_in_threadpool

from ..engine.facade import Engine
from ..services.licences import NoProvider
from .auth import TokenVerifier, Unauthenticated

__all__ = ["SESSION_COOKIE", "authenticated", "current_user", "engine", "json_response", "run", "served"]

SESSION_COOKIE = "hf_key"  # the workbench's login: an API key in an HttpOnly, SameSite=Strict cookie
T = TypeVar("T")


def engine(request: Request) -> Engine:
    """The engine the app serves."""
    found: Engine = request.app.state.engine
    return found


async def served(request: Request) -> Engine:
    """`engine` as a dependency (async: no thread-pool hop)."""
    return engine(request)


def current_user(request: Request) -> str:
    """The directory user of the request's `X-API-Key` or `Authorization: Bearer` token (401 otherwise)."""
    cached = getattr(request.state, "user", None)
    if isinstance(cached, str):
        return cached
    key = request.headers.get("x-api-key")
    auth = request.headers.get("authorization")
    if not key and not auth:  # a browser of the workbench (web/): its login cookie
        key = request.cookies.get(SESSION_COOKIE)
    if key:
        user = engine(request).api_keys.user_of(key)
        if user is None:
            raise Unauthenticated("the API key is unknown or revoked", hint="hennan-flow apikey list")
    elif auth:
        scheme, _, token = auth.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthenticated("the Authorization header is not a bearer token")
        verifier: TokenVerifier = request.app.state.verifier
        user = verifier.user(token.strip())
    else:
        raise Unauthenticated(
            "this resource needs a bearer token or an API key",
            hint="send Authorization: Bearer TOKEN or X-API-Key: KEY",
        )
    request.state.user = user
    return user


async def authenticated(request: Request) -> str:
    """`current_user` as a dependency: on the event loop unless a JWKS URL may have to be fetched."""
    verifier: TokenVerifier = request.app.state.verifier
    if verifier.remote and "authorization" in request.headers:
        return await run_in_threadpool(current_user, request)
    return current_user(request)


def inline(request: Request) -> bool:
    """Whether an engine call of this request waits on nothing but the database (see the module)."""
    return isinstance(engine(request).licences, NoProvider)


async def run(request: Request, call: Callable[[], T]) -> T:
    """`call()` on the event loop when `inline`, else in the thread pool."""
    if inline(request):
        return call()
    return await run_in_threadpool(call)


def json_response(document: Any, status: int = 200) -> Response:
    """`document` serialised once (the route's `response_model` still documents it in the OpenAPI)."""
    body = json.dumps(document, ensure_ascii=False, separators=(",", ":"), default=str)
    return Response(body, status_code=status, media_type="application/json")
