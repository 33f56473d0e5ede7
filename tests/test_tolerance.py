"""容缺受理 (issue 10): a step accepted with a tolerable material missing, its supplement deadline.

enterprise_opening's step `register` (promised 1 working day) has `officer_appointment` tolerable
with supplementWithin="1": accepted Monday 2026-03-02 09:00 Shanghai, it must be supplied by the end
of Tuesday 03-03 (stored as 03-04 00:00).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import jsonschema
import pytest
from sqlalchemy import select

from helpers import FORMS, START, at, read, simulation, sweeper
from helpers import OPENING as BUNDLE
from helpers import OPENING_WALK as WALK
from helpers import run_cli as run
from hennan_flow.db.models import SignalRow
from hennan_flow.db.service_rows import SupplementExtensionRow
from hennan_flow.engine import Engine, SimulatedClock
from hennan_flow.engine.events import schema
from hennan_flow.errors import InputError, NotFoundError, StateError

APPLICANT = {
    "credit_code": "91430422MA4T8X2K3N",
    "intake": {"missing": ["officer_appointment"]},
}


DUE = at("2026-03-04T00:00")  # the end of Tuesday 03-03


@pytest.fixture
def sim(db_url: str) -> Iterator[tuple[Engine, SimulatedClock]]:
    with simulation(db_url, BUNDLE, START, forms=FORMS) as sim:
        yield sim


@pytest.fixture
def lite(sqlite_url: str) -> Iterator[tuple[Engine, SimulatedClock]]:
    with simulation(sqlite_url, BUNDLE, START, forms=FORMS) as lite:
        yield lite


def register(engine: Engine, case_id: str) -> str:
    (task,) = engine.tasks(case=case_id, state=None)[:1]
    assert task.step == "register"
    return task.id


def outbox_types(engine: Engine) -> list[str]:
    return [e.type for e in engine.events(limit=10_000)]


def supplements(engine: Engine) -> list[tuple[str, str]]:
    with read(engine) as session:
        return [
            (s.state, s.kind)
            for s in session.scalars(
                select(SignalRow).where(SignalRow.name == "supplement").order_by(SignalRow.id)
            )
        ]


# -- in time ---------------------------------------------------------------------------------------


def test_a_tolerated_material_supplied_in_time_lets_the_result_issue(
    sim: tuple[Engine, SimulatedClock],
) -> None:
    engine, clock = sim
    case = engine.start_case("enterprise_opening", applicant=APPLICANT, actor="window-1")
    task = register(engine, case.id)
    (tol,) = engine.materials(task=task).tolerated
    assert (tol.material, tol.state, tol.within, tol.accepted_at, tol.due) == (
        "officer_appointment",
        "missing",
        1,
        START,
        DUE,
    )
    assert supplements(engine) == [("pending", "action")]

    clock.set(at("2026-03-02T15:00"))
    with pytest.raises(StateError) as err:
        engine.complete_task(task, data=WALK["register"], actor="amr-clerk")
    message = str(err.value)
    assert "还不能出具结果，尚缺材料" in message and "officer_appointment" in message
    assert "2026-03-04T00:00:00+08:00" in message and f"material supply {task}" in message
    assert engine.task(task).state == "ready"  # nothing happened

    clock.set(at("2026-03-03T16:00"))
    after = engine.supply_material(task, "officer_appointment", actor="window-1")
    (supplied,) = after.tolerated
    assert (supplied.state, supplied.supplied_at, supplied.supplied_by) == (
        "supplied",
        at("2026-03-03T16:00"),
        "window-1",
    )
    assert after.missing == ()
    assert supplements(engine) == [("cancelled", "action")]
    done = engine.complete_task(task, data=WALK["register"], actor="amr-clerk")
    assert done.state == "completed"

    clock.set(at("2026-03-05T10:00"))  # past the old deadline: nothing lapses
    assert [i for i in engine.sweep().issued if i.kind == "action"] == []
    assert engine.case(case.id).state == "open"
    types = outbox_types(engine)
    assert (
        "supplement.required" in types and "supplement.supplied" in types and "case.terminated" not in types
    )
    with pytest.raises(StateError, match="的状态为 completed，已不再等待材料"):
        engine.supply_material(task, "officer_appointment")


# -- missed -----------------------------------------------------------------------------------------


def test_a_missed_supplement_deadline_terminates_the_case_at_that_instant(
    sim: tuple[Engine, SimulatedClock],
) -> None:
    engine, clock = sim
    case = engine.start_case("enterprise_opening", applicant=APPLICANT)
    task = register(engine, case.id)

    clock.set(at("2026-03-03T23:59:59"))
    assert [i for i in engine.sweep().issued if i.kind == "action"] == []  # never before its instant
    assert engine.case(case.id).state == "open"

    clock.set(at("2026-03-04T09:30"))
    result = engine.sweep()
    (fired,) = [i for i in result.issued if i.kind == "action"]
    assert (fired.case, fired.name, fired.trigger, fired.step, fired.task, fired.at) == (
        case.id,
        "supplement",
        "supplement_missed",
        "register",
        task,
        DUE,
    )
    shown = engine.case(case.id)
    assert (shown.state, shown.ended_at) == ("terminated", DUE)
    (cancelled,) = engine.tasks(case=case.id, state="cancelled")
    assert cancelled.id == task and cancelled.ended_at == DUE
    types = [e.type for e in shown.events]
    lapsed, cancelled_at, ended = (
        types.index(t) for t in ("supplement.lapsed", "task.cancelled", "case.terminated")
    )
    assert lapsed < cancelled_at < ended
    terminated = [e for e in shown.events if e.type == "case.terminated"]
    assert terminated[0].at == DUE and terminated[0].detail["reason"] == "supplement_missed"
    assert terminated[0].detail["material"] == "officer_appointment"
    (tol,) = engine.materials(case=case.id).tolerated
    assert (tol.state, tol.ended_at) == ("lapsed", DUE)
    payloads = {e.type: e.payload for e in engine.events(limit=10_000)}
    assert payloads["case.terminated"]["reason"] == "supplement_missed"
    assert payloads["supplement.lapsed"]["material"] == "officer_appointment"

    with pytest.raises(StateError, match="的状态为 cancelled，不是 ready"):
        engine.complete_task(task, data=WALK["register"])
    assert [i for i in engine.sweep().issued if i.kind == "action"] == []  # fired once
    assert engine.cases(state="terminated")[0].id == case.id


def test_an_extension_by_an_approver_moves_the_deadline(lite: tuple[Engine, SimulatedClock]) -> None:
    engine, clock = lite
    case = engine.start_case("enterprise_opening", applicant=APPLICANT)
    task = register(engine, case.id)
    clock.set(at("2026-03-03T10:00"))
    with pytest.raises(InputError, match="approver"):
        engine.extend_supplement(
            task, "officer_appointment", days=2, approver=" ", reason="外地任职文件邮寄中"
        )
    with pytest.raises(InputError, match="reason"):
        engine.extend_supplement(task, "officer_appointment", days=2, approver="局长", reason="")
    with pytest.raises(NotFoundError):
        engine.extend_supplement(task, "premises_proof", days=2, approver="局长", reason="x")
    moved = engine.extend_supplement(
        task, "officer_appointment", days=2, approver="局长", reason="外地任职文件邮寄中", actor="window-1"
    )
    (tol,) = moved.tolerated
    assert (tol.due, tol.extended_days) == (at("2026-03-06T00:00"), 2)  # Tue → Thu 24:00
    with read(engine) as session:
        (ext,) = session.scalars(select(SupplementExtensionRow)).all()
        assert (ext.days, ext.approver, ext.reason) == (2, "局长", "外地任职文件邮寄中")
    (extended,) = [e.payload for e in engine.events(limit=1000) if e.type == "supplement.extended"]
    jsonschema.Draft202012Validator(schema("supplement.extended")).validate(extended)  # no free text
    assert (extended["days"], extended["task"]) == (2, task) and "局长" not in json.dumps(extended)

    clock.set(at("2026-03-04T09:00"))  # the old deadline passed: nothing fires
    assert [i for i in engine.sweep().issued if i.kind == "action"] == []
    clock.set(at("2026-03-06T08:00"))
    (fired,) = [i for i in engine.sweep().issued if i.kind == "action"]
    assert fired.at == at("2026-03-06T00:00")
    assert engine.case(case.id).state == "terminated"
    with pytest.raises(StateError, match="is lapsed; nothing to extend"):
        engine.extend_supplement(task, "officer_appointment", days=1, approver="局长", reason="late")


def test_an_extension_after_the_deadline_is_refused(lite: tuple[Engine, SimulatedClock]) -> None:
    engine, clock = lite
    case = engine.start_case("enterprise_opening", applicant=APPLICANT)
    task = register(engine, case.id)
    clock.set(at("2026-03-04T08:00"))  # passed, not swept yet
    with pytest.raises(StateError, match="passed at 2026-03-04T00:00:00"):
        engine.extend_supplement(task, "officer_appointment", days=1, approver="局长", reason="迟到的申请")
    assert engine.case(case.id).state == "open"  # the sweeper terminates it
    engine.sweep()
    assert engine.case(case.id).state == "terminated"


def test_a_supply_after_the_deadline_terminates_the_case_at_the_deadline(
    lite: tuple[Engine, SimulatedClock],
) -> None:
    engine, clock = lite
    case = engine.start_case("enterprise_opening", applicant=APPLICANT)
    task = register(engine, case.id)
    clock.set(at("2026-03-04T08:00"))  # before any sweep
    with pytest.raises(StateError, match="已于该时刻终止办理"):
        engine.supply_material(task, "officer_appointment", actor="window-1")
    shown = engine.case(case.id)
    assert (shown.state, shown.ended_at) == ("terminated", DUE)
    assert supplements(engine) == [("cancelled", "action")]
    assert [i for i in engine.sweep().issued if i.kind == "action"] == []


def test_a_claimed_supplement_signal_is_fenced_out_by_a_supply_in_time(
    lite: tuple[Engine, SimulatedClock],
) -> None:
    """A sweeper that claimed the deadline while the material arrives fires nothing (the claim is gone)."""
    engine, clock = lite
    case = engine.start_case("enterprise_opening", applicant=APPLICANT)
    task = register(engine, case.id)
    clock.set(at("2026-03-04T00:00"))

    def hold(phase: str, _ids: object) -> None:
        if phase == "claimed":  # the sweeper holds the claim; the material was received a moment earlier
            clock.set(at("2026-03-03T23:59"))
            engine.supply_material(task, "officer_appointment")
            clock.set(at("2026-03-04T00:00"))

    result = sweeper(engine, timers=False, hold=hold).run()
    assert [i for i in result.issued if i.kind == "action"] == []
    assert engine.case(case.id).state == "open"
    assert engine.materials(task=task).tolerated[0].state == "supplied"


def test_nothing_is_awaited_without_an_intake(lite: tuple[Engine, SimulatedClock]) -> None:
    engine, _clock = lite
    case = engine.start_case("enterprise_opening", applicant={"credit_code": "91430422MA4T8X2K3N"})
    task = register(engine, case.id)
    assert engine.materials(task=task).tolerated == ()
    with pytest.raises(StateError, match="does not wait for material 'officer_appointment'"):
        engine.supply_material(task, "officer_appointment")
    assert engine.complete_task(task, data=WALK["register"]).state == "completed"
    assert supplements(engine) == []


def test_a_step_cancelled_otherwise_voids_its_supplement_deadline(
    lite: tuple[Engine, SimulatedClock],
) -> None:
    engine, clock = lite
    case = engine.start_case("enterprise_opening", applicant=APPLICANT)
    (c,) = engine.commitments(case=case.id)
    engine.verify_commitment(c.id, result=False, method="online", note="不实")  # terminates the case
    (tol,) = engine.materials(case=case.id).tolerated
    assert tol.state == "void"
    assert supplements(engine) == [("cancelled", "action")]
    voided = [e for e in engine.case(case.id).events if e.type == "supplement.void"]
    assert [e.detail["material"] for e in voided] == ["officer_appointment"]
    clock.set(at("2026-03-10T10:00"))
    assert [i for i in engine.sweep().issued if i.kind == "action"] == []


# -- CLI ------------------------------------------------------------------------------------------------


def test_material_cli_lists_extends_and_supplies(
    lite: tuple[Engine, SimulatedClock], capsys: pytest.CaptureFixture[str]
) -> None:
    engine, _clock = lite
    case = engine.start_case("enterprise_opening", applicant=APPLICANT)
    task = register(engine, case.id)
    now = "2026-03-03T10:00:00+08:00"
    code, out, _ = run(engine.url, capsys, "--format", "json", "material", "list", "--task", task, now=now)
    assert code == 0
    doc = json.loads(out)
    assert list(doc) == ["commitments", "tolerated", "licences", "missing"]
    assert [m["material"] for m in doc["missing"]] == ["officer_appointment"]
    assert doc["missing"][0] == {
        "kind": "tolerance",
        "task": task,
        "step": "register",
        "material": "officer_appointment",
        "name": "董事、监事和经理的任职文件",
        "reason": "容缺受理: to be supplied",
        "due": "2026-03-04T00:00:00+08:00",
    }
    assert list(doc["tolerated"][0]) == [
        "id",
        "case",
        "task",
        "step",
        "material",
        "name",
        "state",
        "blocking",
        "within",
        "accepted_at",
        "due",
        "extended_days",
        "supplied_at",
        "supplied_by",
        "ended_at",
    ]
    code, _, err = run(engine.url, capsys, "material", "list", now=now)
    assert code == 2 and "请指定 --case ID 或 --task ID" in err

    code, out, _ = run(
        engine.url, capsys, "--format", "json", "material", "extend", task, "officer_appointment", "--days", "1",
        "--approver", "局长", "--reason", "邮寄中", now=now,
    )  # fmt: skip
    assert code == 0 and json.loads(out)["tolerated"][0]["due"] == "2026-03-05T00:00:00+08:00"

    code, out, err = run(
        engine.url, capsys, "task", "complete", task, "--data", json.dumps(WALK["register"]), now=now
    )
    assert code == 2 and "officer_appointment" in err and "还不能出具结果，尚缺材料" in err

    code, out, _ = run(
        engine.url, capsys, "material", "supply", task, "officer_appointment", "--actor", "w1", now=now
    )
    assert code == 0 and out.strip().endswith("nothing missing")
    code, _, err = run(engine.url, capsys, "material", "supply", task, "officer_appointment", now=now)
    assert code == 2 and "does not wait for material" in err
    code, _, err = run(
        engine.url, capsys, "task", "complete", task, "--data", json.dumps(WALK["register"]), now=now
    )
    assert code == 0, err


def test_the_demo_shows_a_commitment_and_a_tolerated_material(tmp_path: Path) -> None:
    from hennan_flow.demo import run_demo

    lines: list[str] = []
    result = run_demo(f"sqlite:///{tmp_path / 'demo.db'}", say=lines.append)
    text = "\n".join(lines)
    assert result.completed == len(result.cases) == 6
    assert "告知承诺 premises_proof（住所（经营场所）使用证明）：申请人已签署" in text
    assert "容缺受理 officer_appointment" in text and "容缺材料 officer_appointment 已补交" in text
    assert "事后核查（网络核验）premises_proof：核查属实" in text
    assert lines[-1] == "共 6 件案件，已办结 6 件"
    # 依申请公开 and 跨省通办 receive their messages from outside through the portal (issue 26)
    assert "收到消息 third_party_opinion — 经 portal-hn（网上渠道）送达" in text
    assert "收到消息 remote_result — 经 portal-hn（网上渠道）送达" in text
    assert "12345热线工单接诉即办（hotline_work_order v1）" in text
