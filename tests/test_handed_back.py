"""A step a start or a completion handed back is completed without reading it first (issue 27): the
form data is checked against what the engine already knows of the step, and whatever happened to
the step since (another worker completed or paused it) is answered under the case lock, exactly as
after a read: a final step is refused as such whatever its data, a paused one for its data first."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event

from helpers import ACCEPT, REVIEW_LIB, rows
from hennan_flow import ConflictError, FormDataError, NotFoundError
from hennan_flow.engine import Engine
from hennan_flow.errors import StateError

BAD = {"capital": 0, "surprise": 1}


@pytest.fixture
def two(migrated_url: str, tmp_path: Path) -> Iterator[tuple[Engine, Engine]]:
    """Two engines on one database (two workers of a portal), the review bundle deployed."""
    shutil.copytree(REVIEW_LIB, tmp_path / "lib")
    first, second = Engine(migrated_url), Engine(migrated_url)
    first.deploy(str(tmp_path / "lib" / "processes"))
    yield first, second
    first.close()
    second.close()


def test_a_step_handed_back_is_completed_in_one_transaction(tmp_path: Path) -> None:
    """SQLite: the completion's first statement is its write transaction's BEGIN (no read before it)."""
    shutil.copytree(REVIEW_LIB, tmp_path / "lib")
    engine = Engine(f"sqlite:///{tmp_path / 'hf.db'}")
    engine.upgrade(simulation=False)
    engine.deploy(str(tmp_path / "lib" / "processes"))
    sent: list[str] = []

    @event.listens_for(engine.context.db, "connect")
    def _trace(dbapi: Any, _record: Any) -> None:
        dbapi.set_trace_callback(sent.append)

    engine.context.db.dispose()  # the next connections are traced
    case = engine.start_case("review")
    sent.clear()
    done = engine.complete_task(case.ready[0].id, data=ACCEPT)
    assert sent[0] == "BEGIN IMMEDIATE" and sent.count("BEGIN IMMEDIATE") == 1
    sent.clear()
    engine.complete_task(done.ready[0].id)  # a step a completion handed back: the same
    assert sent[0] == "BEGIN IMMEDIATE"
    sent.clear()
    with pytest.raises(ConflictError, match=r"已.*办结"):  # not handed back any more: read first
        engine.complete_task(case.ready[0].id, data=ACCEPT)
    assert sent[0].startswith("SELECT t.id") and "FROM hf_task t JOIN hf_case c" in sent[0]
    engine.close()


def test_a_handed_back_step_completed_by_another_worker_is_refused_as_completed(
    two: tuple[Engine, Engine],
) -> None:
    first, second = two
    case = first.start_case("review")
    step = case.ready[0]
    second.complete_task(step.id, data=ACCEPT)  # the other worker was quicker
    for data in (BAD, ACCEPT):  # its state is answered before its data, as after a read
        with pytest.raises(ConflictError, match=r"已.*办结"):
            first.complete_task(step.id, data=data)
    assert [t.step for t in first.tasks(case=case.id, state="open")] == ["tax", "seal"]


def test_a_handed_back_step_paused_by_another_worker_is_refused_as_paused(two: tuple[Engine, Engine]) -> None:
    first, second = two
    case = first.start_case("review")
    step = case.ready[0]
    second.pause(step.id, reason="supplement")
    with pytest.raises(FormDataError):  # a paused step's data is checked first, as after a read
        first.complete_task(step.id, data=BAD)
    with pytest.raises(StateError, match="的状态为 paused，不是 ready"):
        first.complete_task(step.id, data=ACCEPT)
    assert first.task(step.id).state == "paused"


def test_a_handed_back_step_whose_case_is_gone_is_not_found(migrated_url: str, tmp_path: Path) -> None:
    shutil.copytree(REVIEW_LIB, tmp_path / "lib")
    with Engine(migrated_url) as engine:
        engine.deploy(str(tmp_path / "lib" / "processes"))
        case = engine.start_case("review")
        with engine.context.write() as tx:  # as a retention purge would leave it
            for table in ("hf_task", "hf_deadline", "hf_case_task", "hf_event", "hf_outbox"):
                tx.raw.run(f"DELETE FROM {table} WHERE case_id = ?", (case.id,))
            tx.raw.run("DELETE FROM hf_case WHERE id = ?", (case.id,))
        assert rows(engine, "SELECT id FROM hf_task") == []
        with pytest.raises(NotFoundError, match="没有环节"):
            engine.complete_task(case.ready[0].id, data=ACCEPT)
