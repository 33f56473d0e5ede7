"""No engine operation reaches the network (issue 28 item 1, "Done when").

A loopback HTTP server counts every request, and every proxy variable points at it, so any HTTP
client the engine or a library under it might use (urllib, jsonschema's default retrieval) lands
there. An audit hook records every socket connection, name lookup and urllib request made while an
operation runs. Then every shipped and test bundle goes through what the engine does with a bundle:
`validate` (hostile fixtures included), `audit`, `deploy`, `demo`, every branch of every shipped
bundle walked with its forms rendered and an empty submission refused on the way, the test bundles
run to their end, a sweep and the supervision report; and every shipped form, given `$ref`s,
`$schema` and `$id` naming the server, is refused without a request. Nothing may connect.
"""

from __future__ import annotations

import json
import shutil
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from helpers import FIXTURES, FORMS, PROCESSES, REVIEW_LIB, START, WALKS, run_to_end
from hennan_flow import ConfigError, FindingsError, FormDataError
from hennan_flow.cli import main
from hennan_flow.engine import Engine, SimulatedClock
from hennan_flow.stepforms.data import check_form_data

# what counts as reaching out: a socket connection or datagram, a name lookup, an HTTP request
_NETWORK_EVENTS = {
    "socket.connect",
    "socket.sendto",
    "socket.getaddrinfo",
    "urllib.Request",
    "http.client.connect",
}
_SEEN: list[list[str]] = []  # while an operation is watched: one list collecting what it reached


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if _SEEN and event in _NETWORK_EVENTS:
        _SEEN[-1].append(f"{event} {args[1:] if event.startswith('socket.') else args}"[:300])


sys.addaudithook(_audit)  # audit hooks cannot be removed: it records only inside watched()

TEST_BUNDLES = sorted({p.parent for p in FIXTURES.rglob("*.bpmn")})
CLEAN_LIB = FIXTURES / "validate"  # the validate fixtures' clean bundle, with its form


class _Counting(BaseHTTPRequestHandler):
    hits: list[str]

    def _answer(self) -> None:
        self.hits.append(f"{self.command} {self.path}")
        body = b'{"const": "FROM-THE-LOOPBACK-SERVER"}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_CONNECT = do_HEAD = _answer

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, list[str]]]:
    """The loopback server's URL and the requests it received; every proxy variable names it."""
    hits: list[str] = []
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), type("Handler", (_Counting,), {"hits": hits}))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{httpd.server_address[1]}"
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.setenv(name, url)
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    try:
        yield url, hits
    finally:
        httpd.shutdown()
        httpd.server_close()


@contextmanager
def watched(hits: list[str]) -> Iterator[None]:
    """Run the block with connections recorded; none may be made, none may reach the server."""
    seen: list[str] = []
    _SEEN.append(seen)
    try:
        yield
    finally:
        _SEEN.remove(seen)
    assert seen == [], seen
    assert hits == [], hits


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    capsys.readouterr()
    with pytest.raises(SystemExit) as info:
        main(list(args))
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err, out + err
    return int(info.value.code or 0), out + err


def test_the_watch_sees_a_connection(server: tuple[str, list[str]]) -> None:
    """The check can fail: a plain urllib request to the server is both recorded and counted."""
    import urllib.request

    url, hits = server
    seen: list[str] = []
    _SEEN.append(seen)
    try:
        with urllib.request.urlopen(f"{url}/probe", timeout=10) as answer:
            answer.read()
    finally:
        _SEEN.remove(seen)
    assert any(s.startswith("urllib.Request") for s in seen) and any("socket.connect" in s for s in seen)
    assert hits and hits[0].endswith("/probe")


def test_validate_and_audit_of_every_bundle_never_connect(
    server: tuple[str, list[str]], capsys: pytest.CaptureFixture[str]
) -> None:
    _, hits = server
    with watched(hits):
        for folder in [PROCESSES, *TEST_BUNDLES]:
            rc, text = cli(capsys, "validate", str(folder))
            assert rc in (0, 1, 2), (folder, text)
        rc, text = cli(capsys, "audit", "--fail-on", "error", str(PROCESSES))
        assert rc == 0, text


def test_deploying_and_running_every_bundle_never_connects(
    server: tuple[str, list[str]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, hits = server
    url = f"sqlite:///{tmp_path / 'hf.db'}"
    with watched(hits):
        with Engine(url) as fresh:
            fresh.upgrade(simulation=True)
        clock = SimulatedClock(START)
        engine = Engine(url, clock=clock)
        engine.deploy(str(PROCESSES))
        engine.deploy(str(REVIEW_LIB / "processes"), forms=str(REVIEW_LIB / "forms"))
        engine.deploy(str(CLEAN_LIB / "bundles"), forms=str(CLEAN_LIB / "forms"))
        for folder in (FIXTURES / "clock" / "processes", FIXTURES / "report" / "processes"):
            engine.deploy(str(folder))
        for key in sorted(WALKS):
            for branch in WALKS[key]["branches"]:
                _walk(engine, clock, key, branch)
        run_to_end(engine, engine.start_case("review").id, supplement_rounds=1)
        for deployed in engine.definitions():
            if deployed.key in WALKS or deployed.key == "review":
                continue
            case = engine.start_case(deployed.key, applicant={"name": "李湘南"})
            for _round in range(50):
                ready = engine.tasks(case=case.id)
                if not ready:
                    break
                for task in ready:
                    engine.render_form(task.id)
                    engine.complete_task(task.id, data=_fill(engine, deployed.key, task.step), actor="clerk")
        clock.advance(days=40)
        engine.sweep()
        engine.supervision_report(
            start=(START - timedelta(days=1)).date(), end=(START + timedelta(days=60)).date()
        )
        engine.close()
        rc, text = cli(capsys, "--db", f"sqlite:///{tmp_path / 'demo.db'}", "demo")
        assert rc == 0, text


def _walk(engine: Engine, clock: SimulatedClock, key: str, branch: str) -> None:
    """One case of a shipped bundle down one branch: each form rendered, `{}` refused, the walk's data taken."""
    case = engine.start_case(
        key, applicant={"name": "李湘南", "id_number": "430422199001011234"}, actor="window"
    )
    messages = list(WALKS[key]["branches"][branch].get("messages", []))
    rounds: dict[str, int] = {}
    for _round in range(len(WALKS[key]["branches"][branch]["steps"]) + len(messages) + 1):
        ready = engine.tasks(case=case.id)
        if not ready:
            if not messages:
                return
            message = messages.pop(0)  # a message from outside (issue 26 bundles)
            engine.deliver_message(case.id, message["name"], message["data"])
            continue
        for task in ready:
            engine.render_form(task.id)
            while messages and messages[0].get("before") == task.step:
                message = messages.pop(0)
                engine.deliver_message(case.id, message["name"], message["data"])
            data = dict(WALKS[key]["step_data"].get(task.step, {}))
            override = WALKS[key]["branches"][branch]["overrides"].get(task.step, {})
            if isinstance(override, list):  # a reworked step: one override per round
                override = override[min(rounds.get(task.step, 0), len(override) - 1)]
            rounds[task.step] = rounds.get(task.step, 0) + 1
            data.update(override)
            if data:
                with pytest.raises(FormDataError):
                    engine.complete_task(task.id, data={"not_a_field": "x"})
            clock.advance(minutes=30)
            engine.complete_task(task.id, data=data, actor="clerk")
    raise AssertionError(f"{key}/{branch} did not end")


def _fill(engine: Engine, key: str, step: str) -> dict[str, Any]:
    """Data for a test bundle's step: the clean bundle's form wants its required fields."""
    if key == "clean_bundle":
        schema = json.loads((CLEAN_LIB / "forms" / "clean_bundle" / "apply.schema.json").read_text("utf-8"))
        return {name: _sample(sub) for name, sub in schema.get("properties", {}).items()}
    return {}


def _sample(sub: dict[str, Any]) -> Any:
    kind = sub.get("type")
    return {"integer": 1, "number": 1, "boolean": True, "array": []}.get(str(kind), "衡南县测试")


SHIPPED_FORMS = sorted(FORMS.rglob("*.schema.json"))


def test_every_shipped_form_naming_the_server_is_refused_unfetched(
    server: tuple[str, list[str]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Each shipped form with a field, a `$defs` entry and `$schema` naming the server: all refused."""
    url, hits = server
    lib = tmp_path / "lib"
    shutil.copytree(PROCESSES, lib / "processes")
    shutil.copytree(FORMS, lib / "forms")
    hostile: dict[str, tuple[dict[str, Any], str]] = {}
    for path in SHIPPED_FORMS:
        relative = path.relative_to(FORMS)
        schema: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        first = next(iter(schema["properties"]))
        schema["properties"][first] = {"$ref": f"{url}/{relative}"}
        schema["$defs"] = {"remote": {"$ref": f"{url}/defs.schema.json#/x"}}
        schema["$schema"] = f"{url}/meta.schema.json"
        (lib / "forms" / relative).write_text(json.dumps(schema, ensure_ascii=False), encoding="utf-8")
        hostile[str(relative).removesuffix(".schema.json")] = (schema, first)
    assert len(hostile) > 20
    with watched(hits):
        rc, text = cli(capsys, "validate", str(lib / "processes"))
        assert rc == 1, text
        refused = {
            line.split("forms/", 1)[1].split(".schema.json")[0]
            for line in text.splitlines()
            if "[HF-FORM]" in line
        }
        assert refused == set(hostile), text
        engine = Engine(f"sqlite:///{tmp_path / 'hf.db'}")
        engine.upgrade()
        with pytest.raises(FindingsError, match="HF-FORM"):
            engine.deploy(str(lib / "processes"))
        engine.close()
        for form, (schema, first) in hostile.items():
            with pytest.raises(ConfigError):
                check_form_data(schema, {first: "x"}, step="step", form=form)
