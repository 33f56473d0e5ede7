"""The complete outbox (issue 22, DESIGN §10): every case and step state change is an outbox event,
written with the change in its transaction, its payload ids and codes only, valid against the JSON
Schema of its kind shipped in the package."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import jsonschema
import pytest

from helpers import CLOCK_BUNDLE, CLOCK_START, rows, simulation
from hennan_flow.db.raw import Raw
from hennan_flow.demo import run_demo
from hennan_flow.engine import Engine
from hennan_flow.engine import tasks as engine_tasks
from hennan_flow.engine.events import KINDS, RECORD_KINDS, schema
from hennan_flow.resources import schema_path


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    url = f"sqlite:///{tmp_path_factory.mktemp('demo') / 'demo.db'}"
    run_demo(url, say=lambda _line: None)
    engine = Engine(url)
    yield engine
    engine.close()


def test_every_kind_has_a_shipped_schema_that_is_itself_valid() -> None:
    shipped = {p.name.removesuffix(".json") for p in schema_path("events").glob("*.json")}
    assert shipped == set(KINDS + RECORD_KINDS)
    for kind in KINDS + RECORD_KINDS:
        jsonschema.Draft202012Validator.check_schema(schema(kind))
        assert schema(kind)["additionalProperties"] is False  # nothing unlisted (no personal data) slips in


def test_every_demo_event_is_valid_against_its_schema(demo: Engine) -> None:
    outbox = rows(demo, "SELECT type, case_id, ref, payload FROM hf_outbox ORDER BY id")
    ours = [(t, c, r, json.loads(p)) for t, c, r, p in outbox if t in KINDS]
    assert ours, "the demo wrote no case or step events"
    checker = jsonschema.Draft202012Validator.FORMAT_CHECKER
    for kind, case_id, ref, payload in ours:
        jsonschema.Draft202012Validator(schema(kind), format_checker=checker).validate(payload)
        assert payload["case"] == case_id
        assert ref == (payload["task"] if kind.startswith("task.") else case_id)


def test_the_outbox_holds_in_order_every_event_the_run_implies(demo: Engine) -> None:
    # the audit log records every state change of the run: each case or step change it holds is in
    # the outbox too, in the same order, about the same case and step instance
    audit = rows(demo, "SELECT type, case_id, COALESCE(task_id, case_id) FROM hf_event ORDER BY id")
    implied = [tuple(e) for e in audit if e[0] in KINDS]
    published = [
        tuple(e) for e in rows(demo, "SELECT type, case_id, ref FROM hf_outbox ORDER BY id") if e[0] in KINDS
    ]
    assert published == implied
    kinds = [e[0] for e in published]
    # what the demo's three cases do: start, steps ready and completed (one paused and resumed), end
    for kind in (
        "case.started",
        "task.ready",
        "task.completed",
        "task.paused",
        "task.resumed",
        "case.completed",
    ):
        assert kind in kinds
    first_case = published[0][1]
    of_first = [k for k, c, _ in published if c == first_case]
    assert of_first[0] == "case.started" and of_first[1] == "task.ready" and of_first[-1] == "case.completed"
    [[completed]] = rows(demo, "SELECT count(*) FROM hf_case WHERE state = 'completed'")
    assert kinds.count("case.completed") == completed >= 3  # one per case the demo ran to its end
    [[started]] = rows(demo, "SELECT count(*) FROM hf_case")
    assert kinds.count("case.started") == started > completed  # the supervision part leaves one open


def test_no_personal_data_reaches_the_outbox(demo: Engine) -> None:
    applicants = [json.loads(a) for (a,) in rows(demo, "SELECT applicant FROM hf_case") if a]
    values = {str(v) for a in applicants for v in a.values() if isinstance(v, str) and len(v) > 1}
    assert values
    text = "\n".join(p for (p,) in rows(demo, "SELECT payload FROM hf_outbox"))
    assert not [v for v in values if v in text]


def test_a_steps_events_are_one_insert_in_its_own_transaction(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A completion that ends its step and the case writes its outbox rows (task.completed,
    case.completed) in one multi-row INSERT, and nothing of a completion that rolls back."""
    with simulation(sqlite_url, CLOCK_BUNDLE, CLOCK_START) as (engine, _clock):
        case = engine.start_case("review_clock")
        review = next(t for t in engine.tasks(case=case.id) if t.step == "review")
        before = engine.events()

        def broken(*_args: object, **_kwargs: object) -> None:
            raise RuntimeError("disk on fire")

        with monkeypatch.context() as patch:  # fails after the step ended, before the process moved on
            patch.setattr(engine_tasks, "sync_steps", broken)
            with pytest.raises(RuntimeError):
                engine.complete_task(review.id)
        assert engine.events() == before

        statements: list[str] = []
        for name in ("rows", "row", "run", "many"):
            original = getattr(Raw, name)

            def spy(self: Raw, sql: str, *args: object, _original: Any = original) -> Any:
                statements.append(" ".join(sql.split()))
                return _original(self, sql, *args)

            monkeypatch.setattr(Raw, name, spy)
        engine.complete_task(review.id)
        monkeypatch.undo()
        written = [e for e in engine.events(after=before[-1].id) if e.type in KINDS]
        assert [e.type for e in written] == ["task.completed", "case.completed"]  # the case ends with it
        assert {(e.payload["bundle"], e.payload["version"]) for e in written} == {("review_clock", 1)}
        assert len([s for s in statements if s.startswith("INSERT INTO hf_outbox")]) == 1
