"""The request body bound over real HTTP: a body over `serve --max-body` is answered 413 as a
problem, before the server reads it (Content-Length) or as soon as the count passes it (chunked).
And the hot routes' other path: with an e-licence provider the engine call goes to the thread pool."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from helpers import WALKS
from http_service import CLERK, Keys, prepare, served

BOUND = 4096


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Keys]]:
    folder = tmp_path_factory.mktemp("limits")
    url = f"sqlite:///{folder / 'hf.db'}"
    prepare(url)
    keys = Keys(folder)
    with served(url, keys, options=["--max-body", str(BOUND)]) as base:
        yield base, keys


def exchange(base: str, head: str, body: bytes = b"") -> tuple[int, dict[str, str], dict[str, object]]:
    """Send a request head (and the start of a body) on a raw socket; read the answer to the end.

    The socket never sends the rest of the body: an answer proves the server did not wait for it,
    and reading to the end proves the server closed the connection."""
    where = urlsplit(base)
    with socket.create_connection((where.hostname, where.port), timeout=30) as conn:
        conn.sendall(head.replace("\n", "\r\n").encode() + b"\r\n" + body)
        answer = b""
        while chunk := conn.recv(65536):
            answer += chunk
    top, _, content = answer.partition(b"\r\n\r\n")
    lines = top.decode().split("\r\n")
    headers = dict(line.lower().split(": ", 1) for line in lines[1:])
    return int(lines[0].split()[1]), headers, json.loads(content)


def assert_too_large(status: int, headers: dict[str, str], doc: dict[str, object]) -> None:
    assert status == 413
    assert headers["content-type"] == "application/problem+json"
    assert doc["type"] == "too_large" and doc["status"] == 413 and doc["title"] == "请求过大"
    assert "4096 字节" in str(doc["detail"]) and "未读取" in str(doc["detail"])


def test_a_declared_length_over_the_bound_is_refused_before_the_body_is_read(
    service: tuple[str, Keys],
) -> None:
    base, keys = service
    auth = "".join(f"{k}: {v}\n" for k, v in keys.headers(CLERK).items())
    head = f"POST /cases HTTP/1.1\nHost: x\n{auth}Content-Type: application/json\nContent-Length: 50000000\n"
    assert_too_large(*exchange(base, head, b'{"key": "'))


def test_a_chunked_body_is_counted_and_refused_once_past_the_bound(service: tuple[str, Keys]) -> None:
    base, _keys = service
    head = "POST /cases HTTP/1.1\nHost: x\nContent-Type: application/json\nTransfer-Encoding: chunked\n"
    chunk = b'{"key": "' + b"x" * BOUND
    assert_too_large(*exchange(base, head, f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n"))


def test_a_body_within_the_bound_is_served(service: tuple[str, Keys]) -> None:
    base, keys = service
    with httpx.Client(base_url=base, timeout=30) as http:
        body = {"key": "enterprise_opening", "data": {"note": "x" * (BOUND - 200)}}
        assert len(json.dumps(body)) < BOUND
        answer = http.post("/cases", json=body, headers=keys.headers(CLERK))
        assert answer.status_code == 201, answer.text
        over = http.post("/cases", json={"key": "x" * BOUND}, headers=keys.headers(CLERK))
        assert over.status_code == 413 and over.json()["type"] == "too_large"


def test_with_a_licence_provider_the_hot_routes_call_it_and_answer(tmp_path: Path) -> None:
    """An engine call that may wait on the e-licence service runs in the thread pool (http/deps.py):
    the provider (here nothing listens) is asked, and the step waits for its e-licences."""
    url = f"sqlite:///{tmp_path / 'hf.db'}"
    prepare(url)
    keys = Keys(tmp_path)
    provider = {"HENNAN_FLOW_LICENCE_URL": "http://127.0.0.1:9/licences"}
    with served(url, keys, environment=provider) as base, httpx.Client(base_url=base, timeout=60) as http:
        started = http.post("/cases", json={"key": "enterprise_opening"}, headers=keys.headers(CLERK))
        assert started.status_code == 201, started.text
        [register] = started.json()["ready"]
        data = {"data": WALKS["enterprise_opening"]["step_data"]["register"]}
        done = http.post(f"/tasks/{register['id']}/complete", json=data, headers=keys.headers("amr-h1"))
        assert done.status_code == 409, done.text
        assert done.json()["type"] == "state" and "e-licence pending" in done.json()["detail"]
