"""Every statement of the hot path names its case (issue 27), so the schema stays shardable by case id.

A real run on PostgreSQL (start a case, complete a step, sweep due signals, cards and a BPMN timer)
with the statements the engine's connections send logged at the driver. Each statement must carry
the case id among its values (routable to the case's shard), or a row id that leads to it (a task,
deadline, signal or card id of a case: the lists below name those statements), or be one of the
explicitly allowed reads of reference tables, the sweeper's scans (run on every shard) or the outbox's
ordering lock. docs/scale.md says what each list means on a distributed PostgreSQL.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import event, select

from helpers import at, read
from hennan_flow.db.models import CardPhaseRow, CardRow, CaseRow, DeadlineRow, SignalRow, TaskRow
from hennan_flow.engine import Engine, SimulatedClock


class Log:
    """The statements the engine's connections send, with their parameter values, as the driver sees them."""

    def __init__(self) -> None:
        self.on = False
        self.statements: list[tuple[str, list[Any]]] = []

    def add(self, sql: Any, params: Any, many: bool = False) -> None:
        if not self.on:
            return
        rows = list(params or ()) if many else [params]
        values: list[Any] = []
        for row in rows:
            if isinstance(row, dict):
                values.extend(row.values())
            elif row is not None:
                values.extend(row)
        # placeholders shown as %s whether the cursor took psycopg's or the server's own ($1: db/raw.py)
        self.statements.append((re.sub(r"\$\d+", "%s", " ".join(str(sql).split())), values))

    def take(self) -> list[tuple[str, list[Any]]]:
        out, self.statements = self.statements, []
        return out


def logged(engine: Engine) -> Log:
    import psycopg

    log = Log()

    class Cursor(psycopg.Cursor[Any]):
        def execute(self, query: Any, params: Any = None, **kw: Any) -> Any:
            log.add(query, params)
            return super().execute(query, params, **kw)

        def executemany(self, query: Any, params_seq: Any, **kw: Any) -> None:
            batch = list(params_seq)
            log.add(query, batch, many=True)
            super().executemany(query, batch, **kw)

    db = engine.context.db

    @event.listens_for(db, "connect")
    def _log(dbapi: Any, _rec: Any) -> None:
        dbapi.cursor_factory = Cursor

    db.dispose()
    return log


# reference tables: small, read by every operation, the same rows on every shard
REFERENCE_READS = (
    "SELECT MAX(id) FROM hf_directory",  # the stored directory's version (the permission check)
    "SELECT MAX(id) FROM hf_calendar",  # the working-day calendar's version
    "SELECT (SELECT MAX(id) FROM hf_directory), (SELECT MAX(id) FROM hf_calendar)",  # both (a completion)
    "SELECT id, version FROM hf_definition WHERE key = ",  # the bundle's newest definition (start)
)
# the sweeper's scans for due work: they name no case and run on every shard (each shard's own
# due signals, armed deadlines and timers); what they find is then handled case by case
SWEEP_SCANS = (
    "SELECT min(hf_deadline.arm_at) ",
    "SELECT min(hf_signal.due_at) ",
    "SELECT min(hf_case.next_timer_at) ",
    "SELECT accepted_at FROM hf_deadline WHERE pending AND closed_at IS NULL",  # the calendar check
    "SELECT hf_signal.id FROM hf_signal WHERE hf_signal.state IN ",  # expired leases (reaping)
    "SELECT hf_deadline.id FROM hf_deadline WHERE hf_deadline.arm_at IS NOT NULL AND hf_deadline.arm_at <= ",
    "WITH due AS (SELECT hf_signal.id AS id FROM hf_signal WHERE ",  # the claim (FOR UPDATE SKIP LOCKED)
    "SELECT hf_case.id FROM hf_case WHERE hf_case.next_timer_at <= ",  # due BPMN timers
)
OUTBOX_ORDER = (
    "SELECT pg_advisory_xact_lock("  # outbox ids visible in order (db/journal.py): one per database
)
# statements keyed by a row id of the case rather than the case id (each id leads to one case)
KEYED_BY_ROW = (
    "SELECT t.id, t.case_id, t.step, t.name, t.department, t.state, t.ready_at, t.ended_at, t.actor,"
    " t.doc_order, t.claimed_by, c.definition_id FROM hf_task t JOIN hf_case c ON c.id = t.case_id WHERE t.id = ",
    "SELECT id, case_id, step, name, department, state, ready_at, ended_at, actor, doc_order, claimed_by"
    " FROM hf_task WHERE id = ",
    # a completion's step, with the reference tables' versions (each shard holds those tables)
    "SELECT id, case_id, step, name, department, state, ready_at, ended_at, actor, doc_order, claimed_by,"
    " (SELECT MAX(id) FROM hf_directory), (SELECT MAX(id) FROM hf_calendar) FROM hf_task WHERE id = ",
    # a step's deadline closed if in time, and else read (is it open, armed?): one statement
    "WITH closed AS (UPDATE hf_deadline SET closed_at = %s, arm_at = NULL WHERE id = ",
    "SELECT hf_deadline.case_id FROM hf_deadline WHERE hf_deadline.id IN ",
    "SELECT hf_deadline.id, hf_deadline.case_id, ",
    "UPDATE hf_deadline SET arm_at = NULL, ",
    "SELECT hf_signal.case_id FROM hf_signal WHERE hf_signal.id IN ",
    "SELECT hf_signal.id, hf_signal.deadline_id, ",
    "UPDATE hf_signal SET state=",
    "SELECT hf_task.id, hf_task.department FROM hf_task WHERE hf_task.id IN ",
    "SELECT hf_card.deadline_id, hf_card.color FROM hf_card WHERE hf_card.deadline_id IN ",
    "SELECT count(*) AS count_1 FROM hf_card WHERE hf_card.deadline_id = ",  # one red card per step (§9)
    "SELECT hf_card.id, hf_card.signal_id, ",  # the card a record_overdue signal is about
    "SELECT hf_card_phase.id, hf_card_phase.card_id, ",  # that card's phases (§9)
    "UPDATE hf_card_phase SET ",  # a phase marked overdue, by its id
)


def kind(sql: str, values: list[Any], cases: set[str], rows: set[str]) -> str:
    """What a statement is keyed by: case, row (`KEYED_BY_ROW`), reference, scan, order, ping — or unkeyed."""
    if sql in ("", ";"):
        return "ping"  # the pool's liveness check
    if sql.startswith(REFERENCE_READS):
        return "reference"
    if sql.startswith(SWEEP_SCANS):
        return "scan"
    if sql.startswith(OUTBOX_ORDER):
        return "order"
    named = {str(v) for v in values}
    if named & cases:
        return "case"
    if named & rows and sql.startswith(KEYED_BY_ROW):
        return "row"
    return "unkeyed"


def ids(engine: Engine) -> tuple[set[str], set[str]]:
    """The database's case ids, and the ids of rows that belong to one case."""
    with read(engine) as session:
        cases = set(session.scalars(select(CaseRow.id)))
        rows: set[str] = set(session.scalars(select(TaskRow.id)))
        rows |= set(session.scalars(select(DeadlineRow.id)))
        rows |= {str(i) for i in session.scalars(select(SignalRow.id))}
        rows |= set(session.scalars(select(CardRow.id)))
        rows |= set(session.scalars(select(CardPhaseRow.id)))
    return cases, rows


@pytest.mark.postgres
def test_start_complete_and_sweep_name_the_case_in_every_statement(
    pg_sim: tuple[Engine, SimulatedClock],
) -> None:
    engine, clock = pg_sim
    log = logged(engine)
    engine.start_case("review_clock")  # warm: the definition parsed, caches filled
    log.on = True
    first = engine.start_case("review_clock")
    started = log.take()
    second = engine.start_case("review_clock")
    [task] = first.ready
    engine.complete_task(task.id, data={})  # in time: its deadline closed, nothing stored
    completed = log.take()
    del second
    clock.set(at("2025-10-20T08:00"))  # the open steps' signals and cards are due, and the escalation timer
    swept = engine.sweep()
    sweeping = log.take()
    assert len(swept.issued) >= 8 and started and completed and sweeping
    cases, rows = ids(engine)
    found: dict[str, set[str]] = {}
    for phase, statements in (("start", started), ("complete", completed), ("sweep", sweeping)):
        for sql, values in statements:
            found.setdefault(kind(sql, values, cases, rows), set()).add(f"{phase}: {sql[:160]}")
    assert "unkeyed" not in found, "\n".join(sorted(found["unkeyed"]))
    assert {"case", "row", "reference", "scan", "order"} <= set(found)
    # the writes of a step are routed by the case id: only reads and the step's own rows use a row id
    assert not any(s.split(": ", 1)[1].startswith("INSERT") for s in found["row"])


def test_a_statement_naming_no_case_is_caught() -> None:
    cases, rows = {"c1"}, {"t1"}
    assert kind("SELECT count(*) FROM hf_task WHERE state = %s", ["ready"], cases, rows) == "unkeyed"
    assert kind("UPDATE hf_task SET state = %s WHERE step = %s", ["done", "review"], cases, rows) == "unkeyed"
    # a row id alone is enough only for the statements listed as keyed by one
    assert kind("DELETE FROM hf_task WHERE id = %s", ["t1"], cases, rows) == "unkeyed"
    assert kind("SELECT MAX(id) FROM hf_calendar", [], cases, rows) == "reference"
    assert kind("INSERT INTO hf_event (case_id) VALUES (%s)", ["c1"], cases, rows) == "case"


@pytest.mark.postgres
def test_a_hot_read_on_postgresql_runs_in_autocommit_and_hands_back_a_transactional_connection(
    pg_sim: tuple[Engine, SimulatedClock],
) -> None:
    import psycopg.pq

    engine, _clock = pg_sim
    case = engine.start_case("review_clock")
    with engine.context.reading() as raw:
        assert raw.rows("SELECT id FROM hf_case") == [(case.id,)]
        reading = raw._cursor.connection  # the read sent no BEGIN: nothing to roll back at check-in
        assert reading.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
    fairy = engine.context.db.raw_connection()  # the pool hands out the one used last (LIFO)
    try:
        conn = fairy.dbapi_connection
        assert conn is reading and conn.autocommit is False  # a write on it begins a transaction again
        assert conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
    finally:
        fairy.close()
    # and the next completion on that connection still commits as one transaction
    [task] = case.ready
    assert engine.complete_task(task.id, data={}).state == "completed"


@pytest.mark.postgres
def test_a_completion_on_postgresql_makes_few_round_trips(
    pg_sim: tuple[Engine, SimulatedClock], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A step's writes ride in one pipeline and its reads under the case lock go out together
    (db/raw.py): the form check, the locked reads, the deadline closed, the writes, the COMMIT."""
    import contextlib

    import psycopg

    engine, _clock = pg_sim
    trips = [0]

    class Cursor(psycopg.Cursor[Any]):
        def execute(self, query: Any, params: Any = None, **kw: Any) -> Any:
            if self.connection._pipeline is None:
                trips[0] += 1 + (
                    not self.connection.autocommit and self.connection.info.transaction_status == 0
                )
            return super().execute(query, params, **kw)

        def executemany(self, query: Any, params_seq: Any, **kw: Any) -> None:
            if self.connection._pipeline is None:
                trips[0] += 1
            super().executemany(query, params_seq, **kw)

    pipeline, commit = psycopg.Connection.pipeline, psycopg.Connection.commit

    @contextlib.contextmanager
    def counted_pipeline(self: Any) -> Iterator[Any]:
        outer = self._pipeline is None
        with pipeline(self) as p:
            yield p
        trips[0] += outer

    def counted_commit(self: Any) -> None:
        trips[0] += self.info.transaction_status != 0
        commit(self)

    monkeypatch.setattr(psycopg.Connection, "pipeline", counted_pipeline)
    monkeypatch.setattr(psycopg.Connection, "commit", counted_commit)
    db = engine.context.db

    @event.listens_for(db, "connect")
    def _count(dbapi: Any, _rec: Any) -> None:
        dbapi.cursor_factory = Cursor

    db.dispose()
    engine.complete_task(engine.start_case("review_clock").ready[0].id, data={})  # warm
    [task] = engine.start_case("review_clock").ready
    trips[0] = 0
    done = engine.complete_task(task.id, data={})
    assert done.state == "completed"
    # the reads under the lock, the step's deadline closed, the case's deadline closed (its last
    # step), the writes, the COMMIT: 5 (it was 17 with a statement a round trip, 6 with the form
    # check's read of a step the engine had just handed back)
    assert trips[0] <= 5, trips[0]
