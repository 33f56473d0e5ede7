"""E-licence and shared-data verification (issue 10): the HTTP provider against a real local server.

Every server here is `http.server` in a thread on 127.0.0.1, port 0; nothing else is ever contacted.
Timeouts are tiny and backoff waits are recorded instead of slept, so nothing depends on timing
beyond a server that answers later than the client's timeout.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

import pytest

from helpers import FORMS, START, http_server, migrated, run_cli
from helpers import OPENING as BUNDLE
from helpers import OPENING_WALK as WALK
from hennan_flow.engine import Engine, SimulatedClock, licence_checks
from hennan_flow.errors import ConfigError, StateError
from hennan_flow.services.licences import (
    HttpLicenceProvider,
    Licence,
    LicenceNotFoundError,
    LicenceProtocolError,
    LicenceProvider,
    LicenceRejectedError,
    LicenceRequest,
    LicenceTimeoutError,
    LicenceUnavailableError,
    NoProvider,
    NoProviderError,
    fetch,
)

ID_NUMBER = "430422199001011234"
CREDIT_CODE = "91430422MA4T8X2K3N"

Reply = tuple[int, dict[str, str], bytes] | float  # (status, headers, body), or seconds to stall


@dataclass
class Script:
    """What the server answers: per licence type a queue of replies (the last one repeats)."""

    replies: dict[str, list[Reply]] = field(default_factory=dict)
    default: Reply = (404, {}, b'{"error": "not found"}')
    seen: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)  # (method, path, body)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def next(self, licence_type: str) -> Reply:
        with self.lock:
            queue = self.replies.get(licence_type)
            if not queue:
                return self.default
            return queue.pop(0) if len(queue) > 1 else queue[0]

    def hits(self, licence_type: str) -> int:
        return sum(1 for _m, _p, body in self.seen if body.get("type") == licence_type)


def found(licence_id: str = "E-1", status: str = "valid") -> Reply:
    doc = {
        "licence": {
            "id": licence_id,
            "type": "x",
            "issuer": "衡南县",
            "valid_until": "2036-01-01",
            "status": status,
        }
    }
    return (200, {"Content-Type": "application/json"}, json.dumps(doc, ensure_ascii=False).encode())


@pytest.fixture
def server() -> Iterator[tuple[str, Script]]:
    script = Script()
    stop = threading.Event()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = json.loads(self.rfile.read(length) or b"{}")
            script.seen.append(("POST", self.path, body))
            reply = script.next(str(body.get("type")))
            if isinstance(reply, float):
                stop.wait(reply)  # answer later than the client waits
                reply = found()
            status, headers, payload = reply
            try:
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
            except (BrokenPipeError, ConnectionResetError):
                pass

        def log_message(self, format: str, *args: Any) -> None:
            pass

    with http_server(Handler, on_stop=stop.set) as base:
        yield f"{base}/api", script


def provider(url: str, sleeps: list[float] | None = None, **kwargs: Any) -> HttpLicenceProvider:
    record: Callable[[float], None] = sleeps.append if sleeps is not None else lambda _s: None
    options: dict[str, Any] = {"timeout": 2.0, "retries": 2, "backoff": 0.01, "sleep": record}
    options.update(kwargs)
    return HttpLicenceProvider(url, **options)


def request(licence_type: str = "居民身份证") -> LicenceRequest:
    return LicenceRequest(
        material="natural_person_id",
        licence_type=licence_type,
        source="e_license",
        case="c-1",
        holder=ID_NUMBER,
    )


# -- the HTTP provider ----------------------------------------------------------------------------


def test_a_licence_found_is_returned_and_the_request_carries_the_holder_in_its_body(
    server: tuple[str, Script],
) -> None:
    url, script = server
    script.replies["居民身份证"] = [found("ID-42")]
    got = provider(url, token="t0k").fetch(request())
    assert (got.licence_id, got.issuer, got.valid_until, got.status, got.attempts) == (
        "ID-42",
        "衡南县",
        "2036-01-01",
        "valid",
        1,
    )
    ((method, path, body),) = script.seen
    assert (method, path) == ("POST", "/api/licences/query")
    assert body == {
        "type": "居民身份证",
        "source": "e_license",
        "holder": ID_NUMBER,
        "material": "natural_person_id",
        "case": "c-1",
    }
    assert ID_NUMBER not in repr(request()) and "ID-42" not in repr(got)


def test_an_unknown_licence_is_not_found_and_not_retried(server: tuple[str, Script]) -> None:
    url, script = server
    sleeps: list[float] = []
    with pytest.raises(LicenceNotFoundError) as err:
        provider(url, sleeps).fetch(request("结婚证"))
    assert (err.value.code, err.value.retryable, err.value.attempts) == ("not_found", False, 1)
    assert script.hits("结婚证") == 1 and sleeps == []


def test_a_timeout_is_retried_with_backoff_then_reported(server: tuple[str, Script]) -> None:
    url, script = server
    script.replies["居民身份证"] = [2.0]  # the server stalls 2 s; the client waits 0.05 s
    sleeps: list[float] = []
    with pytest.raises(LicenceTimeoutError) as err:
        provider(url, sleeps, timeout=0.05, retries=2, backoff=0.01).fetch(request())
    assert (err.value.code, err.value.retryable, err.value.attempts) == ("timeout", True, 3)
    assert sleeps == [0.01, 0.02]  # backoff × 2^n between the three attempts


def test_a_503_is_retried_with_backoff_and_a_later_success_counts_its_attempts(
    server: tuple[str, Script],
) -> None:
    url, script = server
    unavailable: Reply = (503, {}, b"busy")
    script.replies["营业执照"] = [unavailable, unavailable, found("BL-1")]
    sleeps: list[float] = []
    got = provider(url, sleeps, retries=3, backoff=0.01).fetch(request("营业执照"))
    assert (got.licence_id, got.attempts) == ("BL-1", 3)
    assert sleeps == [0.01, 0.02] and script.hits("营业执照") == 3


def test_a_503_that_persists_gives_up_after_the_retries(server: tuple[str, Script]) -> None:
    url, script = server
    script.replies["营业执照"] = [(503, {"Retry-After": "0.005"}, b"")]
    sleeps: list[float] = []
    with pytest.raises(LicenceUnavailableError) as err:
        provider(url, sleeps, retries=2, backoff=1.0).fetch(request("营业执照"))
    assert (err.value.code, err.value.attempts) == ("unavailable", 3)
    assert sleeps == [0.005, 0.005]  # Retry-After wins over the backoff
    assert script.hits("营业执照") == 3
    capped: list[float] = []
    with pytest.raises(LicenceUnavailableError):
        provider(url, capped, retries=1, backoff=50.0, max_backoff=0.25).fetch(request("营业执照"))
    assert capped == [0.005]
    script.replies["营业执照"] = [(503, {}, b"")]
    with pytest.raises(LicenceUnavailableError):
        provider(url, capped, retries=1, backoff=50.0, max_backoff=0.25).fetch(request("营业执照"))
    assert capped[-1] == 0.25


@pytest.mark.parametrize(
    ("reply", "error", "code"),
    [
        ((400, {}, b"bad"), LicenceRejectedError, "rejected"),
        ((401, {}, b""), LicenceRejectedError, "rejected"),
        ((200, {}, b"<html>"), LicenceProtocolError, "protocol"),
        ((200, {}, b'{"licence": "yes"}'), LicenceProtocolError, "protocol"),
        ((200, {}, b'{"licence": {"status": "maybe"}}'), LicenceProtocolError, "protocol"),
    ],
)
def test_other_answers_are_typed_errors_and_not_retried(
    server: tuple[str, Script], reply: Reply, error: type[Exception], code: str
) -> None:
    url, script = server
    script.replies["户口簿"] = [reply]
    with pytest.raises(error) as err:
        provider(url).fetch(request("户口簿"))
    assert getattr(err.value, "code", None) == code and script.hits("户口簿") == 1


def test_a_refused_connection_is_unavailable() -> None:
    import socket

    with socket.socket() as s:  # a port on 127.0.0.1 that nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    sleeps: list[float] = []
    with pytest.raises(LicenceUnavailableError) as err:
        provider(f"http://127.0.0.1:{port}", sleeps, retries=1).fetch(request())
    assert err.value.attempts == 2 and len(sleeps) == 1


def test_provider_configuration_is_checked() -> None:
    for bad in ("ftp://example/licences", "licences.example", "http://"):
        with pytest.raises(ConfigError):
            HttpLicenceProvider(bad)
    with pytest.raises(ConfigError):
        HttpLicenceProvider("http://127.0.0.1:1", timeout=0)
    with pytest.raises(ConfigError):
        HttpLicenceProvider("http://127.0.0.1:1", retries=-1)
    assert isinstance(HttpLicenceProvider("http://127.0.0.1:1"), LicenceProvider)
    assert isinstance(NoProvider(), LicenceProvider)
    with pytest.raises(NoProviderError):
        NoProvider().fetch(request())


def test_fetch_maps_every_answer_to_an_outcome_and_never_guesses() -> None:
    class Broken:
        name = "broken"

        def fetch(self, request: LicenceRequest) -> Licence:
            raise RuntimeError("bug")

    class Revoked:
        name = "revoked"

        def fetch(self, request: LicenceRequest) -> Licence:
            return Licence(licence_id="x", status="revoked")

    assert fetch(Broken(), request()).state == "failed"
    assert fetch(Revoked(), request()).state == "invalid"
    assert fetch(NoProvider(), request()).state == "unverified"
    nobody = LicenceRequest(material="m", licence_type="t", source="e_license", case="c", holder=None)
    no_holder = fetch(Revoked(), nobody)  # a provider is never asked without a holder
    assert (no_holder.state, no_holder.error_code, no_holder.attempts) == ("failed", "no_holder", 0)
    assert fetch(NoProvider(), nobody).state == "unverified"  # nothing to ask anyway: the case proceeds


# -- in the running case ---------------------------------------------------------------------------


@pytest.fixture
def url(sqlite_url: str) -> str:
    migrated(sqlite_url, simulation=True)
    return sqlite_url


def engine_with(url: str, licences: LicenceProvider | None) -> Engine:
    engine = Engine(url, clock=SimulatedClock(START), licences=licences)
    engine.deploy(str(BUNDLE), forms=str(FORMS))
    return engine


APPLICANT = {
    "credit_code": CREDIT_CODE,
    "id_number": ID_NUMBER,
    "intake": {"holders": {"corporate_shareholder_license": "91430422MA4T000001"}},
}


def test_exempted_materials_are_fetched_when_the_step_is_accepted(
    server: tuple[str, Script], url: str
) -> None:
    base, script = server
    script.replies["居民身份证"] = [found("ID-1")]
    script.replies["营业执照"] = [found("BL-9")]
    script.replies["不动产权证书"] = [found("RE-3", status="expired")]
    engine = engine_with(url, provider(base))
    case = engine.start_case("enterprise_opening", applicant=APPLICANT)
    (task,) = engine.tasks(case=case.id)
    checks = {c.material: c for c in engine.materials(task=task.id).licences}
    assert {m: (c.state, c.provider, c.attempts) for m, c in checks.items()} == {
        "natural_person_id": ("verified", "http", 1),
        "corporate_shareholder_license": ("verified", "http", 1),
        "premises_title": ("invalid", "http", 1),
    }
    holders = {body["material"]: body["holder"] for _m, _p, body in script.seen}
    # the enterprise licence is the shareholder's (intake.holders); the ID card the applicant's person
    assert holders == {
        "natural_person_id": ID_NUMBER,
        "corporate_shareholder_license": "91430422MA4T000001",
        "premises_title": ID_NUMBER,
    }
    with pytest.raises(StateError, match=r"premises_title .*e-licence invalid \(expired\)"):
        engine.complete_task(task.id, data=WALK["register"], actor="amr-clerk")
    # the holder renewed it: a retry verifies it
    script.replies["不动产权证书"] = [found("RE-4")]
    after = engine.verify_licences(task.id, actor="amr-clerk")
    assert {c.material: c.state for c in after.licences}["premises_title"] == "verified"
    assert after.missing == ()
    assert engine.complete_task(task.id, data=WALK["register"]).state == "completed"
    types = [e.type for e in engine.case(case.id).events]
    assert types.count("licence.verified") == 3 and types.count("licence.invalid") == 1
    engine.close()


def test_a_failing_provider_leaves_a_retryable_state_never_verified(
    server: tuple[str, Script], url: str
) -> None:
    base, script = server
    script.default = (503, {}, b"down")
    engine = engine_with(url, provider(base, retries=1))
    case = engine.start_case("enterprise_opening", applicant=APPLICANT)
    (task,) = engine.tasks(case=case.id)
    checks = engine.materials(task=task.id).licences
    assert {(c.state, c.error_code, c.attempts) for c in checks} == {("failed", "unavailable", 2)}
    assert all(c.blocking for c in checks)
    with pytest.raises(StateError) as err:
        engine.complete_task(task.id, data=WALK["register"])
    assert f"material verify {task.id}" in str(err.value)
    events = [e for e in engine.case(case.id).events if e.type == "licence.failed"]
    assert len(events) == 3 and events[0].detail["code"] == "unavailable"

    script.default = (404, {}, b"")
    retried = engine.verify_licences(task.id)
    assert {c.state for c in retried.licences} == {"not_found"}
    assert {c.attempts for c in retried.licences} == {3}  # 2 before, 1 now (a 404 is not retried)
    # the window takes the papers instead of one of them; the other two come online
    engine.supply_material(task.id, "premises_title", actor="window-1")
    script.default = found("OK-1")
    final = engine.verify_licences(task.id)
    assert {c.material: c.state for c in final.licences} == {
        "corporate_shareholder_license": "verified",
        "natural_person_id": "verified",
        "premises_title": "supplied",
    }
    assert engine.complete_task(task.id, data=WALK["register"]).state == "completed"
    engine.close()


def test_without_a_provider_exempted_materials_are_unverified_and_the_case_proceeds(url: str) -> None:
    engine = engine_with(url, None)
    case = engine.start_case("enterprise_opening", applicant=APPLICANT)
    (task,) = engine.tasks(case=case.id)
    checks = engine.materials(task=task.id).licences
    assert {(c.state, c.provider, c.error_code, c.blocking) for c in checks} == {
        ("unverified", "none", "no_provider", False)
    }
    assert engine.complete_task(task.id, data=WALK["register"]).state == "completed"
    engine.close()


def test_a_provider_configured_later_verifies_the_unverified_from_the_cli(
    server: tuple[str, Script], url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    base, script = server
    script.default = found("LATE-1")
    engine = engine_with(url, None)
    case = engine.start_case("enterprise_opening", applicant=APPLICANT)
    (task,) = engine.tasks(case=case.id)
    engine.close()
    code, out, _ = run_cli(
        url,
        capsys,
        *(
            "--format",
            "json",
            "material",
            "verify",
            task.id,
            "--provider",
            base,
            "--timeout",
            "2",
            "--retries",
            "0",
        ),
        now="2026-03-02T10:00:00+08:00",
    )
    assert code == 0
    doc = json.loads(out)
    assert {c["state"] for c in doc["licences"]} == {"verified"}
    assert set(doc["licences"][0]) >= {
        "state",
        "provider",
        "attempts",
        "error_code",
        "checked_at",
        "blocking",
    }
    assert len(script.seen) == 3


def test_the_provider_is_asked_after_the_acceptance_commits_and_a_lost_answer_stays_pending(
    server: tuple[str, Script], url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    base, script = server
    script.default = found("OK-2")
    engine = engine_with(url, provider(base))
    seen_states: list[set[str]] = []

    def crash(_ctx: object, task_id: str, *, actor: str | None = None) -> Any:
        # the acceptance has committed, its checks pending, before the provider is asked
        seen_states.append({c.state for c in engine.materials(task=task_id).licences})
        raise RuntimeError("the worker died here")

    with monkeypatch.context() as patched:  # what the acceptance's after-commit action calls
        patched.setattr(licence_checks, "verify", crash)
        case = engine.start_case("enterprise_opening", applicant=APPLICANT)  # the failure does not undo it
    assert seen_states == [{"pending"}] and script.seen == []
    (task,) = engine.tasks(case=case.id)
    checks = engine.materials(task=task.id).licences
    assert {(c.state, c.blocking) for c in checks} == {("pending", True)}
    with pytest.raises(StateError, match="e-licence pending"):
        engine.complete_task(task.id, data=WALK["register"])
    assert {c.state for c in engine.verify_licences(task.id).licences} == {"verified"}
    assert engine.complete_task(task.id, data=WALK["register"]).state == "completed"
    engine.close()
