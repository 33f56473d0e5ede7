"""`http_seq10`: whole 10-step cases per second driven over HTTP against one `hennan-flow serve`
process on a SQLite file, beside in-process `seq10` of the same run (bench/run.py).

The server runs on the same simulation database setup as the in-process side (the workspace's
directory, clock and bundle); the client is one keep-alive httpx connection authenticating with an
API key, doing what a portal does: POST /cases, then POST /tasks/{id}/complete on each step a start
or completion hands back until the case ends.
"""

from __future__ import annotations

import os
import socket
import statistics
import subprocess
import sys
import time
from typing import Any

import httpx
from naive import DATA


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _case(http: httpx.Client, pid: str) -> None:
    answer = http.post("/cases", json={"key": pid})
    answer.raise_for_status()
    ready = list(answer.json()["ready"])
    while ready:
        task = ready.pop(0)
        done = http.post(f"/tasks/{task['id']}/complete", json={"data": DATA})
        done.raise_for_status()
        ready.extend(done.json().get("ready", []))


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
    try:
        with httpx.Client(
            base_url=f"http://127.0.0.1:{port}", headers={"X-API-Key": key}, timeout=60
        ) as http:
            deadline = time.monotonic() + 60
            while True:
                try:
                    if http.get("/healthz").status_code == 200:
                        break
                except httpx.TransportError:
                    if time.monotonic() > deadline or server.poll() is not None:
                        raise
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
