"""The request body bound: a pure ASGI guard answering 413 before the app reads a body that is too large.

A `Content-Length` over the bound is refused before a byte of the body is read; a body without one
(`Transfer-Encoding: chunked`) is counted as it arrives and refused as soon as it passes the bound,
without reading the rest: the app then sees the client as gone, anything it would still send is
dropped, and the connection is closed. The answer is an RFC 9457 problem like every other error
(type `too_large`, in the CLI's error code scheme).

The bound is `create_app(max_body=…)` / `hennan-flow serve --max-body` (default 1 MiB: the largest
form data a step takes is far below it); the workbench's pages under /web/ take a BPMN upload up to
the XML reader's own bound (bpmn.xmlsafe, 10 MB) when that is larger.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..bpmn.xmlsafe import DEFAULT_MAX_BYTES
from .problems import problem

__all__ = ["MAX_BODY", "BodyLimit"]

MAX_BODY = 1024 * 1024  # bytes
UPLOADS = "/web/"  # the workbench's paths: a BPMN file is uploaded there


def _mib(size: int) -> str:
    return f"{size / (1024 * 1024):.4g} MiB" if size >= 1024 * 1024 else f"{size} 字节"


class BodyLimit:
    """Refuse request bodies over `max_body` bytes (over `max(max_body, 10 MB)` under /web/)."""

    def __init__(self, app: ASGIApp, *, max_body: int = MAX_BODY) -> None:
        if max_body < 0:
            raise ValueError("max_body must not be negative")
        self.app = app
        self.max_body = max_body

    def bound(self, path: str) -> int:
        return max(self.max_body, DEFAULT_MAX_BYTES) if path.startswith(UPLOADS) else self.max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        bound = self.bound(scope["path"])
        length = _content_length(scope)
        if length is not None and length > bound:
            await _refuse(scope, receive, send, bound)
            return
        seen = 0
        refused = False
        started = False

        async def counted() -> Message:
            nonlocal seen, refused
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > bound:
                    refused = True
                    if not started:
                        await _refuse(scope, receive, send, bound)
                    return {"type": "http.disconnect"}
            return message

        async def guarded(message: Message) -> None:
            nonlocal started
            if refused:
                return  # the 413 went out: what the app still sends is dropped
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted, guarded)
        except Exception:
            if not refused:
                raise  # the app's disconnect error after a 413 is expected; any other is not


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def _refuse(scope: Scope, receive: Receive, send: Send, bound: int) -> None:
    """The service's 413 problem (problems.problem), closing the connection."""
    response = problem(
        413,
        "too_large",
        f"请求体超过 {_mib(bound)} 的上限，服务未读取其余部分",
        hint="请缩小提交的数据；上限由 hennan-flow serve --max-body 设定",
    )
    response.headers["connection"] = "close"
    await response(scope, receive, send)
