"""The hot routes' fast path (http/hot.py): `POST /cases` and `POST /tasks/{id}/complete` reach their
endpoint without the router when the route accepts the request, and every other request of those
routes gets exactly the answer the router gives (same status, headers and problem document)."""

from __future__ import annotations

import asyncio
import inspect
import json
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request
from starlette.types import Receive, Scope, Send

from helpers import START, WALKS
from hennan_flow.engine import Engine, SimulatedClock
from hennan_flow.http import Settings, create_app
from hennan_flow.http.hot import HotRoutes
from hennan_flow.http.routes import HOT
from hennan_flow.http.wire import Coalesced
from http_service import ADMIN, CLERK, prepare

APPLICANT = {"name": "衡南县云集湘味餐饮管理有限公司", "credit_code": "91430422MA4T8X2K3N"}
START_BODY = {"key": "enterprise_opening", "data": {}, "applicant": APPLICANT}
REGISTER = WALKS["enterprise_opening"]["step_data"]["register"]


class Counted:
    """The router behind the fast path, counting the requests that reach it."""

    def __init__(self, hot: HotRoutes) -> None:
        self.router = hot.app
        self.requests = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            self.requests += 1
        await self.router(scope, receive, send)


class Service:
    """The app in-process, with its fast path on or off (the router alone)."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app
        self.hot = app.router.middleware_stack
        assert isinstance(self.hot, HotRoutes)
        self.router = Counted(self.hot)
        self.hot.app = self.router

    def send(self, fast: bool, method: str, path: str, **options: Any) -> httpx.Response:
        self.app.router.middleware_stack = self.hot if fast else self.router

        async def exchange() -> httpx.Response:
            transport = httpx.ASGITransport(app=self.app)
            async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as http:
                return await http.request(method, path, **options)

        return asyncio.run(exchange())


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Service, Engine, dict[str, str]]]:
    folder: Path = tmp_path_factory.mktemp("hot")
    url = f"sqlite:///{folder / 'hf.db'}"
    prepare(url, simulation=True, now=START)
    engine = Engine(url, clock=SimulatedClock(START), allow_plaintext=True)
    keys = {user: engine.api_keys.create(user, actor=ADMIN)[1] for user in (CLERK, "amr-h1")}
    try:
        yield Service(create_app(engine, settings=Settings())), engine, keys
    finally:
        engine.close()


def answer(response: httpx.Response) -> tuple[int, str | None, str | None, Any]:
    return (
        response.status_code,
        response.headers.get("content-type"),
        response.headers.get("www-authenticate"),
        response.json(),
    )


def test_each_hot_route_is_the_routers_own_and_binds_every_parameter_of_its_endpoint(
    service: Any,
) -> None:
    """The fast path serves the route objects the router (and the OpenAPI document) holds, and binds
    every parameter of their endpoints: one added to a hot endpoint fails here until it is bound."""
    svc, _engine, _keys = service
    top = svc.app.router.routes  # FastAPI keeps each included router as one entry
    included = [route for r in top for route in getattr(getattr(r, "original_router", None), "routes", [r])]
    for hot in HOT:
        assert any(route is hot.route for route in included)
        assert hot.route.body_field is not None and hot.route.body_field.field_info.annotation is hot.body
        scope = {"type": "http", "headers": [], "app": svc.app, "method": "POST", "path": hot.route.path}
        body = hot.body.model_validate({"key": "k"} if hot.route.path == "/cases" else {})
        bound = hot.bind(Request(scope), {"task_id": "t"}, body, "u")
        assert bound is not None
        assert set(bound) == set(inspect.signature(hot.route.endpoint).parameters)


def test_a_request_the_route_accepts_does_not_reach_the_router(service: Any) -> None:
    svc, engine, keys = service
    clerk, amr = {"X-API-Key": keys[CLERK]}, {"X-API-Key": keys["amr-h1"]}
    before = svc.router.requests
    started = svc.send(True, "POST", "/cases", json=START_BODY, headers=clerk)
    assert started.status_code == 201, started.text
    (register,) = started.json()["ready"]
    done = svc.send(True, "POST", f"/tasks/{register['id']}/complete", json={"data": REGISTER}, headers=amr)
    assert done.status_code == 200, done.text
    assert done.json()["state"] == "completed" and done.json()["actor"] == "amr-h1"
    assert engine.task(register["id"], actor="amr-h1").state == "completed"
    assert svc.router.requests == before  # neither went through the router
    refused = svc.send(True, "POST", "/cases", json={**START_BODY, "extra": 1}, headers=clerk)
    assert refused.status_code == 400
    assert svc.router.requests == before + 1  # the router answered the refusal


def test_every_other_request_of_a_hot_route_gets_the_routers_answer(service: Any) -> None:
    svc, engine, keys = service
    clerk, amr = {"X-API-Key": keys[CLERK]}, {"X-API-Key": keys["amr-h1"]}
    started = svc.send(True, "POST", "/cases", json=START_BODY, headers=clerk)
    (register,) = started.json()["ready"]
    complete = f"/tasks/{register['id']}/complete"
    raw = {"content-type": "application/json"}
    requests: list[tuple[str, str, dict[str, Any]]] = [
        ("POST", complete, {"json": {"data": REGISTER}}),  # no credentials
        ("POST", complete, {"content": b"{", "headers": raw}),  # no credentials, not JSON
        ("POST", complete, {"json": {"data": 1}}),  # no credentials, a body the route refuses
        ("POST", complete, {"json": {"data": REGISTER}, "headers": {"X-API-Key": "hf_nope_nope"}}),
        ("POST", complete, {"json": {"data": REGISTER}, "headers": {"Authorization": "Bearer x.y.z"}}),
        ("POST", complete, {"content": b"{", "headers": {**amr, **raw}}),
        ("POST", complete, {"content": b"", "headers": {**amr, **raw}}),
        ("POST", complete, {"content": b"[1]", "headers": {**amr, **raw}}),
        ("POST", complete, {"json": {"data": REGISTER, "extra": True}, "headers": amr}),
        (
            "POST",
            complete,
            {"content": json.dumps({"data": {}}), "headers": {**amr, "content-type": "text/plain"}},
        ),
        ("POST", complete, {"json": {"data": {"capital": "x"}}, "headers": amr}),  # the form refuses: 422
        ("POST", complete, {"json": {"data": REGISTER}, "headers": clerk}),  # §8: 403
        ("POST", "/tasks/nope/complete", {"json": {"data": {}}, "headers": amr}),  # 404
        ("GET", complete, {"headers": amr}),  # 405
        ("POST", "/cases", {"json": {"key": 1, "extra": True}, "headers": clerk}),
        ("POST", "/cases", {"json": {"key": 1}}),
        ("POST", "/cases", {"json": {"key": "no_such_bundle"}, "headers": clerk}),
        ("POST", "/cases", {"json": START_BODY, "headers": {**clerk, "Idempotency-Key": "k" * 256}}),
    ]
    for method, path, options in requests:
        fast = answer(svc.send(True, method, path, **options))
        general = answer(svc.send(False, method, path, **options))
        assert fast == general, (method, path, options)
        assert fast[0] >= 400 and fast[1] == "application/problem+json", (fast, options)
    assert engine.task(register["id"], actor="amr-h1").state == "ready"  # none of them completed it


def test_an_idempotent_start_replays_the_same_answer_either_way(service: Any) -> None:
    svc, _engine, keys = service
    headers = {"X-API-Key": keys[CLERK], "Idempotency-Key": "hot-1"}
    first = svc.send(True, "POST", "/cases", json=START_BODY, headers=headers)
    assert first.status_code == 201 and "idempotency-replayed" not in first.headers
    for fast in (True, False):
        again = svc.send(fast, "POST", "/cases", json=START_BODY, headers=headers)
        assert again.status_code == 201 and again.headers["idempotency-replayed"] == "true"
        assert again.json() == first.json()
        other = svc.send(fast, "POST", "/cases", json={**START_BODY, "data": {"x": 1}}, headers=headers)
        assert other.status_code == 409 and other.json()["type"] == "conflict"


class Writes:
    """A real socket transport, recording what reaches its `write`."""

    def __init__(self, transport: asyncio.Transport) -> None:
        self.transport = transport
        self.calls: list[bytes] = []

    def write(self, data: bytes) -> None:
        self.calls.append(data)
        self.transport.write(data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.transport, name)


def test_the_writes_of_one_event_loop_turn_reach_the_socket_in_one_call() -> None:
    """What `hennan-flow serve` does with a response's head and body (http/wire.py)."""

    async def exchange() -> tuple[list[bytes], bytes]:
        loop = asyncio.get_running_loop()
        ours, theirs = socket.socketpair()
        with ours, theirs:
            transport, _protocol = await loop.connect_accepted_socket(asyncio.Protocol, ours)
            writes = Writes(transport)  # type: ignore[arg-type]
            wire = Coalesced(writes, loop)  # type: ignore[arg-type]
            wire.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n")
            wire.write(b"{}")
            assert writes.calls == []  # still this turn
            await asyncio.sleep(0)
            wire.write(b"last")
            wire.close()  # what is pending goes out before the transport closes
            received = b""
            theirs.settimeout(30)
            while len(received) < sum(len(c) for c in writes.calls):
                received += theirs.recv(65536)
            return writes.calls, received

    calls, received = asyncio.run(exchange())
    assert calls == [b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}", b"last"]
    assert received == b"".join(calls)
