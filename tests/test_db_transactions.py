"""The write transaction on the driver connection and the background WAL checkpointer (SQLite)."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from helpers import REVIEW_LIB, held_write_lock, migrated, run_to_end
from hennan_flow import Engine
from hennan_flow.db import checkpoint
from hennan_flow.db.checkpoint import Checkpointer
from hennan_flow.db.models import MetaRow
from hennan_flow.db.session import make_engine, write_sessions
from hennan_flow.db.transaction import transaction
from hennan_flow.errors import ConflictError


def _wait(condition: Callable[[], bool], seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return condition()


@pytest.fixture
def sessions(tmp_path: Path) -> Iterator[sessionmaker[Session]]:
    db = make_engine(f"sqlite:///{tmp_path / 't.db'}")
    with db.begin() as conn:
        conn.execute(text("CREATE TABLE note (id INTEGER PRIMARY KEY, body TEXT NOT NULL)"))
    yield write_sessions(db)
    db.dispose()


def _count(path: Path) -> int:
    with sqlite3.connect(path) as other:
        return int(other.execute("SELECT count(*) FROM note").fetchone()[0])


# -- transaction ----------------------------------------------------------------------------


def test_driver_statements_commit_once_and_are_visible_to_other_connections(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    with transaction(sessions) as tx:
        raw = tx.raw
        raw.run("INSERT INTO note (body) VALUES (?)", ("a",))
        raw.run("INSERT INTO note (body) VALUES (?)", ("b",))
        assert _count(tmp_path / "t.db") == 0  # not before the commit
    assert _count(tmp_path / "t.db") == 2


def test_an_error_inside_rolls_back_driver_and_orm_statements_alike(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    with pytest.raises(RuntimeError), transaction(sessions) as tx:
        tx.raw.run("INSERT INTO note (body) VALUES (?)", ("raw",))
        tx.session.execute(text("INSERT INTO note (body) VALUES ('orm')"))
        raise RuntimeError("boom")
    assert _count(tmp_path / "t.db") == 0
    # the pooled connection came back clean: the next transaction works and commits
    with transaction(sessions) as tx:
        tx.session.execute(text("INSERT INTO note (body) VALUES ('orm')"))
        tx.raw.run("INSERT INTO note (body) VALUES (?)", ("raw",))
    assert _count(tmp_path / "t.db") == 2


def test_after_commit_actions_run_after_the_data_is_durable_and_never_after_a_rollback(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    seen: list[int] = []

    def after_commit() -> None:
        seen.append(_count(tmp_path / "t.db"))

    with transaction(sessions) as tx:  # driver statements only
        tx.raw.run("INSERT INTO note (body) VALUES (?)", ("a",))
        tx.after_commit(after_commit)
    with transaction(sessions) as tx:  # the ORM joined
        tx.session.execute(text("INSERT INTO note (body) VALUES ('b')"))
        tx.after_commit(after_commit)
    with pytest.raises(RuntimeError), transaction(sessions) as tx:
        tx.raw.run("INSERT INTO note (body) VALUES (?)", ("c",))
        tx.after_commit(after_commit)
        raise RuntimeError("rolled back: no action runs")
    assert seen == [1, 2]


def test_the_cursor_sees_what_the_orm_did_before_it_in_the_same_transaction(tmp_path: Path) -> None:
    """Like the ORM's autoflush: rows the session added, changed or deleted are flushed before a
    driver-level statement runs, also when the session was taken earlier and kept."""
    engine = Engine(migrated(f"sqlite:///{tmp_path / 'hf.db'}"))
    with engine.context.write() as tx:
        session = tx.session
        session.add(MetaRow(key="note", value="added"))
        assert tx.raw.row("SELECT value FROM hf_meta WHERE key = 'note'") == ("added",)
        row = session.get(MetaRow, "note")
        assert row is not None
        row.value = "changed"
        assert tx.raw.row("SELECT value FROM hf_meta WHERE key = 'note'") == ("changed",)
        session.delete(row)
        assert tx.raw.row("SELECT value FROM hf_meta WHERE key = 'note'") is None
    engine.close()


def test_a_held_write_lock_is_a_conflict_the_user_can_retry(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HENNAN_FLOW_BUSY_TIMEOUT_MS", "200")  # the setting (README "PostgreSQL")
    path = tmp_path / "hf.db"
    engine = Engine(migrated(f"sqlite:///{path}"))
    engine.deploy(str(REVIEW_LIB / "processes"))
    with held_write_lock(path), pytest.raises(ConflictError) as caught:
        engine.start_case("review")
    assert caught.value.hint == "请重试"
    assert engine.cases() == []  # nothing half-applied
    assert engine.start_case("review").state == "open"  # and the next try succeeds
    engine.close()


# -- checkpointer ---------------------------------------------------------------------------


def test_the_checkpointer_copies_committed_pages_into_the_database_file(tmp_path: Path) -> None:
    path = tmp_path / "c.db"
    writer = sqlite3.connect(path, isolation_level=None)
    writer.execute("PRAGMA journal_mode=WAL")
    writer.execute("PRAGMA wal_autocheckpoint=0")  # only the checkpointer copies pages back
    writer.execute("CREATE TABLE note (body TEXT)")
    before = path.stat().st_size
    owner = type("Owner", (), {})()
    checkpointer = Checkpointer(str(path), owner)
    for i in range(checkpoint.WAKE_EVERY):
        writer.execute("INSERT INTO note VALUES (?)", ("x" * 4000 + str(i),))
        checkpointer.committed()
    assert _wait(lambda: checkpointer.checkpoints >= 1)
    assert path.stat().st_size > before + 10 * 4096  # the pages reached the database file
    checkpointer.close()
    assert checkpointer._thread is not None and not checkpointer._thread.is_alive()
    writer.close()


def test_few_commits_start_no_thread(tmp_path: Path) -> None:
    owner = type("Owner", (), {})()
    checkpointer = Checkpointer(str(tmp_path / "c.db"), owner)
    for _ in range(checkpoint.WAKE_EVERY - 1):
        checkpointer.committed()
    assert checkpointer._thread is None
    checkpointer.close()


def test_an_engine_checkpoints_in_the_background_and_the_thread_ends_with_it(tmp_path: Path) -> None:
    path = tmp_path / "hf.db"
    engine = Engine(migrated(f"sqlite:///{path}"))
    engine.deploy(str(REVIEW_LIB / "processes"))
    steps = 0
    while steps < 150:  # ~25 pages a step: well below the backstop, so only the thread copies them
        steps += run_to_end(engine, engine.start_case("review").id)
    checkpointer = engine.context.checkpointer
    assert checkpointer is not None
    assert _wait(lambda: checkpointer.checkpoints >= steps // checkpoint.WAKE_EVERY // 2)
    with sqlite3.connect(path) as other:  # the size the database has, reading through the log
        pages, size = (other.execute(f"PRAGMA {p}").fetchone()[0] for p in ("page_count", "page_size"))
    assert path.stat().st_size >= pages * size * 0.8  # most of it is in the database file already
    engine.close()
    assert checkpointer._thread is not None and not checkpointer._thread.is_alive()


def test_the_checkpointer_keeps_to_the_file_it_was_given_and_never_creates_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "c.db"
    writer = sqlite3.connect(path, isolation_level=None)
    writer.execute("PRAGMA journal_mode=WAL")
    writer.execute("PRAGMA wal_autocheckpoint=0")
    writer.execute("CREATE TABLE note (body TEXT)")
    owner = type("Owner", (), {})()  # the engine: the thread lives as long as it does
    checkpointer = Checkpointer("c.db", owner)  # relative, as in sqlite:///c.db
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # the portal changes directory before the thread starts
    for i in range(checkpoint.WAKE_EVERY):
        writer.execute("INSERT INTO note VALUES (?)", ("x" * 4000 + str(i),))
        checkpointer.committed()
    assert _wait(lambda: checkpointer.checkpoints >= 1)
    checkpointer.close()
    assert not (elsewhere / "c.db").exists()
    assert path.stat().st_size > 10 * 4096
    gone = Checkpointer(str(tmp_path / "missing.db"), owner)
    for _ in range(checkpoint.WAKE_EVERY):
        gone.committed()
    gone.close()
    assert not (tmp_path / "missing.db").exists()
    writer.close()
