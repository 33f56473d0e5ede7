"""`http_seq10`: whole 10-step cases per second driven over HTTP against one `hennan-flow serve`
process on a SQLite file, beside in-process `seq10` of the same run (bench/run.py).

The server runs on the same simulation database setup as the in-process side (the workspace's
directory, clock and bundle); the client is one keep-alive `http.client` connection authenticating
with an API key, doing what a portal does: POST /cases, then POST /tasks/{id}/complete on each step a
start or completion hands back until the case ends. `http.client` is the thinnest keep-alive client
Python has (≈1 ms a request on this machine against ≈1.3 ms for httpx): a Java or Vue portal's pooled
keep-alive client costs about the same, so the figure is the server's, not the client's.
"""

from __future__ import annotations

import json
import os
import socket
import statistics
import subprocess
import sys
import time
from http.client import HTTPConnection
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
        self.conn = HTTPConnection("127.0.0.1", port, timeout=60)
        self.headers = {"X-API-Key": key, "Content-Type": "application/json"}

    def request(self, method: str, path: str, document: Any = None) -> tuple[int, Any]:
        body = None if document is None else json.dumps(document).encode()
        try:
            self.conn.request(method, path, body=body, headers=self.headers)
        except (BrokenPipeError, ConnectionResetError):  # the server closed the idle connection
            self.conn.close()  # before the request reached it: sending again is safe
            self.conn.request(method, path, body=body, headers=self.headers)
        answer = self.conn.getresponse()
        return answer.status, json.loads(answer.read())

    def post(self, path: str, document: Any) -> Any:
        status, found = self.request("POST", path, document)
        if status >= 400:
            raise RuntimeError(f"POST {path}: {status} {found}")
        return found

    def close(self) -> None:
        self.conn.close()


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
