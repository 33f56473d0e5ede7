"""Bounded waits (issue 28 item 3): a stalled worker delays the others only as long as a timeout.

PostgreSQL: a completion waiting on a case lock held elsewhere fails with the retryable conflict
(`lock_timeout`), and a session left idle inside its transaction is ended by the server so that it
loses its locks (`idle_in_transaction_session_timeout`). SQLite's busy timeout is in
test_db_transactions.py. Waits are polled (bounded), never slept blindly.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from helpers import ACCEPT, REVIEW_LIB
from hennan_flow import Engine
from hennan_flow.db.session import make_engine
from hennan_flow.engine.context import database_error
from hennan_flow.errors import ConfigError, ConflictError

pytestmark = pytest.mark.postgres


def _dbname(url: str) -> str:
    return url.split("/")[3].split("?")[0]


def _ready_case(engine: Engine) -> tuple[str, str]:
    engine.deploy(str(REVIEW_LIB / "processes"))
    case = engine.start_case("review")
    (task,) = engine.tasks(case=case.id)
    return case.id, task.id


def test_a_completion_waiting_on_a_held_case_lock_is_a_conflict_and_applies_nothing(
    postgres: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HENNAN_FLOW_LOCK_TIMEOUT_MS", "200")
    url = postgres.create_database(migrated=True)
    engine = Engine(url)
    case_id, task_id = _ready_case(engine)
    holder = postgres.connect(_dbname(url))
    try:
        with holder.transaction():  # another worker stalled holding the case lock
            holder.execute("SELECT id FROM hf_case WHERE id = %s FOR UPDATE", (case_id,))
            started = time.monotonic()
            with pytest.raises(ConflictError) as caught:
                engine.complete_task(task_id, data=dict(ACCEPT), actor="clerk")
            assert time.monotonic() - started < 30  # a guard only: it did not wait for the holder
            assert caught.value.hint == "请重试"
            assert caught.value.exit_code == 1
        # nothing half-applied: the step is still ready, and the retry succeeds
        assert [t.id for t in engine.tasks(case=case_id)] == [task_id]
        assert engine.complete_task(task_id, data=dict(ACCEPT), actor="clerk").state == "completed"
    finally:
        holder.close()
        engine.close()


def test_a_session_left_idle_in_its_transaction_loses_its_locks(
    postgres: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = postgres.create_database(migrated=True)
    engine = Engine(url)  # the default idle timeout for the clerk's engine
    case_id, task_id = _ready_case(engine)
    monkeypatch.setenv("HENNAN_FLOW_IDLE_TX_TIMEOUT_MS", "300")
    stalled = make_engine(url)  # a worker with the engine's session settings, stalled mid-transaction
    conn = stalled.connect()
    try:
        conn.begin()
        pid = conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
        conn.execute(text("SELECT id FROM hf_case WHERE id = :id FOR UPDATE"), {"id": case_id})
        watcher = postgres.connect(_dbname(url))
        try:
            deadline = time.monotonic() + 60  # a guard: the server ends it after 300 ms
            while watcher.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s", (pid,)).fetchone():
                assert time.monotonic() < deadline, "the idle transaction was never ended"
                time.sleep(0.05)
        finally:
            watcher.close()
        # its lock is gone: the clerk's completion of that case goes through
        assert engine.complete_task(task_id, data=dict(ACCEPT), actor="clerk").state == "completed"
        # the stalled worker, waking up, finds its transaction gone: a retryable conflict for it
        with pytest.raises(DBAPIError) as woke:
            conn.execute(text("SELECT 1"))
        assert isinstance(database_error(woke.value, url), ConflictError)
    finally:
        conn.invalidate()
        conn.close()
        stalled.dispose()
        engine.close()


@pytest.mark.parametrize("value", ["0", "-5", "ten", "1.5", "99999999999", "１０"])
def test_a_bad_timeout_setting_is_a_config_error_naming_it(
    value: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HENNAN_FLOW_LOCK_TIMEOUT_MS", value)
    with pytest.raises(ConfigError) as caught:
        make_engine("postgresql+psycopg://nobody@/nowhere?host=/nonexistent")
    assert "HENNAN_FLOW_LOCK_TIMEOUT_MS" in str(caught.value)
