"""The persistent engine (issue 3): schema, deploy versions, cases, steps, concurrency, restarts."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from helpers import ACCEPT, REVIEW_LIB, START, database, migrated, run_to_end, write_session
from hennan_flow import ConflictError, FormDataError, NotFoundError, SchemaOutOfDateError, SimulationError
from hennan_flow.db import migrate
from hennan_flow.db.models import CaseRow
from hennan_flow.engine import Engine, SimulatedClock
from hennan_flow.errors import StateError


@pytest.fixture
def bundle_dir(tmp_path: Path) -> Path:
    """A copy of the engine fixture bundle (processes/ + forms/) that a test may edit."""
    target = tmp_path / "lib"
    shutil.copytree(REVIEW_LIB, target)
    return target


@pytest.fixture
def engine(migrated_url: str, bundle_dir: Path) -> Engine:
    eng = Engine(migrated_url)
    eng.deploy(str(bundle_dir / "processes"))
    yield eng
    eng.close()


# -- schema ---------------------------------------------------------------------------------


def test_upgrade_creates_schema_and_current_reports_it(db_url: str) -> None:
    eng = Engine(db_url)
    assert eng.status() == {
        "revision": None,
        "head": migrate.head_revision(),
        "up_to_date": False,
        "simulation": None,
    }
    with pytest.raises(SchemaOutOfDateError, match="没有 hennan_flow 的表结构") as info:
        eng.cases()
    assert "hennan-flow db upgrade" in (info.value.hint or "")
    eng.upgrade()
    status = eng.status()
    assert status["revision"] == migrate.head_revision() and status["up_to_date"] is True
    assert status["simulation"] is False
    eng.close()


def test_migrations_round_trip_and_match_the_models(db_url: str) -> None:
    eng = Engine(db_url)
    eng.upgrade()
    migrate.check(database(eng))  # alembic check: no drift between models and migrations
    migrate.downgrade(database(eng), "base")
    assert eng.status()["revision"] is None
    eng.upgrade()
    assert eng.status()["up_to_date"] is True
    migrate.check(database(eng))
    eng.close()


def test_a_database_behind_the_code_is_refused_with_the_upgrade_hint(db_url: str) -> None:
    eng = Engine(db_url)
    first = "0001"
    migrate.upgrade(database(eng), first)
    if migrate.head_revision() == first:
        migrate.downgrade(database(eng), "base")
    with pytest.raises(SchemaOutOfDateError) as info:
        eng.tasks()
    assert info.value.hint == "执行：hennan-flow db upgrade"
    eng.close()


# -- simulation -----------------------------------------------------------------------------


def test_simulated_clock_only_on_a_simulation_database(db_url: str, bundle_dir: Path) -> None:
    real = Engine(db_url)
    real.upgrade()
    real.deploy(str(bundle_dir / "processes"))
    simulated = Engine(db_url, clock=START)
    with pytest.raises(SimulationError, match="非模拟数据库不接受模拟时间"):
        simulated.start_case("review")
    with pytest.raises(SimulationError, match="已有数据的数据库不能改为模拟数据库"):
        real.upgrade(simulation=True)
    assert real.status()["simulation"] is False
    real.close()
    simulated.close()


def test_simulation_database_runs_on_the_simulated_clock(tmp_path: Path, bundle_dir: Path) -> None:
    url = f"sqlite:///{tmp_path / 'sim.db'}"
    Engine(url).upgrade(simulation=True)
    clock = SimulatedClock(START)
    eng = Engine(url, clock=clock)
    assert eng.status()["simulation"] is True
    eng.deploy(str(bundle_dir / "processes"))
    case = eng.start_case("review", actor="window-1")
    assert case.started_at == START
    clock.advance(hours=3)
    task = eng.tasks(case=case.id)[0]
    done = eng.complete_task(task.id, data=ACCEPT, actor="clerk-007")
    assert done.ended_at == START.replace(hour=4)
    # any instant is accepted on a simulation database, in any order
    clock.set(datetime(2025, 1, 1, tzinfo=UTC))
    assert eng.tasks(case=case.id)[0].ready_at == START.replace(hour=4)
    eng.close()


# -- deploy ---------------------------------------------------------------------------------


def test_deploy_versions_by_content_and_cases_keep_their_version(engine: Engine, bundle_dir: Path) -> None:
    again = engine.deploy(str(bundle_dir / "processes"))
    assert [(d.key, d.version, d.created) for d in again] == [("review", 1, False)]
    old = engine.start_case("review")
    first = engine.tasks(case=old.id)[0]
    engine.complete_task(first.id, data=ACCEPT)

    bpmn = bundle_dir / "processes" / "review.bpmn"
    bpmn.write_text(
        bpmn.read_text(encoding="utf-8").replace('name="审查决定"', 'name="审查并决定"'), encoding="utf-8"
    )
    changed = engine.deploy(str(bundle_dir / "processes"))
    assert [(d.key, d.version, d.created) for d in changed] == [("review", 2, True)]
    assert changed[0].content_hash != again[0].content_hash

    new = engine.start_case("review")
    assert engine.case(new.id).version == 2
    assert engine.case(old.id).version == 1
    run_to_end(engine, old.id)
    names = {t.step: t.name for t in engine.tasks(case=old.id, state="completed")}
    assert names["decide"] == "审查决定"  # the v1 case ran on v1 to the end
    assert engine.case(old.id).state == "completed"
    run_to_end(engine, new.id)
    assert {t.step: t.name for t in engine.tasks(case=new.id, state="completed")}["decide"] == "审查并决定"


def test_a_changed_form_schema_makes_a_new_version(engine: Engine, bundle_dir: Path) -> None:
    form = bundle_dir / "forms" / "review" / "accept.schema.json"
    schema = json.loads(form.read_text(encoding="utf-8"))
    schema["properties"]["capital"]["minimum"] = 10
    form.write_text(json.dumps(schema, ensure_ascii=False), encoding="utf-8")
    assert engine.deploy(str(bundle_dir / "processes"))[0].version == 2


def test_deploy_refuses_invalid_bundles_entirely(engine: Engine, bundle_dir: Path, tmp_path: Path) -> None:
    bad = bundle_dir / "processes" / "broken.bpmn"
    bad.write_text("<bpmn:definitions", encoding="utf-8")
    from hennan_flow import FindingsError

    with pytest.raises(FindingsError, match="validation error"):
        engine.deploy(str(bundle_dir / "processes"), allow_findings=True)
    assert [d.version for d in engine.definitions()] == [1]


# -- cases and steps ------------------------------------------------------------------------


def test_a_case_runs_through_parallel_steps_with_queues_per_department(engine: Engine) -> None:
    case = engine.start_case("review", applicant={"name": "张三"}, actor="window-1")
    assert [(t.step, t.department) for t in engine.tasks(case=case.id)] == [("accept", "amr")]
    engine.complete_task(engine.tasks(case=case.id)[0].id, data=ACCEPT, actor="amr-1")
    assert sorted(t.step for t in engine.tasks(case=case.id)) == ["seal", "tax"]
    assert [t.step for t in engine.tasks(department="tax")] == ["tax"]
    assert [t.step for t in engine.tasks(department="psb")] == ["seal"]
    run_to_end(engine, case.id)
    shown = engine.case(case.id)
    assert shown.state == "completed"
    types = [(e.type, e.step) for e in shown.events]
    assert types[0] == ("case.started", None) and types[-1] == ("case.completed", None)
    assert ("task.completed", "accept") in types and ("task.completed", "decide") in types
    assert next(e for e in shown.events if e.type == "task.completed" and e.step == "accept").actor == "amr-1"
    # later steps see what earlier steps entered
    assert engine.case_data(case.id)["enterprise_name"] == ACCEPT["enterprise_name"]


def test_start_and_complete_hand_back_the_steps_they_made_ready(engine: Engine) -> None:
    """A portal shows the applicant what comes next without reading the queue again: the steps a
    start or completion made ready are the queue's own entries (deadlines included)."""
    case = engine.start_case("review", actor="window-1")
    assert case.ready == tuple(engine.tasks(case=case.id))
    assert [t.step for t in case.ready] == ["accept"] and case.ready[0].deadlines is not None
    split = engine.complete_task(case.ready[0].id, data=ACCEPT, actor="amr-1")
    assert split.ready == tuple(engine.tasks(case=case.id)) and len(split.ready) == 2  # the parallel split
    first, second = split.ready
    assert engine.complete_task(first.id, actor="clerk").ready == ()  # the join still waits for the other
    joined = engine.complete_task(second.id, actor="clerk").ready
    assert [t.step for t in joined] == ["decide"] and joined == tuple(engine.tasks(case=case.id))
    rework = engine.complete_task(joined[0].id, data={"needs_supplement": True}, actor="clerk").ready
    assert [t.step for t in rework] == ["supplement"] and rework == tuple(engine.tasks(case=case.id))
    again = engine.complete_task(rework[0].id, actor="applicant").ready
    assert [t.step for t in again] == ["decide"]
    assert again[0].id != joined[0].id  # a new instance of the step, with a new clock
    assert engine.complete_task(again[0].id, data={"needs_supplement": False}).ready == ()
    assert engine.case(case.id).state == "completed"


def test_form_data_is_validated_and_nothing_is_stored_on_failure(engine: Engine) -> None:
    case = engine.start_case("review")
    task = engine.tasks(case=case.id)[0]
    events_before = len(engine.case(case.id).events)
    with pytest.raises(FormDataError) as info:
        engine.complete_task(task.id, data={"capital": 0, "surprise": 1})
    fields = {f.field for f in info.value.fields}
    assert fields == {"/enterprise_name", "/capital", "/surprise"}
    assert engine.task(task.id).state == "ready"
    assert len(engine.case(case.id).events) == events_before


def test_unknown_key_and_unknown_or_finished_steps_are_answered_clearly(engine: Engine) -> None:
    with pytest.raises(NotFoundError, match="没有已部署的事项包 'nope'") as info:
        engine.start_case("nope")
    assert "review" in (info.value.hint or "")
    with pytest.raises(NotFoundError, match="没有环节"):
        engine.complete_task("00000000-0000-0000-0000-000000000000")
    case = engine.start_case("review")
    task = engine.tasks(case=case.id)[0]
    engine.complete_task(task.id, data=ACCEPT)
    with pytest.raises(ConflictError, match=r"已.*办结"):
        engine.complete_task(task.id, data=ACCEPT)


def test_a_rework_loop_of_twenty_cycles_completes(engine: Engine) -> None:
    case = engine.start_case("review")
    run_to_end(engine, case.id, supplement_rounds=20)
    assert engine.case(case.id).state == "completed"
    assert len(engine.tasks(case=case.id, state="completed")) == 3 + 21 + 20


# -- concurrency ----------------------------------------------------------------------------


def _race(url: str, calls: list[tuple[str, dict[str, object]]]) -> list[object]:
    """Run the completions at the same moment from separate engines (separate connections)."""
    engines = [Engine(url) for _ in calls]
    barrier = threading.Barrier(len(calls))
    results: list[object] = [None] * len(calls)

    def worker(i: int) -> None:
        task_id, data = calls[i]
        barrier.wait()
        try:
            results[i] = engines[i].complete_task(task_id, data=data, actor=f"worker-{i}")
        except Exception as exc:
            results[i] = exc

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(len(calls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    for e in engines:
        e.close()
    return results


def test_two_completions_of_the_same_step_exactly_one_wins(engine: Engine, migrated_url: str) -> None:
    for _ in range(3):
        case = engine.start_case("review")
        task = engine.tasks(case=case.id)[0]
        results = _race(migrated_url, [(task.id, ACCEPT), (task.id, ACCEPT)])
        wins = [r for r in results if not isinstance(r, Exception)]
        losses = [r for r in results if isinstance(r, Exception)]
        assert len(wins) == 1, results
        assert len(losses) == 1 and isinstance(losses[0], ConflictError), results
        completed = [e for e in engine.case(case.id).events if e.type == "task.completed"]
        assert len(completed) == 1
        assert sorted(t.step for t in engine.tasks(case=case.id)) == ["seal", "tax"]


def test_completions_of_parallel_steps_of_one_case_both_succeed(engine: Engine, migrated_url: str) -> None:
    for _ in range(3):
        case = engine.start_case("review")
        engine.complete_task(engine.tasks(case=case.id)[0].id, data=ACCEPT)
        parallel = engine.tasks(case=case.id)
        results = _race(migrated_url, [(t.id, {}) for t in parallel])
        assert not [r for r in results if isinstance(r, Exception)], results
        assert [t.step for t in engine.tasks(case=case.id)] == ["decide"]


# -- restart --------------------------------------------------------------------------------


def _cli(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hennan_flow", "--db", url, *args], capture_output=True, text=True, timeout=120
    )


# a production database from new processes needs its directory: one user in the roles the case needs
STAFF = """version = "restart-1"
[[department]]
code = "amr"
name = "衡南县市场监督管理局"
[[department]]
code = "psb"
name = "衡南县公安局"
[[department]]
code = "tax"
name = "国家税务总局衡南县税务局"
[[user]]
id = "clerk"
name = "王丽"
departments = ["amr", "psb", "tax"]
roles = ["clerk", "handler", "admin"]
"""


def test_a_case_survives_a_process_restart(db_url: str, bundle_dir: Path) -> None:
    assert _cli(db_url, "db", "upgrade").returncode == 0
    (bundle_dir / "staff.toml").write_text(STAFF, encoding="utf-8")
    assert _cli(db_url, "directory", "load", str(bundle_dir / "staff.toml")).returncode == 0
    assert _cli(db_url, "deploy", str(bundle_dir / "processes"), "--actor", "clerk").returncode == 0
    started = _cli(
        db_url,
        "--format",
        "json",
        "case",
        "start",
        "review",
        "--applicant",
        '{"name": "李四"}',
        "--actor",
        "clerk",
    )
    assert started.returncode == 0, started.stderr
    case_id = json.loads(started.stdout)["id"]
    # every step from a new process
    while True:
        listed = _cli(db_url, "task", "list", "--case", case_id, "--format", "json")
        tasks = json.loads(listed.stdout)
        if not tasks:
            break
        for t in tasks:
            step_data = {"accept": ACCEPT, "decide": {"needs_supplement": False}}.get(t["step"], {})
            data = json.dumps(step_data, ensure_ascii=False)
            done = _cli(db_url, "task", "complete", t["id"], "--data", data, "--actor", "clerk")
            assert done.returncode == 0, done.stderr
    shown = json.loads(_cli(db_url, "case", "show", case_id, "--format", "json").stdout)
    assert shown["state"] == "completed"
    assert set(shown) >= {"id", "key", "version", "state", "events"}
    assert set(shown["events"][0]) >= {"at", "type", "step", "actor"}


def test_a_state_written_by_another_spiffworkflow_version_is_refused(
    engine: Engine, migrated_url: str
) -> None:
    case = engine.start_case("review")
    with write_session(engine) as session:
        row = session.scalars(select(CaseRow).where(CaseRow.id == case.id)).one()
        row.spiff_version = "3.1.2"
    fresh = Engine(migrated_url)
    with pytest.raises(StateError, match=r"SpiffWorkflow 3\.1\.2"):
        fresh.complete_task(fresh.tasks(case=case.id)[0].id, data=ACCEPT)
    fresh.close()


def test_deploy_refuses_audit_errors_in_chinese_and_deploys_nothing(sqlite_url: str) -> None:
    """County designers read the refusal: each audit error as the audit prints it, and what to do."""
    from hennan_flow import FindingsError

    violations = Path(__file__).parent / "fixtures" / "audit" / "violations.bpmn"
    with Engine(migrated(sqlite_url)) as eng:
        with pytest.raises(FindingsError) as info:
            eng.deploy(str(violations))
        text = f"{info.value}\n{info.value.hint}"
        assert "未部署：五个一律审查发现" in text and "violations.bpmn:" in text and "修改建议" in text
        assert "--allow-findings" in text and "deploy refused" not in text
        assert eng.definitions() == []
