"""The two requests a portal sends most, served straight to their route's endpoint.

A portal drives a case with `POST /cases` and then `POST /tasks/{task_id}/complete` on every step
(bench/http_seq.py). Through FastAPI each request is matched against every included router twice
(FastAPI nests each `include_router` as one entry), its body and parameters are bound by the
general dependency solver, and the request passes through the route's own exception and exit-stack
wrappers: together about as much time as the engine's own work on a step.

`HotRoutes` sits where the app hands a request to its router (inside the error handlers, so every
problem document is the same). For a request of one of the hot routes (the same `APIRoute` objects
the router and the OpenAPI document hold: their method, path pattern and endpoint) whose body is
`application/json` the route's body model accepts and whose credentials name a user, it calls the
route's endpoint with the arguments FastAPI would bind. Anything else — another route, another
content type, a body or a header the route would refuse, missing or unknown credentials, a
`root_path` — goes on to the router unchanged, with the body it already read handed on, so every
refusal is FastAPI's own (the same status, the same problem, in the same order of checks).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute
from pydantic import BaseModel, ValidationError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .auth import Unauthenticated
from .deps import authenticated

__all__ = ["Hot", "HotRoutes", "route_of"]

JSON = b"application/json"
Bind = Callable[[Request, dict[str, Any], Any, str], dict[str, Any] | None]


@dataclass(frozen=True)
class Hot:
    """A hot route: its `APIRoute`, its body model, and how its endpoint's other arguments are bound
    (`bind(request, path_params, body, user)` → the endpoint's keyword arguments, or None when the
    request must go the general way)."""

    route: APIRoute
    body: type[BaseModel]
    bind: Bind


class HotRoutes:
    """The fast path for `hot` in front of `app` (the router's own ASGI app)."""

    def __init__(self, app: ASGIApp, hot: Sequence[Hot]) -> None:
        self.app = app
        self.hot = tuple(hot)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not scope.get("root_path"):
            path, method = scope["path"], scope["method"]
            for hot in self.hot:
                found = hot.route.path_regex.match(path)
                if found is not None and method in (hot.route.methods or ()):
                    await self._serve(hot, found.groupdict(), scope, receive, send)
                    return
        await self.app(scope, receive, send)

    async def _serve(
        self, hot: Hot, params: dict[str, str], scope: Scope, receive: Receive, send: Send
    ) -> None:
        read: list[Message] = []
        body = await _body(receive, read)
        call = None
        if body is not None and _json_content(scope):
            call = await self._bound(hot, params, scope, receive, body)
        if call is None:  # the general way, with what was read handed on
            await self.app(scope, _replay(read, receive), send)
            return
        response: Response = await hot.route.endpoint(**call)
        await response(scope, receive, send)

    async def _bound(
        self, hot: Hot, params: dict[str, str], scope: Scope, receive: Receive, body: bytes
    ) -> dict[str, Any] | None:
        """The endpoint's arguments, or None when the request must go the general way."""
        try:
            document = json.loads(body)
            model = hot.body.model_validate(document)
        except (ValueError, ValidationError):  # not JSON, or a body the route refuses
            return None
        route = hot.route
        path_params = {name: route.param_convertors[name].convert(v) for name, v in params.items()}
        scope["path_params"] = path_params
        scope["route"] = route
        scope["endpoint"] = route.endpoint
        request = Request(scope, receive)
        try:
            user = await authenticated(request)
        except Unauthenticated:
            return None
        return hot.bind(request, path_params, model, user)


def _json_content(scope: Scope) -> bool:
    for name, value in scope["headers"]:
        if name == b"content-type":
            return bool(value == JSON)
    return False


async def _body(receive: Receive, read: list[Message]) -> bytes | None:
    """The whole request body, or None when the client went away (`read`: every message received)."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        read.append(message)
        if message["type"] != "http.request":
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


def _replay(read: list[Message], receive: Receive) -> Receive:
    """`receive` that hands out `read` first."""
    pending = list(read)

    async def replayed() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    return replayed


def route_of(routes: Sequence[Any], endpoint: Callable[..., Any]) -> APIRoute:
    """The `APIRoute` of `endpoint` among a router's `routes`."""
    for route in routes:
        if isinstance(route, APIRoute) and route.endpoint is endpoint:
            return route
    raise LookupError(f"no route serves {endpoint.__name__}")
