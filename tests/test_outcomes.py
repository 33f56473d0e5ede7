"""Case outcomes (issue 22, DESIGN §10): 不予受理, 不予许可, 撤回 and 退回.

Each is one transaction through the step lifecycle: the open steps close, their deadlines stop (an
issued card stands), the events reach the audit log and the outbox, and only §8's roles may do it
(a refused attempt changes nothing). The review fixture bundle: accept (amr) → tax (tax) and seal
(psb) in parallel → decide (amr).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from sqlalchemy import inspect, text

from helpers import ACCEPT, REVIEW_LIB, at, database, rows, simulation
from hennan_flow import Engine, PermissionDenied
from hennan_flow.cli import main
from hennan_flow.engine import SimulatedClock
from hennan_flow.engine.events import schema
from hennan_flow.errors import InputError, StateError

pytestmark = pytest.mark.enforce

START = at("2026-03-02T09:00")  # a Monday
DIRECTORY = """\
version = "outcomes-1"
[[department]]
code = "amr"
name = "衡南县市场监督管理局"
[[department]]
code = "tax"
name = "国家税务总局衡南县税务局"
[[department]]
code = "psb"
name = "衡南县公安局"
[[department]]
code = "zwfw"
name = "衡南县政务服务中心"
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
id = "amr-handler"
name = "李明"
departments = ["amr"]
roles = ["handler"]
[[user]]
id = "amr-head"
name = "张局"
departments = ["amr"]
roles = ["head"]
[[user]]
id = "tax-handler"
name = "赵税"
departments = ["tax"]
roles = ["handler"]
[[user]]
id = "tax-head"
name = "钱局"
departments = ["tax"]
roles = ["head"]
[[user]]
id = "psb-handler"
name = "孙警"
departments = ["psb"]
roles = ["handler"]
[[user]]
id = "supervisor"
name = "周正"
departments = ["zwfw"]
roles = ["supervisor"]
[[user]]
id = "admin"
name = "何运维"
departments = ["zwfw"]
roles = ["admin"]
"""
ACTORS = (
    "clerk",
    "portal",
    "amr-handler",
    "amr-head",
    "tax-handler",
    "tax-head",
    "psb-handler",
    "supervisor",
    "admin",
    "nobody",
    None,
)
KINDS_OF_OURS = ("case.", "task.")


@pytest.fixture
def sim(db_url: str, tmp_path: Path) -> Iterator[tuple[Engine, SimulatedClock]]:
    with simulation(db_url, REVIEW_LIB / "processes", START, forms=REVIEW_LIB / "forms") as (engine, clock):
        path = tmp_path / "dir.toml"
        path.write_text(DIRECTORY, encoding="utf-8")
        engine.load_directory(str(path))
        yield engine, clock


def started(engine: Engine) -> tuple[str, str]:
    case = engine.start_case(
        "review", applicant={"name": "张三", "id_number": "430422199001011234"}, actor="clerk"
    )
    return case.id, case.ready[0].id


def at_decide(engine: Engine) -> tuple[str, str]:
    """A case whose accept, tax and seal steps ran: decide is open."""
    case_id, accept = started(engine)
    split = engine.complete_task(accept, data=ACCEPT, actor="amr-handler")
    by_step = {t.step: t.id for t in split.ready}
    engine.complete_task(by_step["tax"], actor="tax-handler")
    (decide,) = engine.complete_task(by_step["seal"], actor="psb-handler").ready
    return case_id, decide.id


def dump(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    with database(engine).connect() as conn:
        return {
            table: sorted((tuple(r) for r in conn.execute(text(f"SELECT * FROM {table}"))), key=repr)
            for table in sorted(inspect(conn).get_table_names())
        }


def outbox(engine: Engine, case_id: str) -> list[tuple[str, dict[str, Any]]]:
    """The case's case and step events, each checked against its kind's shipped schema."""
    found = rows(engine, "SELECT type, payload FROM hf_outbox WHERE case_id = ? ORDER BY id", (case_id,))
    ours = [(t, json.loads(p)) for t, p in found if t.startswith(KINDS_OF_OURS)]
    for kind, payload in ours:
        jsonschema.Draft202012Validator(schema(kind)).validate(payload)
    return ours


def deadline_states(engine: Engine, case_id: str) -> list[tuple[str, bool]]:
    """(owner scope, closed) of the case's deadlines."""
    found = rows(
        engine, "SELECT scope, closed_at FROM hf_deadline WHERE case_id = ? ORDER BY scope", (case_id,)
    )
    return [(scope, closed is not None) for scope, closed in found]


def refused_for_all_but(engine: Engine, allowed: set[str], attempt: Any) -> None:
    """Every actor not allowed is refused (PermissionDenied) and changes nothing."""
    before = dump(engine)
    for actor in ACTORS:
        if actor in allowed:
            continue
        with pytest.raises(PermissionDenied):
            attempt(actor)
        assert dump(engine) == before, f"a refused attempt by {actor} changed the database"


# -- 不予受理 ------------------------------------------------------------------------------------


def test_acceptance_refusal_closes_the_first_step_and_is_the_lead_heads(
    sim: tuple[Engine, SimulatedClock],
) -> None:
    engine, clock = sim
    case_id, accept = started(engine)
    clock.set(at("2026-03-03T10:00"))
    refused_for_all_but(
        engine,
        {"amr-head"},
        lambda a: engine.refuse_case(case_id, stage="acceptance", reason="不属于本机关职权范围", actor=a),
    )
    shown = engine.refuse_case(case_id, stage="acceptance", reason="不属于本机关职权范围", actor="amr-head")
    assert shown.state == "refused" and shown.ended_at == at("2026-03-03T10:00")
    assert shown.outcome is not None
    assert shown.outcome["stage"] == "acceptance" and shown.outcome["reason"] == "不属于本机关职权范围"
    assert "remedy" not in shown.outcome
    assert shown.as_dict()["outcome"]["kind"] == "refused"
    assert engine.task(accept).state == "cancelled"
    assert engine.tasks(case=case_id) == [] or all(t.state == "cancelled" for t in engine.tasks(case=case_id))
    assert all(closed for _scope, closed in deadline_states(engine, case_id))
    kinds = [k for k, _ in outbox(engine, case_id)]
    assert kinds == ["case.started", "task.ready", "task.cancelled", "case.refused"]
    payloads = dict(outbox(engine, case_id))
    assert payloads["task.cancelled"]["outcome"] == "refused"
    assert (
        payloads["case.refused"]["stage"] == "acceptance" and payloads["case.refused"]["actor"] == "amr-head"
    )
    assert "不属于" not in json.dumps(outbox(engine, case_id), ensure_ascii=False)  # the reason stays sealed
    # the audit log holds codes: the reason text is in hf_outcome only
    audit = rows(engine, "SELECT detail FROM hf_event WHERE case_id = ?", (case_id,))
    assert not any("不属于" in d for (d,) in audit)
    with pytest.raises(StateError):  # once ended, nothing more
        engine.withdraw_case(case_id, reason="不办了", actor="clerk")


def test_acceptance_refusal_after_the_first_step_is_refused(sim: tuple[Engine, SimulatedClock]) -> None:
    engine, _clock = sim
    case_id, decide = at_decide(engine)
    before = dump(engine)
    with pytest.raises(StateError, match="已过第一个环节"):
        engine.refuse_case(case_id, stage="acceptance", reason="材料不全", actor="amr-head")
    with pytest.raises(InputError, match="basis"):  # 不予许可 needs its legal basis
        engine.refuse_case(case_id, stage="decision", reason="不符合条件", actor="amr-head")
    assert dump(engine) == before
    assert engine.task(decide).state == "ready"


# -- 不予许可 ------------------------------------------------------------------------------------


def test_decision_refusal_shows_the_remedy_stops_deadlines_and_cards_stand(
    sim: tuple[Engine, SimulatedClock],
) -> None:
    engine, clock = sim
    case_id, decide = at_decide(engine)
    clock.set(at("2026-03-20T10:00"))  # decide (promised 3 working days) is late by now
    swept = engine.sweep(timers=False)
    carded = [c for c in engine.cards(case=case_id) if c.task == decide]
    assert carded and swept.issued
    refused_for_all_but(
        engine,
        {"amr-head"},
        lambda a: engine.refuse_case(
            case_id, stage="decision", reason="经营场所不符合要求", basis="《食品安全法》第三十五条", actor=a
        ),
    )
    shown = engine.refuse_case(
        case_id,
        stage="decision",
        reason="经营场所不符合要求",
        basis="《食品安全法》第三十五条",
        actor="amr-head",
    )
    assert shown.state == "refused"
    outcome = shown.as_dict()["outcome"]
    assert outcome["stage"] == "decision" and outcome["basis"] == "《食品安全法》第三十五条"
    assert outcome["remedies"] == ["administrative_reconsideration", "administrative_litigation"]
    assert (
        "行政复议" in outcome["remedy"]
        and "行政诉讼" in outcome["remedy"]
        and "第三十八条" in outcome["remedy"]
    )
    assert engine.task(decide).state == "cancelled"
    assert all(closed for _scope, closed in deadline_states(engine, case_id))
    # the cards issued before stand, and nothing more is issued after
    assert [c.id for c in engine.cards(case=case_id) if c.task == decide] == [c.id for c in carded]
    clock.set(at("2026-04-30T10:00"))
    assert engine.sweep(timers=False).issued == ()
    (event,) = [p for k, p in outbox(engine, case_id) if k == "case.refused"]
    assert event["remedies"] == ["administrative_reconsideration", "administrative_litigation"]
    assert (event["task"], event["step"], event["department"]) == (decide, "decide", "amr")
    # the supervision figures: a refused case counts as refused, never late
    cases = next(b["cases"] for b in engine.supervision_report()["bundles"] if b["key"] == "review")
    assert cases is not None
    assert cases["cases"]["refused"] == 1 and cases["promised"]["late"] == 0


# -- 撤回 ----------------------------------------------------------------------------------------


def test_withdrawal_by_the_window_or_portal_closes_every_open_step(
    sim: tuple[Engine, SimulatedClock],
) -> None:
    engine, _clock = sim
    case_id, accept = started(engine)
    split = engine.complete_task(accept, data=ACCEPT, actor="amr-handler")
    paused = next(t for t in split.ready if t.step == "tax")
    engine.pause(paused.id, reason="supplement", actor="tax-handler")  # one of them paused
    refused_for_all_but(
        engine, {"clerk", "portal"}, lambda a: engine.withdraw_case(case_id, reason="申请人主动撤回", actor=a)
    )
    shown = engine.withdraw_case(case_id, reason="申请人主动撤回", actor="portal")
    assert shown.state == "withdrawn" and shown.outcome is not None and shown.outcome["actor"] == "portal"
    assert sorted(engine.task(t.id).state for t in split.ready) == ["cancelled", "cancelled"]
    assert rows(
        engine, "SELECT COUNT(*) FROM hf_pause WHERE case_id = ? AND ended_at IS NULL", (case_id,)
    ) == [(0,)]
    assert all(closed for _scope, closed in deadline_states(engine, case_id))
    kinds = [k for k, _ in outbox(engine, case_id)]
    assert kinds[-3:] == ["task.cancelled", "task.cancelled", "case.withdrawn"]
    assert [c.state for c in engine.cases(state="withdrawn")] == ["withdrawn"]


# -- 退回 ----------------------------------------------------------------------------------------


def test_return_to_an_earlier_step_runs_it_again_with_new_deadlines(
    sim: tuple[Engine, SimulatedClock],
) -> None:
    engine, clock = sim
    case_id, decide = at_decide(engine)
    first_accept = next(t for t in engine.tasks(case=case_id, state="completed") if t.step == "accept")
    clock.set(at("2026-03-04T10:00"))
    refused_for_all_but(
        engine,
        {"amr-handler"},
        lambda a: engine.return_task(decide, to="accept", reason="申请材料需重新核对", actor=a),
    )
    again = engine.return_task(decide, to="accept", reason="申请材料需重新核对", actor="amr-handler")
    assert again.step == "accept" and again.state == "ready" and again.id != first_accept.id
    assert again.ready_at == at("2026-03-04T10:00")
    assert (
        again.deadlines is not None
        and again.deadlines["promised_due"] != first_accept.deadlines["promised_due"]
    )  # type: ignore[index]
    assert engine.task(decide).state == "cancelled"
    assert engine.task(first_accept.id).state == "completed"  # the earlier instance stays as it was
    assert [t.step for t in engine.tasks(case=case_id)] == ["accept"]
    shown = engine.case(case_id)
    assert shown.state == "open"
    (returned,) = shown.as_dict()["returns"]
    assert (returned["step"], returned["to"], returned["reason"]) == (
        "decide",
        "accept",
        "申请材料需重新核对",
    )
    tail = outbox(engine, case_id)[-2:]
    assert [k for k, _ in tail] == ["task.returned", "task.ready"]
    assert tail[0][1]["to"] == "accept" and tail[0][1]["task"] == decide
    assert tail[1][1]["task"] == again.id and "deadline" in tail[1][1]
    # the case runs on from there to its end, its workflow read back from the database
    with Engine(database(engine).url.render_as_string(hide_password=False), clock=clock) as other:
        split = other.complete_task(again.id, data=ACCEPT, actor="amr-handler")
        by_step = {t.step: t.id for t in split.ready}
        assert sorted(by_step) == ["seal", "tax"]
        other.complete_task(by_step["tax"], actor="tax-handler")
        (decide2,) = other.complete_task(by_step["seal"], actor="psb-handler").ready
        assert decide2.id != decide
        other.complete_task(decide2.id, data={"needs_supplement": False}, actor="amr-handler")
        assert other.case(case_id).state == "completed"


def test_return_to_a_step_that_did_not_run_before_is_refused(sim: tuple[Engine, SimulatedClock]) -> None:
    engine, _clock = sim
    _case_id, decide = at_decide(engine)
    before = dump(engine)
    for never in ("supplement", "no_such_step", "decide"):
        with pytest.raises(InputError, match=r"没有在环节 .* 之前办理过"):
            engine.return_task(decide, to=never, reason="退回", actor="amr-handler")
    assert dump(engine) == before
    assert engine.task(decide).state == "ready"


def test_cli_outcomes_and_exit_codes(
    sim: tuple[Engine, SimulatedClock], capsys: pytest.CaptureFixture[str]
) -> None:
    engine, _clock = sim
    url = database(engine).url.render_as_string(hide_password=False)
    case_id, decide = at_decide(engine)

    def run(*argv: str) -> tuple[int, str, str]:
        capsys.readouterr()
        with pytest.raises(SystemExit) as info:
            main(["--db", url, *argv])
        out, err = capsys.readouterr()
        return int(info.value.code or 0), out, err

    code, _out, err = run(
        "task", "return", decide, "--to", "supplement", "--reason", "退回", "--actor", "amr-handler"
    )
    assert code == 2 and "之前办理过" in err and "Traceback" not in err
    code, _out, err = run("case", "withdraw", case_id, "--reason", "撤回", "--actor", "amr-handler")
    assert code == 4
    code, out, _err = run(
        "case", "refuse", case_id, "--stage", "decision", "--reason", "不符合条件", "--basis", "第三十五条",
        "--actor", "amr-head", "--format", "json",
    )  # fmt: skip
    assert code == 0 and json.loads(out)["state"] == "refused"
    code, out, _err = run("case", "show", case_id)
    assert code == 0 and "不予许可" in out and "行政复议" in out
    code, out, _err = run("case", "list", "--state", "refused", "--format", "json")
    assert code == 0 and [c["id"] for c in json.loads(out)] == [case_id]
