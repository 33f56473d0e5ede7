"""The dependencies every route shares: the engine and the authenticated directory user."""

from __future__ import annotations

from fastapi import Request

from ..engine.facade import Engine
from .auth import TokenVerifier, Unauthenticated

__all__ = ["SESSION_COOKIE", "current_user", "engine"]

SESSION_COOKIE = "hf_key"  # the workbench's login: an API key in an HttpOnly, SameSite=Strict cookie


def engine(request: Request) -> Engine:
    """The engine the app serves."""
    found: Engine = request.app.state.engine
    return found


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
