"""Supervision records as DESIGN §9 describes them (issue 23 items 1–2): red cards through 上级复核 and
回访 with the roles of §8, phase deadlines and their `record_overdue` signals on a simulation clock,
the one-time escalation of an overdue yellow record (two sweepers at once on PostgreSQL too),
accountability entries and referrals to 纪检监察机关.
"""

from __future__ import annotations

import base64
import json
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from sqlalchemy import inspect, text

from helpers import CLOCK_BUNDLE, CLOCK_START, at, database, iso, migrated, run_cli, simulation
from hennan_flow import Engine, PermissionDenied
from hennan_flow.engine import SimulatedClock
from hennan_flow.engine.events import schema
from hennan_flow.errors import StateError
from hennan_flow.sealing import PREFIX

pytestmark = pytest.mark.enforce

DIRECTORY = """\
version = "records-1"
[[department]]
code = "amr"
name = "衡南县市场监督管理局"
superior = "hy-amr"
[[department]]
code = "zwfw"
name = "衡南县政务服务中心"
[[department]]
code = "hy-amr"
name = "衡阳市市场监督管理局"
external = true
[[department]]
code = "hy-tax"
name = "国家税务总局衡阳市税务局"
external = true
[[user]]
id = "clerk"
name = "王丽"
departments = ["zwfw"]
roles = ["clerk"]
[[user]]
id = "handler"
name = "李芳"
departments = ["amr"]
roles = ["handler"]
[[user]]
id = "head"
name = "吴秀英"
departments = ["amr"]
roles = ["handler", "head"]
[[user]]
id = "supervisor"
name = "周正"
departments = ["zwfw"]
roles = ["supervisor"]
[[user]]
id = "amr-supervisor"
name = "市场局监察员"
departments = ["amr"]
roles = ["supervisor"]
[[user]]
id = "reviewer"
name = "陈立新"
departments = ["hy-amr"]
roles = ["reviewer"]
[[user]]
id = "other-reviewer"
name = "税务复核"
departments = ["hy-tax"]
roles = ["reviewer"]
[[user]]
id = "discipline"
name = "孙廉"
departments = ["zwfw"]
roles = ["discipline"]
[[user]]
id = "auditor"
name = "徐审"
departments = ["zwfw"]
roles = ["auditor"]
[[user]]
id = "admin"
name = "管理员"
departments = ["zwfw"]
roles = ["admin"]
[supervision]
verify_within = 2
rectify_within = 4
review_within = 3
revisit_within = 2
escalate_yellow = true
suspend_limit = 20
"""


@pytest.fixture
def world(sqlite_url: str, tmp_path: Path) -> Iterator[tuple[Engine, SimulatedClock]]:
    with simulation(sqlite_url, CLOCK_BUNDLE, CLOCK_START) as (engine, clock):
        path = tmp_path / "dir.toml"
        path.write_text(DIRECTORY, encoding="utf-8")
        engine.load_directory(str(path))
        yield engine, clock


def dump(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    db = database(engine)
    out = {}
    with db.connect() as conn:
        for table in sorted(inspect(conn).get_table_names()):
            out[table] = sorted((tuple(r) for r in conn.execute(text(f"SELECT * FROM {table}"))), key=repr)
    return out


def review_cards(engine: Engine, task: str) -> dict[str, str]:
    return {c.color: c.id for c in engine.cards() if c.task == task}


def overdue_events(engine: Engine, card: str) -> list[tuple[str, str]]:
    """(phase, due instant) of the record_overdue outbox events of one card."""
    return [
        (e.payload["phase"], e.payload["at"])
        for e in engine.events(limit=10_000)
        if e.type == "signal.fired"
        and e.payload.get("name") == "record_overdue"
        and e.payload["card"] == card
    ]


def refused(engine: Engine, attempt: Any, actors: tuple[str | None, ...], error: type[Exception]) -> None:
    """Each actor is refused with `error` and the database is as it was."""
    before = dump(engine)
    for actor in actors:
        with pytest.raises(error):
            attempt(actor)
        assert dump(engine) == before, f"refused for {actor}, yet something changed"


def test_a_red_card_walks_every_state_with_the_right_roles_and_phase_deadlines_pass(
    world: tuple[Engine, SimulatedClock],
) -> None:
    engine, clock = world
    case = engine.start_case("review_clock", actor="clerk")
    task = next(t.id for t in engine.tasks(case=case.id) if t.step == "review")
    clock.set(at("2025-10-17T08:00"))  # the review step's red card fell due 10-17 00:00
    engine.sweep(timers=False)
    red = review_cards(engine, task)["red"]
    shown = engine.card(red)
    # verify (核查) runs from the card's due instant: 2 working days (the directory's setting)
    assert [(p.phase, p.within, p.due_at) for p in shown.phases] == [("verify", 2, at("2025-10-22T00:00"))]

    def move(to: str, note: str, conclusion: str | None = None) -> Any:
        return lambda actor: engine.advance_card(red, to=to, note=note, conclusion=conclusion, actor=actor)

    # open → verifying: 电子监察 only; the carded department's own supervisor never
    refused(
        engine,
        move("verifying", "核查"),
        ("head", "handler", "reviewer", "discipline", "amr-supervisor", None),
        PermissionDenied,
    )
    clock.set(at("2025-10-20T09:00"))
    assert (
        engine.advance_card(red, to="verifying", note="调取办件记录", actor="supervisor").state == "verifying"
    )
    # the verify deadline passes: record_overdue fires once, at its instant
    clock.set(at("2025-10-22T00:00"))
    engine.sweep(timers=False)
    engine.sweep(timers=False)
    assert overdue_events(engine, red) == [("verify", iso("2025-10-22T00:00"))]
    assert red in {c.id for c in engine.cards(overdue="verify")}

    # verifying → rectifying (found true): supervisor
    refused(engine, move("rectifying", "属实"), ("head", "reviewer"), PermissionDenied)
    clock.set(at("2025-10-22T09:00"))
    engine.advance_card(red, to="rectifying", note="确属超期，责令整改", actor="supervisor")
    assert red not in {c.id for c in engine.cards(overdue="any")}  # the new phase is in time
    # a red card never closes from rectifying; it goes to 上级复核 (the carded department's head)
    refused(engine, move("closed", "x", "属实"), ("supervisor",), StateError)
    refused(engine, move("reviewing", "整改完成"), ("supervisor", "reviewer", "handler"), PermissionDenied)
    clock.set(at("2025-10-23T09:00"))
    engine.advance_card(red, to="reviewing", note="整改完成，移交复核", actor="head")
    # 上级复核: the reviewer of amr's superior (hy-amr), not another superior's
    refused(
        engine, move("rectifying", "整改不到位"), ("other-reviewer", "supervisor", "head"), PermissionDenied
    )
    clock.set(at("2025-10-24T09:00"))
    engine.advance_card(
        red, to="rectifying", note="整改不到位，退回", actor="reviewer"
    )  # a new rectify phase
    clock.set(at("2025-10-31T00:00"))  # 4 working days after 10-24: 10-27 … 10-30
    engine.sweep(timers=False)
    assert overdue_events(engine, red) == [
        ("verify", iso("2025-10-22T00:00")),
        ("rectify", iso("2025-10-31T00:00")),
    ]
    clock.set(at("2025-10-31T09:00"))
    engine.advance_card(red, to="reviewing", note="再次整改完成", actor="head")
    clock.set(at("2025-11-03T09:00"))
    refused(engine, move("revisiting", "复核通过"), ("other-reviewer", "supervisor"), PermissionDenied)
    engine.advance_card(red, to="revisiting", note="复核通过", actor="reviewer")
    # closing 属实 needs an accountability entry first
    refused(engine, move("closed", "回访满意", "属实"), ("supervisor",), StateError)
    with pytest.raises(StateError, match="card account"):
        engine.advance_card(red, to="closed", note="回访满意", conclusion="属实", actor="supervisor")
    refused(
        engine,
        lambda actor: engine.account_card(red, person="李芳", measure="批评教育", note="超期", actor=actor),
        ("head", "reviewer", "discipline", "auditor"),
        PermissionDenied,
    )
    engine.account_card(red, person="李芳", measure="批评教育", note="超期三日办结", actor="supervisor")
    clock.set(at("2025-11-06T00:00"))  # revisit: 2 working days after 11-03
    engine.sweep(timers=False)
    refused(
        engine,
        move("closed", "回访满意", "属实"),
        ("reviewer", "head", "discipline", "amr-supervisor"),
        PermissionDenied,
    )
    clock.set(at("2025-11-06T09:00"))
    closed = engine.advance_card(
        red, to="closed", note="回访申请人满意", conclusion="属实", actor="supervisor"
    )

    assert (closed.state, closed.conclusion) == ("closed", "属实")
    assert [t.to_state for t in closed.record] == [
        "open",
        "verifying",
        "rectifying",
        "reviewing",
        "rectifying",
        "reviewing",
        "revisiting",
        "closed",
    ]
    assert [(p.phase, p.due_at, p.overdue) for p in closed.phases] == [
        ("verify", at("2025-10-22T00:00"), True),
        ("rectify", at("2025-10-29T00:00"), False),
        ("review", at("2025-10-29T00:00"), False),
        ("rectify", at("2025-10-31T00:00"), True),
        ("review", at("2025-11-06T00:00"), False),
        ("revisit", at("2025-11-06T00:00"), True),
    ]
    assert overdue_events(engine, red) == [
        ("verify", iso("2025-10-22T00:00")),
        ("rectify", iso("2025-10-31T00:00")),
        ("revisit", iso("2025-11-06T00:00")),
    ]
    assert [(a.person, a.measure) for a in closed.accounts] == [("李芳", "批评教育")]
    roles = [
        (e.detail.get("to"), e.actor, e.role)
        for e in engine.case(case.id).events
        if e.type == "card.advanced" and e.detail["card"] == red
    ]
    assert roles[2:4] == [("reviewing", "head", "head"), ("rectifying", "reviewer", "reviewer")]
    clock.set(at("2025-12-31T00:00"))
    engine.sweep(timers=False)
    assert len(overdue_events(engine, red)) == 3  # a closed record has no deadline left


def test_a_new_calendar_moves_the_phase_deadlines_of_open_records(
    world: tuple[Engine, SimulatedClock], tmp_path: Path
) -> None:
    """DESIGN §7 and §9: a county adjustment loaded while a record's phase runs moves its deadline and
    its record_overdue signal, as it moves the steps' deadlines; a phase already past stays put."""
    engine, clock = world
    case = engine.start_case("review_clock", actor="clerk")
    task = next(t.id for t in engine.tasks(case=case.id) if t.step == "review")
    clock.set(at("2025-10-17T08:00"))
    engine.sweep(timers=False)
    cards = review_cards(engine, task)
    red, yellow = cards["red"], cards["yellow"]
    # the yellow record's verify phase (from 10-15) is past at 10-17: it fired and stays as it was
    assert [(p.phase, p.due_at) for p in engine.card(yellow).phases] == [("verify", at("2025-10-17T00:00"))]
    assert [(p.phase, p.due_at) for p in engine.card(red).phases] == [("verify", at("2025-10-22T00:00"))]
    clock.set(at("2025-10-17T09:00"))
    adjustment = tmp_path / "flood.toml"
    adjustment.write_text(
        'version = "hengnan-2025-flood"\nreason = "县政府通知：10月20日防汛闭馆"\nrest = ["2025-10-20"]\n',
        encoding="utf-8",
    )
    result = engine.load_calendar(str(adjustment), actor="admin")
    assert result["recomputed"] >= 1
    # 2 working days after 10-17 are now 10-21 and 10-22: the deadline is the end of 10-22
    assert [(p.phase, p.due_at) for p in engine.card(red).phases] == [("verify", at("2025-10-23T00:00"))]
    assert [(p.phase, p.due_at) for p in engine.card(yellow).phases] == [("verify", at("2025-10-17T00:00"))]
    moved = [
        e.detail
        for e in engine.case(case.id).events
        if e.type == "deadline.recomputed" and e.detail.get("card") == red
    ]
    assert moved == [{"calendar": "hengnan-2025-flood", "card": red, "phase": "verify", "pending": False}]
    clock.set(at("2025-10-22T00:00"))  # the old deadline: nothing fires
    engine.sweep(timers=False)
    assert overdue_events(engine, red) == []
    assert red not in {c.id for c in engine.cards(overdue="verify")}
    clock.set(at("2025-10-23T00:00"))
    engine.sweep(timers=False)
    assert overdue_events(engine, red) == [("verify", iso("2025-10-23T00:00"))]


def _late_yellow(engine: Engine, clock: SimulatedClock, actor: str | None = None) -> tuple[str, str]:
    """A review step completed late: its yellow card issued on completion, its red card never due."""
    case = engine.start_case("review_clock", actor=actor and "clerk")
    task = next(t.id for t in engine.tasks(case=case.id) if t.step == "review")
    clock.set(at("2025-10-15T11:00"))
    engine.complete_task(task, actor=actor)
    return task, review_cards(engine, task)["yellow"]


def test_an_overdue_yellow_record_escalates_once_to_a_red_card(sqlite_url: str) -> None:
    with simulation(sqlite_url, CLOCK_BUNDLE, CLOCK_START) as (engine, clock):
        task, yellow = _late_yellow(engine, clock)
        # verify (3 working days, the defaults) from the card's due instant 10-14 00:00 → 10-18 00:00
        clock.set(at("2025-10-17T23:59"))
        assert engine.sweep(timers=False).issued == ()
        clock.set(at("2025-10-18T00:00"))
        swept = engine.sweep(timers=False)
        assert [(i.kind, i.name, i.trigger) for i in swept.issued] == [
            ("signal", "record_overdue", "verify"),
            ("card", "red", "escalated"),
        ]
        cards = review_cards(engine, task)
        red = engine.card(cards["red"])
        assert (red.signal, red.handler, red.department, red.issued_at) == (
            "escalated",
            "superior_review",
            "amr",
            at("2025-10-18T00:00"),
        )
        # the yellow record, overdue again in rectify, escalates no more
        engine.advance_card(yellow, to="verifying", note="核查")
        engine.advance_card(yellow, to="rectifying", note="整改")
        clock.set(at("2025-11-30T00:00"))
        engine.sweep(timers=False)
        assert [p for p, _ in overdue_events(engine, yellow)] == ["verify", "rectify"]
        assert [c.color for c in engine.cards() if c.task == task] == ["yellow", "red"]
        kinds = [
            e.payload["trigger"]
            for e in engine.events(limit=1000)
            if e.type == "card.issued" and e.payload["color"] == "red"
        ]
        assert kinds == ["escalated"]
        # the list filters
        assert [c.id for c in engine.cards(color="red", department="amr")] == [red.id]
        assert engine.cards(department="tax") == []
        assert [c.id for c in engine.cards(overdue="rectify")] == [yellow]
        assert {c.id for c in engine.cards(state="rectifying")} == {yellow}


def test_without_escalate_yellow_an_overdue_yellow_record_only_signals(
    sqlite_url: str, tmp_path: Path
) -> None:
    with simulation(sqlite_url, CLOCK_BUNDLE, CLOCK_START) as (engine, clock):
        path = tmp_path / "dir.toml"
        path.write_text(
            DIRECTORY.replace("escalate_yellow = true", "escalate_yellow = false"), encoding="utf-8"
        )
        engine.load_directory(str(path))
        task, _yellow = _late_yellow(engine, clock, actor="handler")
        clock.set(at("2025-10-17T00:00"))  # verify_within = 2 here
        assert [(i.name, i.trigger) for i in engine.sweep(timers=False).issued] == [
            ("record_overdue", "verify")
        ]
        assert list(review_cards(engine, task)) == ["yellow"]


def test_a_phase_ended_late_before_a_sweep_still_gets_its_signal(sqlite_url: str) -> None:
    with simulation(sqlite_url, CLOCK_BUNDLE, CLOCK_START) as (engine, clock):
        _task, yellow = _late_yellow(engine, clock)
        engine.advance_card(yellow, to="verifying", note="核查")
        clock.set(at("2025-10-20T09:00"))  # past 10-18 00:00, no sweep ran
        engine.advance_card(yellow, to="closed", note="日历数据错误", conclusion="系统误报")
        assert overdue_events(engine, yellow) == [("verify", iso("2025-10-18T00:00"))]
        clock.set(at("2025-12-31T00:00"))
        engine.sweep(timers=False)
        assert len(overdue_events(engine, yellow)) == 1


def _escalation_race(url: str, sweepers: int) -> None:
    with simulation(url, CLOCK_BUNDLE, CLOCK_START) as (engine, clock):
        task, yellow = _late_yellow(engine, clock)
    late = at("2025-10-30T00:00")
    engines = [Engine(url, clock=SimulatedClock(late)) for _ in range(sweepers)]
    barrier = threading.Barrier(sweepers)
    errors: list[BaseException] = []

    def sweep(e: Engine) -> None:
        barrier.wait()
        try:
            e.sweep(timers=False, batch_size=1)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=sweep, args=(e,)) for e in engines]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    try:
        assert errors == []
        first = engines[0]
        reds = [c for c in first.cards() if c.task == task and c.color == "red"]
        assert [c.signal for c in reds] == ["escalated"]
        assert overdue_events(first, yellow) == [("verify", iso("2025-10-18T00:00"))]
        assert overdue_events(first, reds[0].id) == [("verify", iso("2025-10-23T00:00"))]
        issued = [
            e for e in first.events(limit=1000) if e.type == "card.issued" and e.payload["color"] == "red"
        ]
        assert len(issued) == 1
    finally:
        for e in engines:
            e.close()


@pytest.mark.postgres
def test_two_sweepers_on_postgresql_escalate_a_yellow_record_once(postgres: Any) -> None:
    _escalation_race(postgres.create_database(), 2)


def test_two_sweepers_on_sqlite_escalate_a_yellow_record_once(tmp_path: Path) -> None:
    _escalation_race(f"sqlite:///{tmp_path / 'race.db'}", 2)


# -- accountability and referrals -----------------------------------------------------------------


def _red_rectifying(engine: Engine, clock: SimulatedClock, note: str = "核查") -> tuple[str, str]:
    case = engine.start_case("review_clock", actor="clerk")
    task = next(t.id for t in engine.tasks(case=case.id) if t.step == "review")
    clock.set(at("2025-10-17T08:00"))
    engine.sweep(timers=False)
    red = review_cards(engine, task)["red"]
    engine.advance_card(red, to="verifying", note=note, actor="supervisor")
    engine.advance_card(red, to="rectifying", note="属实", actor="supervisor")
    return case.id, red


def test_no_note_of_a_card_record_reaches_the_outbox(world: tuple[Engine, SimulatedClock]) -> None:
    # DESIGN §10: events hold ids, never personal data: the notes staff write at each step of a
    # record (here a name and a 身份证 number) stay in the record, and the outbox schema refuses them
    engine, clock = world
    name, number = "张建国", "430422198805120036"
    case_id, red = _red_rectifying(engine, clock, note=f"申请人{name}（身份证{number}）来电投诉")
    engine.advance_card(red, to="reviewing", note=f"已向{name}说明整改情况", actor="head")
    engine.advance_card(red, to="revisiting", note=f"复核：{number} 材料齐全", actor="reviewer")
    engine.account_card(red, person="李芳", measure="批评教育", note=f"{name}投诉属实", actor="supervisor")
    engine.advance_card(red, to="closed", note=f"回访{name}满意", conclusion="属实", actor="supervisor")
    assert any(name in t.note for t in engine.card(red).record if t.note)  # the record keeps them

    events = engine.events(limit=10_000)
    advanced = [e.payload for e in events if e.type == "card.advanced"]
    assert [p["to"] for p in advanced] == ["verifying", "rectifying", "reviewing", "revisiting", "closed"]
    checker = jsonschema.Draft202012Validator.FORMAT_CHECKER
    for payload in advanced:
        jsonschema.Draft202012Validator(schema("card.advanced"), format_checker=checker).validate(payload)
        assert payload["case"] == case_id and payload["card"] == red
    texts = json.dumps([e.payload for e in events], ensure_ascii=False)
    assert name not in texts and number not in texts and "李芳" not in texts
    with pytest.raises(jsonschema.ValidationError, match="note"):
        jsonschema.validate({**advanced[0], "note": f"{name}"}, schema("card.advanced"))


def test_a_referral_is_seen_by_discipline_only_and_closed_with_its_outcome(
    world: tuple[Engine, SimulatedClock],
) -> None:
    engine, clock = world
    _case, red = _red_rectifying(engine, clock)
    with pytest.raises(Exception, match="未知的处理方式"):
        engine.account_card(red, person="李芳", measure="罚款", note="x", actor="supervisor")
    shown = engine.account_card(
        red, person="李芳", measure="移送纪检监察机关", note="多次超期，涉嫌失职", actor="supervisor"
    )
    assert [a.measure for a in shown.accounts] == ["移送纪检监察机关"]
    (referral,) = engine.referrals(actor="discipline")
    assert (referral.card, referral.person, referral.state, referral.department) == (
        red,
        "李芳",
        "open",
        "amr",
    )
    for actor in ("supervisor", "auditor", "head", "reviewer", "clerk", None):
        with pytest.raises(PermissionDenied):
            engine.referrals(actor=actor)
    # nowhere else: no outbox event or audit detail carries the entry's texts
    texts = json.dumps([e.payload for e in engine.events(limit=10_000)], ensure_ascii=False)
    assert "李芳" not in texts and "涉嫌失职" not in texts
    closed = engine.close_referral(referral.id, outcome="给予党内警告处分", actor="discipline")
    assert (closed.state, closed.outcome, closed.closed_by) == ("closed", "给予党内警告处分", "discipline")
    with pytest.raises(StateError, match=r"已于 .* 办结"):
        engine.close_referral(referral.id, outcome="again", actor="discipline")
    assert engine.referrals(state="open", actor="discipline") == []
    assert [r.outcome for r in engine.referrals(state="closed", actor="discipline")] == ["给予党内警告处分"]


def test_accountability_needs_a_card_found_true(world: tuple[Engine, SimulatedClock]) -> None:
    engine, clock = world
    case = engine.start_case("review_clock", actor="clerk")
    task = next(t.id for t in engine.tasks(case=case.id) if t.step == "review")
    clock.set(at("2025-10-17T08:00"))
    engine.sweep(timers=False)
    red = review_cards(engine, task)["red"]
    with pytest.raises(StateError, match="核查属实后"):
        engine.account_card(red, person="李芳", measure="批评教育", note="x", actor="supervisor")


def test_the_entry_texts_and_the_outcome_are_sealed_at_rest(sqlite_url: str) -> None:
    migrated(sqlite_url, simulation=True)
    key = base64.b64encode(os.urandom(32)).decode()
    clock = SimulatedClock(CLOCK_START)
    with Engine(sqlite_url, clock=clock, key=key) as engine:
        engine.deploy(str(CLOCK_BUNDLE))
        _case, red = _red_rectifying(engine, clock)
        engine.account_card(
            red, person="李芳芳", measure="移送纪检监察机关", note="涉嫌失职渎职", actor="supervisor"
        )
        (referral,) = engine.referrals(actor="discipline")
        engine.close_referral(referral.id, outcome="立案审查调查", actor="discipline")
        with database(engine).connect() as conn:
            stored = [
                *conn.execute(text("SELECT person, note FROM hf_card_account")).one(),
                conn.execute(text("SELECT outcome FROM hf_referral")).scalar_one(),
            ]
        assert all(v.startswith(PREFIX) for v in stored)
        assert not any(w in v for v in stored for w in ("李芳芳", "失职", "立案"))
        assert engine.card(red).accounts[0].person == "李芳芳"  # read back through the key


def test_cli_account_referrals_and_card_show(
    world: tuple[Engine, SimulatedClock], capsys: pytest.CaptureFixture[str]
) -> None:
    engine, clock = world
    _case, red = _red_rectifying(engine, clock)
    url = engine.url
    now = "2025-10-20T09:00:00+08:00"
    code, out, err = run_cli(
        url,
        capsys,
        "--format",
        "json",
        "card",
        "account",
        red,
        "--person",
        "李芳",
        "--measure",
        "移送纪检监察机关",
        "--note",
        "多次超期",
        "--actor",
        "supervisor",
        now=now,
    )
    assert code == 0, err
    doc = json.loads(out)
    assert [a["measure"] for a in doc["accountability"]] == ["移送纪检监察机关"]
    assert [p["phase"] for p in doc["phases"]] == ["verify", "rectify"]
    code, _out, err = run_cli(
        url, capsys, "card", "account", red, "--person", "x", "--measure", "罚款", "--note", "x", now=now
    )
    assert code == 2
    code, _out, err = run_cli(url, capsys, "card", "referrals", "--actor", "supervisor", now=now)
    assert code == 4 and "查阅移送纪检监察线索" in err
    code, out, err = run_cli(
        url, capsys, "--format", "json", "card", "referrals", "--actor", "discipline", now=now
    )
    assert code == 0, err
    (ref,) = json.loads(out)
    code, out, err = run_cli(
        url,
        capsys,
        "card",
        "referral",
        "close",
        ref["id"],
        "--outcome",
        "诫勉",
        "--actor",
        "discipline",
        now=now,
    )
    assert code == 0 and "已办结" in out, err
    code, out, err = run_cli(url, capsys, "card", "show", red, now=now)
    assert code == 0, err
    assert "红牌" in out and "整改中" in out and "阶段期限" in out and "核查（2 个工作日）" in out
    assert "责任追究" in out and "移送纪检监察机关" in out
    code, out, err = run_cli(url, capsys, "--format", "json", "card", "show", red, now=now)
    shown = json.loads(out)
    assert [r["to"] for r in shown["record"]] == ["open", "verifying", "rectifying"]
    assert [(p["phase"], p["due_at"]) for p in shown["phases"]] == [
        ("verify", iso("2025-10-22T00:00")),
        ("rectify", iso("2025-10-24T00:00")),  # 4 working days after Fri 10-17 (its move, at 08:00)
    ]
    assert [(a["person"], a["measure"]) for a in shown["accountability"]] == [("李芳", "移送纪检监察机关")]
    code, out, _ = run_cli(
        url, capsys, "card", "list", "--color", "red", "--state", "rectifying", "--department", "amr", now=now
    )
    assert code == 0 and red in out and "上级复核" not in out
    code, out, _ = run_cli(
        url,
        capsys,
        "--format",
        "json",
        "card",
        "list",
        "--overdue",
        "verify",
        now="2025-12-01T00:00:00+08:00",
    )
    assert red not in [c["id"] for c in json.loads(out)]  # its verify phase ended; rectify is overdue
    code, out, _ = run_cli(
        url,
        capsys,
        "--format",
        "json",
        "card",
        "list",
        "--overdue",
        "rectify",
        now="2025-12-01T00:00:00+08:00",
    )
    assert red in [c["id"] for c in json.loads(out)]
