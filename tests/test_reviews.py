"""好差评 (issue 10): reviews of cases and steps, and the rectification record of a bad one.

enterprise_opening (lead department amr; its step `register` is amr's). Cases start Monday
2026-03-02 09:00 Shanghai; no holiday falls in March 2026. A bad review opens 核实 (1 working day),
then 整改 (5 or 15 working days after the verification), then 反馈 (1 working day after that).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date, datetime
from importlib import resources

import pytest
from jsonschema import Draft202012Validator

from helpers import FORMS, START, at, simulation
from helpers import OPENING as BUNDLE
from helpers import OPENING_WALK as WALK
from helpers import run_cli as run
from hennan_flow.engine import Engine, SimulatedClock
from hennan_flow.engine.events import schema
from hennan_flow.errors import InputError, NotFoundError, StateError

APPLICANT = {"name": "李湘南", "id_number": "430422199001011234"}


@pytest.fixture
def sim(db_url: str) -> Iterator[tuple[Engine, SimulatedClock]]:
    with simulation(db_url, BUNDLE, START, forms=FORMS) as sim:
        yield sim


@pytest.fixture
def lite(sqlite_url: str) -> Iterator[tuple[Engine, SimulatedClock]]:
    with simulation(sqlite_url, BUNDLE, START, forms=FORMS) as lite:
        yield lite


def registered(engine: Engine, clock: SimulatedClock) -> tuple[str, str]:
    """A case whose step `register` completed at 10:00 on the first day: (case id, task id)."""
    case = engine.start_case("enterprise_opening", applicant=APPLICANT)
    (task,) = engine.tasks(case=case.id)
    clock.set(at("2026-03-02T10:00"))
    engine.complete_task(task.id, data=WALK["register"], actor="amr-clerk")
    return case.id, task.id


def finished(engine: Engine, clock: SimulatedClock) -> str:
    case_id, _task = registered(engine, clock)
    for task in engine.tasks(case=case_id):
        engine.complete_task(task.id, data=WALK[task.step], actor=f"{task.department}-clerk")
    assert engine.case(case_id).state == "completed"
    return case_id


def review_cards(engine: Engine) -> list[tuple[str, str | None, str | None, str | None, datetime]]:
    return [
        (c.color, c.step, c.task, c.department, c.issued_at) for c in engine.cards() if c.scope == "review"
    ]


# -- the Done-when scenario -------------------------------------------------------------------------


def test_a_bad_review_rectified_late_gets_its_card_scope_review(sim: tuple[Engine, SimulatedClock]) -> None:
    engine, clock = sim
    case_id, task_id = registered(engine, clock)
    clock.set(at("2026-03-02T11:00"))
    review = engine.add_review(
        case_id, task=task_id, level=5, channel="window", real_name=True, text="窗口态度差", actor="pad-1"
    )
    assert (review.step, review.department, review.bad, review.real_name) == ("register", "amr", True, True)
    assert review.reviewer is not None and review.reviewer.startswith("ap-")
    rect = review.rectification
    assert rect is not None and rect.state == "verifying"
    assert rect.verify.due == at("2026-03-04T00:00")  # 1 working day: the end of Tuesday

    clock.set(at("2026-03-03T10:00"))
    verified = engine.verify_review(
        review.id, finding="founded", complexity="simple", note="回访核实属实", actor="amr-lead"
    )
    assert verified.rectification is not None
    assert verified.rectification.state == "rectifying" and verified.rectification.rectify is not None
    assert verified.rectification.rectify.due == at("2026-03-11T00:00")  # 5 working days after Tuesday

    clock.set(at("2026-03-12T10:00"))  # a day late
    rectified = engine.rectify_review(review.id, note="已约谈窗口人员并整改", actor="amr-lead")
    assert rectified.rectification is not None and rectified.rectification.state == "feedback"
    assert review_cards(engine) == [("yellow", "register", task_id, "amr", at("2026-03-11T00:00"))]
    assert [(phase, colour) for _id, phase, colour, _state in rectified.rectification.cards] == [
        ("rectify", "yellow")
    ]

    clock.set(at("2026-03-12T16:00"))
    answered = engine.answer_review(review.id, note="已电话回访申请人", actor="amr-lead")
    record = answered.rectification
    assert record is not None
    assert (record.state, record.on_time, record.closed_at) == ("closed", False, at("2026-03-12T16:00"))
    assert record.feedback is not None and record.feedback.due == at("2026-03-14T00:00")
    clock.set(at("2026-03-30T10:00"))
    # every phase of the rectification closed: nothing of its own fires (its yellow card's record,
    # never verified, has a deadline of its own and escalates: DESIGN §9, test_supervision_records.py)
    swept = engine.sweep().issued
    assert [i for i in swept if i.scope == "review" and i.card is None] == []
    assert {(i.name, i.trigger) for i in swept if i.scope == "review"} <= {
        ("record_overdue", "verify"),
        ("red", "escalated"),
    }

    moves = [
        (e.payload["from"], e.payload["to"])
        for e in engine.events(limit=1000)
        if e.type == "review.rectification"
    ]
    assert moves == [
        (None, "verifying"),
        ("verifying", "rectifying"),
        ("rectifying", "feedback"),
        ("feedback", "closed"),
    ]
    rectification = [e.payload for e in engine.events(limit=1000) if e.type == "review.rectification"]
    for payload in rectification:  # codes only: the notes stay in the record (DESIGN §10)
        Draft202012Validator(schema("review.rectification")).validate(payload)
    texts = json.dumps(rectification, ensure_ascii=False)
    assert "回访核实属实" not in texts and "已约谈" not in texts and "电话回访" not in texts
    added = [e.payload for e in engine.events(limit=1000) if e.type == "review.added"]
    assert added[0]["level"] == 5 and "text" not in added[0]
    types = [e.type for e in engine.case(case_id).events]
    assert [t for t in types if t.startswith("review.")] == [
        "review.added",
        "review.verified",
        "review.rectified",
        "review.answered",
    ]


def test_the_sweeper_issues_the_card_of_an_unverified_case_review_to_the_lead(
    sim: tuple[Engine, SimulatedClock],
) -> None:
    engine, clock = sim
    case_id = finished(engine, clock)
    clock.set(at("2026-03-02T14:00"))
    review = engine.add_review(case_id, level=4, channel="web")
    assert (review.step, review.task, review.department) == (None, None, "amr")  # the bundle's lead
    clock.set(at("2026-03-03T23:59"))
    assert [i for i in engine.sweep().issued if i.scope == "review"] == []
    clock.set(at("2026-03-04T08:00"))
    (issued,) = [i for i in engine.sweep().issued if i.scope == "review"]
    assert (issued.kind, issued.name, issued.case, issued.step, issued.at) == (
        "card",
        "yellow",
        case_id,
        None,
        at("2026-03-04T00:00"),
    )
    assert review_cards(engine) == [("yellow", None, None, "amr", at("2026-03-04T00:00"))]
    shown = engine.review(review.id)
    assert shown.rectification is not None
    assert [(phase, colour) for _i, phase, colour, _s in shown.rectification.cards] == [("verify", "yellow")]
    # the card's own record is worked like any card's
    (card,) = [c for c in engine.cards() if c.scope == "review"]
    assert engine.advance_card(card.id, to="verifying", note="核查").state == "verifying"


def test_an_unfounded_bad_review_is_explained_and_closes_on_time(lite: tuple[Engine, SimulatedClock]) -> None:
    engine, clock = lite
    case_id, task_id = registered(engine, clock)
    review = engine.add_review(case_id, task=task_id, level=4, channel="mobile")
    with pytest.raises(InputError, match="complexity"):
        engine.verify_review(review.id, finding="founded", note="x")
    with pytest.raises(InputError, match="nothing to rectify"):
        engine.verify_review(review.id, finding="unfounded", complexity="simple", note="x")
    with pytest.raises(StateError, match="rectify needs it rectifying"):
        engine.rectify_review(review.id, note="x")
    clock.set(at("2026-03-02T16:00"))
    verified = engine.verify_review(review.id, finding="unfounded", note="缺乏法定依据，已解释说明")
    assert verified.rectification is not None
    assert (verified.rectification.state, verified.rectification.rectify) == ("feedback", None)
    assert verified.rectification.feedback is not None
    assert verified.rectification.feedback.due == at("2026-03-04T00:00")
    done = engine.answer_review(review.id, note="已回复评价人")
    assert done.rectification is not None and (done.rectification.state, done.rectification.on_time) == (
        "closed",
        True,
    )
    with pytest.raises(StateError, match="is closed"):
        engine.answer_review(review.id, note="again")


def test_a_complex_rectification_has_fifteen_working_days(lite: tuple[Engine, SimulatedClock]) -> None:
    engine, clock = lite
    case_id, task_id = registered(engine, clock)
    review = engine.add_review(case_id, task=task_id, level=5, channel="hotline")
    clock.set(at("2026-03-03T09:00"))
    verified = engine.verify_review(review.id, finding="founded", complexity="complex", note="涉及系统改造")
    assert verified.rectification is not None and verified.rectification.rectify is not None
    assert verified.rectification.rectify.due == at("2026-03-25T00:00")  # 15 working days after Tuesday


def test_good_reviews_open_nothing_and_reviews_are_checked(lite: tuple[Engine, SimulatedClock]) -> None:
    engine, _clock = lite
    case = engine.start_case("enterprise_opening", applicant=APPLICANT)
    (task,) = engine.tasks(case=case.id)
    with pytest.raises(StateError, match="的状态为 ready；环节办结后才能评价"):
        engine.add_review(case.id, task=task.id, level=1, channel="window")
    with pytest.raises(StateError, match="仍在办理中；办件办结后才能评价"):
        engine.add_review(case.id, level=1, channel="window")
    engine.complete_task(task.id, data=WALK["register"])
    for level, channel in ((0, "window"), (6, "window"), (True, "window"), (3, "carrier-pigeon")):
        with pytest.raises(InputError):
            engine.add_review(case.id, task=task.id, level=level, channel=channel)
    with pytest.raises(NotFoundError):
        engine.add_review(case.id, task="no-such-task", level=1, channel="window")
    with pytest.raises(NotFoundError):
        engine.add_review("no-such-case", level=1, channel="window")
    good = engine.add_review(case.id, task=task.id, level=2, channel="kiosk", text="很快")
    assert (good.bad, good.rectification, good.reviewer) == (False, None, None)  # not real-name: no key
    with pytest.raises(StateError, match="already has its review"):
        engine.add_review(case.id, task=task.id, level=5, channel="kiosk")
    with pytest.raises(StateError, match="only a bad review"):
        engine.verify_review(good.id, finding="founded", complexity="simple", note="x")
    assert [r.id for r in engine.reviews(bad=False)] == [good.id] and engine.reviews(bad=True) == []


# -- the report's section -----------------------------------------------------------------------------


def test_the_summary_counts_satisfaction_bad_reviews_and_rectified_on_time(
    lite: tuple[Engine, SimulatedClock],
) -> None:
    engine, clock = lite
    cases = []
    for _ in range(4):
        clock.set(START)
        cases.append(registered(engine, clock))
    clock.set(at("2026-03-02T11:00"))
    levels = [1, 3, 5, 4]
    reviews = [
        engine.add_review(c, task=t, level=lv, channel="window")
        for (c, t), lv in zip(cases, levels, strict=True)
    ]
    late, open_one = reviews[2], reviews[3]
    clock.set(at("2026-03-05T10:00"))  # verification 1 working day late
    engine.verify_review(late.id, finding="unfounded", note="解释说明")
    engine.answer_review(late.id, note="已回复")

    summary = engine.review_summary(start=date(2026, 3, 1), end=date(2026, 3, 31))
    assert summary["reviews"] == 4 and summary["bad"] == 2
    assert summary["by_level"] == {"1": 1, "2": 0, "3": 1, "4": 1, "5": 1}
    assert summary["satisfaction_rate"] == 0.5
    assert summary["rectifications"] == {
        "opened": 2,
        "closed": 1,
        "on_time": 0,
        "late": 1,
        "open": 1,
        "overdue_open": 1,
    }
    assert summary["rectified_on_time_rate"] == 0.0
    by_review = {b["review"]: b for b in summary["bad_reviews"]}
    assert by_review[open_one.id]["state"] == "verifying"
    assert by_review[open_one.id]["due"] == "2026-03-04T00:00:00+08:00"
    assert by_review[late.id]["on_time"] is False
    assert engine.review_summary(end=date(2026, 3, 1))["reviews"] == 0
    assert engine.review_summary(department="tax")["reviews"] == 0
    empty = engine.review_summary(start=date(2026, 4, 1))
    assert (empty["satisfaction_rate"], empty["rectified_on_time_rate"]) == (None, None)
    with pytest.raises(InputError, match="统计期颠倒"):  # as the supervision report says it
        engine.review_summary(start=date(2026, 3, 2), end=date(2026, 3, 1))
    assert [r.id for r in engine.reviews(open_only=True)] == [open_one.id]


def test_the_supervision_report_carries_the_review_section_in_every_format(
    lite: tuple[Engine, SimulatedClock],
) -> None:
    from hennan_flow.report.supervision_html import render_html
    from hennan_flow.report.supervision_text import render_text

    engine, clock = lite
    (good_case, good_task), (bad_case, bad_task) = registered(engine, clock), registered(engine, clock)
    clock.set(at("2026-03-02T11:00"))
    engine.add_review(good_case, task=good_task, level=2, channel="mobile")
    bad = engine.add_review(bad_case, task=bad_task, level=4, channel="window")
    clock.set(at("2026-03-05T10:00"))  # its verification (due the end of 03-03) is overdue

    report = engine.supervision_report(start=date(2026, 3, 1), end=date(2026, 3, 31), department="amr")
    section = report["reviews"]
    assert section == engine.review_summary(start=date(2026, 3, 1), end=date(2026, 3, 31), department="amr")
    assert section is not None
    assert (section["reviews"], section["bad"], section["satisfaction_rate"]) == (2, 1, 0.5)
    assert section["rectifications"]["overdue_open"] == 1
    assert engine.supervision_report(start=date(2026, 4, 1))["reviews"]["reviews"] == 0  # type: ignore[index]

    text = render_text(report)
    assert "好差评（按评价日期）\n  评价 2，满意率 50.00%，差评 1\n" in text
    assert "  按等级：1 非常满意 0，2 满意 1，3 基本满意 0，4 不满意 1，5 非常不满意 0\n" in text
    assert f"  4 级  amr       register  核实中，期限 2026-03-03 24:00  评价 {bad.id}" in text
    page = render_html(report)
    assert '<h2 id="reviews">' in page and f"<code>{bad.id}</code>" in page
    schema = json.loads(
        resources.files("hennan_flow").joinpath("schemas/supervision-report.schema.json").read_text("utf-8")
    )
    doc = json.loads(json.dumps(report))
    assert list(Draft202012Validator(schema).iter_errors(doc)) == []
    doc["reviews"]["bad_reviews"][0]["level"] = 2  # a bad review is level 4 or 5: the schema says so
    assert list(Draft202012Validator(schema).iter_errors(doc))
    assert '<td class="num">50.00%</td>' in page


# -- CLI ------------------------------------------------------------------------------------------------


def test_review_cli_adds_lists_and_moves_the_record(
    lite: tuple[Engine, SimulatedClock], capsys: pytest.CaptureFixture[str]
) -> None:
    engine, clock = lite
    case_id, task_id = registered(engine, clock)
    now = "2026-03-02T11:00:00+08:00"
    code, out, err = run(
        engine.url, capsys, "--format", "json", "review", "add", case_id, "--task", task_id, "--level", "5",
        "--channel", "window", "--real-name", "--text", "排队太久", now=now,
    )  # fmt: skip
    assert code == 0, err
    doc = json.loads(out)
    assert list(doc) == [
        "id",
        "case",
        "task",
        "step",
        "department",
        "level",
        "label",
        "bad",
        "channel",
        "real_name",
        "text",
        "reviewer",
        "at",
        "recorded_by",
        "rectification",
    ]
    assert (doc["label"], doc["bad"], doc["rectification"]["state"]) == ("非常不满意", True, "verifying")
    assert list(doc["rectification"]) == [
        "id",
        "state",
        "department",
        "finding",
        "complexity",
        "opened_at",
        "verify",
        "rectify",
        "feedback",
        "closed_at",
        "on_time",
        "cards",
    ]
    assert doc["rectification"]["verify"] == {
        "due": "2026-03-04T00:00:00+08:00",
        "done_at": None,
        "by": None,
        "note": None,
    }
    code, _, err = run(
        engine.url, capsys, "review", "add", case_id, "--level", "9", "--channel", "window", now=now
    )
    assert code == 2
    code, out, _ = run(engine.url, capsys, "--format", "json", "review", "list", "--bad", "--open", now=now)
    assert [r["id"] for r in json.loads(out)] == [doc["id"]]
    steps = [
        ("verify", "--finding", "founded", "--complexity", "simple", "--note", "属实"),
        ("rectify", "--note", "已整改"),
        ("answer", "--note", "已回访"),
    ]
    for step in steps:
        code, out, err = run(
            engine.url, capsys, "--format", "json", "review", step[0], doc["id"], *step[1:], now=now
        )
        assert code == 0, err
    final = json.loads(out)["rectification"]
    assert (final["state"], final["on_time"], final["finding"], final["complexity"]) == (
        "closed",
        True,
        "founded",
        "simple",
    )
    code, out, _ = run(engine.url, capsys, "review", "show", doc["id"], now=now)
    assert code == 0 and f"review {doc['id']}: 5 非常不满意 via window (real name)" in out
    code, out, _ = run(
        engine.url, capsys, "--format", "json", "review", "summary", "--from", "2026-03-01", now=now
    )
    summary = json.loads(out)
    assert (summary["reviews"], summary["bad"], summary["rectified_on_time_rate"]) == (1, 1, 1.0)
    assert list(summary) == [
        "period",
        "department",
        "reviews",
        "by_level",
        "satisfaction_rate",
        "bad",
        "rectifications",
        "rectified_on_time_rate",
        "bad_reviews",
    ]
    code, out, _ = run(engine.url, capsys, "review", "summary", now=now)
    assert code == 0 and out.startswith("评价 1，满意率 0.00%，差评 1")


def test_rates_round_half_up_on_the_exact_fraction() -> None:
    """4 decimals half up (docs/services.md): 7/160 = 0.04375 is 0.0438, not float division's 0.0437."""
    from hennan_flow.supervision.review_figures import rate

    assert rate(7, 160) == 0.0438
    assert rate(1, 3) == 0.3333
    assert rate(0, 0) is None
