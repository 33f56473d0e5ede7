"""红黄牌 supervision (issue 7): signals and cards at their DESIGN §4 instants, records, outbox, CLI.

The fixture bundle (tests/fixtures/clock) has one promised step `review` (5/10 working days) in a
case with its own limit (8/20), and a boundary timer workdays(5) that opens a step `escalate`
(1/2 working days). Accepted Mon 2025-09-29 10:00 Shanghai; 10-01..10-08 off, Sat 10-11 works.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import click
import pytest
from sqlalchemy import func, select

import hennan_flow.supervision.cards as supervision_module
from helpers import CLOCK_BUNDLE, CLOCK_START, at, card_events, iso, read, simulation
from hennan_flow.cli import main
from hennan_flow.cli.supervision import card as card_group
from hennan_flow.db.models import CardRow, CardTransitionRow, DeadlineRow, OutboxRow, SignalRow
from hennan_flow.engine import Engine, SimulatedClock
from hennan_flow.engine import tasks as engine_tasks
from hennan_flow.errors import InputError, NotFoundError, StateError

ISSUED_KEYS = ["case", "scope", "step", "task", "kind", "name", "trigger", "at"]
CARD_KEYS = ["id", "case", "scope", "step", "task", "color", "signal", "issued_at", "state", "provisional"]


@pytest.fixture
def sim(db_url: str) -> Iterator[tuple[Engine, SimulatedClock]]:
    """A simulation database (SQLite and PostgreSQL) with the clock bundle, at the acceptance instant."""
    with simulation(db_url, CLOCK_BUNDLE, CLOCK_START) as sim:
        yield sim


@pytest.fixture
def lite(sqlite_url: str) -> Iterator[tuple[Engine, SimulatedClock]]:
    """The same on SQLite only, for the tests that are about records rather than databases."""
    with simulation(sqlite_url, CLOCK_BUNDLE, CLOCK_START) as lite:
        yield lite


def issued(engine: Engine, **kwargs: Any) -> list[tuple[str | None, str, str, str, str]]:
    """Sweep; (step, scope, kind, name, at) of what it issued for the steps and the case (the records'
    own phase deadlines, `record_overdue`, are tests/test_supervision_records.py's)."""
    result = engine.sweep(**kwargs)
    return [
        (i.step, i.scope, i.kind, i.name, i.as_dict()["at"] or "")
        for i in result.issued
        if i.name != "record_overdue"
    ]


def start(engine: Engine) -> tuple[str, str]:
    case = engine.start_case("review_clock")
    review = next(t for t in engine.tasks(case=case.id) if t.step == "review")
    return case.id, review.id


# -- signals and cards at their instants ----------------------------------------------------------

# DESIGN §4 instants (tests/test_clock_engine.py asserts the stored ones for `review` and the case)
EXPECTED: list[tuple[str, list[tuple[str | None, str, str, str]]]] = [
    (
        "2025-10-12T00:00",  # end of the 4th working day (the make-up Saturday 10-11)
        [("review", "step", "signal", "notice"), ("review", "step", "signal", "yellow_light")],
    ),
    ("2025-10-14T00:00", [("review", "step", "card", "yellow")]),  # the promised deadline
    (
        "2025-10-16T00:00",  # case: 7th working day; escalate (opened 10-14 by the timer): promised 1 wd
        [
            (None, "case", "signal", "notice"),
            (None, "case", "signal", "yellow_light"),
            ("escalate", "step", "card", "yellow"),
        ],
    ),
    (
        "2025-10-17T00:00",  # review: 3 wd after 10-13; case: promised 8 wd; escalate: legal 2 wd
        [
            ("review", "step", "card", "red"),
            (None, "case", "card", "yellow"),
            ("escalate", "step", "card", "red"),
        ],
    ),
    ("2025-10-22T00:00", [(None, "case", "card", "red")]),  # case: 3 wd after 10-16
]


def test_signals_and_cards_fire_exactly_at_their_instants_once(sim: tuple[Engine, SimulatedClock]) -> None:
    engine, clock = sim
    case_id, review_id = start(engine)
    everything: list[tuple[str | None, str, str, str, str]] = []
    for instant, expected in EXPECTED:
        clock.set(at(instant) - timedelta(microseconds=1))
        assert issued(engine) == [], f"something fired before {instant}"
        clock.set(at(instant))
        got = issued(engine)
        assert sorted((s or "", sc, k, n) for s, sc, k, n, _ in got) == sorted(
            (s or "", sc, k, n) for s, sc, k, n in expected
        ), instant
        assert {a for *_, a in got} == {iso(instant)}  # stamped with the due instant
        assert issued(engine) == [], f"something fired twice at {instant}"
        everything += got
    clock.set(at("2025-12-31T12:00"))
    assert issued(engine) == []
    assert len(everything) == 10

    cards = engine.cards(case=case_id)
    assert [c.issued_at for c in cards] == sorted(c.issued_at for c in cards)  # oldest first
    assert sorted((c.scope, c.step or "", c.color, c.signal, c.as_dict()["issued_at"]) for c in cards) == [
        ("case", "", "red", "overdue_workdays", iso("2025-10-22T00:00")),
        ("case", "", "yellow", "promised_passed", iso("2025-10-17T00:00")),
        ("step", "escalate", "red", "legal_passed", iso("2025-10-17T00:00")),
        ("step", "escalate", "yellow", "promised_passed", iso("2025-10-16T00:00")),
        ("step", "review", "red", "overdue_workdays", iso("2025-10-17T00:00")),
        ("step", "review", "yellow", "promised_passed", iso("2025-10-14T00:00")),
    ]
    review_cards = [c for c in cards if c.step == "review"]
    assert {c.task for c in review_cards} == {review_id}
    case_cards = [c for c in cards if c.scope == "case"]
    assert all(c.step is None and c.task is None and c.case == case_id for c in case_cards)
    assert all(c.state == "open" for c in cards)
    # yellow: the step's department (the bundle's lead for the case); red: the superior review
    assert {(c.color, c.handler, c.department) for c in cards} == {
        ("yellow", "department", "amr"),
        ("red", "superior_review", "amr"),
    }
    # every card opened its record, and is on the case's timeline
    timeline = engine.case(case_id).events
    assert sum(e.type == "card.issued" for e in timeline) == 6
    assert sum(e.type == "signal.fired" and e.detail["name"] != "record_overdue" for e in timeline) == 4
    assert all(engine.card(c.id).record[0].to_state == "open" for c in cards)


def test_none_for_a_step_finished_in_time(sim: tuple[Engine, SimulatedClock]) -> None:
    engine, clock = sim
    _case_id, review_id = start(engine)
    clock.set(at("2025-10-10T16:00"))  # before the notice (10-12 00:00)
    engine.complete_task(review_id, actor="clerk")  # the case ends with it
    for instant, _ in EXPECTED:
        clock.set(at(instant))
        assert issued(engine) == []
    assert engine.cards() == []
    assert card_events(engine) == []


def test_none_for_a_step_paused_across_its_deadlines(sim: tuple[Engine, SimulatedClock]) -> None:
    engine, clock = sim
    _case_id, review_id = start(engine)
    clock.set(at("2025-10-09T10:00"))
    engine.pause(review_id, reason="supplement", actor="clerk")  # the case clock stops too
    for instant, _ in EXPECTED:  # every original instant passes while paused
        clock.set(at(instant))
        assert issued(engine, timers=False) == []
    clock.set(at("2025-10-21T09:00"))
    resumed = engine.resume(review_id, actor="clerk")
    assert issued(engine, timers=False) == []  # 9 working days paused: everything moved past now
    assert resumed.deadlines is not None
    notice = next(s for s in resumed.deadlines["signals"] if s["name"] == "notice")
    clock.set(datetime.fromisoformat(notice["at"]))
    assert [(s, n) for s, _sc, _k, n, _a in issued(engine, timers=False)] == [
        ("review", "notice"),
        ("review", "yellow_light"),
    ]
    assert engine.cards() == []


def test_a_step_finished_late_between_two_sweeps_still_gets_its_cards(
    sim: tuple[Engine, SimulatedClock],
) -> None:
    engine, clock = sim
    case_id, review_id = start(engine)
    clock.set(at("2025-10-12T08:00"))
    assert [n for *_, n, _a in issued(engine, timers=False)] == ["notice", "yellow_light"]
    clock.set(at("2025-10-15T11:00"))  # the yellow card fell due 10-14 00:00; no sweep ran since
    engine.complete_task(review_id, actor="clerk")
    cards = engine.cards(case=case_id)  # issued by the completing transaction itself
    assert [(c.step, c.color, c.as_dict()["issued_at"]) for c in cards] == [
        ("review", "yellow", iso("2025-10-14T00:00"))
    ]
    kinds = [(e.type, e.payload["name"]) for e in card_events(engine)]
    assert kinds == [
        ("signal.fired", "notice"),
        ("signal.fired", "yellow_light"),
        ("card.issued", "yellow"),
    ]
    clock.set(at("2025-10-15T11:05"))
    assert issued(engine) == []  # not again
    clock.set(at("2025-10-30T00:00"))
    # the step's red card and the case's signals were cancelled with them; only the yellow record,
    # never verified, escalates at its verify phase's deadline (DESIGN §9)
    assert issued(engine) == [("review", "step", "card", "red", iso("2025-10-18T00:00"))]
    assert [(c.color, c.signal) for c in engine.cards()] == [
        ("yellow", "promised_passed"),
        ("red", "escalated"),
    ]


def test_a_card_already_due_when_the_step_is_paused_is_not_moved(sim: tuple[Engine, SimulatedClock]) -> None:
    engine, clock = sim
    _case_id, review_id = start(engine)
    clock.set(at("2025-10-14T09:00"))  # the yellow card fell due at 00:00; no sweep ran since
    engine.pause(review_id, reason="supplement")
    clock.set(at("2025-10-15T09:00"))
    engine.resume(review_id)
    engine.sweep(timers=False)
    assert [c.as_dict()["issued_at"] for c in engine.cards() if c.step == "review"] == [
        iso("2025-10-14T00:00")  # not 10-15: a deadline that has passed stays passed
    ]


def test_lag_is_now_minus_the_oldest_unfired_due_instant(sim: tuple[Engine, SimulatedClock]) -> None:
    engine, clock = sim
    start(engine)
    clock.set(at("2025-10-12T00:00") + timedelta(seconds=90))
    result = engine.sweep(timers=False)
    assert result.lag_seconds == 90.0 and len(result.issued) == 2
    assert engine.sweep(timers=False).lag_seconds == 0.0


# -- records --------------------------------------------------------------------------------------


def cards_at(engine: Engine, clock: SimulatedClock, instant: str) -> dict[str, str]:
    """Run to `instant` and sweep; {colour: card id} of the review step."""
    start(engine)
    clock.set(at(instant))
    engine.sweep(timers=False)
    return {c.color: c.id for c in engine.cards() if c.step == "review"}


def test_record_goes_open_verifying_rectifying_reviewing_revisiting_closed(
    lite: tuple[Engine, SimulatedClock],
) -> None:
    engine, clock = lite
    ids = cards_at(engine, clock, "2025-10-17T08:00")
    red = ids["red"]
    clock.set(at("2025-10-17T09:00"))
    step1 = engine.advance_card(red, to="verifying", note="调取办件记录核查", actor="监察室")
    assert step1.state == "verifying"
    clock.set(at("2025-10-20T09:00"))
    step2 = engine.advance_card(red, to="rectifying", note="确属超期，责令整改", actor="上级复核")
    assert step2.state == "rectifying"
    clock.set(at("2025-10-21T09:00"))
    engine.advance_card(red, to="reviewing", note="整改完成，移交上级复核", actor="市场局")
    clock.set(at("2025-10-22T09:00"))
    engine.advance_card(red, to="revisiting", note="复核通过", actor="上级复核")
    clock.set(at("2025-10-23T09:00"))
    engine.account_card(red, person="李芳", measure="批评教育", note="超期办理", actor="监察室")
    clock.set(at("2025-10-24T09:00"))
    closed = engine.advance_card(
        red, to="closed", note="整改完毕，回访满意", conclusion="属实", actor="监察室"
    )
    assert (closed.state, closed.conclusion, closed.closed_at) == ("closed", "属实", at("2025-10-24T09:00"))
    assert [(t.from_state, t.to_state, t.actor) for t in closed.record] == [
        (None, "open", None),
        ("open", "verifying", "监察室"),
        ("verifying", "rectifying", "上级复核"),
        ("rectifying", "reviewing", "市场局"),
        ("reviewing", "revisiting", "上级复核"),
        ("revisiting", "closed", "监察室"),
    ]
    assert closed.record[-1].note == "整改完毕，回访满意" and closed.record[-1].conclusion == "属实"
    # every transition is an audit event and an outbox event
    timeline = [e for e in engine.case(closed.case).events if e.type == "card.advanced"]
    assert [(e.detail["from"], e.detail["to"]) for e in timeline] == [
        ("open", "verifying"),
        ("verifying", "rectifying"),
        ("rectifying", "reviewing"),
        ("reviewing", "revisiting"),
        ("revisiting", "closed"),
    ]
    moves = [e.payload for e in engine.events(limit=1000) if e.type == "card.advanced"]
    assert [(m["card"], m["to"], m["conclusion"]) for m in moves][-1] == (red, "closed", "属实")
    assert all("note" not in m for m in moves)  # the note stays in the record (DESIGN §10)
    assert [c.id for c in engine.cards(state="closed")] == [red]
    assert red not in [c.id for c in engine.cards(state="open")]  # open = not closed
    assert [c.id for c in engine.cards(state="open") if c.step == "review"] == [ids["yellow"]]


def test_a_card_found_untrue_closes_from_verification(lite: tuple[Engine, SimulatedClock]) -> None:
    engine, clock = lite
    yellow = cards_at(engine, clock, "2025-10-15T08:00")["yellow"]
    engine.advance_card(yellow, to="verifying", note="核查")
    closed = engine.advance_card(yellow, to="closed", note="日历数据错误", conclusion="系统误报")
    assert (closed.state, closed.conclusion) == ("closed", "系统误报")


@pytest.mark.parametrize(
    ("path", "move", "error", "message"),
    [
        ((), ("closed", "不属实"), StateError, "只能转到 verifying，"),  # OPEN → CLOSED skips 核查
        ((), ("rectifying", None), StateError, "只能转到 verifying，"),
        (("verifying",), ("closed", None), StateError, "须给出结论"),
        (("verifying",), ("closed", "属实"), StateError, "不能以 属实 办结"),  # 出错必改 first
        (("verifying", "rectifying"), ("closed", "系统误报"), StateError, "不能以 系统误报 办结"),
        (("verifying", "rectifying"), ("verifying", None), StateError, "只能转到 closed，"),
        (("verifying",), ("verifying", None), StateError, "只能转到 rectifying 或 closed，"),
        (("verifying", "closed"), ("verifying", None), StateError, "办结的记录为最终记录"),
        (("verifying", "closed"), ("closed", "不属实"), StateError, "办结的记录为最终记录"),
        ((), ("open", None), InputError, "不能转到 'open'"),  # CLOSED → OPEN has no verb at all
        ((), ("verifying", "属实"), InputError, "只有办结（closed）红黄牌时才记录结论"),
        ((), ("closed", "超时"), InputError, "未知的结论"),
    ],
)
def test_illegal_record_moves_are_refused_clearly(
    lite: tuple[Engine, SimulatedClock],
    path: tuple[str, ...],
    move: tuple[str, str | None],
    error: type[Exception],
    message: str,
) -> None:
    engine, clock = lite
    yellow = cards_at(engine, clock, "2025-10-15T08:00")["yellow"]
    for to in path:
        engine.advance_card(yellow, to=to, note="n", conclusion="不属实" if to == "closed" else None)
    before = engine.card(yellow)
    events_before = engine.events(limit=1000)
    with pytest.raises(error, match=message):
        engine.advance_card(yellow, to=move[0], note="n", conclusion=move[1])
    assert engine.card(yellow) == before  # nothing moved, nothing written
    assert engine.events(limit=1000) == events_before


def test_closed_to_open_is_refused(lite: tuple[Engine, SimulatedClock]) -> None:
    engine, clock = lite
    yellow = cards_at(engine, clock, "2025-10-15T08:00")["yellow"]
    engine.advance_card(yellow, to="verifying", note="核查")
    engine.advance_card(yellow, to="closed", note="误报", conclusion="系统误报")
    with pytest.raises(StateError, match="不会重新打开，也不会删除"):
        engine.advance_card(yellow, to="verifying", note="重开")
    with pytest.raises(InputError, match="不能转到 'open'"):
        engine.advance_card(yellow, to="open", note="重开")


def test_bad_record_requests(lite: tuple[Engine, SimulatedClock]) -> None:
    engine, clock = lite
    yellow = cards_at(engine, clock, "2025-10-15T08:00")["yellow"]
    with pytest.raises(InputError, match="每一步都须写说明"):
        engine.advance_card(yellow, to="verifying", note="  ")
    with pytest.raises(NotFoundError, match="没有红黄牌 'nope'"):
        engine.advance_card("nope", to="verifying", note="n")
    with pytest.raises(NotFoundError, match="没有红黄牌 'nope'"):
        engine.card("nope")
    with pytest.raises(InputError, match="未知的红黄牌状态"):
        engine.cards(state="done")


def test_there_is_no_way_to_delete_a_card_or_its_record() -> None:
    destructive = ("delete", "remove", "purge", "drop", "destroy", "erase", "discard")
    api = [n for n in dir(Engine) if any(w in n.lower() for w in destructive)]
    assert api == []
    module = [n for n in dir(supervision_module) if any(w in n.lower() for w in destructive)]
    assert module == []
    assert isinstance(card_group, click.Group)
    assert sorted(card_group.commands) == ["account", "advance", "list", "referral", "referrals", "show"]


def test_rows_are_kept_after_closing(lite: tuple[Engine, SimulatedClock]) -> None:
    engine, clock = lite
    yellow = cards_at(engine, clock, "2025-10-15T08:00")["yellow"]
    engine.advance_card(yellow, to="verifying", note="核查")
    engine.advance_card(yellow, to="closed", note="误报", conclusion="不属实")
    with read(engine) as session:
        assert session.scalar(select(func.count()).select_from(CardRow)) == 1
        assert session.scalar(select(func.count()).select_from(CardTransitionRow)) == 3


# -- outbox ----------------------------------------------------------------------------------------


def test_outbox_is_read_once_per_cursor(sim: tuple[Engine, SimulatedClock]) -> None:
    engine, clock = sim
    start(engine)
    clock.set(at("2025-10-14T08:00"))
    engine.sweep(timers=False)
    everything = engine.events()
    first = card_events(engine)
    assert [(e.type, e.payload["name"]) for e in first] == [
        ("signal.fired", "notice"),
        ("signal.fired", "yellow_light"),
        ("card.issued", "yellow"),
    ]
    ids = [e.id for e in first]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    cursor = everything[-1].id
    assert engine.events(after=cursor) == []
    assert engine.events(after=cursor) == []  # consuming twice with the saved cursor: nothing twice
    # pages of one give the same sequence
    paged, page_cursor = [], 0
    while page := engine.events(after=page_cursor, limit=1):
        paged += page
        page_cursor = page[-1].id
    assert paged == everything
    card = first[-1]
    assert card.ref == card.payload["card"] and card.payload["state"] == "open"
    assert card.payload["at"] == iso("2025-10-14T00:00") and card.at == at("2025-10-14T00:00")
    # new activity appears after the cursor, and only it
    engine.advance_card(card.ref, to="verifying", note="核查")
    newer = engine.events(after=cursor)
    assert [(e.type, e.payload["to"]) for e in newer] == [("card.advanced", "verifying")]
    assert newer[0].id > cursor
    with pytest.raises(InputError):
        engine.events(after=-1)
    with pytest.raises(InputError):
        engine.events(limit=0)


def test_a_rolled_back_transaction_leaves_no_outbox_row(
    sim: tuple[Engine, SimulatedClock], monkeypatch: pytest.MonkeyPatch
) -> None:
    engine, clock = sim
    _case_id, review_id = start(engine)
    clock.set(at("2025-10-15T11:00"))  # late: completing fires the notice, yellow light, yellow card
    before = engine.events()  # the case's start and its first step's readiness

    def broken(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("disk on fire")

    # the completion fails after its step's end fired the cards, before the process moves on
    monkeypatch.setattr(engine_tasks, "sync_steps", broken)
    with pytest.raises(RuntimeError):
        engine.complete_task(review_id)
    assert engine.events() == before
    assert engine.cards() == []
    with read(engine) as session:
        assert session.scalar(select(func.count()).select_from(OutboxRow)) == len(before)
        states = set(session.scalars(select(SignalRow.state).where(SignalRow.task_id == review_id)))
        armed = session.scalar(select(DeadlineRow.arm_at).where(DeadlineRow.id == review_id))
    assert states == set() and armed is not None  # its signals still ride, unfired, on its deadline row
    monkeypatch.undo()
    engine.complete_task(review_id)
    assert [e.payload["name"] for e in card_events(engine)] == ["notice", "yellow_light", "yellow"]


# -- CLI -------------------------------------------------------------------------------------------


@pytest.fixture
def cli_db(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> str:
    db = f"sqlite:///{tmp_path / 'cli.db'}"
    for args in (["db", "upgrade", "--simulation"], ["deploy", str(CLOCK_BUNDLE)]):
        with pytest.raises(SystemExit) as info:
            main(["--db", db, *args])
        assert info.value.code in (0, None)
    capsys.readouterr()
    return db


def run(db: str, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as info:
        main(["--db", db, *args])
    out, err = capsys.readouterr()
    return int(info.value.code or 0), out, err


def test_cli_sweep_card_list_and_advance_json(cli_db: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        cli_db,
        capsys,
        "--now",
        "2025-09-29T10:00:00+08:00",
        "--format",
        "json",
        "case",
        "start",
        "review_clock",
    )
    case_id = json.loads(out)["id"]
    code, out, err = run(
        cli_db, capsys, "--now", "2025-10-11T12:00:00+08:00", "sla", "sweep", "--format", "json"
    )
    calendar = {
        "ends": "2026-12-31",
        "days_left": 446,
        "pending_deadlines": 0,
        "needed_years": [],
        "provisional_years": [],
    }
    assert (code, json.loads(out)) == (0, {"issued": [], "lag_seconds": 0.0, "calendar": calendar})

    code, out, err = run(
        cli_db, capsys, "--now", "2025-10-14T00:00:30+08:00", "--format", "json", "sla", "sweep"
    )
    assert code == 0
    doc = json.loads(out)  # exactly one document on stdout
    assert list(doc) == ["issued", "lag_seconds", "calendar"]
    assert doc["lag_seconds"] == 2 * 86400 + 30  # the notice fell due 10-12 00:00
    assert [list(i) for i in doc["issued"]] == [ISSUED_KEYS] * 3
    assert [(i["kind"], i["name"], i["trigger"], i["at"]) for i in doc["issued"]] == [
        ("signal", "notice", "notice_before", iso("2025-10-12T00:00")),
        ("signal", "yellow_light", "yellow_light_at", iso("2025-10-12T00:00")),
        ("card", "yellow", "promised_passed", iso("2025-10-14T00:00")),
    ]
    assert {(i["case"], i["scope"], i["step"]) for i in doc["issued"]} == {(case_id, "step", "review")}

    code, out, _ = run(
        cli_db, capsys, "--now", "2025-10-14T00:01:00+08:00", "card", "list", "--format", "json"
    )
    cards = json.loads(out)
    assert code == 0 and [list(c) for c in cards] == [CARD_KEYS]
    (card,) = cards
    assert (card["color"], card["signal"], card["state"], card["scope"], card["issued_at"]) == (
        "yellow",
        "promised_passed",
        "open",
        "step",
        iso("2025-10-14T00:00"),
    )
    code, out, _ = run(
        cli_db, capsys, "card", "list", "--state", "open", "--case", case_id, "--format", "json"
    )
    assert [c["id"] for c in json.loads(out)] == [card["id"]]
    code, out, _ = run(cli_db, capsys, "card", "list", "--case", "other", "--format", "json")
    assert json.loads(out) == []

    code, out, err = run(
        cli_db,
        capsys,
        "--now",
        "2025-10-15T09:00:00+08:00",  # within the record's verify phase (DESIGN §9: 3 working days)
        "--format",
        "json",
        "card",
        "advance",
        card["id"],
        "--to",
        "verifying",
        "--note",
        "核查",
    )
    assert code == 0, err
    moved = json.loads(out)
    assert moved["state"] == "verifying" and moved["handler"] == "department"
    assert [r["to"] for r in moved["record"]] == ["open", "verifying"]
    code, _out, err = run(cli_db, capsys, "card", "advance", card["id"], "--to", "closed", "--note", "x")
    assert code == 2 and err.startswith("错误：") and "须给出结论" in err and err.count("\n") == 1
    code, out, err = run(
        cli_db,
        capsys,
        "--now",
        "2025-10-15T10:00:00+08:00",
        "card",
        "advance",
        card["id"],
        "--to",
        "closed",
        "--note",
        "误报",
        "--conclusion",
        "系统误报",
        "--format",
        "json",
    )
    assert code == 0 and json.loads(out)["conclusion"] == "系统误报"
    code, out, _ = run(cli_db, capsys, "card", "list", "--state", "open", "--format", "json")
    assert json.loads(out) == []
    code, out, _ = run(cli_db, capsys, "card", "list", "--state", "closed", "--format", "json")
    assert [c["state"] for c in json.loads(out)] == ["closed"]
    code, out, _ = run(cli_db, capsys, "card", "show", card["id"])
    assert code == 0 and "黄牌" in out and "系统误报" in out and "核查（3 个工作日）" in out
    code, _out, err = run(cli_db, capsys, "card", "advance", card["id"], "--to", "open", "--note", "x")
    assert code == 2  # not even a choice
    code, _out, err = run(cli_db, capsys, "card", "delete", card["id"])
    assert code == 2 and "没有命令 delete" in err


def test_cli_sweep_text_and_refusals(cli_db: str, capsys: pytest.CaptureFixture[str]) -> None:
    run(cli_db, capsys, "--now", "2025-09-29T10:00:00+08:00", "case", "start", "review_clock")
    code, out, _ = run(cli_db, capsys, "--now", "2025-10-12T01:00:00+08:00", "sla", "sweep")
    assert code == 0 and "到期提醒" in out and "到期前提醒" in out and "环节" in out
    assert out.rstrip().endswith("发出 2 项，滞后 1 小时") and "notice" not in out
    code, _out, err = run(cli_db, capsys, "--now", "2025-10-12T01:00:00+08:00", "sla", "sweep", "--loop")
    assert code == 2 and "--now" in err and "按实际时间运行" in err
    code, _out, err = run(cli_db, capsys, "sla", "sweep", "--interval", "3")
    assert code == 2 and "--interval 须与 --loop 一起使用" in err
