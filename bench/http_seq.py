"""`http_seq10`: whole 10-step cases per second driven over HTTP against one `hennan-flow serve`
process on a SQLite file, beside in-process `seq10` of the same run (bench/run.py).

The server runs on the same simulation database setup as the in-process side (the workspace's
directory, clock and bundle); the client is one keep-alive HTTP/1.1 connection authenticating with
an API key, doing what a portal does: POST /cases, then POST /tasks/{id}/complete on each step a
start or completion hands back until the case ends. The client is a minimal one (one `sendall` a
request, the answer read by its Content-Length, ≈0.05 ms of CPU a request): the figure is meant to
be the server's, and a Java or Vue portal's pooled keep-alive client costs tens of microseconds a
request, while `http.client` spends ≈0.3 ms of the benchmark's own CPU a request parsing headers
with the email parser (on these two cores that time is taken from the server: the paired ratio was
≈0.05 lower with it, docs/benchmarks.md).
"""

from __future__ import annotations

import json
import os
import socket
import statistics
import subprocess
import sys
import time
from typing import Any

from naive import DATA


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class Portal:
    """One keep-alive connection sending the API key: `post(path, document)` → the answer's JSON."""

    def __init__(self, port: int, key: str) -> None:
        self.port = port
        self.head = f"Host: 127.0.0.1\r\nX-API-Key: {key}\r\nContent-Type: application/json\r\n"
        self.sock: socket.socket | None = None

    def _connect(self) -> socket.socket:
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=60)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock, self.file = sock, sock.makefile("rb")
        return sock

    def request(self, method: str, path: str, document: Any = None) -> tuple[int, Any]:
        body = b"" if document is None else json.dumps(document).encode()
        message = f"{method} {path} HTTP/1.1\r\n{self.head}Content-Length: {len(body)}\r\n\r\n".encode()
        try:
            (self.sock or self._connect()).sendall(message + body)
            line = self.file.readline()
        except (BrokenPipeError, ConnectionResetError):
            line = b""
        if not line:  # the server closed the idle connection before the request reached it:
            self.close()  # sending again is safe
            self._connect().sendall(message + body)
            line = self.file.readline()
        status, length = int(line.split(b" ", 2)[1]), 0
        while (header := self.file.readline()) not in (b"\r\n", b""):
            name, _, value = header.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        return status, json.loads(self.file.read(length))

    def post(self, path: str, document: Any) -> Any:
        status, found = self.request("POST", path, document)
        if status >= 400:
            raise RuntimeError(f"POST {path}: {status} {found}")
        return found

    def close(self) -> None:
        if self.sock is not None:
            self.file.close()
            self.sock.close()
            self.sock = None


def _case(http: Portal, pid: str) -> None:
    ready = list(http.post("/cases", {"key": pid})["ready"])
    while ready:
        task = ready.pop(0)
        ready.extend(http.post(f"/tasks/{task['id']}/complete", {"data": DATA}).get("ready", []))


def throughput(
    ws: Any, start: str, *, cases: int, rounds: int, timed: Any, stats: Any, in_process: Any
) -> dict[str, Any]:
    """Cases/s over HTTP: `rounds` rounds of `cases` cases against one server process, each round
    paired with a round of the same cases in-process (`in_process(engine, pid)`, on its own
    database of the same setup), alternating which goes first: the paired ratio is steady when the
    shared machine's speed drifts."""
    local = ws.engine("local.db")
    engine = ws.engine("http.db")
    _record, key = engine.api_keys.create("bench", actor="bench")
    url = engine.url
    engine.close()
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("HENNAN_FLOW_JWT")}
    env.pop("HENNAN_FLOW_JWKS", None)
    server = subprocess.Popen(
        [sys.executable, "-m", "hennan_flow", "--db", url, "--now", start, "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    http = Portal(port, key)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if http.request("GET", "/healthz")[0] == 200:
                    break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise
                http.close()
                time.sleep(0.05)
        for _ in range(2):  # warm
            _case(http, ws.pid)
            in_process(local, ws.pid)
        runs = {
            "http": lambda: [_case(http, ws.pid) for _ in range(cases)],
            "local": lambda: [in_process(local, ws.pid) for _ in range(cases)],
        }
        rates: dict[str, list[float]] = {"http": [], "local": []}
        for r in range(rounds):
            for side in ("http", "local") if r % 2 == 0 else ("local", "http"):
                rates[side].append(cases / timed(runs[side]))
    finally:
        http.close()
        server.terminate()
        server.wait(timeout=30)
        local.close()
    ratios = [h / loc for h, loc in zip(rates["http"], rates["local"], strict=True)]
    return {
        "shape": ws.pid,
        "cases_per_round": cases,
        "rounds": rounds,
        "hennan_flow": stats(rates["http"]),
        "in_process": stats(rates["local"]),
        "paired_ratio": stats(ratios),
        "ratio": statistics.median(ratios),
    }
