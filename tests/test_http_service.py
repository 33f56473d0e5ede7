"""The HTTP service (DESIGN §11) as a portal uses it: a real `hennan-flow serve` process on 127.0.0.1,
tokens from a test JWKS, a whole bundle over HTTP (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from helpers import START, WALKS
from hennan_flow.engine import Engine, SimulatedClock
from http_service import ADMIN, CLERK, Keys, hennan_flow, prepare, served

APPLICANT = {"name": "衡南县云集湘味餐饮管理有限公司", "credit_code": "91430422MA4T8X2K3N"}
STEPS = WALKS["enterprise_opening"]["step_data"]
NOW = START.isoformat()


def start(http: httpx.Client, keys: Keys, **extra: Any) -> dict[str, Any]:
    body = {"key": "enterprise_opening", "data": {}, "applicant": APPLICANT}
    answer = http.post("/cases", json=body, headers={**keys.headers(CLERK), **extra})
    assert answer.status_code == 201, answer.text
    started: dict[str, Any] = answer.json()
    return started


def problem(answer: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    doc: dict[str, Any] = answer.json()
    assert doc["type"] == code and doc["status"] == status and doc["detail"]
    return doc


def test_a_whole_bundle_over_http(db_url: str, tmp_path: Path) -> None:
    keys = Keys(tmp_path)
    prepare(db_url, simulation=True, now=START)
    workers = 2 if db_url.startswith("postgresql") else 1  # several workers on one PostgreSQL
    with (
        served(db_url, keys, now=NOW, workers=workers) as base,
        httpx.Client(base_url=base, timeout=60) as http,
    ):
        amr, tax = keys.headers("amr-h1"), keys.headers("tax-h1")

        # start, with an Idempotency-Key: a retry answers the first case, another body is a conflict
        retry = {"Idempotency-Key": "portal-42-first"}
        case = start(http, keys, **retry)
        assert [t["step"] for t in case["ready"]] == ["register"] and case["state"] == "open"
        again = http.post(
            "/cases",
            json={"key": "enterprise_opening", "data": {}, "applicant": APPLICANT},
            headers={**keys.headers(CLERK), **retry},
        )
        assert again.status_code == 201 and again.json() == case
        assert again.headers["idempotency-replayed"] == "true"
        other = http.post(
            "/cases",
            json={"key": "enterprise_opening", "data": {"x": 1}, "applicant": APPLICANT},
            headers={**keys.headers(CLERK), **retry},
        )
        problem(other, 409, "conflict")

        # the queue of the register step's department, and the step's form as JSON Schema
        queue = http.get("/tasks", params={"case": case["id"], "department": "amr"}, headers=amr)
        assert queue.status_code == 200
        [register] = queue.json()
        assert register["step"] == "register" and register["state"] == "ready"
        schema = http.get(f"/tasks/{register['id']}/form", headers=amr).json()
        assert "company_name" in schema["properties"]
        html = http.get(f"/tasks/{register['id']}/form.html", headers=amr)
        assert html.status_code == 200 and "<form" in html.text

        # refused form data: 422 with each error at its JSON pointer; the fragment shows them
        bad = http.post(f"/tasks/{register['id']}/complete", json={"data": {"capital": "x"}}, headers=amr)
        errors = problem(bad, 422, "form_data")["errors"]
        assert "/company_name" in {e["pointer"] for e in errors}
        shown = http.post(
            f"/tasks/{register['id']}/form.html", json={"data": {}, "errors": errors}, headers=amr
        )
        assert shown.status_code == 200 and errors[0]["detail"] in shown.text

        # §8: a tax handler may not complete the amr step, nor read an unrelated user's queue item
        problem(
            http.post(f"/tasks/{register['id']}/complete", json={"data": STEPS["register"]}, headers=tax),
            403,
            "permission_denied",
        )

        # pause for a supplement (补正) and resume
        paused = http.post(
            f"/tasks/{register['id']}/pause",
            json={"reason": "supplement", "notice": "请补正住所证明"},
            headers=amr,
        )
        assert paused.status_code == 200 and paused.json()["state"] == "paused", paused.text
        problem(
            http.post(f"/tasks/{register['id']}/complete", json={"data": STEPS["register"]}, headers=amr),
            409,
            "state",
        )
        resumed = http.post(f"/tasks/{register['id']}/resume", headers=amr)
        assert resumed.status_code == 200 and resumed.json()["state"] == "ready"

        # complete: the next steps are ready, the diagram's element states follow
        done = http.post(f"/tasks/{register['id']}/complete", json={"data": STEPS["register"]}, headers=amr)
        assert done.status_code == 200, done.text
        assert done.json()["state"] == "completed" and done.json()["ready"]
        elements = http.get(f"/cases/{case['id']}/elements", headers=amr).json()
        assert elements["register"]["state"] == "completed" and elements["register"]["department"] == "amr"
        assert elements["seal_filing"]["state"] == "ready" and elements["seal_filing"]["card"] is None
        timeline = http.get(f"/cases/{case['id']}/timeline", headers=amr).json()
        assert {"case.started", "task.completed"} <= {e["type"] for e in timeline}

        # time passes (the sweeper, in another process): cards for the steps left open
        with Engine(db_url, clock=SimulatedClock(START + timedelta(days=120))) as later:
            later.sweep()
        supervisor = keys.headers("jc-zhou")
        cards = http.get("/cards", params={"case": case["id"], "state": "open"}, headers=supervisor).json()
        assert cards and {c["color"] for c in cards} <= {"yellow", "red"}
        elements = http.get(f"/cases/{case['id']}/elements", headers=supervisor).json()
        assert elements["seal_filing"]["card"] in {"yellow", "red"}

        # the events long-poll: nothing newer yet answers [] after `wait`; a record move wakes it
        events = http.get("/events", params={"after": 0, "limit": 1000}, headers=supervisor).json()
        assert "card.issued" in {e["type"] for e in events}
        cursor = events[-1]["id"]
        assert http.get("/events", params={"after": cursor, "wait": 0.2}, headers=supervisor).json() == []
        woke: list[httpx.Response] = []
        poll = threading.Thread(
            target=lambda: woke.append(
                http.get("/events", params={"after": cursor, "wait": 30}, headers=supervisor)
            )
        )
        poll.start()
        moved = http.post(
            f"/cards/{cards[0]['id']}/advance",
            json={"to": "verifying", "note": "开始核查"},
            headers=supervisor,
        )
        assert moved.status_code == 200, moved.text
        poll.join(timeout=60)
        assert woke and [e["type"] for e in woke[0].json()] == ["card.advanced"]
        problem(
            http.post(f"/cards/{cards[0]['id']}/advance", json={"to": "verifying", "note": "x"}, headers=amr),
            403,
            "permission_denied",
        )


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Keys, str]]:
    """One production SQLite database with the sample directory, served for the tests below."""
    folder = tmp_path_factory.mktemp("http")
    url = f"sqlite:///{folder / 'hf.db'}"
    prepare(url)
    keys = Keys(folder)
    with served(url, keys) as base:
        yield base, keys, url


def test_credentials_are_checked_and_only_health_and_openapi_are_anonymous(
    service: tuple[str, Keys, str],
) -> None:
    base, keys, url = service
    with httpx.Client(base_url=base, timeout=30) as http:
        assert http.get("/healthz").status_code == 200
        assert http.get("/openapi.json").json()["openapi"].startswith("3.1")
        problem(http.get("/tasks"), 401, "unauthenticated")
        problem(http.get("/tasks", headers=keys.headers("amr-h1", expires_in=-60)), 401, "unauthenticated")
        problem(http.get("/tasks", headers=keys.headers("amr-h1", audience="other")), 401, "unauthenticated")
        problem(
            http.get("/tasks", headers=keys.headers("amr-h1", issuer="https://evil")), 401, "unauthenticated"
        )
        problem(http.get("/tasks", headers={"Authorization": "Bearer not.a.token"}), 401, "unauthenticated")
        assert http.get("/me", headers=keys.headers("amr-h1")).json() == {"user": "amr-h1"}
        assert http.get("/me", headers=keys.headers("amr-h1", alg="ES256")).json() == {"user": "amr-h1"}
        # a user missing from the directory is authenticated but may do nothing
        problem(http.get("/tasks", headers=keys.headers("nobody")), 403, "permission_denied")

        # API keys: printed once as the last word, stored hashed, revoked at once
        made = hennan_flow("--db", url, "apikey", "create", "--user", "portal-hn", "--actor", ADMIN)
        assert made.returncode == 0, made.stderr
        key = made.stdout.split()[-1]
        assert http.get("/me", headers={"X-API-Key": key}).json() == {"user": "portal-hn"}
        listed = json.loads(hennan_flow("--db", url, "apikey", "list", "--format", "json").stdout)
        assert key not in json.dumps(listed) and [k["user"] for k in listed] == ["portal-hn"]
        as_json = hennan_flow(
            "--db", url, "apikey", "create", "--user", "portal-hn", "--actor", ADMIN, "--format", "json"
        )
        assert http.get("/me", headers={"X-API-Key": json.loads(as_json.stdout)["key"]}).status_code == 200
        refused = hennan_flow("--db", url, "apikey", "create", "--user", "portal-hn", "--actor", CLERK)
        assert refused.returncode == 4 and "admin" in refused.stderr
        revoked = hennan_flow("--db", url, "apikey", "revoke", listed[0]["id"], "--actor", ADMIN)
        assert revoked.returncode == 0, revoked.stderr
        problem(http.get("/me", headers={"X-API-Key": key}), 401, "unauthenticated")
        problem(http.get("/me", headers={"X-API-Key": key + "x"}), 401, "unauthenticated")


def test_of_two_concurrent_completes_of_one_step_exactly_one_wins(service: tuple[str, Keys, str]) -> None:
    base, keys, _url = service
    with httpx.Client(base_url=base, timeout=60) as http:
        case = start(http, keys)
        task = case["ready"][0]["id"]
        answers: list[int] = []
        barrier = threading.Barrier(2)

        def complete() -> None:
            barrier.wait()
            with httpx.Client(base_url=base, timeout=60) as own:
                body = {"data": STEPS["register"]}
                answers.append(
                    own.post(f"/tasks/{task}/complete", json=body, headers=keys.headers("amr-h1")).status_code
                )

        threads = [threading.Thread(target=complete) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        assert sorted(answers) == [200, 409]


def test_bad_input_is_a_problem_never_a_500(service: tuple[str, Keys, str]) -> None:
    base, keys, _url = service
    amr = keys.headers("amr-h1")
    with httpx.Client(base_url=base, timeout=30) as http:
        problem(http.get("/tasks/nope", headers=amr), 404, "not_found")
        problem(http.get("/cases/nope/elements", headers=amr), 404, "not_found")
        problem(
            http.post("/cases", content=b"{", headers={**amr, "content-type": "application/json"}),
            400,
            "input",
        )
        doc = problem(http.post("/cases", json={"key": 1, "extra": True}, headers=amr), 400, "input")
        assert {"/key", "/extra"} <= {e["pointer"] for e in doc["errors"]}
        problem(http.get("/tasks", params={"state": "sleeping"}, headers=amr), 400, "input")
        problem(
            http.post("/cases", json={"key": "no_such_bundle"}, headers=keys.headers(CLERK)), 404, "not_found"
        )
        problem(http.get("/nowhere", headers=amr), 404, "not_found")


def test_case_outcomes_and_referrals_over_http_follow_the_engine_rules(
    service: tuple[str, Keys, str],
) -> None:
    """不予受理, 撤回 and 退回 (§10) and the referral list (§9) as a portal reaches them, with §8's roles."""
    base, keys, _url = service
    amr, head = keys.headers("amr-h1"), keys.headers("amr-head")
    with httpx.Client(base_url=base, timeout=60) as http:
        refused = start(http, keys)
        body = {"stage": "acceptance", "reason": "不属于本机关职权范围"}
        problem(http.post(f"/cases/{refused['id']}/refuse", json=body, headers=amr), 403, "permission_denied")
        assert http.get(f"/cases/{refused['id']}", headers=amr).json()["state"] == "open"  # nothing changed
        answer = http.post(f"/cases/{refused['id']}/refuse", json=body, headers=head)
        assert answer.status_code == 200, answer.text
        assert answer.json()["state"] == "refused" and answer.json()["outcome"]["stage"] == "acceptance"
        problem(
            http.post(f"/cases/{refused['id']}/refuse", json={"stage": "later"}, headers=head), 400, "input"
        )

        withdrawn = start(http, keys)
        problem(
            http.post(f"/cases/{withdrawn['id']}/withdraw", json={"reason": "x"}, headers=amr),
            403,
            "permission_denied",
        )
        answer = http.post(
            f"/cases/{withdrawn['id']}/withdraw",
            json={"reason": "申请人主动撤回"},
            headers=keys.headers(CLERK),
        )
        assert answer.status_code == 200 and answer.json()["state"] == "withdrawn", answer.text
        assert http.get("/tasks", params={"case": withdrawn["id"]}, headers=amr).json() == []  # steps closed

        # 退回 to a step that never ran before the first one: bad input, as the CLI's exit 2
        third = start(http, keys)
        first, first_case = third["ready"][0]["id"], third["id"]
        back = http.post(f"/tasks/{first}/return", json={"to": "seal_filing", "reason": "x"}, headers=amr)
        problem(back, 400, "input")
        # a message no element of the case waits for: bad input, nothing changed
        sent = http.post(
            f"/cases/{first_case}/messages", json={"name": "remote_result"}, headers=keys.headers("portal-hn")
        )
        problem(sent, 400, "input")

        # referrals are the discipline users' alone
        problem(http.get("/referrals", headers=amr), 403, "permission_denied")
        listed = http.get("/referrals", headers=keys.headers("jw-sun"))
        assert listed.status_code == 200 and listed.json() == []
        problem(
            http.post(
                "/cards/nope/account", json={"person": "x", "measure": "批评教育", "note": "x"}, headers=head
            ),
            404,
            "not_found",
        )
