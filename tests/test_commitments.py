"""告知承诺 in the running case (issue 10): records at acceptance, post-verification, false commitments.

The bundle is the county's enterprise_opening: its step `register` (department amr, promised 1 working
day) has `premises_proof` exempted by commitment (R3), three e-licence materials and a tolerable one.
Cases start on Monday 2026-03-02 09:00 Shanghai; no holiday falls in March 2026.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from helpers import FORMS, START, at, read, run_cli, simulation, write
from helpers import OPENING as BUNDLE
from helpers import OPENING_WALK as WALK
from hennan_flow.db.models import DeadlineRow, EventRow, MetaRow
from hennan_flow.db.service_rows import CommitmentRow
from hennan_flow.engine import Engine, SimulatedClock
from hennan_flow.engine.lifecycle import terminate_case
from hennan_flow.errors import InputError, NotFoundError, StateError
from hennan_flow.services.commitments import applicant_key, commitment_text, identity_of

CREDIT_CODE = "91430422MA4T8X2K3N"
APPLICANT = {"name": "衡南县云集湘味餐饮管理有限公司", "credit_code": CREDIT_CODE}


@pytest.fixture
def sim(db_url: str) -> Iterator[tuple[Engine, SimulatedClock]]:
    with simulation(db_url, BUNDLE, START, forms=FORMS) as sim:
        yield sim


@pytest.fixture
def lite(sqlite_url: str) -> Iterator[tuple[Engine, SimulatedClock]]:
    with simulation(sqlite_url, BUNDLE, START, forms=FORMS) as lite:
        yield lite


def register(engine: Engine, case_id: str) -> str:
    (task,) = [t for t in engine.tasks(case=case_id) if t.step == "register"]
    return task.id


def outbox(engine: Engine, type_: str) -> list[dict[str, Any]]:
    return [e.payload for e in engine.events(limit=10_000) if e.type == type_]


def event_types(engine: Engine, case_id: str) -> list[str]:
    return [e.type for e in engine.case(case_id).events]


# -- signed at acceptance, verified true ----------------------------------------------------------


def test_a_commitment_signed_at_acceptance_and_verified_true(sim: tuple[Engine, SimulatedClock]) -> None:
    engine, clock = sim
    case = engine.start_case("enterprise_opening", applicant=APPLICANT, actor="window-1")
    (c,) = engine.commitments(case=case.id)
    assert (c.step, c.material, c.state, c.signed_by, c.department) == (
        "register",
        "premises_proof",
        "signed",
        "applicant",
        "amr",
    )
    assert c.signed_at == START and c.decided_at is None and c.verify_due is None
    assert c.text_version.startswith("v1-") and "住所（经营场所）使用证明" in c.text
    assert c.applicant is not None and c.applicant.startswith("ap-") and CREDIT_CODE not in c.applicant

    clock.set(at("2026-03-02T10:00"))
    engine.complete_task(register(engine, case.id), data=WALK["register"], actor="amr-clerk")
    decided = engine.commitment(c.id)
    # the decision starts the post-verification clock: 20 working days after 03-02 is 03-30 (24:00)
    assert decided.decided_at == at("2026-03-02T10:00")
    assert decided.verify_due == at("2026-03-31T00:00")

    clock.set(at("2026-03-20T15:00"))
    done = engine.verify_commitment(c.id, result=True, method="网络核验", note="不动产登记信息在线核验一致")
    assert (done.state, done.method, done.result, done.verified_at) == (
        "verified",
        "online",
        True,
        at("2026-03-20T15:00"),
    )
    states = [p["state"] for p in outbox(engine, "commitment.status_changed")]
    assert states == ["signed", "verified"]
    assert "commitment.verified" in event_types(engine, case.id)
    assert not outbox(engine, "credit.record") and not outbox(engine, "decision.revoked")
    clock.set(at("2026-04-30T09:00"))  # long past the verification deadline: it was closed in time
    assert [i for i in engine.sweep().issued if i.scope == "verify"] == []
    assert engine.case(case.id).state == "open"


def test_a_late_verification_gets_its_cards_scope_verify(lite: tuple[Engine, SimulatedClock]) -> None:
    engine, clock = lite
    case = engine.start_case("enterprise_opening", applicant=APPLICANT)
    (c,) = engine.commitments(case=case.id)
    engine.complete_task(register(engine, case.id), data=WALK["register"])
    clock.set(at("2026-04-02T10:00"))  # 03-31 (yellow) has passed, 04-03 (red: 3 working days on) not yet
    done = engine.verify_commitment(c.id, result=True, method="written", note="书面核查")
    assert done.state == "verified"
    cards = [card for card in engine.cards() if card.scope == "verify"]
    assert [(card.color, card.step, card.department, card.issued_at) for card in cards] == [
        ("yellow", "register", "amr", at("2026-03-31T00:00"))
    ]
    clock.set(at("2026-04-10T10:00"))
    # closed: no red card later (its yellow card's record, never verified, has a deadline of its own
    # and escalates: DESIGN §9, tests/test_supervision_records.py)
    swept = engine.sweep().issued
    assert [i for i in swept if i.scope == "verify" and i.card is None] == []
    assert {(i.name, i.trigger) for i in swept if i.scope == "verify"} <= {
        ("record_overdue", "verify"),
        ("red", "escalated"),
    }


def test_the_sweeper_issues_the_verification_cards_of_an_unverified_commitment(
    lite: tuple[Engine, SimulatedClock],
) -> None:
    engine, clock = lite
    case = engine.start_case("enterprise_opening", applicant=APPLICANT)
    engine.complete_task(register(engine, case.id), data=WALK["register"])
    clock.set(at("2026-03-30T23:59"))
    assert [i.name for i in engine.sweep().issued if i.scope == "verify"] == ["yellow_light", "notice"]
    clock.set(at("2026-03-31T00:00"))
    (yellow,) = [i for i in engine.sweep().issued if i.scope == "verify"]
    assert (yellow.kind, yellow.name, yellow.step, yellow.at) == (
        "card",
        "yellow",
        "register",
        at("2026-03-31T00:00"),
    )


# -- false ----------------------------------------------------------------------------------------


def test_a_false_commitment_revokes_terminates_records_credit_and_bars_the_applicant(
    sim: tuple[Engine, SimulatedClock],
) -> None:
    engine, clock = sim
    first = engine.start_case("enterprise_opening", applicant=APPLICANT)
    (c,) = engine.commitments(case=first.id)
    clock.set(at("2026-03-02T10:00"))
    engine.complete_task(register(engine, first.id), data=WALK["register"])
    assert len(engine.tasks(case=first.id)) == 6  # the parallel departments are at work

    clock.set(at("2026-03-03T11:00"))
    done = engine.verify_commitment(
        c.id, result=False, method="on_site", note="实地调查：住所不存在", actor="amr-inspector"
    )
    assert done.state == "false" and done.credit_record is not None

    # the consequences, in the outbox for the portal and the supervising department
    (revoked,) = outbox(engine, "decision.revoked")
    assert (revoked["case"], revoked["step"], revoked["commitment"], revoked["department"]) == (
        first.id,
        "register",
        c.id,
        "amr",
    )
    (credit,) = outbox(engine, "credit.record")
    assert (credit["kind"], credit["applicant"], credit["department"], credit["record"]) == (
        "false_commitment",
        c.applicant,
        "amr",
        done.credit_record,
    )
    (terminated,) = outbox(engine, "case.terminated")
    assert (terminated["case"], terminated["reason"], terminated["commitment"]) == (
        first.id,
        "false_commitment",
        c.id,
    )
    assert [p["state"] for p in outbox(engine, "commitment.status_changed")] == ["signed", "false"]
    shown = engine.case(first.id)
    assert shown.state == "terminated" and shown.ended_at == at("2026-03-03T11:00")
    assert engine.tasks(case=first.id) == []
    assert {t.state for t in engine.tasks(case=first.id, state=None) if t.step != "register"} == {"cancelled"}
    types = event_types(engine, first.id)
    for expected in ("commitment.false", "decision.revoked", "credit.recorded", "case.terminated"):
        assert expected in types

    # a later case of the same applicant (written differently): the commitment is refused
    again = dict(APPLICANT, credit_code=" 91430422ma4t8x2k3n ")
    second = engine.start_case("enterprise_opening", applicant=again)
    (refused,) = engine.commitments(case=second.id)
    assert (refused.state, refused.applicant, refused.blocking) == ("refused", c.applicant, True)
    task = register(engine, second.id)
    with pytest.raises(StateError) as err:
        engine.complete_task(task, data=WALK["register"])
    message = str(err.value)
    assert "premises_proof" in message and "告知承诺 refused" in message and "false commitment" in message
    assert engine.task(task).state == "ready"
    engine.supply_material(task, "premises_proof", actor="window-1")
    engine.complete_task(task, data=WALK["register"])
    assert engine.commitment(refused.id).supplied_at is not None

    # another applicant is not barred
    other = engine.start_case("enterprise_opening", applicant={"credit_code": "91430422MA4T000000"})
    assert [x.state for x in engine.commitments(case=other.id)] == ["signed"]

    # 信用修复: the record stays, the bar goes
    (record,) = engine.credit_records(applicant=c.applicant, open_only=True)
    repaired = engine.repair_credit(record.id, note="已整改并作出信用承诺", actor="credit-office")
    assert repaired.repaired_at is not None and engine.credit_records(open_only=True) == []
    assert len(engine.credit_records(applicant=c.applicant)) == 1
    third = engine.start_case("enterprise_opening", applicant=APPLICANT)
    assert [x.state for x in engine.commitments(case=third.id)] == ["signed"]
    assert [p["record"] for p in outbox(engine, "credit.repaired")] == [record.id]


def test_a_false_commitment_found_before_the_decision_terminates_without_revoking(
    lite: tuple[Engine, SimulatedClock],
) -> None:
    engine, _clock = lite
    case = engine.start_case("enterprise_opening", applicant=APPLICANT)
    (c,) = engine.commitments(case=case.id)
    engine.verify_commitment(c.id, result=False, method="publicity", note="公示期间收到异议，核实不实")
    assert engine.case(case.id).state == "terminated"
    assert outbox(engine, "decision.revoked") == []
    assert len(outbox(engine, "credit.record")) == 1
    assert engine.tasks(case=case.id, state="cancelled")[0].step == "register"


def test_verification_is_checked(lite: tuple[Engine, SimulatedClock]) -> None:
    engine, _clock = lite
    case = engine.start_case("enterprise_opening", applicant=APPLICANT)
    (c,) = engine.commitments(case=case.id)
    with pytest.raises(InputError, match="unknown verification method"):
        engine.verify_commitment(c.id, result=True, method="guess", note="x")
    with pytest.raises(InputError, match="needs a note"):
        engine.verify_commitment(c.id, result=True, method="online", note=" ")
    with pytest.raises(NotFoundError):
        engine.verify_commitment("nope", result=True, method="online", note="x")
    engine.verify_commitment(c.id, result=True, method="online", note="ok")
    with pytest.raises(StateError, match="is verified; only a signed commitment"):
        engine.verify_commitment(c.id, result=False, method="online", note="again")


# -- declining, intake -----------------------------------------------------------------------------


def test_the_applicant_may_decline_at_intake_or_while_the_step_is_open(
    lite: tuple[Engine, SimulatedClock],
) -> None:
    engine, _clock = lite
    declined = engine.start_case(
        "enterprise_opening", applicant=dict(APPLICANT, intake={"decline_commitments": ["premises_proof"]})
    )
    (c,) = engine.commitments(case=declined.id)
    assert (c.state, c.declined_at, c.supplied_at, c.blocking) == ("declined", START, START, False)
    engine.complete_task(register(engine, declined.id), data=WALK["register"])
    assert engine.commitment(c.id).verify_due is None  # nothing was committed: nothing to verify

    later = engine.start_case("enterprise_opening", applicant=APPLICANT)
    (d,) = engine.commitments(case=later.id)
    assert engine.decline_commitment(d.id, actor="window-1").state == "declined"
    with pytest.raises(StateError, match="only a signed commitment can be declined"):
        engine.decline_commitment(d.id)

    decided = engine.start_case("enterprise_opening", applicant=APPLICANT)
    (e,) = engine.commitments(case=decided.id)
    engine.complete_task(register(engine, decided.id), data=WALK["register"])
    with pytest.raises(StateError, match="decision of step 'register' was already made"):
        engine.decline_commitment(e.id)


def test_a_bad_intake_refuses_the_start_and_stores_nothing(lite: tuple[Engine, SimulatedClock]) -> None:
    engine, _clock = lite
    for intake, words in (
        ({"decline_commitments": ["articles_of_association"]}, "not a material exempted by commitment"),
        ({"missing": ["premises_proof"]}, "not a tolerable"),
        ({"missing": "officer_appointment"}, "must be a list"),
        ({"surprise": []}, "unknown intake field"),
    ):
        with pytest.raises(InputError, match=words):
            engine.start_case("enterprise_opening", applicant=dict(APPLICANT, intake=intake))
    assert engine.cases() == [] and engine.commitments() == []


def test_a_cancelled_step_voids_its_signed_commitments(lite: tuple[Engine, SimulatedClock]) -> None:
    engine, _clock = lite
    case = engine.start_case("enterprise_opening", applicant=APPLICANT)
    (c,) = engine.commitments(case=case.id)
    with write(engine) as tx:  # as the sweeper's lapse or a false commitment would
        assert terminate_case(engine.context, tx, case.id, at=engine.now(), reason="test", detail={})
    assert engine.commitment(c.id).state == "void"
    with pytest.raises(StateError):
        engine.verify_commitment(c.id, result=True, method="online", note="x")


# -- who the applicant is --------------------------------------------------------------------------


def test_applicant_keys_are_stable_normalized_keyed_and_never_the_identifier(
    lite: tuple[Engine, SimulatedClock], tmp_path: Path
) -> None:
    engine, _clock = lite
    key = engine.applicant_key({"credit_code": CREDIT_CODE})
    assert key is not None and key.startswith("ap-") and CREDIT_CODE not in key
    assert engine.applicant_key({"credit_code": f" {CREDIT_CODE.lower()} "}) == key
    assert engine.applicant_key({"id_number": CREDIT_CODE}) != key  # another kind of identifier
    assert engine.applicant_key({"name": "无证件"}) is None
    assert identity_of({"id_number": "43042219900101123x"}) == ("id_number", "43042219900101123X")
    # keyed by a per-database secret made by the migration: another database gives another key
    other_url = f"sqlite:///{tmp_path / 'other.db'}"
    with Engine(other_url) as other:
        other.upgrade()
        assert other.applicant_key({"credit_code": CREDIT_CODE}) not in (None, key)
    with write(engine) as tx:
        salt = tx.session.get(MetaRow, "applicant_salt")
        assert salt is not None and len(salt.value) == 64
        assert applicant_key(tx, {"credit_code": CREDIT_CODE}) == key


def test_the_commitment_text_names_the_material_its_basis_and_the_liability(
    lite: tuple[Engine, SimulatedClock],
) -> None:
    engine, _clock = lite
    doc = engine.commitment_text("enterprise_opening", "premises_proof")
    material = next(m for m in engine.bundle("enterprise_opening").materials() if m.id == "premises_proof")
    assert doc["text"] == commitment_text(material)
    assert "住所（经营场所）使用证明" in doc["text"] and "撤销行政决定" in doc["text"]
    assert material.legal_bases[0].doc in doc["text"]
    with pytest.raises(NotFoundError):
        engine.commitment_text("enterprise_opening", "articles_of_association")


def test_the_verification_deadline_is_a_clock_row_of_scope_verify(
    lite: tuple[Engine, SimulatedClock],
) -> None:
    engine, _clock = lite
    case = engine.start_case("enterprise_opening", applicant=APPLICANT)
    (c,) = engine.commitments(case=case.id)
    engine.complete_task(register(engine, case.id), data=WALK["register"])
    with read(engine) as session:
        row = session.get(DeadlineRow, c.id)
        assert row is not None
        assert (row.scope, row.step, row.task_id, row.promised, row.unit) == (
            "verify",
            "register",
            c.task,
            20,
            "workday",
        )
        stored = session.scalar(select(CommitmentRow.verify_due).where(CommitmentRow.id == c.id))
        assert stored is not None
        events = session.scalars(select(EventRow.type).where(EventRow.case_id == case.id)).all()
    assert "commitment.signed" in events


# -- CLI -----------------------------------------------------------------------------------------------


def cli(url: str, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    return run_cli(url, capsys, *args, now="2026-03-03T10:00:00+08:00")


def test_commitment_cli_lists_verifies_declines_and_repairs(
    lite: tuple[Engine, SimulatedClock], capsys: pytest.CaptureFixture[str]
) -> None:
    engine, _clock = lite
    url = engine.url
    case = engine.start_case("enterprise_opening", applicant=APPLICANT)
    code, out, _ = cli(url, capsys, "commitment", "list", "--case", case.id, "--format", "json")
    assert code == 0
    (doc,) = json.loads(out)
    assert list(doc) == [
        "id",
        "case",
        "task",
        "step",
        "material",
        "name",
        "department",
        "state",
        "blocking",
        "text_version",
        "applicant",
        "signed_by",
        "signed_at",
        "decided_at",
        "verify_within",
        "verify_due",
        "method",
        "result",
        "verified_at",
        "verified_by",
        "note",
        "declined_at",
        "supplied_at",
        "credit_record",
    ]
    assert doc["state"] == "signed" and doc["signed_at"] == "2026-03-02T09:00:00+08:00"

    code, out, err = cli(
        url,
        capsys,
        "commitment",
        "verify",
        doc["id"],
        "--result",
        "maybe",
        "--method",
        "online",
        "--note",
        "x",
    )
    assert code == 2 and "maybe" in err
    code, out, err = cli(
        url, capsys, "--format", "json", "commitment", "verify", doc["id"], "--result", "false", "--method", "实地调查",
        "--note", "住所不实", "--actor", "inspector-1",
    )  # fmt: skip
    assert code == 0, err
    verified = json.loads(out)
    assert (verified["state"], verified["method"], verified["result"], verified["verified_by"]) == (
        "false",
        "on_site",
        False,
        "inspector-1",
    )
    code, _, err = cli(
        url,
        capsys,
        "commitment",
        "verify",
        doc["id"],
        "--result",
        "true",
        "--method",
        "online",
        "--note",
        "x",
    )
    assert code == 2 and err.startswith("错误：commitment") and "is false" in err

    code, out, _ = cli(url, capsys, "commitment", "credit", "--open", "--format", "json")
    (record,) = json.loads(out)
    assert record["open"] is True and record["commitment"] == doc["id"]
    code, out, _ = cli(
        url, capsys, "commitment", "repair", str(record["id"]), "--note", "修复", "--format", "json"
    )
    assert code == 0 and json.loads(out)["open"] is False

    later = engine.start_case("enterprise_opening", applicant=APPLICANT)
    (d,) = engine.commitments(case=later.id)
    code, out, _ = cli(url, capsys, "commitment", "decline", d.id)
    assert code == 0 and out.startswith(f"commitment {d.id}: declined")
    code, out, _ = cli(url, capsys, "commitment", "show", d.id)
    assert code == 0 and "告知承诺书" in out
    code, _, err = cli(url, capsys, "commitment", "show", "missing-id")
    assert code == 2 and "no commitment" in err


def test_commitments_survive_many_cases_with_their_own_clock(lite: tuple[Engine, SimulatedClock]) -> None:
    """Each case's commitment gets its own verification deadline from its own decision."""
    engine, clock = lite
    dues = []
    for day in range(3):
        clock.set(START + timedelta(days=day))
        case = engine.start_case("enterprise_opening", applicant={"applicant_id": f"portal-{day}"})
        engine.complete_task(register(engine, case.id), data=WALK["register"])
        (c,) = engine.commitments(case=case.id)
        dues.append(c.verify_due)
    assert dues == [at("2026-03-31T00:00"), at("2026-04-01T00:00"), at("2026-04-02T00:00")]
    assert len({c.applicant for c in engine.commitments()}) == 3
