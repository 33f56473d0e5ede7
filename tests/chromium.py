"""Headless Chromium over the DevTools protocol, for the tests that render HTML (forms, reports).

Chromium is Debian's `chromium` (CI installs it in .ci/run), or `HENNAN_FLOW_CHROMIUM`; where it is
absent, or the `websockets` test dependency is, `open_page` skips the test with the reason. The
browser starts with `--remote-debugging-port=0` (the port is read from
`<user-data-dir>/DevToolsActivePort`) in its own process group, which is ended afterwards. `Page`
collects every console message, log entry and uncaught exception of the page it drives.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import signal
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--hide-scrollbars",
    "--window-size=1280,900",
    "--lang=zh-CN",
    "--remote-debugging-port=0",
    "--remote-debugging-address=127.0.0.1",
)
WIDTH = 1280


def chromium_binary() -> str | None:
    return (
        os.environ.get("HENNAN_FLOW_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    )


class Page:
    """One browser tab over the DevTools protocol: commands, and the events that arrive meanwhile."""

    def __init__(self, ws: Any) -> None:
        self._ws = ws  # a websockets.sync.client.ClientConnection
        self._next = 0
        self.events: list[dict[str, Any]] = []

    def call(self, method: str, params: dict[str, Any] | None = None, timeout: float = 30) -> dict[str, Any]:
        self._next += 1
        ident = self._next
        self._ws.send(json.dumps({"id": ident, "method": method, "params": params or {}}))
        deadline = time.monotonic() + timeout
        while True:
            message = self._receive(deadline - time.monotonic())
            if message is None:
                raise TimeoutError(f"no answer to {method} within {timeout}s")
            if message.get("id") == ident:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                result: dict[str, Any] = message.get("result", {})
                return result

    def wait_for(self, event: str, timeout: float = 30) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        seen = len(self.events)
        while True:
            for message in self.events[seen:]:
                if message.get("method") == event:
                    return message
            seen = len(self.events)
            if self._receive(deadline - time.monotonic()) is None:
                raise TimeoutError(f"no {event} within {timeout}s")

    def drain(self, quiet: float = 0.3) -> None:
        """Collect the events that are still on their way."""
        while self._receive(quiet) is not None:
            pass

    def _receive(self, timeout: float) -> dict[str, Any] | None:
        if timeout <= 0:
            return None
        try:
            raw = self._ws.recv(timeout=timeout)
        except TimeoutError:
            return None
        message: dict[str, Any] = json.loads(raw)
        if "method" in message:
            self.events.append(message)
        return message

    def evaluate(self, expression: str) -> Any:
        answer = self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True})
        if "exceptionDetails" in answer:
            raise RuntimeError(f"page script failed: {answer['exceptionDetails']}")
        return answer["result"].get("value")

    def problems(self) -> list[str]:
        """Console errors and warnings, log entries at those levels, uncaught exceptions."""
        out = []
        for e in self.events:
            params = e.get("params", {})
            if e["method"] == "Runtime.consoleAPICalled" and params.get("type") in {
                "error",
                "assert",
                "warning",
            }:
                text = " ".join(str(a.get("value", a.get("description", ""))) for a in params.get("args", []))
                out.append(f"console.{params['type']}: {text}")
            elif e["method"] == "Runtime.exceptionThrown":
                out.append(f"exception: {params.get('exceptionDetails', {}).get('text')}")
            elif e["method"] == "Log.entryAdded" and params["entry"]["level"] in {"error", "warning"}:
                entry = params["entry"]
                out.append(f"log {entry['level']} ({entry.get('source')}): {entry.get('text')}")
        return out

    def requests(self) -> list[str]:
        """URLs the page asked for since it was opened (needs the Network domain enabled)."""
        return [
            e["params"]["request"]["url"]
            for e in self.events
            if e.get("method") == "Network.requestWillBeSent"
        ]

    def open(self, url: str) -> None:
        self.events.clear()
        self.call("Page.navigate", {"url": url})
        self.wait_for("Page.loadEventFired")

    def screenshot(self, path: Path) -> Path:
        metrics = self.call("Page.getLayoutMetrics")
        height = int(metrics["cssContentSize"]["height"]) + 1
        shot = self.call(
            "Page.captureScreenshot",
            {
                "format": "png",
                "captureBeyondViewport": True,
                "clip": {"x": 0, "y": 0, "width": WIDTH, "height": height, "scale": 1},
            },
        )
        path.write_bytes(base64.b64decode(shot["data"]))
        return path


def open_page(tmp_path_factory: pytest.TempPathFactory, *, domains: tuple[str, ...] = ()) -> Iterator[Page]:
    """Start Chromium, yield one tab (Page, Runtime, Log enabled, plus `domains`), stop Chromium.

    Use it as the body of a fixture: `yield from open_page(tmp_path_factory)`.
    """
    binary = chromium_binary()
    if binary is None:
        pytest.skip("Chromium is not installed (Debian: apt-get install chromium; CI installs it in .ci/run)")
    pytest.importorskip("websockets", reason="the DevTools client needs the test dependency websockets")
    from websockets.sync.client import connect

    profile = tmp_path_factory.mktemp("chromium-profile")
    log = (profile.parent / "chromium.log").open("wb")
    proc = subprocess.Popen(
        [binary, *FLAGS, f"--user-data-dir={profile}", "about:blank"],
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,  # its own process group: the renderers go with it at the end
    )
    try:
        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + 60
        while not (port_file.exists() and port_file.read_text().strip()):
            if proc.poll() is not None or time.monotonic() > deadline:
                log.flush()
                tail = (profile.parent / "chromium.log").read_text(errors="replace")[-2000:]
                pytest.fail(f"Chromium did not open its DevTools port (exit {proc.poll()}):\n{tail}")
            time.sleep(0.1)
        port = int(port_file.read_text().split()[0])
        # never through a proxy: urlopen's shared opener keeps the proxies of the first call in this
        # process, which may have run while a test pointed them at a server since closed
        direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with direct.open(f"http://127.0.0.1:{port}/json/list", timeout=15) as answer:
            targets = json.load(answer)
        target = next(t for t in targets if t.get("type") == "page")
        with connect(target["webSocketDebuggerUrl"], max_size=None, open_timeout=15) as ws:
            tab = Page(ws)
            for domain in ("Page", "Runtime", "Log", *domains):
                tab.call(f"{domain}.enable")
            tab.call(
                "Emulation.setDeviceMetricsOverride",
                {"width": WIDTH, "height": 900, "deviceScaleFactor": 1, "mobile": False},
            )
            yield tab
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=15)
        log.close()
