"""Identity and authority (DESIGN §8): every operation × every role against the table, refusals
change nothing, the red-card rules, claim races, and open mode on a simulation database.

The expected allowed sets below are written from the table in DESIGN §8, not read from the
permission module, so a wrong row in the module fails here.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import inspect, text

from helpers import CLOCK_BUNDLE, CLOCK_START, at, database, migrated, simulation
from hennan_flow import Engine, PermissionDenied
from hennan_flow.cli import main
from hennan_flow.engine import SimulatedClock
from hennan_flow.errors import ConflictError

pytestmark = pytest.mark.enforce

DIRECTORY = """\
version = "perm-1"
[[department]]
code = "amr"
name = "衡南县市场监督管理局"
superior = "hy-amr"
[[department]]
code = "tax"
name = "国家税务总局衡南县税务局"
superior = "hy-tax"
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
id = "portal"
name = "网上办"
departments = ["zwfw"]
roles = ["portal"]
[[user]]
id = "handler"
name = "李明"
departments = ["amr"]
roles = ["handler"]
[[user]]
id = "handler2"
name = "李二"
departments = ["amr"]
roles = ["handler"]
[[user]]
id = "head"
name = "张局"
departments = ["amr"]
roles = ["head"]
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
name = "陈复核"
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
name = "何运维"
departments = ["zwfw"]
roles = ["admin"]
[[user]]
id = "tax-handler"
name = "税务承办"
departments = ["tax"]
roles = ["handler"]
[[user]]
id = "tax-head"
name = "税务负责人"
departments = ["tax"]
roles = ["head"]
[[user]]
id = "retired"
name = "退休承办"
departments = ["amr"]
roles = ["handler", "head", "supervisor", "admin", "clerk"]
active = false
"""

ACTORS = (
    "clerk",
    "portal",
    "handler",
    "head",
    "supervisor",
    "reviewer",
    "other-reviewer",
    "discipline",
    "auditor",
    "admin",
    "tax-handler",
    "tax-head",
    "retired",
    "nobody",
    None,
)
RED_AT = "2025-10-17T08:00"  # the review step has its yellow and red cards (tests/test_supervision.py)


@dataclass
class World:
    engine: Engine
    clock: SimulatedClock
    path: Path


def fresh_case(w: World) -> tuple[str, str]:
    w.clock.set(CLOCK_START)
    case = w.engine.start_case("review_clock", actor="clerk")
    review = next(t for t in w.engine.tasks(case=case.id) if t.step == "review")
    return case.id, review.id


def carded(w: World) -> dict[str, str]:
    _case, task = fresh_case(w)
    w.clock.set(at(RED_AT))
    w.engine.sweep(timers=False)
    return {c.color: c.id for c in w.engine.cards(state="open") if c.task == task}


# each operation: (prepare → target, attempt(target, actor)); allowed actors from DESIGN §8's table
def _paused(w: World) -> str:
    _c, t = fresh_case(w)
    w.engine.pause(t, reason="supplement", actor="handler")
    return t


def _claimed(w: World) -> str:
    _c, t = fresh_case(w)
    w.engine.claim_task(t, actor="handler")
    return t


def _red_verifying(w: World) -> str:
    red = carded(w)["red"]
    w.engine.advance_card(red, to="verifying", note="核查", actor="supervisor")
    return red


def _yellow_verifying(w: World) -> str:
    yellow = carded(w)["yellow"]
    w.engine.advance_card(yellow, to="verifying", note="核查", actor="supervisor")
    return yellow


def _red_rectifying(w: World) -> str:
    red = _red_verifying(w)
    w.engine.advance_card(red, to="rectifying", note="整改", actor="supervisor")
    return red


def _red_reviewing(w: World) -> str:
    red = _red_rectifying(w)
    w.engine.advance_card(red, to="reviewing", note="整改完成", actor="head")
    return red


def _red_revisiting(w: World) -> str:
    red = _red_reviewing(w)
    w.engine.advance_card(red, to="revisiting", note="复核通过", actor="reviewer")
    w.engine.account_card(red, person="李明", measure="批评教育", note="超期", actor="supervisor")
    return red


def _referral(w: World) -> str:
    red = _red_rectifying(w)
    w.engine.account_card(red, person="李明", measure="移送纪检监察机关", note="多次超期", actor="supervisor")
    return w.engine.referrals(state="open", actor="discipline")[-1].id


def _ended(w: World) -> tuple[str, str]:
    c, t = fresh_case(w)
    w.engine.complete_task(t, actor="handler")
    return c, t


def _calendar(w: World) -> str:
    path = w.path / "cal.toml"
    path.write_text(
        'version = "perm-cal"\nreason = "县政府通知 闭馆一日"\nrest = ["2025-11-03"]\n', encoding="utf-8"
    )
    return str(path)


def _directory(w: World) -> str:
    path = w.path / "dir2.toml"
    path.write_text(DIRECTORY.replace('"perm-1"', '"perm-2"'), encoding="utf-8")
    return str(path)


Op = tuple[Callable[[World], Any], Callable[[World, Any, str | None], Any], set[str]]
OPS: dict[str, Op] = {
    "case.start": (
        lambda w: None,
        lambda w, _t, a: w.engine.start_case("review_clock", actor=a),
        {"clerk", "portal"},
    ),
    "task.claim": (lambda w: fresh_case(w)[1], lambda w, t, a: w.engine.claim_task(t, actor=a), {"handler"}),
    "task.release": (_claimed, lambda w, t, a: w.engine.release_task(t, actor=a), {"handler"}),
    "task.complete": (
        lambda w: fresh_case(w)[1],
        lambda w, t, a: w.engine.complete_task(t, actor=a),
        {"handler"},
    ),
    "task.complete (claimed)": (_claimed, lambda w, t, a: w.engine.complete_task(t, actor=a), {"handler"}),
    "task.pause supplement": (
        lambda w: fresh_case(w)[1],
        lambda w, t, a: w.engine.pause(t, reason="supplement", actor=a),
        {"handler"},
    ),
    "task.resume": (_paused, lambda w, t, a: w.engine.resume(t, actor=a), {"handler"}),
    "task.assign": (
        lambda w: fresh_case(w)[1],
        lambda w, t, a: w.engine.assign_task(t, to="handler2", actor=a),
        {"head"},
    ),
    "task.transfer": (
        lambda w: fresh_case(w)[1],
        lambda w, t, a: w.engine.transfer_task(t, to="tax", reason="职能划转", actor=a),
        {"head"},
    ),
    "task.extend": (
        lambda w: fresh_case(w)[1],
        lambda w, t, a: w.engine.extend(t, days=2, approver="张局", reason="现场核查", actor=a),
        {"head"},
    ),
    "task.pause special_procedure": (
        lambda w: fresh_case(w)[1],
        lambda w, t, a: w.engine.pause(t, reason="special_procedure", kind="expert_review", actor=a),
        {"head"},
    ),
    "task.pause suspended": (
        lambda w: fresh_case(w)[1],
        lambda w, t, a: w.engine.pause(t, reason="suspended", note="等待上级批复", actor=a),
        {"head"},
    ),
    "yellow record move": (
        lambda w: carded(w)["yellow"],
        lambda w, c, a: w.engine.advance_card(c, to="verifying", note="核查", actor=a),
        {"head", "supervisor"},
    ),
    "red record verification": (
        lambda w: carded(w)["red"],
        lambda w, c, a: w.engine.advance_card(c, to="verifying", note="核查", actor=a),
        {"supervisor"},
    ),
    "red record 系统误报": (
        _red_verifying,
        lambda w, c, a: w.engine.advance_card(c, to="closed", note="误报", conclusion="系统误报", actor=a),
        {"supervisor"},
    ),
    "yellow record 系统误报": (
        _yellow_verifying,
        lambda w, c, a: w.engine.advance_card(c, to="closed", note="误报", conclusion="系统误报", actor=a),
        {"supervisor"},
    ),
    "yellow record 不属实": (
        _yellow_verifying,
        lambda w, c, a: w.engine.advance_card(c, to="closed", note="核实", conclusion="不属实", actor=a),
        {"head", "supervisor"},
    ),
    "red record close": (
        _red_revisiting,
        lambda w, c, a: w.engine.advance_card(c, to="closed", note="回访满意", conclusion="属实", actor=a),
        {"supervisor"},
    ),
    "red record handover to review": (
        _red_rectifying,
        lambda w, c, a: w.engine.advance_card(c, to="reviewing", note="整改完成", actor=a),
        {"head"},
    ),
    "red record review passed": (
        _red_reviewing,
        lambda w, c, a: w.engine.advance_card(c, to="revisiting", note="复核通过", actor=a),
        {"reviewer"},
    ),
    "red record review sent back": (
        _red_reviewing,
        lambda w, c, a: w.engine.advance_card(c, to="rectifying", note="整改不到位", actor=a),
        {"reviewer"},
    ),
    "card.account": (
        _red_rectifying,
        lambda w, c, a: w.engine.account_card(c, person="李明", measure="诫勉谈话", note="超期", actor=a),
        {"supervisor"},
    ),
    "referral.read": (lambda w: _referral(w), lambda w, _r, a: w.engine.referrals(actor=a), {"discipline"}),
    "referral.outcome": (
        _referral,
        lambda w, r, a: w.engine.close_referral(r, outcome="给予党内警告处分", actor=a),
        {"supervisor", "discipline"},
    ),
    "review.add": (
        _ended,
        lambda w, ct, a: w.engine.add_review(ct[0], level=1, channel="window", task=ct[1], actor=a),
        {"clerk", "portal"},
    ),
    "deploy": (
        lambda w: None,
        lambda w, _t, a: w.engine.deploy(str(CLOCK_BUNDLE), actor=a),
        {"admin"},
    ),
    "calendar.load": (_calendar, lambda w, p, a: w.engine.load_calendar(p, actor=a), {"admin"}),
    "directory.load": (_directory, lambda w, p, a: w.engine.load_directory(p, actor=a), {"admin"}),
}


def dump(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, sorted: what a refused attempt must leave as it was."""
    db = database(engine)
    out = {}
    with db.connect() as conn:
        for table in sorted(inspect(conn).get_table_names()):
            out[table] = sorted((tuple(r) for r in conn.execute(text(f"SELECT * FROM {table}"))), key=repr)
    return out


@pytest.fixture
def world(db_url: str, tmp_path: Path) -> Iterator[World]:
    """A simulation database with the clock bundle and the directory above (so it enforces)."""
    with simulation(db_url, CLOCK_BUNDLE, CLOCK_START) as (engine, clock):
        path = tmp_path / "dir.toml"
        path.write_text(DIRECTORY, encoding="utf-8")
        engine.load_directory(str(path))
        yield World(engine, clock, tmp_path)


@pytest.mark.parametrize("operation", list(OPS))
def test_every_operation_by_every_role_against_the_table(world: World, operation: str) -> None:
    prepare, attempt, allowed = OPS[operation]
    target = prepare(world)
    before = dump(world.engine)
    refused = []
    for actor in ACTORS:
        if actor in allowed:
            continue
        with pytest.raises(PermissionDenied) as caught:
            attempt(world, target, actor)
        refused.append(actor)
        message = str(caught.value)
        if actor is not None:
            assert actor in message, message
        assert dump(world.engine) == before, f"{operation} refused for {actor} changed the database"
    assert len(refused) == len(ACTORS) - len(allowed)
    for actor in sorted(allowed):
        attempt(world, prepare(world), actor)  # each allowed actor on a target of its own


def test_the_message_names_actor_operation_and_what_is_needed(world: World) -> None:
    red = carded(world)["red"]
    with pytest.raises(PermissionDenied) as caught:
        world.engine.advance_card(red, to="verifying", note="核查", actor="tax-handler")
    message = str(caught.value)
    assert (
        "tax-handler（税务承办）" in message and "红牌核查" in message and "电子监察（supervisor）" in message
    )
    _c, task = fresh_case(world)
    with pytest.raises(PermissionDenied) as caught:
        world.engine.extend(task, days=1, approver="x", reason="y", actor="handler")
    assert "需要amr 部门的 负责人（head） 角色" in str(caught.value).replace("需要 ", "需要")


def test_a_department_of_its_own_never_concludes_or_closes_its_red_card(world: World) -> None:
    red = carded(world)["red"]
    for actor in ("head", "amr-supervisor", "handler"):
        with pytest.raises(PermissionDenied):
            world.engine.advance_card(red, to="verifying", note="核查", actor=actor)
    with pytest.raises(PermissionDenied, match="被亮牌部门 amr"):
        world.engine.advance_card(red, to="verifying", note="核查", actor="amr-supervisor")
    world.engine.advance_card(red, to="verifying", note="核查", actor="supervisor")
    with pytest.raises(PermissionDenied, match="被亮牌部门 amr"):
        world.engine.advance_card(
            red, to="closed", note="误报", conclusion="系统误报", actor="amr-supervisor"
        )
    closed = world.engine.advance_card(
        red, to="closed", note="误报", conclusion="系统误报", actor="supervisor"
    )
    assert closed.state == "closed"


def test_the_reviewer_of_the_superior_holds_the_review_row_and_another_does_not() -> None:
    from hennan_flow.identity.directory import parse_directory
    from hennan_flow.identity.permissions import authorize

    d = parse_directory(DIRECTORY, "d.toml")
    assert authorize(d, "reviewer", "card.red.review", department="amr").role == "reviewer"
    with pytest.raises(PermissionDenied, match="hy-amr 部门的 上级复核"):
        authorize(d, "other-reviewer", "card.red.review", department="amr")
    with pytest.raises(PermissionDenied):
        authorize(d, "head", "card.red.review", department="amr")
    assert authorize(d, "head", "card.red.handover", department="amr").role == "head"


def test_a_claimed_step_is_completed_only_by_its_claimant_and_queues_by_user(world: World) -> None:
    _c, task = fresh_case(world)
    world.engine.claim_task(task, actor="handler")
    assert [t.id for t in world.engine.tasks(assignee="handler")] == [task]
    assert world.engine.tasks(assignee="handler2") == []
    with pytest.raises(PermissionDenied, match="已由 handler 认领"):
        world.engine.complete_task(task, actor="handler2")
    with pytest.raises(ConflictError, match=r"已由 handler.* 认领"):
        world.engine.claim_task(task, actor="handler2")
    world.engine.assign_task(task, to="handler2", actor="head")
    done = world.engine.complete_task(task, actor="handler2")
    events = [(e.type, e.actor, e.role) for e in world.engine.case(done.case).events]
    assert ("task.claimed", "handler", "handler") in events
    assert ("task.assigned", "head", "head") in events
    assert ("task.completed", "handler2", "handler") in events
    assert ("case.started", "clerk", "clerk") in events


def test_transfer_moves_the_step_keeps_its_deadlines_and_writes_the_outbox(world: World) -> None:
    _c, task = fresh_case(world)
    before = world.engine.task(task).deadlines
    moved = world.engine.transfer_task(task, to="tax", reason="职能划转", actor="head")
    assert moved.department == "tax"
    assert world.engine.task(task).deadlines == before
    assert [t.id for t in world.engine.tasks(department="tax")] == [task]
    assert [t.id for t in world.engine.tasks(department="tax", actor="handler")] == []
    assert [t.id for t in world.engine.tasks(department="tax", actor="tax-handler")] == [task]
    events = [e for e in world.engine.events(limit=1000) if e.type == "task.transferred"]
    assert [(e.payload["from"], e.payload["to"]) for e in events] == [("amr", "tax")]
    _c, other = fresh_case(world)
    with pytest.raises(Exception, match="不属于本县"):
        world.engine.transfer_task(other, to="hy-amr", reason="x", actor="head")
    with pytest.raises(Exception, match="不在部门与人员目录中"):
        world.engine.transfer_task(other, to="nowhere", reason="x", actor="head")
    world.engine.complete_task(task, actor="tax-handler")  # the receiving department works it


def test_two_handlers_claiming_at_once_exactly_one_wins(postgres: Any, tmp_path: Path) -> None:
    url = postgres.create_database()
    with simulation(url, CLOCK_BUNDLE, CLOCK_START) as (engine, clock):
        path = tmp_path / "dir.toml"
        path.write_text(DIRECTORY, encoding="utf-8")
        engine.load_directory(str(path))
        w = World(engine, clock, tmp_path)
        for _trial in range(50):
            _c, task = fresh_case(w)
            barrier = threading.Barrier(2)
            results: dict[str, str] = {}

            def claim(
                actor: str,
                task: str = task,
                barrier: threading.Barrier = barrier,
                results: dict[str, str] = results,
            ) -> None:
                barrier.wait()
                try:
                    engine.claim_task(task, actor=actor)
                    results[actor] = "won"
                except ConflictError:
                    results[actor] = "conflict"

            threads = [threading.Thread(target=claim, args=(a,)) for a in ("handler", "handler2")]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            assert sorted(results.values()) == ["conflict", "won"], results
            winner = next(a for a, r in results.items() if r == "won")
            assert engine.task(task).assignee == winner


def test_open_mode_only_on_a_simulation_database_without_a_directory(sqlite_url: str, tmp_path: Path) -> None:
    migrated(sqlite_url)  # production
    with Engine(sqlite_url) as engine:
        with pytest.raises(PermissionDenied, match="尚未载入部门与人员目录") as caught:
            engine.deploy(str(CLOCK_BUNDLE))
        assert caught.value.hint is not None and "directory load" in caught.value.hint
        path = tmp_path / "dir.toml"
        path.write_text(DIRECTORY, encoding="utf-8")
        engine.load_directory(str(path))  # the first load needs no actor
        with pytest.raises(PermissionDenied, match="需要操作人"):
            engine.deploy(str(CLOCK_BUNDLE))
        engine.deploy(str(CLOCK_BUNDLE), actor="admin")
    sim = f"sqlite:///{tmp_path / 'sim.db'}"
    with simulation(sim, CLOCK_BUNDLE, CLOCK_START) as (engine, _clock):
        case = engine.start_case("review_clock")  # open: no actor, no checks
        engine.complete_task(engine.tasks(case=case.id)[0].id, actor="anyone")


def test_cli_refusal_exits_4_with_the_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    url = migrated(f"sqlite:///{tmp_path / 'p.db'}")
    path = tmp_path / "dir.toml"
    path.write_text(DIRECTORY, encoding="utf-8")
    for args, code in (
        (["deploy", str(CLOCK_BUNDLE)], 4),
        (["directory", "load", str(path)], 0),
        (["deploy", str(CLOCK_BUNDLE), "--actor", "handler"], 4),
    ):
        with pytest.raises(SystemExit) as done:
            main(["--db", url, *args])
        assert done.value.code == code, capsys.readouterr()
    err = capsys.readouterr().err
    assert "handler（李明）不能「部署流程」" in err and "管理员（admin）" in err
    monkeypatch.setenv("HENNAN_FLOW_ACTOR", "admin")
    with pytest.raises(SystemExit) as done:
        main(["--db", url, "deploy", str(CLOCK_BUNDLE)])
    assert done.value.code == 0


def test_given_an_actor_lists_hold_what_that_actor_may_read(world: World) -> None:
    case, task = fresh_case(world)
    world.engine.transfer_task(task, to="tax", reason="职能划转", actor="head")
    assert [c.id for c in world.engine.cases(actor="clerk")] == [case]  # the cases they started
    assert [c.id for c in world.engine.cases(actor="tax-handler")] == [case]  # a step in their department
    assert world.engine.cases(actor="portal") == []
    assert [c.id for c in world.engine.cases(actor="auditor")] == [case]  # reads everything
    assert [t.id for t in world.engine.tasks(actor="auditor")] == [task]
    assert world.engine.tasks(actor="handler") == []
    for stranger in ("nobody", "retired"):
        with pytest.raises(PermissionDenied):
            world.engine.tasks(actor=stranger)


def test_given_an_actor_cards_and_events_hold_what_that_actor_may_read(world: World) -> None:
    cards = carded(world)  # the yellow and red card of the amr review step of a case the clerk started
    case = world.engine.card(cards["red"]).case
    everything, every_card = world.engine.events(limit=1000), {c.id for c in world.engine.cards()}
    assert len(everything) > 3 and set(cards.values()) <= every_card
    for reader in ("clerk", "handler", "reviewer", "auditor", "supervisor"):  # reviewer: of amr's superior
        assert {c.id for c in world.engine.cards(actor=reader)} == every_card, reader
        assert world.engine.card(cards["red"], actor=reader).id == cards["red"]
        seen = world.engine.events(limit=1000, actor=reader)
        assert {e.case for e in seen} == {case}, reader
        assert {e.id for e in seen} >= {e.id for e in everything if e.case == case}, reader
    assert world.engine.events(limit=1000, actor="auditor") == everything  # reads everything
    for stranger in ("tax-handler", "portal", "other-reviewer"):
        assert world.engine.cards(actor=stranger) == [], stranger
        assert world.engine.events(limit=1000, actor=stranger) == [], stranger
        with pytest.raises(PermissionDenied, match=f"{stranger} 不能读取办件"):
            world.engine.card(cards["red"], actor=stranger)


def test_the_sweeper_acts_as_the_system(world: World) -> None:
    carded(world)
    (case,) = world.engine.cases(state="open")
    issued = [(e.actor, e.role) for e in world.engine.case(case.id).events if e.type == "card.issued"]
    assert issued and set(issued) == {("system", "system")}
