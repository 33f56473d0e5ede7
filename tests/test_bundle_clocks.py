"""The statutory clock on the 依申请公开 and 12345 bundles (issue 26), deadlines computed by hand.

2025 National Day (国办发明电〔2024〕12号): 10-01 … 10-08 off; Sunday 09-28 and Saturday 10-11 are
working days. Working days from 2025-09-26 (Friday) on: 09-28 (Sun), 09-29, 09-30, 10-09, 10-10,
10-11 (Sat), 10-13 …
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from helpers import PROCESSES, START, WALKS, at, iso, simulation
from hennan_flow.engine import Engine, SimulatedClock
from hennan_flow.errors import InputError

APPLICANT = {"name": "李湘南", "id_number": "430422199001011234"}


@pytest.fixture
def sim(tmp_path: Path) -> Iterator[tuple[Engine, SimulatedClock]]:
    with simulation(f"sqlite:///{tmp_path / 'sim.db'}", PROCESSES, at("2025-09-26T10:00")) as sim:
        yield sim


def data(key: str, step: str, **more: object) -> dict[str, object]:
    return {**WALKS[key]["step_data"][step], **more}


def only_ready(engine: Engine, case_id: str, step: str) -> str:
    [task] = engine.tasks(case=case_id)
    assert task.step == step
    return task.id


def test_disclosure_of_2025_09_26_with_a_correction_a_third_party_and_one_extension(
    sim: tuple[Engine, SimulatedClock],
) -> None:
    engine, clock = sim
    key = "information_disclosure"
    case = engine.start_case(key, applicant=APPLICANT)  # received Friday 2025-09-26 10:00
    engine.complete_task(only_ready(engine, case.id, "register"), data=data(key, "register"))
    first = engine.task(only_ready(engine, case.id, "answer"))
    assert first.deadlines is not None
    # 20 working days after 09-26: 09-28, 09-29, 09-30, 10-09, 10-10, 10-11, 10-13 … 10-17 (11th),
    # 10-20 … 10-24 (16th), 10-27, 10-28, 10-29, 10-30 (20th)
    assert first.deadlines["legal_due"] == iso("2025-10-31T00:00")
    assert first.deadlines["promised_due"] == iso("2025-10-31T00:00")

    # §30: Monday 09-29 (the 2nd working day, within 7) one 补正 notice; the case waits for the corrected request
    clock.set(at("2025-09-29T11:00"))
    engine.complete_task(
        first.id, data={"decision": "correction", "correction_items": "请写明所需文件的名称或者文号"}
    )
    assert engine.tasks(case=case.id) == []
    # the corrected request arrives on Thursday 10-09 (the first working day after the holiday)
    clock.set(at("2025-10-09T15:00"))
    [second] = engine.deliver_message(
        case.id,
        "corrected_request",
        {"corrected_description": "衡南发改〔2025〕8号立项批复", "corrected_on": "2025-10-09"},
        actor="portal-1",
    )
    assert second.step == "answer" and second.id != first.id  # a new step instance: the period restarts
    assert second.deadlines is not None
    # 20 working days after 10-09: 10-10, 10-11 (Sat), 10-13 … 10-17 (7th), 10-20 … 10-24 (12th),
    # 10-27 … 10-31 (17th), 11-03, 11-04, 11-05 (20th)
    assert second.deadlines["legal_due"] == iso("2025-11-06T00:00")

    # §32/§33(3): the third party is consulted Friday 10-10, its opinion arrives Friday 10-17
    clock.set(at("2025-10-10T09:00"))
    engine.pause(second.id, reason="special_procedure", kind="other", note="书面征求第三方意见")
    clock.set(at("2025-10-17T10:00"))
    assert engine.deliver_message(case.id, "third_party_opinion", {"third_party_view": "agree"}) == ()
    resumed = engine.resume(second.id)
    # not counted: the working days of [10-10, 10-17) = 10-10, 10-11, 10-13, 10-14, 10-15, 10-16 = 6,
    # so the 20th working day moves from 11-05 by 6: 11-06, 11-07, 11-10, 11-11, 11-12, 11-13
    assert resumed.deadlines is not None
    assert resumed.deadlines["legal_due"] == iso("2025-11-14T00:00")

    # §33(2): one extension of 20 working days, approved by the head of the disclosure office
    clock.set(at("2025-10-20T09:00"))
    extended = engine.extend(second.id, days=20, approver="谢建华", reason="需要调取档案，延长答复期限")
    # 11-13 + 20 working days: 11-14, 11-17 … 11-21 (6th), 11-24 … 11-28 (11th), 12-01 … 12-05 (16th),
    # 12-08, 12-09, 12-10, 12-11 (20th)
    assert extended.deadlines is not None
    assert extended.deadlines["legal_due"] == iso("2025-12-12T00:00")
    assert extended.deadlines["promised_due"] == iso("2025-12-12T00:00")
    # once only (hf:timeLimit extensions="1" maxExtension="20"): a second extension is refused, nothing moves
    with pytest.raises(InputError) as again:
        engine.extend(second.id, days=1, approver="谢建华", reason="再次延长")
    assert again.value.exit_code == 2 and "extensions" in str(again.value)
    assert engine.task(second.id).deadlines == extended.deadlines

    # answered in time: no card for either instance
    clock.set(at("2025-11-20T10:00"))
    engine.complete_task(second.id, data=data(key, "answer"))
    assert engine.case_data(case.id)["third_party_view"] == "agree"
    engine.complete_task(only_ready(engine, case.id, "serve"), data=data(key, "serve"))
    assert engine.case(case.id).state == "completed"
    engine.sweep()
    assert [c for c in engine.cards(case=case.id) if c.scope == "step"] == []


@pytest.fixture
def hotline(tmp_path: Path) -> Iterator[tuple[Engine, SimulatedClock]]:
    with simulation(f"sqlite:///{tmp_path / 'hotline.db'}", PROCESSES, START) as sim:  # Mon 2026-03-02 09:00
        yield sim


def test_a_hotline_order_signed_late_gets_its_card_at_the_sign_in_limit(
    hotline: tuple[Engine, SimulatedClock],
) -> None:
    engine, clock = hotline
    key = "hotline_work_order"
    case = engine.start_case(key, applicant=APPLICANT)
    engine.complete_task(only_ready(engine, case.id, "accept"), data=data(key, "accept"))
    clock.advance(minutes=30)  # dispatched at 09:30
    engine.complete_task(only_ready(engine, case.id, "dispatch"), data=data(key, "dispatch"))
    sign = engine.task(only_ready(engine, case.id, "sign"))
    assert sign.deadlines is not None and sign.deadlines["promised_due"] == iso("2026-03-02T11:30")  # 2 hours
    clock.set(at("2026-03-02T14:00"))  # signed two and a half hours late
    engine.complete_task(sign.id, data=data(key, "sign"))
    [card] = [c for c in engine.cards(case=case.id) if c.task == sign.id]
    assert card.color == "yellow" and card.signal == "promised_passed"
    assert card.issued_at == at("2026-03-02T11:30")  # at the limit, not when the late sign-in was seen
    assert card.department == "urban"


def test_a_rework_is_a_new_step_instance_with_new_deadlines_and_its_own_card(
    hotline: tuple[Engine, SimulatedClock],
) -> None:
    engine, clock = hotline
    key = "hotline_work_order"
    case = engine.start_case(key, applicant=APPLICANT)
    for step in ("accept", "dispatch", "sign"):
        engine.complete_task(only_ready(engine, case.id, step), data=data(key, step))
    first = engine.task(only_ready(engine, case.id, "handle"))
    assert first.deadlines is not None
    assert first.deadlines["promised_due"] == iso("2026-03-10T00:00")  # 5 working days after Mon 03-02
    # 延期 at most 10 working days in all (hf:timeLimit maxExtension="10", Shandong's rule)
    with pytest.raises(InputError) as too_long:
        engine.extend(first.id, days=11, approver="urban-head", reason="需协调多个部门")
    assert "maxExtension" in str(too_long.value) and "--days 10" in (too_long.value.hint or "")
    assert engine.extend(first.id, days=4, approver="urban-head", reason="需协调多个部门").deadlines
    with pytest.raises(InputError):
        engine.extend(first.id, days=7, approver="urban-head", reason="再延")
    engine.complete_task(first.id, data=data(key, "handle"))
    engine.complete_task(only_ready(engine, case.id, "reply"), data=data(key, "reply"))
    clock.set(at("2026-03-04T10:00"))
    revisit = only_ready(engine, case.id, "revisit")
    engine.complete_task(revisit, data={"resolved": False, "satisfaction": "dissatisfied"})
    second = engine.task(only_ready(engine, case.id, "handle"))  # 重办
    assert second.id != first.id
    assert second.deadlines is not None
    assert second.deadlines["promised_due"] == iso("2026-03-12T00:00")  # 5 working days after Wed 03-04
    clock.set(at("2026-03-12T10:00"))  # the rework is late: its own yellow card, the first instance has none
    engine.complete_task(second.id, data=data(key, "handle"))
    cards = {(c.task, c.color) for c in engine.cards(case=case.id)}
    assert (second.id, "yellow") in cards and all(task != first.id for task, _ in cards)
