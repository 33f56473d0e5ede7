"""A case's state is stored as its workflow document plus one row per task (issue 11).

A step writes only the fragments it changed; these tests check after every step that what is
stored composes to exactly the document a full serialization of the workflow would write, and that
a new engine (no cache) carries on from it. The migration's downgrade joins fragments back.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from hennan_flow.db import migrate
from hennan_flow.db.raw import raw_of
from hennan_flow.engine import Engine, SimulatedClock
from hennan_flow.runtime import StateCodec
from hennan_flow.timeutil import parse_instant

FIXTURES = Path(__file__).parent / "fixtures"
WALKS = json.loads((FIXTURES / "bundles" / "walks.json").read_text(encoding="utf-8"))
ACCEPT = {"enterprise_name": "衡南县测试有限公司", "capital": 100}


def stored(engine: Engine, case_id: str) -> tuple[str, list[tuple[str, str]]]:
    with engine._read() as session:
        raw = raw_of(session)
        found = raw.row("SELECT wf_state FROM hf_case WHERE id = ?", (case_id,))
        assert found is not None
        return found[0], raw.rows("SELECT task_id, doc FROM hf_case_task WHERE case_id = ?", (case_id,))


def reload(engine: Engine, case_id: str) -> object:
    """The case's workflow as a new engine restores it from the database."""
    with engine._read() as session:
        case = engine._case_snapshot(session, case_id, lock=False)
        assert case is not None
        return engine._load_workflow(session, case, engine._definition(session, case.definition_id))


def assert_stored_is_whole(engine: Engine, case_id: str) -> None:
    top, rows = stored(engine, case_id)
    cached = engine._workflows.get(case_id)  # a finished case is not kept: compare with a fresh load
    workflow = cached.workflow if cached is not None else reload(engine, case_id)
    codec = StateCodec()
    assert json.loads(codec.compose(top, rows)) == json.loads(codec.dump_full(workflow))
    assert "tasks" not in json.loads(top) and len(rows) == len(workflow.tasks)


@pytest.fixture
def review_engine(db_url: str, tmp_path: Path) -> Engine:
    shutil.copytree(FIXTURES / "engine", tmp_path / "lib")
    engine = Engine(db_url)
    engine.upgrade()
    engine.deploy(str(tmp_path / "lib" / "processes"))
    yield engine
    engine.close()


def test_every_step_of_a_rework_loop_stores_the_whole_state(review_engine: Engine, db_url: str) -> None:
    engine = review_engine
    case = engine.start_case("review")
    assert_stored_is_whole(engine, case.id)
    rounds = 0
    while ready := engine.tasks(case=case.id):
        for task in ready:
            data: dict[str, object] = dict(ACCEPT) if task.step == "accept" else {}
            if task.step == "decide":
                data = {"needs_supplement": rounds < 3}
                rounds += 1
            engine.complete_task(task.id, data=data)
            assert_stored_is_whole(engine, case.id)
            # a new engine (no cached workflow) carries on from what is stored
            fresh = Engine(db_url)
            kept = engine._workflows.get(case.id)
            if kept is not None:
                assert json.loads(fresh._codec.dump_full(reload(fresh, case.id))) == json.loads(
                    engine._codec.dump_full(kept.workflow)
                )
            fresh.close()
    assert engine.case(case.id).state == "completed"


@pytest.mark.parametrize("key", sorted(WALKS))
def test_every_step_of_every_bundle_stores_the_whole_state(key: str, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'walk.db'}"
    Engine(url).upgrade(simulation=True)
    engine = Engine(url, clock=SimulatedClock(parse_instant("2026-03-02T09:00:00+08:00")))
    engine.deploy(str(Path(__file__).parents[1] / "processes"))
    walk = WALKS[key]
    branch = next(iter(walk["branches"].values()))
    case = engine.start_case(key)
    assert_stored_is_whole(engine, case.id)
    while ready := engine.tasks(case=case.id):
        for task in ready:
            data = {**walk["step_data"][task.step], **branch["overrides"].get(task.step, {})}
            engine.complete_task(task.id, data=data)
            assert_stored_is_whole(engine, case.id)
    assert engine.case(case.id).state == "completed"
    engine.close()


def test_the_downgrade_joins_the_fragments_back(review_engine: Engine, db_url: str) -> None:
    engine = review_engine
    case = engine.start_case("review")
    engine.complete_task(engine.tasks(case=case.id)[0].id, data=ACCEPT)
    expected = json.loads(engine._codec.dump_full(engine._workflows[case.id].workflow))
    migrate.downgrade(engine._db, "0004")
    with engine._read() as session:
        whole = raw_of(session).row("SELECT wf_state FROM hf_case WHERE id = ?", (case.id,))
    assert whole is not None and json.loads(whole[0]) == expected
    migrate.upgrade(engine._db)
    fresh = Engine(db_url)  # reads the whole state, then stores fragments again on the next step
    for task in fresh.tasks(case=case.id):
        fresh.complete_task(task.id)
    assert len(stored(fresh, case.id)[1]) == len(fresh._workflows[case.id].workflow.tasks)
    fresh.close()
