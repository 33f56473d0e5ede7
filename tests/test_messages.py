"""Delivering a BPMN message to a waiting case (issue 26): `Engine.deliver_message`, `case message`.

The fixture bundle waits, after its first step, at a message catch event `result_arrives` (message
`remote_result`, with a form) in the lane of department amr; the case then goes on to `hand_over`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from helpers import FIXTURES, START, iso, run_cli, simulation
from hennan_flow import Engine, FormDataError, InputError, PermissionDenied
from hennan_flow.cli import main
from hennan_flow.engine import SimulatedClock
from test_permissions import DIRECTORY, dump

BUNDLE = FIXTURES / "messages" / "processes"
FORMS = FIXTURES / "messages" / "forms"
WINDOW_HANDLER = '[[user]]\nid = "window"\nname = "赵窗"\ndepartments = ["zwfw"]\nroles = ["handler"]\n'
RESULT = {"outcome": "准予", "result_no": "粤穗政务〔2026〕12号"}


@pytest.fixture
def sim(db_url: str) -> Iterator[tuple[Engine, SimulatedClock]]:
    with simulation(db_url, BUNDLE, START, forms=FORMS) as sim:
        yield sim


def waiting_case(engine: Engine) -> str:
    """A case that has done its first step and now waits for `remote_result`."""
    case = engine.start_case("remote", actor="clerk")
    [task] = engine.tasks(case=case.id)
    engine.complete_task(task.id, data={"matter": "异地户籍迁移"}, actor="window")
    assert engine.tasks(case=case.id) == []
    return case.id


def test_a_delivered_message_moves_the_case_on_with_its_data_audited_and_published(
    sim: tuple[Engine, SimulatedClock],
) -> None:
    engine, clock = sim
    case_id = waiting_case(engine)
    clock.advance(hours=2)
    ready = engine.deliver_message(case_id, "remote_result", RESULT, actor="portal-1")
    assert [t.step for t in ready] == ["hand_over"]
    assert ready == tuple(engine.tasks(case=case_id))
    assert ready[0].deadlines is not None  # the next step starts its clock when the message arrives
    data = engine.case_data(case_id)
    assert data["outcome"] == "准予" and data["result_no"] == RESULT["result_no"]
    [event] = [e for e in engine.case(case_id).events if e.type == "message.delivered"]
    assert event.step == "result_arrives" and event.actor == "portal-1"
    assert event.detail == {
        "message": "remote_result",
        "element": "result_arrives",
        "fields": ["outcome", "result_no"],
    }
    [out] = [e for e in engine.events() if e.type == "message.delivered"]
    assert out.case == case_id and out.ref == "result_arrives"
    assert out.payload["department"] == "amr" and out.payload["key"] == "remote"
    assert "准予" not in json.dumps(out.payload, ensure_ascii=False)  # ids and codes, never the data
    # the case then runs to its end
    engine.complete_task(ready[0].id, data={"delivery": "邮寄"}, actor="clerk")
    assert engine.case(case_id).state == "completed"


def test_a_message_no_element_waits_for_is_refused_and_changes_nothing(
    sim: tuple[Engine, SimulatedClock],
) -> None:
    engine, _clock = sim
    case = engine.start_case("remote", actor="clerk")
    before = dump(engine)
    with pytest.raises(InputError) as early:  # not yet waiting: the first step is still open
        engine.deliver_message(case.id, "remote_result", RESULT)
    assert early.value.exit_code == 2 and "不等待任何消息" in (early.value.hint or "")
    assert dump(engine) == before
    case_id = waiting_case(engine)
    before = dump(engine)
    with pytest.raises(InputError) as wrong:
        engine.deliver_message(case_id, "third_party_opinion", {})
    assert "third_party_opinion" in str(wrong.value) and "remote_result" in (wrong.value.hint or "")
    assert dump(engine) == before


def test_message_data_is_checked_against_the_waiting_elements_form(
    sim: tuple[Engine, SimulatedClock],
) -> None:
    engine, _clock = sim
    case_id = waiting_case(engine)
    before = dump(engine)
    with pytest.raises(FormDataError) as info:
        engine.deliver_message(case_id, "remote_result", {"outcome": "也许", "nickname": "小李"})
    assert {f.field for f in info.value.fields} == {"/outcome", "/nickname"}
    assert dump(engine) == before
    with pytest.raises(InputError):  # bounded like all case data, form or not
        engine.deliver_message(case_id, "remote_result", {"outcome": "准予", "x": 10**30})
    with pytest.raises(InputError):
        engine.deliver_message(case_id, "remote_result", ["准予"])  # type: ignore[arg-type]
    assert dump(engine) == before
    assert [t.step for t in engine.deliver_message(case_id, "remote_result", {"outcome": "不予"})] == [
        "hand_over"
    ]


@pytest.mark.enforce
def test_who_may_deliver_a_message(sim: tuple[Engine, SimulatedClock], tmp_path: Path) -> None:
    """§8 message.deliver: the portal's service account, or a handler of the waiting element's department."""
    engine, _clock = sim
    path = tmp_path / "dir.toml"
    path.write_text(DIRECTORY + WINDOW_HANDLER, encoding="utf-8")
    engine.load_directory(str(path))
    case_id = waiting_case(engine)
    before = dump(engine)
    # the window's own handler is of zwfw, not of amr whose lane the catch event is in
    for actor in ("clerk", "window", "head", "supervisor", "admin", "auditor", "tax-handler", None):
        with pytest.raises(PermissionDenied) as refused:
            engine.deliver_message(case_id, "remote_result", RESULT, actor=actor)
        assert refused.value.exit_code == 4
    assert dump(engine) == before
    assert engine.deliver_message(case_id, "remote_result", RESULT, actor="handler")
    second = waiting_case(engine)
    assert engine.deliver_message(second, "remote_result", RESULT, actor="portal")
    roles = [e.role for e in engine.case(second).events if e.type == "message.delivered"]
    assert roles == ["portal"]


def test_case_message_on_the_command_line(db_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    with simulation(db_url, BUNDLE, START, forms=FORMS) as (engine, _clock):
        case_id = waiting_case(engine)
    now = iso("2026-03-02T14:00")
    code, out, err = run_cli(
        db_url, capsys, "case", "message", case_id, "--name", "nope", "--data", "{}", now=now
    )
    assert code == 2 and "nope" in err and "Traceback" not in err
    code, out, _err = run_cli(
        db_url,
        capsys,
        "--format",
        "json",
        "case",
        "message",
        case_id,
        "--name",
        "remote_result",
        "--data",
        json.dumps(RESULT, ensure_ascii=False),
        "--actor",
        "portal-1",
        now=now,
    )
    assert code == 0, out
    shown = json.loads(out)
    assert shown["message"] == "remote_result" and [t["step"] for t in shown["ready"]] == ["hand_over"]
    code, out, _err = run_cli(db_url, capsys, "case", "show", case_id, now=now)
    assert code == 0 and "收到消息" in out


def test_a_form_on_a_message_catch_is_validated_like_a_steps(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = (BUNDLE / "remote.bpmn").read_text(encoding="utf-8")
    bad = tmp_path / "processes" / "remote.bpmn"
    bad.parent.mkdir()
    bad.write_text(text.replace('ref="remote/result"', 'ref="remote/missing"'), encoding="utf-8")
    with pytest.raises(SystemExit) as info:
        main(["validate", "--forms", str(FORMS), str(bad)])
    assert info.value.code == 1
    out = capsys.readouterr().out
    assert "HF-FORM" in out and 'element "result_arrives"' in out and "remote/missing" in out
    # on an element that waits for no message, hf:form is still misplaced
    bad.write_text(
        text.replace(
            '<bpmn:endEvent id="end"/>',
            '<bpmn:endEvent id="end"><bpmn:extensionElements>'
            '<hf:form ref="remote/result"/></bpmn:extensionElements></bpmn:endEvent>',
        ),
        encoding="utf-8",
    )
    with pytest.raises(SystemExit):
        main(["validate", "--forms", str(FORMS), str(bad)])
    assert "HF-PLACEMENT" in capsys.readouterr().out


def test_a_receive_task_waits_for_its_message_like_a_catch_event(db_url: str) -> None:
    with simulation(db_url, FIXTURES / "messages" / "receive", START, forms=FORMS) as (engine, _clock):
        case_id = waiting_case(engine)
        with pytest.raises(FormDataError):  # its hf:form holds as on the catch event
            engine.deliver_message(case_id, "remote_result", {"outcome": "也许"})
        [ready] = engine.deliver_message(case_id, "remote_result", RESULT, actor="portal-1")
        assert ready.step == "hand_over" and engine.case_data(case_id)["outcome"] == "准予"
