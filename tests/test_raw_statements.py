"""How the driver cursor sends the hot path's statements (db/raw.py, issue 27).

On PostgreSQL the held-back writes of a pipeline go to the server as few statements: a run of writes
to different tables as one statement of data-modifying CTEs, a second write to a table after the
first in a statement of its own, the outbox lock before the run it would split. Every statement
takes the server's own `$n` placeholders on a cursor of the connection's cursor class. On SQLite
instants are stored as UTC text, the same for the same instant whatever its zone.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy.orm.exc import StaleDataError

from helpers import read, rows
from hennan_flow.db import hotpath
from hennan_flow.db.models import CaseRow
from hennan_flow.db.raw import Raw, _merged, _statement
from hennan_flow.engine import Engine, SimulatedClock

EVENT = "INSERT INTO hf_event (case_id, type, at, detail) VALUES (?, ?, now(), '{}')"
GUARDED = "UPDATE hf_case SET rev = rev + 1 WHERE id = ? AND rev = ?"
LOCK = "SELECT pg_advisory_xact_lock(?)"
OUTBOX = "INSERT INTO hf_outbox (type, case_id) VALUES (?, ?)"


def test_writes_to_different_tables_become_one_statement_and_a_repeated_table_a_second() -> None:
    later = [
        (EVENT, ("c1", "a"), None, ""),
        (GUARDED, ("c1", 3), 1, "stale"),
        ("UPDATE hf_task SET state = ? WHERE id = ? AND case_id = ?", ("done", "t1", "c1"), None, ""),
        (EVENT, ("c1", "b"), None, ""),  # hf_event again: after the first statement
    ]
    [(first, params, checks), (second, params2, checks2)] = _merged(later)
    assert first.startswith("WITH w0 AS (INSERT INTO hf_event ") and "w1 AS (UPDATE hf_case " in first
    assert first.endswith("SELECT (SELECT count(*) FROM w1)")  # the guarded write's rows come back
    assert params == ("c1", "a", "c1", 3, "done", "t1", "c1") and checks == [(1, "stale")]
    assert (second, params2, checks2) == (EVENT, ("c1", "b"), [])


def test_a_write_naming_another_table_or_returning_rows_stays_a_statement_of_its_own() -> None:
    reads_other = "INSERT INTO hf_signal (deadline_id) SELECT id FROM hf_deadline WHERE id = ?"
    returning = "DELETE FROM hf_pause WHERE case_id = ? RETURNING id"
    later = [(EVENT, ("c1", "a"), None, ""), (reads_other, ("d1",), None, ""), (returning, ("c1",), None, "")]
    assert [sql for sql, _p, _c in _merged(later)] == [EVENT, reads_other, returning]


def test_the_outbox_lock_is_taken_before_the_run_of_writes_it_would_split() -> None:
    later = [(EVENT, ("c1", "a"), None, ""), (LOCK, (7,), None, ""), (OUTBOX, ("x", "c1"), None, "")]
    [(lock, _p, _c), (writes, params, _checks)] = _merged(later)
    assert lock == LOCK  # before the outbox's row is inserted (its id taken), as before
    assert writes.startswith("WITH w0 AS (INSERT INTO hf_event ") and writes.endswith(OUTBOX)
    assert params == ("c1", "a", "x", "c1")


def test_placeholders_become_the_servers_own_or_psycopgs() -> None:
    assert _statement("SELECT a FROM t WHERE b = ? AND c IN (?, ?)", True) == (
        "SELECT a FROM t WHERE b = $1 AND c IN ($2, $3)"
    )
    assert _statement("SELECT a FROM t WHERE b = ?", False) == "SELECT a FROM t WHERE b = %s"


def test_sqlite_instants_are_utc_text_whatever_the_zone_and_the_previous_call() -> None:
    raw = Raw(dbapi=sqlite3.connect(":memory:"))
    utc = datetime(2025, 9, 29, 2, 0, 0, 123456, tzinfo=UTC)
    shanghai = datetime(2025, 9, 29, 10, 0, 0, 123456, tzinfo=timezone(timedelta(hours=8)))
    naive = datetime(2025, 9, 29, 10, 0, 0, 123456)  # taken as UTC already
    texts = [raw.ts(v) for v in (utc, utc, shanghai, naive, shanghai, utc + timedelta(microseconds=1))]
    assert texts == [
        "2025-09-29 02:00:00.123456",
        "2025-09-29 02:00:00.123456",
        "2025-09-29 02:00:00.123456",
        "2025-09-29 10:00:00.123456",
        "2025-09-29 02:00:00.123456",
        "2025-09-29 02:00:00.123457",
    ]
    assert raw.ts(None) is None


# -- on PostgreSQL -----------------------------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.parametrize(
    "before",
    [
        EVENT,  # merged: the guarded write is part of one statement with the event
        "UPDATE hf_case SET error = 'written' WHERE id = ?",  # alone: a second write to hf_case
    ],
)
def test_a_guarded_write_that_misses_fails_the_transaction_before_its_commit(
    pg_sim: tuple[Engine, SimulatedClock], before: str
) -> None:
    engine, _clock = pg_sim
    case = engine.start_case("review_clock")
    events = len(rows(engine, "SELECT id FROM hf_event"))
    with pytest.raises(StaleDataError, match="changed under"), engine.context.write() as tx:
        raw = tx.raw
        raw.later(before, (case.id, "bench.test") if before == EVENT else (case.id,))
        raw.later(GUARDED, (case.id, 999), expect=1, stale="changed under")
        raw.later("UPDATE hf_task SET actor = 'written' WHERE case_id = ?", (case.id,))
    assert len(rows(engine, "SELECT id FROM hf_event")) == events  # nothing of it was committed
    assert rows(engine, "SELECT actor FROM hf_task") == [(None,)]
    with read(engine) as session:
        row = session.get(CaseRow, case.id)
        assert row is not None and row.error is None and row.rev == 1


@pytest.mark.postgres
def test_merged_writes_to_different_tables_are_all_written(pg_sim: tuple[Engine, SimulatedClock]) -> None:
    engine, _clock = pg_sim
    case = engine.start_case("review_clock")
    with engine.context.write() as tx:
        raw = tx.raw
        raw.later(EVENT, (case.id, "bench.test"))
        raw.later(GUARDED, (case.id, 1), expect=1, stale="changed under")
        raw.later("UPDATE hf_task SET actor = 'written' WHERE case_id = ?", (case.id,))
        raw.later(EVENT, (case.id, "bench.again"))
    assert rows(engine, "SELECT type FROM hf_event WHERE type LIKE 'bench.%' ORDER BY id") == [
        ("bench.test",),
        ("bench.again",),
    ]
    assert rows(engine, "SELECT rev FROM hf_case") == [(2,)]
    assert rows(engine, "SELECT actor FROM hf_task") == [("written",)]


@pytest.mark.postgres
def test_a_step_deadline_is_closed_in_time_or_read_open_and_armed_in_one_statement(
    pg_sim: tuple[Engine, SimulatedClock],
) -> None:
    engine, _clock = pg_sim
    case = engine.start_case("review_clock")
    [task] = case.ready
    [(owner, arm)] = rows(engine, "SELECT id, arm_at FROM hf_deadline WHERE task_id = ?", (task.id,))
    late = arm + timedelta(seconds=1)
    with engine.context.write() as tx:
        assert hotpath.close_armed_in_time(tx.raw, owner, late) == (False, True, True)  # late: still open
        assert hotpath.close_armed_in_time(tx.raw, "no such deadline", arm) == (False, False, False)
        tx.raw.run("UPDATE hf_deadline SET arm_at = NULL WHERE id = ?", (owner,))
        assert hotpath.close_armed_in_time(tx.raw, owner, arm) == (False, True, False)  # open, not armed
        tx.raw.run("UPDATE hf_deadline SET arm_at = ? WHERE id = ?", (arm, owner))
        assert hotpath.close_armed_in_time(tx.raw, owner, arm) == (True, False, False)  # in time: closed
        assert hotpath.close_armed_in_time(tx.raw, owner, arm) == (False, False, False)  # closed before
    assert rows(engine, "SELECT closed_at FROM hf_deadline WHERE id = ?", (owner,)) == [(arm,)]


@pytest.mark.postgres
def test_a_completion_on_postgresql_sends_few_statements(pg_sim: tuple[Engine, SimulatedClock]) -> None:
    """Counted as the connection's cursor class sees them (the raw cursors are of it): the locked
    reads (3), the step's end and its deadline (2), the outbox lock and one statement of writes (2),
    the case's deadline closed (its last step, 1); it was 16 before the writes were merged."""
    import psycopg
    from sqlalchemy import event

    engine, _clock = pg_sim
    sent: list[str] = []

    class Cursor(psycopg.Cursor[Any]):
        def execute(self, query: Any, params: Any = None, **kw: Any) -> Any:
            sent.append(str(query))
            return super().execute(query, params, **kw)

        def executemany(self, query: Any, params_seq: Any, **kw: Any) -> None:
            batch = list(params_seq)
            sent.extend([str(query)] * len(batch))
            super().executemany(query, batch, **kw)

    db = engine.context.db

    @event.listens_for(db, "connect")
    def _count(dbapi: Any, _rec: Any) -> None:
        dbapi.cursor_factory = Cursor

    db.dispose()
    engine.complete_task(engine.start_case("review_clock").ready[0].id, data={})  # warm
    [task] = engine.start_case("review_clock").ready
    sent.clear()
    assert engine.complete_task(task.id, data={}).state == "completed"
    assert len(sent) <= 9, "\n".join(sent)
    assert all("$1" in sql or "%s" not in sql for sql in sent)  # the server's own placeholders
