"""A case's state is stored as its workflow document plus one row per task (issue 11).

A step writes only the fragments it changed; these tests check after every step that what is
stored composes to exactly the document a full serialization of the workflow would write, and that
a new engine (no cache) carries on from it. The migration's downgrade joins fragments back.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from helpers import ACCEPT, PROCESSES, REVIEW_LIB, START, WALKS, database, raw, read, rows, simulation
from hennan_flow.db import migrate
from hennan_flow.db.hotpath import read_case, workflow_state
from hennan_flow.engine import Engine
from hennan_flow.engine.workflows import load_workflow
from hennan_flow.runtime.workflow import Dump, StateCodec


def stored(engine: Engine, case_id: str) -> tuple[str, list[tuple[str, str]]]:
    with read(engine) as session:
        return workflow_state(raw(session), case_id)


def reload(engine: Engine, case_id: str) -> object:
    """The case's workflow as an engine restores it from the database."""
    with read(engine) as session:
        cursor = raw(session)
        case = read_case(cursor, case_id, lock=False)
        assert case is not None
        ctx = engine.context
        return load_workflow(ctx, cursor, case, ctx.definition(session, case.definition_id))


def record_saves(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """The workflow objects the engine's saves were made from, in order (its codec's dumps)."""
    saved: list[Any] = []
    codec = engine.context.codec
    dump = codec.dump

    def recording(workflow: Any) -> Dump:
        saved.append(workflow)
        return dump(workflow)

    monkeypatch.setattr(codec, "dump", recording)
    return saved


def assert_stored_is_whole(engine: Engine, case_id: str, saved: list[Any], url: str) -> None:
    """What the last save stored composes to a full serialization of the workflow it saved (the last
    step's too), and a new engine without a cache restores that same workflow."""
    top, rows = stored(engine, case_id)
    workflow = saved[-1]
    codec = StateCodec()
    whole = json.loads(codec.dump_full(workflow))
    assert json.loads(codec.compose(top, rows)) == whole
    assert "tasks" not in json.loads(top) and len(rows) == len(workflow.tasks)
    with Engine(url) as fresh:
        assert json.loads(codec.dump_full(reload(fresh, case_id))) == whole


@pytest.fixture
def review_engine(migrated_url: str, tmp_path: Path) -> Iterator[Engine]:
    shutil.copytree(REVIEW_LIB, tmp_path / "lib")
    engine = Engine(migrated_url)
    engine.deploy(str(tmp_path / "lib" / "processes"))
    yield engine
    engine.close()


def test_every_step_of_a_rework_loop_stores_the_whole_state(
    review_engine: Engine, migrated_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = review_engine
    saved = record_saves(engine, monkeypatch)
    case = engine.start_case("review")
    assert_stored_is_whole(engine, case.id, saved, migrated_url)
    rounds = 0
    while ready := engine.tasks(case=case.id):
        for task in ready:
            data: dict[str, object] = dict(ACCEPT) if task.step == "accept" else {}
            if task.step == "decide":
                data = {"needs_supplement": rounds < 3}
                rounds += 1
            engine.complete_task(task.id, data=data)
            assert_stored_is_whole(engine, case.id, saved, migrated_url)
    assert engine.case(case.id).state == "completed" and rounds == 4


@pytest.mark.parametrize("key", sorted(WALKS))
def test_every_step_of_every_bundle_stores_the_whole_state(
    key: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'walk.db'}"
    walk = WALKS[key]
    # a branch that needs no message from outside and no rework (issue 26 bundles have both kinds)
    branch = next(
        b
        for b in walk["branches"].values()
        if not b.get("messages") and not any(isinstance(o, list) for o in b["overrides"].values())
    )
    with simulation(url, PROCESSES, START) as (engine, _clock):
        saved = record_saves(engine, monkeypatch)
        case = engine.start_case(key)
        assert_stored_is_whole(engine, case.id, saved, url)
        while ready := engine.tasks(case=case.id):
            for task in ready:
                data = {**walk["step_data"][task.step], **branch["overrides"].get(task.step, {})}
                engine.complete_task(task.id, data=data)
                assert_stored_is_whole(engine, case.id, saved, url)
        assert engine.case(case.id).state == "completed"


def test_the_downgrade_joins_the_fragments_back(
    review_engine: Engine, migrated_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = review_engine
    saved = record_saves(engine, monkeypatch)
    case = engine.start_case("review")
    engine.complete_task(engine.tasks(case=case.id)[0].id, data=ACCEPT)
    expected = json.loads(StateCodec().dump_full(saved[-1]))
    migrate.downgrade(database(engine), "0004")
    whole = rows(engine, "SELECT wf_state FROM hf_case WHERE id = ?", (case.id,))
    assert json.loads(whole[0][0]) == expected
    migrate.upgrade(database(engine))
    fresh = Engine(migrated_url)  # reads the whole state, then stores fragments again on the next step
    for task in fresh.tasks(case=case.id):
        fresh.complete_task(task.id)
    assert len(stored(fresh, case.id)[1]) == len(reload(fresh, case.id).tasks)  # type: ignore[attr-defined]
    fresh.close()
