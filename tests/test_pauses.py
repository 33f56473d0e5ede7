"""Bounded pauses (issue 20, DESIGN §7): declared special procedures, their overrun, suspensions past
the county's limit, the 未一次告知 card of a repeated supplement, and the 一次性告知 a supplement carries."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from helpers import FIXTURES, at, rows, run_cli, simulation
from hennan_flow.engine import Engine, SimulatedClock
from hennan_flow.errors import InputError

BUNDLE = FIXTURES / "pauses" / "processes"
START = at("2026-03-02T09:00")  # Monday


@pytest.fixture
def sim(tmp_path: Path) -> Iterator[tuple[Engine, SimulatedClock]]:
    with simulation(f"sqlite:///{tmp_path / 'sim.db'}", BUNDLE, START) as sim:
        yield sim


def review_of(engine: Engine) -> tuple[str, str]:
    """(case id, review task id) of a new case."""
    case = engine.start_case("pauses")
    (review,) = engine.tasks(case=case.id)
    return case.id, review.id


def fired(engine: Engine, trigger: str) -> list[tuple[str, str]]:
    """(state, due instant) of the stored signals with this trigger."""
    return [
        (s, str(d))
        for s, d in rows(engine, "SELECT state, due_at FROM hf_signal WHERE trigger = ?", (trigger,))
    ]


def test_a_special_procedure_must_name_a_declared_kind(sim: tuple[Engine, SimulatedClock]) -> None:
    engine, _ = sim
    case_id, review = review_of(engine)
    with pytest.raises(InputError) as refused:
        engine.pause(review, reason="special_procedure", kind="site_survey")
    assert "expert_review" in str(refused.value) and "site_survey" in str(refused.value)
    with pytest.raises(InputError, match="须指明 --kind；已声明的种类：expert_review"):
        engine.pause(review, reason="special_procedure")
    assert engine.task(review).state == "ready"  # nothing changed
    engine.complete_task(review)
    (decide,) = engine.tasks(case=case_id)
    with pytest.raises(InputError, match="没有声明特别程序"):
        engine.pause(decide.id, reason="special_procedure", kind="expert_review")
    assert rows(engine, "SELECT count(*) FROM hf_pause") == [(0,)]


def test_cli_refuses_an_undeclared_kind_with_exit_2_listing_the_declared(
    sim: tuple[Engine, SimulatedClock], capsys: pytest.CaptureFixture[str]
) -> None:
    engine, _ = sim
    _, review = review_of(engine)
    code, out, err = run_cli(
        engine.url,
        capsys,
        "task",
        "pause",
        review,
        "--reason",
        "special_procedure",
        "--kind",
        "x",
        now="2026-03-02T10:00:00+08:00",
    )
    assert code == 2 and "expert_review" in err and "Traceback" not in err
    code, out, _ = run_cli(
        engine.url,
        capsys,
        "--format",
        "json",
        "task",
        "pause",
        review,
        "--reason",
        "special_procedure",
        "--kind",
        "expert_review",
        now="2026-03-02T10:00:00+08:00",
    )
    assert code == 0
    assert json.loads(out)["pause"]["kind"] == "expert_review"


def test_a_special_procedure_past_its_limit_fires_once_and_its_time_counts_from_the_limit(
    sim: tuple[Engine, SimulatedClock],
) -> None:
    engine, clock = sim
    _, review = review_of(engine)
    before = engine.task(review).deadlines
    assert before is not None and before["promised_due"] == "2026-03-10T00:00:00+08:00"  # Mon + 5 wd
    clock.set(at("2026-03-03T10:00"))  # Tue: expert review, 3 working days (Tue, Wed, Thu)
    paused = engine.pause(review, reason="special_procedure", kind="expert_review", actor="clerk")
    assert paused.pause is not None and paused.pause["limit_at"] == "2026-03-06T00:00:00+08:00"

    clock.set(at("2026-03-05T12:00"))  # inside the limit: nothing fires
    assert [i.trigger for i in engine.sweep().issued] == []

    clock.set(at("2026-03-16T09:00"))  # still paused a week past the limit
    issued = engine.sweep().issued
    assert [i.trigger for i in issued if i.trigger == "special_procedure_overrun"] == [
        "special_procedure_overrun"
    ]
    # from the limit on the time counts: 3 working days left out, promised Mon 03-09 → Thu 03-12,
    # and the promised-deadline yellow card comes due then, although the step is still paused
    after = engine.task(review)
    assert after.state == "paused" and after.pause is not None and after.pause["overrun"] is True
    assert after.deadlines is not None and after.deadlines["promised_due"] == "2026-03-13T00:00:00+08:00"
    issued += engine.sweep().issued
    yellow = [i for i in issued if i.kind == "card"]
    assert [(i.name, i.trigger) for i in yellow] == [("yellow", "promised_passed")]
    assert yellow[0].at == at("2026-03-13T00:00")

    clock.set(at("2026-03-20T09:00"))  # resumed later: still only the 3 declared days are left out
    assert "special_procedure_overrun" not in {i.trigger for i in engine.sweep().issued}
    resumed = engine.resume(review, actor="clerk")
    assert resumed.deadlines is not None and resumed.deadlines["promised_due"] == "2026-03-13T00:00:00+08:00"
    assert len(fired(engine, "special_procedure_overrun")) == 1
    assert fired(engine, "special_procedure_overrun")[0][0] == "fired"


def test_a_special_procedure_resumed_in_time_fires_nothing_and_counts_its_days(
    sim: tuple[Engine, SimulatedClock],
) -> None:
    engine, clock = sim
    _, review = review_of(engine)
    clock.set(at("2026-03-03T10:00"))
    engine.pause(review, reason="special_procedure", kind="expert_review")
    clock.set(at("2026-03-05T10:00"))  # Thu: two working days (Tue, Wed) paused
    resumed = engine.resume(review)
    assert resumed.deadlines is not None and resumed.deadlines["promised_due"] == "2026-03-12T00:00:00+08:00"
    clock.set(at("2026-03-06T10:00"))
    assert [i.trigger for i in engine.sweep().issued] == []
    assert [s for s, _ in fired(engine, "special_procedure_overrun")] == ["cancelled"]


def test_a_suspension_needs_a_note_and_past_the_county_limit_fires_suspension_overrun(
    sim: tuple[Engine, SimulatedClock],
) -> None:
    engine, clock = sim
    _, review = review_of(engine)
    with pytest.raises(InputError, match="--note"):
        engine.pause(review, reason="suspended")
    clock.set(at("2026-03-02T10:00"))
    paused = engine.pause(review, reason="suspended", note="等待司法裁决", actor="head")
    # 20 working days from Mon 03-02: 03-02 … Fri 03-27, passed at its end
    assert paused.pause is not None and paused.pause["limit_at"] == "2026-03-28T00:00:00+08:00"
    assert paused.pause["note"] == "等待司法裁决"
    clock.set(at("2026-03-27T18:00"))
    assert [i.trigger for i in engine.sweep().issued if i.task == review] == []
    clock.set(at("2026-03-31T09:00"))
    issued = [i for i in engine.sweep().issued if i.task == review]
    assert [(i.kind, i.trigger) for i in issued] == [("signal", "suspension_overrun")]
    assert [i for i in engine.sweep().issued if i.task == review] == []  # exactly once
    # a suspension past the limit still stops the step's clock: no card keys off its deadline
    assert engine.task(review).deadlines["paused"] is True  # type: ignore[index]


def test_a_second_supplement_issues_one_repeated_supplement_yellow_card(
    sim: tuple[Engine, SimulatedClock],
) -> None:
    engine, clock = sim
    case_id, review = review_of(engine)
    for day in ("03", "04", "05"):  # three 补正 in a row on one step instance
        clock.set(at(f"2026-03-{day}T10:00"))
        engine.pause(review, reason="supplement", notice="补正材料", actor="clerk")
        clock.set(at(f"2026-03-{day}T11:00"))
        engine.resume(review, actor="clerk")
    cards = engine.cards()
    assert [(c.color, c.signal, c.task) for c in cards] == [("yellow", "repeated_supplement", review)]
    assert cards[0].issued_at == at("2026-03-04T10:00")
    # the promised-deadline yellow card of the same step instance is still issued when due
    clock.set(at("2026-03-20T09:00"))
    engine.sweep()
    triggers = sorted(c.signal for c in engine.cards() if c.task == review and c.color == "yellow")
    assert triggers == ["promised_passed", "repeated_supplement"]
    assert engine.case(case_id).state == "open"


def test_a_supplement_carries_its_notice_into_task_timeline_and_form(
    sim: tuple[Engine, SimulatedClock], capsys: pytest.CaptureFixture[str]
) -> None:
    engine, clock = sim
    case_id, review = review_of(engine)
    with pytest.raises(InputError) as refused:
        engine.pause(review, reason="supplement", materials=["id_card"])
    assert "site_plan" in (refused.value.hint or "") and "lease" in (refused.value.hint or "")
    with pytest.raises(InputError, match="supplement"):
        engine.pause(review, reason="suspended", note="x", notice="补正")
    with pytest.raises(InputError, match=r"补正告知 长 5,000 个字符；最多 [0-9,]+ 个"):
        engine.pause(review, reason="supplement", notice="长" * 5000)
    clock.set(at("2026-03-03T10:00"))
    paused = engine.pause(
        review, reason="supplement", notice="平面图未标注消防通道", materials=["site_plan"], actor="clerk"
    )
    assert paused.pause is not None
    assert (paused.pause["notice"], paused.pause["materials"]) == ("平面图未标注消防通道", ["site_plan"])
    assert engine.task(review).as_dict()["pause"]["notice"] == "平面图未标注消防通道"
    [event] = [e for e in engine.case(case_id).events if e.type == "task.paused"]
    assert event.detail == {
        "reason": "supplement",
        "notice": "平面图未标注消防通道",
        "materials": ["site_plan"],
    }
    page = engine.render_form(review)
    assert "平面图未标注消防通道" in page and "场地平面图" in page
    code, out, _ = run_cli(engine.url, capsys, "case", "show", case_id, now="2026-03-03T11:00:00+08:00")
    assert code == 0 and "平面图未标注消防通道" in out


def test_task_list_shows_paused_steps_by_default_and_filters_by_state(
    sim: tuple[Engine, SimulatedClock], capsys: pytest.CaptureFixture[str]
) -> None:
    engine, _ = sim
    _, ready = review_of(engine)
    _, paused = review_of(engine)
    engine.pause(paused, reason="supplement", notice="补正")
    now = "2026-03-02T10:00:00+08:00"

    def listed(*args: str) -> list[tuple[str, str]]:
        code, out, _ = run_cli(engine.url, capsys, "--format", "json", "task", "list", *args, now=now)
        assert code == 0
        return [(t["id"], t["state"]) for t in json.loads(out)]

    assert sorted(listed()) == sorted([(ready, "ready"), (paused, "paused")])
    assert listed("--state", "ready") == [(ready, "ready")]
    assert listed("--state", "paused") == [(paused, "paused")]
    code, out, _ = run_cli(engine.url, capsys, "task", "list", now=now)
    assert code == 0 and "暂停" in out and paused in out


def test_task_show_gives_department_state_deadlines_form_materials_and_pause(
    sim: tuple[Engine, SimulatedClock], capsys: pytest.CaptureFixture[str]
) -> None:
    engine, _ = sim
    case_id, review = review_of(engine)
    now = "2026-03-03T10:00:00+08:00"
    code, out, _ = run_cli(
        engine.url, capsys, "task", "pause", review, "--reason", "supplement",
        "--notice", "平面图未标注消防通道", "--material", "site_plan", now=now,
    )  # fmt: skip
    assert code == 0
    code, out, _ = run_cli(engine.url, capsys, "--format", "json", "task", "show", review, now=now)
    assert code == 0
    doc = json.loads(out)
    assert (doc["id"], doc["case"], doc["state"], doc["department"]) == (review, case_id, "paused", "amr")
    assert doc["department_name"] == "县市场监督管理局" and doc["form"] is None
    assert [m["id"] for m in doc["materials"]] == ["site_plan", "lease"]
    assert doc["deadlines"]["promised_due"] == "2026-03-10T00:00:00+08:00" and "pending" in doc["deadlines"]
    assert doc["pause"]["notice"] == "平面图未标注消防通道" and doc["pause"]["materials"] == ["site_plan"]
    code, out, _ = run_cli(engine.url, capsys, "task", "show", review, now=now)
    assert code == 0
    for shown in (
        "县市场监督管理局（amr）",
        "暂停",
        "承诺期限",
        "场地平面图（site_plan，必交）",
        "补正告知 平面图未标注消防通道",
        "补正材料 场地平面图",
    ):
        assert shown in out, shown
    code, _, err = run_cli(engine.url, capsys, "task", "show", "nope", now=now)
    assert code == 2 and "nope" in err
