"""What a step writes to SQLite's log (issue 27): every page a commit changed is one more 4 KiB frame
in the `-wal` file (and one more page the checkpointer copies back), so the hot path's writes keep
out of indexes no read needs, and the reads that need an index still find theirs (migration 0017).
"""

from __future__ import annotations

import sqlite3
import struct
from collections import Counter
from pathlib import Path

from helpers import REVIEW_LIB, migrated, run_to_end
from hennan_flow import Engine
from hennan_flow.db import hotpath
from hennan_flow.engine import calendars


def wal_commits(path: Path) -> list[list[int]]:
    """The page numbers each commit in the log wrote, commit by commit (the log's current salt only)."""
    data = path.with_name(path.name + "-wal").read_bytes()
    page_size, salt = struct.unpack(">I", data[8:12])[0], data[16:24]
    commits: list[list[int]] = []
    pages: list[int] = []
    for offset in range(32, len(data) - 24 - page_size + 1, 24 + page_size):
        page, size = struct.unpack(">II", data[offset : offset + 8])
        if data[offset + 8 : offset + 16] != salt:
            break  # a frame left from before the log was last reset
        pages.append(page)
        if size:  # a commit's last frame records the database's size
            commits.append(pages)
            pages = []
    return commits


def written_by_steps(tmp_path: Path, cases: int) -> tuple[Counter[str], int, sqlite3.Connection]:
    """Run `cases` review cases with the checkpointer held off; the b-trees (tables and indexes) of the
    log's frames, how many commits wrote them, and a connection to the database."""
    path = tmp_path / "hf.db"
    engine = Engine(migrated(f"sqlite:///{path}"))
    engine.deploy(str(REVIEW_LIB / "processes"))
    run_to_end(engine, engine.start_case("review").id)  # the first case creates the tables' pages
    own = sqlite3.connect(path, isolation_level=None)
    checkpointer = engine.context.checkpointer
    assert checkpointer is not None
    with checkpointer.paused():
        assert own.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0] == 0  # the log starts empty
        for _ in range(cases):
            run_to_end(engine, engine.start_case("review").id)
        commits = wal_commits(path)
    engine.close()
    owner = dict(own.execute("SELECT pageno, name FROM dbstat"))
    return Counter(owner.get(page, "?") for commit in commits for page in commit), len(commits), own


def test_a_cases_events_are_logged_without_writing_an_outbox_index(tmp_path: Path) -> None:
    """Each start and completion appends outbox rows (read by id); no index of the outbox is written
    for them, where `ix_hf_outbox_case_id` was ~1.5 pages of each commit before 0017."""
    written, commits, own = written_by_steps(tmp_path, cases=4)
    assert commits >= 4 * 3 and written["hf_outbox"] >= 1  # the outbox rows were written
    indexed = "SELECT name FROM sqlite_schema WHERE tbl_name = 'hf_outbox' AND type = 'index'"
    indexes = [n for (n,) in own.execute(indexed)]
    assert "ix_hf_outbox_unowned" in indexes and "ix_hf_outbox_case_id" not in indexes
    assert {n: written[n] for n in indexes if written[n]} == {}
    assert written["ix_hf_event_case_id"] >= 1  # the audit log's by-case index is still kept


def explain(conn: sqlite3.Connection, sql: str, params: tuple[object, ...]) -> str:
    return " | ".join(row[3] for row in conn.execute(f"EXPLAIN QUERY PLAN {sql}", params))


def test_the_reads_of_a_case_a_queue_and_the_unowned_outbox_stay_index_bound(tmp_path: Path) -> None:
    """The lookups the slimmed indexes still serve: a case's open steps (the completion's read under
    its lock) and its step count by name, a department's queue, a case's timeline, and the calendar
    announcement's search of the outbox rows without a case."""
    _, _, own = written_by_steps(tmp_path, cases=1)
    own.execute("ANALYZE")  # the planner sees real row counts, as in a database that has run a while
    plans = {
        "open steps": explain(
            own,
            f"SELECT id FROM hf_task WHERE {hotpath._OPEN} ORDER BY {hotpath.QUEUE_ORDER}",
            ("c",),
        ),
        "instances": explain(own, hotpath._INSTANCES, ("c", "s")),
        "queue": explain(
            own, "SELECT id FROM hf_task WHERE department = ? AND state IN ('ready', 'paused')", ("d",)
        ),
        "timeline": explain(own, "SELECT id FROM hf_event WHERE case_id = ? ORDER BY id", ("c",)),
        "announced": explain(own, calendars.ANNOUNCED, ("t", "r")),
    }
    assert "INDEX ix_hf_task_case_id (case_id=?)" in plans["open steps"], plans
    assert "INDEX ix_hf_task_case_id (case_id=?)" in plans["instances"], plans
    assert "INDEX ix_hf_task_department (department=? AND state=?)" in plans["queue"], plans
    assert "INDEX ix_hf_event_case_id (case_id=?)" in plans["timeline"], plans
    assert "INDEX ix_hf_outbox_unowned (type=? AND ref=?)" in plans["announced"], plans
