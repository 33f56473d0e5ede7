"""No personal data in the logs of a full case with commitments, 容缺, e-licences and reviews (issue 10).

Every logger runs at DEBUG from before the engine exists (and again after it started, as a portal
hunting a bug would), a root handler keeps every record, and none may carry the applicant's ID
number, name, phone or credit code: not in the message, not in its arguments, not in any extra
attribute — SQLAlchemy's included. The audit log (hf_event) and the outbox (what supervisors and
portals read) carry ids, codes and applicant keys only, too.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from typing import Any

import pytest
from sqlalchemy import select

from helpers import (
    FORMS,
    START,
    EveryRecord,
    at,
    every_record,
    everything_at_debug,
    http_server,
    migrated,
    read,
    strings_in,
)
from helpers import OPENING as BUNDLE
from helpers import OPENING_WALK as WALK
from hennan_flow.cli import main
from hennan_flow.db.models import EventRow, OutboxRow
from hennan_flow.engine import Engine, SimulatedClock
from hennan_flow.services.licences import HttpLicenceProvider

ID_NUMBER = "430422199912319999"  # well-formed, belongs to no one
NAME = "测试隐私人名甲乙"
PHONE = "13912349876"
CREDIT_CODE = "91430422MA4TPRIV9X"
PLANTED = (ID_NUMBER, NAME, PHONE, CREDIT_CODE, json.dumps(NAME)[1:-1])
APPLICANT = {
    "name": NAME,
    "id_number": ID_NUMBER,
    "phone": PHONE,
    "credit_code": CREDIT_CODE,
    "intake": {"missing": ["officer_appointment"], "holders": {"corporate_shareholder_license": CREDIT_CODE}},
}


def leaks(records: list[logging.LogRecord], formatter: logging.Formatter) -> list[str]:
    found = []
    for record in records:
        texts = [record.getMessage(), formatter.format(record), *strings_in(record.__dict__)]
        for planted in PLANTED:
            if any(planted in t for t in texts):
                found.append(
                    f"{record.name}:{record.levelname}: {planted!r} in {record.getMessage()[:100]!r}"
                )
    return found


@pytest.fixture
def handler() -> Iterator[EveryRecord]:
    with every_record() as h:
        yield h


@pytest.fixture
def licence_server() -> Iterator[str]:
    """A local e-licence service: 503 for the ID card the first time, then everything valid."""
    calls: dict[str, int] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))))
            n = calls[body["material"]] = calls.get(body["material"], 0) + 1
            if body["material"] == "natural_person_id" and n == 1:
                status, payload = 503, b""
            else:  # the provider echoes the holder, as real ones do: it must not reach a log either
                doc = {"licence": {"id": body["holder"], "issuer": "衡南县", "status": "valid"}}
                status, payload = 200, json.dumps(doc).encode()
            self.send_response(status)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:  # the test server's own access log
            pass

    with http_server(Handler) as base:
        yield base


def _full_run(
    url: str, licences: str, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    everything_at_debug(caplog)
    migrated(url, simulation=True)
    clock = SimulatedClock(START)
    provider = HttpLicenceProvider(licences, timeout=2, retries=0, sleep=lambda _s: None)
    engine = Engine(url, clock=clock, licences=provider)
    try:
        engine.deploy(str(BUNDLE), forms=str(FORMS))
        everything_at_debug(caplog)
        # case 1: 容缺 supplied, an e-licence retried, the commitment verified true, a real-name bad review
        data = {"applicant_name": NAME}
        case = engine.start_case("enterprise_opening", applicant=APPLICANT, data=data, actor="window-1")
        (task,) = engine.tasks(case=case.id)
        step_data = dict(
            WALK["register"], legal_rep_name=NAME, legal_rep_id_number=ID_NUMBER, contact_phone=PHONE
        )
        assert {m.material for m in engine.materials(task=task.id).missing} == {
            "natural_person_id",
            "officer_appointment",
        }
        engine.verify_licences(task.id, actor="amr-clerk")
        engine.supply_material(task.id, "officer_appointment", actor="window-1")
        clock.set(at("2026-03-02T10:00"))
        engine.complete_task(task.id, data=step_data, actor="amr-clerk")
        for t in engine.tasks(case=case.id):
            engine.complete_task(t.id, data=WALK[t.step], actor="clerk")
        assert engine.case(case.id).state == "completed"
        (c,) = engine.commitments(case=case.id)
        engine.verify_commitment(c.id, result=True, method="online", note="核验一致")
        review = engine.add_review(
            case.id, level=5, channel="window", real_name=True, text=f"{NAME} 电话 {PHONE} 投诉", actor="pad"
        )
        engine.verify_review(review.id, finding="founded", complexity="simple", note="属实")
        engine.rectify_review(review.id, note="已整改")
        engine.answer_review(review.id, note="已回访")
        engine.review_summary()

        # case 2: a false commitment; case 3: refused, supplied; then repaired
        second = engine.start_case("enterprise_opening", applicant=APPLICANT)
        (c2,) = engine.commitments(case=second.id)
        engine.verify_commitment(c2.id, result=False, method="on_site", note="不实")
        third = engine.start_case("enterprise_opening", applicant=APPLICANT)
        (t3,) = engine.tasks(case=third.id)
        engine.supply_material(t3.id, "premises_proof")
        clock.set(at("2026-03-09T10:00"))  # the officer_appointment deadline lapsed: the sweep terminates it
        engine.sweep()
        assert engine.case(third.id).state == "terminated"
        (record,) = engine.credit_records(open_only=True)
        engine.repair_credit(record.id, note="已修复")
        engine.applicant_key(APPLICANT)
    finally:
        engine.close()
    # and the CLI at -vv (its log lines go to stderr through a handler of its own)
    for args in (["commitment", "list"], ["material", "list", "--case", case.id], ["review", "list"]):
        capsys.readouterr()
        with pytest.raises(SystemExit) as info:
            main(["-vv", "--db", url, "--now", "2026-03-10T10:00:00+08:00", *args])
        assert info.value.code == 0
        err = capsys.readouterr().err
        assert not [p for p in PLANTED if p in err], err


def test_a_full_case_with_services_leaves_no_personal_data_in_the_logs(
    sqlite_url: str,
    licence_server: str,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
    handler: EveryRecord,
) -> None:
    _full_run(sqlite_url, licence_server, caplog, capsys)
    records = handler.records
    names = {r.name for r in records}
    # the loggers were on, and the services logged: the licence client, the engine's events, SQL
    assert {"hennan_flow.services.licences", "hennan_flow.db.journal"} <= names, names
    assert any(r.name.startswith("sqlalchemy.engine") and r.levelno == logging.DEBUG for r in records)
    assert any("licence fetch" in r.getMessage() for r in records)
    assert any("commitment.false" in r.getMessage() for r in records)
    assert not leaks(records, handler.formatter or logging.Formatter())
    assert not leaks(caplog.records, logging.Formatter())

    # the audit log and the outbox hold ids, codes and applicant keys only
    with Engine(sqlite_url) as engine, read(engine) as session:
        details = list(session.scalars(select(EventRow.detail)))
        payloads = list(session.scalars(select(OutboxRow.payload)))
    assert any("ap-" in p for p in payloads)  # the credit record names the applicant by key
    for text in details + payloads:
        assert not [p for p in PLANTED if p in text], text


def test_the_leak_check_finds_planted_data() -> None:
    """The check itself: a record carrying the data as message, argument or extra is caught."""
    make = logging.getLogger("hennan_flow.test").makeRecord
    fmt = logging.Formatter()
    assert leaks([make("x", logging.INFO, "f", 1, f"holder {ID_NUMBER}", (), None)], fmt)
    assert leaks([make("x", logging.INFO, "f", 1, "holder %s", (CREDIT_CODE,), None)], fmt)
    assert leaks([make("x", logging.DEBUG, "f", 1, "x", (), None, extra={"body": {"holder": PHONE}})], fmt)
    assert not leaks([make("x", logging.INFO, "f", 1, "material=%s", ("natural_person_id",), None)], fmt)
