"""Issue 18: every instant the API hands back is an aware datetime in UTC (the documented zone), and
the docstrings of start_case and complete_task say what they raise and what the applicant holds."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from helpers import FORMS, OPENING, OPENING_WALK, START, migrated
from hennan_flow import Engine, SimulatedClock

APPLICANT = {"name": "衡南县测试有限公司", "credit_code": "91430422MA4T8X2K3N"}


def _instants(value: Any, where: str = "", seen: set[int] | None = None) -> Iterator[tuple[str, datetime]]:
    """Every datetime inside a returned value (dataclasses, mappings, sequences), with its path."""
    seen = set() if seen is None else seen
    if isinstance(value, datetime):
        yield where, value
        return
    if id(value) in seen or isinstance(value, str | bytes | int | float | bool) or value is None:
        return
    seen.add(id(value))
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        for f in dataclasses.fields(value):
            yield from _instants(getattr(value, f.name), f"{where}.{f.name}", seen)
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from _instants(v, f"{where}[{k!r}]", seen)
    elif isinstance(value, list | tuple | set | frozenset):
        for i, v in enumerate(value):
            yield from _instants(v, f"{where}[{i}]", seen)


def test_every_instant_the_api_returns_is_aware_utc(tmp_path: Path) -> None:
    url = migrated(f"sqlite:///{tmp_path / 'hf.db'}", simulation=True)
    clock = SimulatedClock(START)
    returned: list[tuple[str, Any]] = []

    def keep(name: str, value: Any) -> Any:
        returned.append((name, value))
        return value

    with Engine(url, clock=clock) as engine:
        keep("deploy", engine.deploy(str(OPENING), forms=str(FORMS)))
        case = keep(
            "start_case", engine.start_case("enterprise_opening", applicant=APPLICANT, actor="window")
        )
        keep("now", engine.now())
        clock.advance(days=40)  # past the promised and legal deadlines: cards
        keep("sweep", engine.sweep())
        while tasks := keep("tasks", engine.tasks(case=case.id)):
            for task in tasks:
                keep("task", engine.task(task.id))
                keep("materials", engine.materials(task=task.id))
                keep(
                    "complete_task",
                    engine.complete_task(task.id, data=OPENING_WALK[task.step], actor="clerk"),
                )
        keep("case", engine.case(case.id))
        keep("cases", engine.cases())
        cards = keep("cards", engine.cards(case=case.id))
        assert cards
        keep("advance_card", engine.advance_card(cards[0].id, to="verifying", note="核查", actor="sup"))
        keep("card", engine.card(cards[0].id))
        keep("events", engine.events())
        keep("commitments", engine.commitments(case=case.id))
        keep("credit_records", engine.credit_records())
        review = keep("add_review", engine.add_review(case.id, level=5, channel="window", actor="window"))
        keep(
            "verify_review", engine.verify_review(review.id, finding="unfounded", note="已解释", actor="dept")
        )
        keep("reviews", engine.reviews(case=case.id))
        keep("report", engine.supervision_report())
    found = [(f"{name}{where}", value) for name, value in returned for where, value in _instants(value)]
    assert len(found) > 30, found
    naive_or_local = [(where, value) for where, value in found if value.tzinfo is not UTC]
    assert naive_or_local == []


def test_the_docstrings_of_start_case_and_complete_task_state_errors_and_shapes() -> None:
    start = Engine.start_case.__doc__ or ""
    for said in (
        "NotFoundError",
        "ConfigError",
        "InputError",
        "ExpressionError",
        "credit_code",
        "id_number",
        "intake",
    ):
        assert said in start, said
    complete = Engine.complete_task.__doc__ or ""
    for said in ("NotFoundError", "StateError", "ConflictError", "FormDataError", "ExpressionError", "UTC"):
        assert said in complete, said
    assert "UTC" in (Engine.__doc__ or "") and "Asia/Shanghai" in (Engine.__doc__ or "")
