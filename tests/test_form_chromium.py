"""The HTML form of one step of each bundle in headless Chromium (issue 9): no console errors.

Chromium is Debian's `chromium` (CI installs it in .ci/run); where it is absent, or the `websockets`
test dependency is, the tests skip with the reason. The browser is driven over the DevTools protocol
(`--remote-debugging-port=0`; the port is read from `<user-data-dir>/DevToolsActivePort`): every
console message, log entry and uncaught exception of the page is collected, the form's own constraint
validation runs on the prefilled walk data (every HTML `pattern` must compile in the `v` mode browsers
use and accept what the server accepts), and a full-page screenshot of each form is written to
`tmp_path` (its path is printed; run with `-s` to see it).
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

from hennan_flow.audit import audit_paths
from hennan_flow.dialect import load_document
from hennan_flow.formrender import render_form

REPO = Path(__file__).resolve().parents[1]
PROCESSES = REPO / "processes"
FORMS = REPO / "forms"
WALKS: dict[str, Any] = json.loads(
    (Path(__file__).parent / "fixtures" / "bundles" / "walks.json").read_text(encoding="utf-8")
)
# One step per bundle, together covering every kind of control and every kind of checklist note.
STEPS = {
    "enterprise_opening": "register",
    "enterprise_deregistration": "dereg_accept",
    "newborn": "medical_insurance_enrol",
    "after_death": "death_certificate",
    "construction_project": "construction_permit",
    "restaurant_opening": "food_business_license",
}
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


def _chromium() -> str | None:
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


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Page]:
    binary = _chromium()
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
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=15) as answer:
            targets = json.load(answer)
        target = next(t for t in targets if t.get("type") == "page")
        with connect(target["webSocketDebuggerUrl"], max_size=None, open_timeout=15) as ws:
            tab = Page(ws)
            for domain in ("Page", "Runtime", "Log"):
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


def _page_html(fragment: str, title: str) -> str:
    return (
        '<!DOCTYPE html>\n<html lang="zh-CN">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{title}</title>\n</head>\n<body>\n{fragment}\n</body>\n</html>\n"
    )


def _form_page(key: str, tmp_path: Path) -> Path:
    doc = load_document(PROCESSES / f"{key}.bpmn", display=f"processes/{key}.bpmn")
    bundle = next(b for b in doc.bundles if b.key == key)
    step = bundle.step(STEPS[key])
    assert step is not None and step.form is not None
    schema = json.loads((FORMS / f"{step.form}.schema.json").read_text(encoding="utf-8"))
    verdicts = next(
        b for b in audit_paths([str(PROCESSES / f"{key}.bpmn")]).bundles if b.key == key
    ).materials
    fragment = render_form(
        schema=schema,
        step=step,
        bundle=bundle,
        verdicts=verdicts,
        data=WALKS[key]["step_data"][step.id],
        task_id=f"{key}-{step.id}",
    )
    path = tmp_path / f"{key}-{step.id}.html"
    path.write_text(_page_html(fragment, f"{bundle.name} · {step.name}"), encoding="utf-8")
    return path


CHECKS = """
(() => {
  const form = document.querySelector("form.hf-form__form");
  const aside = document.querySelector("aside.hf-checklist");
  const out = {badPatterns: [], invalid: [], unlabelled: [], controls: 0};
  for (const el of document.querySelectorAll("[pattern]")) {
    try { new RegExp(el.getAttribute("pattern"), "v"); }
    catch (e) { out.badPatterns.push(el.name + ": " + e.message); }
  }
  for (const el of form.elements) {
    if (el.tagName === "BUTTON" || el.tagName === "FIELDSET") continue;
    out.controls += 1;
    if (!el.labels || el.labels.length === 0) out.unlabelled.push(el.name);
    if (el.willValidate && !el.checkValidity()) out.invalid.push(el.name + ": " + el.validationMessage);
  }
  const required = form.querySelector("input[required], select[required], textarea[required]");
  const before = required.value;
  required.value = "";
  out.emptyRequiredRefused = !required.checkValidity();
  required.value = before;
  const f = form.getBoundingClientRect(), a = aside.getBoundingClientRect();
  out.checklistBeside = a.left >= f.right && a.top < f.bottom;
  out.checklistVisible = a.width > 0 && a.height > 0 && getComputedStyle(aside).visibility === "visible";
  out.kept = [...aside.querySelectorAll(".hf-keep li")].map(li => li.dataset.hfMaterial);
  out.requiredMarksShown = [...document.querySelectorAll(".hf-required")]
    .every(m => getComputedStyle(m).color === "rgb(164, 0, 15)");
  return out;
})()
"""


def test_the_probe_sees_console_errors(page: Page, tmp_path: Path) -> None:
    """The check below can fail: a page with a console error and an invalid `v`-mode pattern is caught."""
    bad = tmp_path / "bad.html"
    bad.write_text(
        _page_html(
            '<form><input name="n" pattern="[()-]" value="x"></form>'
            '<img alt="" src="data:,"><p id="p">x</p>'
            "<script>console.error('probe'); document.querySelector('input').checkValidity();</script>",
            "probe",
        ),
        encoding="utf-8",
    )
    page.open(bad.as_uri())
    page.drain()
    problems = page.problems()
    assert any("probe" in p for p in problems), problems
    assert any("pattern" in p.lower() for p in problems), problems


@pytest.mark.parametrize("key", sorted(STEPS))
def test_the_form_renders_without_console_errors(page: Page, key: str, tmp_path: Path) -> None:
    html_file = _form_page(key, tmp_path)
    page.open(html_file.as_uri())
    result = page.evaluate(CHECKS)
    page.drain()
    assert page.problems() == []
    assert result["badPatterns"] == []
    assert result["invalid"] == [], "the browser refuses data that the server accepts"
    assert result["unlabelled"] == []
    assert result["controls"] > 0 and result["emptyRequiredRefused"] is True
    assert result["checklistVisible"] and result["checklistBeside"], "the checklist is not beside the form"
    assert result["requiredMarksShown"]
    audit = next(b for b in audit_paths([str(PROCESSES / f"{key}.bpmn")]).bundles if b.key == key)
    assert result["kept"] == [v.material for v in audit.checklist if v.step == STEPS[key]]
    shot = page.screenshot(tmp_path / f"{key}-{STEPS[key]}.png")
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 10_000
    print(f"screenshot: {shot}")
