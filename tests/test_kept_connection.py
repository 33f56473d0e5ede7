"""The write transactions' kept connection (db/session.py `KeptConnection`): reused without a pool
checkout, never shared by two transactions at once, given back to the pool when a transaction failed
or the engine closes, dropped untouched in a forked child, pinged after sitting idle on PostgreSQL."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, text

from helpers import ACCEPT, REVIEW_LIB, migrated
from hennan_flow import Engine
from hennan_flow.db import session as db_session
from hennan_flow.db.session import KeptConnection, make_engine, write_sessions
from hennan_flow.db.transaction import transaction
from hennan_flow.engine import SimulatedClock
from hennan_flow.errors import HennanFlowError


def _connection_of(engine: Engine) -> Any:
    with engine.context.write() as tx:
        return tx.raw._dbapi


def _checkouts(engine: Engine) -> list[int]:
    seen: list[int] = []

    @event.listens_for(engine.context.db, "checkout")
    def _count(_dbapi: Any, _record: Any, _proxy: Any) -> None:
        seen.append(1)

    return seen


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = Engine(migrated(f"sqlite:///{tmp_path / 'hf.db'}"))
    engine.deploy(str(REVIEW_LIB / "processes"))
    yield engine
    engine.close()


def test_write_transactions_reuse_one_connection_without_a_pool_checkout(engine: Engine) -> None:
    first = _connection_of(engine)
    checkouts = _checkouts(engine)
    assert _connection_of(engine) is first
    case = engine.start_case("review")
    assert checkouts == []  # the start's transaction took the kept connection
    assert engine.case(case.id).state == "open"  # and committed on it


def test_a_transaction_that_needs_no_orm_makes_no_session(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    case = engine.start_case("review")
    made: list[int] = []
    monkeypatch.setattr(engine.context, "_write", _Counting(engine.context._write, made))
    engine.complete_task(case.ready[0].id, data=ACCEPT)  # a step without materials
    assert made == []
    with engine.context.write() as tx:
        assert tx.session.execute(text("SELECT 1")).scalar() == 1
    assert made == [1]  # made when asked for


class _Counting:
    """A sessionmaker stand-in that counts the sessions it makes."""

    def __init__(self, sessions: Any, made: list[int]) -> None:
        self._sessions, self._made, self.kw = sessions, made, sessions.kw

    def __call__(self, **kw: Any) -> Any:
        self._made.append(1)
        return self._sessions(**kw)


def test_two_transactions_at_once_never_share_the_kept_connection(tmp_path: Path) -> None:
    db = make_engine(f"sqlite:///{tmp_path / 't.db'}")
    kept = KeptConnection(db)
    one, g1 = kept.take()
    two, g2 = kept.take()  # the first still holds it: the pool's
    assert one.dbapi_connection is not two.dbapi_connection
    kept.give_back(one, g1)
    kept.give_back(two, g2)  # the slot is taken: back to the pool
    assert db.pool.checkedout() == 1  # type: ignore[attr-defined]
    again, g3 = kept.take()
    assert again is one
    kept.give_back(again, g3)
    kept.close()
    assert db.pool.checkedout() == 0  # type: ignore[attr-defined]
    db.dispose()


def test_threads_each_commit_on_their_own_connection(tmp_path: Path) -> None:
    db = make_engine(f"sqlite:///{tmp_path / 't.db'}")
    with db.begin() as conn:
        conn.execute(text("CREATE TABLE note (id INTEGER PRIMARY KEY, body TEXT NOT NULL)"))
    sessions, kept = write_sessions(db), KeptConnection(db)
    inside, release = threading.Event(), threading.Event()
    used: dict[str, Any] = {}

    def slow() -> None:
        with transaction(sessions, kept=kept) as tx:
            used["slow"] = tx.raw._dbapi
            tx.raw.run("INSERT INTO note (body) VALUES (?)", ("slow",))
            inside.set()
            release.wait(10)

    thread = threading.Thread(target=slow)
    thread.start()
    assert inside.wait(10)
    fast, _ = kept.take()  # what a second thread's transaction gets meanwhile
    assert fast.dbapi_connection is not used["slow"]
    fast.close()
    release.set()
    thread.join(10)
    with transaction(sessions, kept=kept) as tx:
        assert tx.raw._dbapi is used["slow"]  # the slow one's came back to the slot
        assert tx.raw.rows("SELECT body FROM note") == [("slow",)]
    kept.close()
    db.dispose()


def test_a_failed_transaction_gives_its_connection_to_the_pool_not_the_slot(engine: Engine) -> None:
    kept = engine.context._kept
    engine.start_case("review")  # the definition loaded: the next start needs no ORM session
    with pytest.raises(RuntimeError), engine.context.write() as tx:
        failed = tx.raw._dbapi
        raise RuntimeError("boom")
    assert kept._fairy is None
    assert engine.context.db.pool.checkedout() == 0  # type: ignore[attr-defined]
    assert engine.start_case("review").state == "open"  # the next one works
    assert kept._fairy is not None and kept._fairy.dbapi_connection is failed  # LIFO: the warm one


def test_closing_the_engine_returns_the_kept_connection(tmp_path: Path) -> None:
    engine = Engine(migrated(f"sqlite:///{tmp_path / 'hf.db'}"))
    engine.deploy(str(REVIEW_LIB / "processes"))
    engine.start_case("review")  # (the first start loads the definition through the ORM)
    engine.start_case("review")
    pool = engine.context.db.pool
    assert pool.checkedout() == 1  # type: ignore[attr-defined]
    engine.close()
    assert pool.checkedout() == 0  # type: ignore[attr-defined]
    assert engine.start_case("review").state == "open"  # usable again, on a fresh pool
    engine.context.db.dispose()  # a disposed pool takes the kept connection with it
    assert engine.context._kept._fairy is None
    engine.close()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork here")
def test_a_forked_child_never_uses_the_parents_connections(engine: Engine) -> None:
    parent = _connection_of(engine)
    pid = os.fork()
    if pid == 0:  # the child: its own connection, the parent's left untouched
        code = 1
        try:
            child = _connection_of(engine)
            case = engine.start_case("review")
            code = 0 if child is not parent and engine.case(case.id).state == "open" else 2
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert _connection_of(engine) is parent  # the parent's still works
    assert len(engine.cases()) == 1  # and sees the child's case


# -- PostgreSQL -------------------------------------------------------------------------------


def _write_pid(engine: Engine) -> int:
    with engine.context.write() as tx:
        found = tx.raw.row("SELECT pg_backend_pid()")
    assert found is not None
    return int(found[0])


def _terminate(cluster: Any, pid: int) -> None:
    with cluster.connect("postgres") as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (pid,))


@pytest.mark.postgres
def test_a_kept_connection_whose_server_end_died_while_idle_is_replaced(
    pg_sim: tuple[Engine, SimulatedClock], postgres: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    (engine, _clock), cluster = pg_sim, postgres
    case = engine.start_case("review_clock")
    pid = _write_pid(engine)
    _terminate(cluster, pid)
    monkeypatch.setattr(db_session, "PING_AFTER_S", 0.0)  # it counts as idle: pinged first
    assert engine.complete_task(case.ready[0].id, data={}).state == "completed"
    assert _write_pid(engine) != pid


@pytest.mark.postgres
def test_a_kept_connection_broken_unseen_fails_one_transaction_and_is_replaced(
    pg_sim: tuple[Engine, SimulatedClock], postgres: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Used a moment ago, it is not pinged (as the pool does): the transaction on it fails, and the
    broken connection goes to the pool, which replaces it; the next transaction works."""
    (engine, _clock), cluster = pg_sim, postgres
    monkeypatch.setattr(db_session, "PING_AFTER_S", 3600.0)
    pid = _write_pid(engine)
    _terminate(cluster, pid)
    with pytest.raises(HennanFlowError, match="数据库"):
        engine.start_case("review_clock")
    assert engine.start_case("review_clock").state == "open"
    assert _write_pid(engine) != pid
