"""SQLite WAL checkpoints off the request path.

In WAL mode every commit appends the pages it changed to the log, and by default the commit that
takes the log past 1,000 pages copies the whole log back into the database file (a checkpoint)
before it returns: one step in a few dozen pays for all of them, ~15–20 ms on a small VM, which a
portal sees as a latency spike. Here the engine's connections leave that to a backstop (a much
larger log) and a background thread checkpoints instead, woken every few commits. A PASSIVE
checkpoint never blocks readers or writers; the sqlite3 module releases the GIL while it copies.
Durability is unchanged: with `synchronous=NORMAL` a commit is durable once the checkpoint that
carries it has run, whoever runs it.

Disk: SQLite reuses the log from its start only once a checkpoint has caught up with the last
commit. Under a steady stream of writes the thread trails a few commits behind, so the `-wal` file
can grow to the backstop (~40 MB of 4 KiB pages) before a committing connection catches up; it
then stays that size and is reused. Readers skip the pages already copied back.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import weakref
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

__all__ = ["BACKSTOP_PAGES", "Checkpointer"]

log = logging.getLogger(__name__)

BACKSTOP_PAGES = 10_000  # a committing connection still checkpoints if the log ever grows this long
WAKE_EVERY = 16  # commits between checkpoints (a seq10 step writes ~15 pages: docs/benchmarks.md)
IDLE_SECONDS = 1.0  # an idle engine still checkpoints what its last commits wrote


class Checkpointer:
    """One background thread per engine that checkpoints a SQLite file's WAL every few commits.

    Started on the first commit; the thread holds no reference to its owner and ends when the
    owner is closed or garbage-collected.
    """

    def __init__(self, path: str, owner: Any) -> None:
        self.path = os.path.abspath(path)  # the file the engine opened, whatever the cwd is later
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._commits = 0
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._running = threading.Lock()  # held around each checkpoint; `paused()` takes it too
        self.checkpoints = 0  # how many ran (tests, benchmarks)
        weakref.finalize(owner, self._stop.set)

    def committed(self) -> None:
        """Count a commit; every WAKE_EVERY-th wakes the thread (started on first use)."""
        self._commits += 1
        if self._commits % WAKE_EVERY:
            return
        if self._thread is None:
            with self._lock:
                if self._thread is None and not self._stop.is_set():
                    self._thread = threading.Thread(
                        target=self._run, name="hennan_flow-checkpoint", daemon=True
                    )
                    self._thread.start()
        self._wake.set()

    def paused(self) -> AbstractContextManager[bool]:
        """Hold the thread's checkpoints off while a caller runs its own (e.g. a TRUNCATE).

        A checkpoint that meets another one running is refused at once (SQLITE_BUSY, no busy wait).
        """
        return self._running

    def close(self) -> None:
        """Stop the thread (its last checkpoint done) and wait for it."""
        self._stop.set()
        self._wake.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join()

    def forked(self) -> None:
        """In a forked child: the parent's thread is not there; the next commits start the child's own."""
        self._thread = None
        self._lock, self._running = threading.Lock(), threading.Lock()
        self._wake = threading.Event()

    def _run(self) -> None:
        try:
            conn = sqlite3.connect(  # mode=rw: never creates a file
                f"{Path(self.path).as_uri()}?mode=rw",
                uri=True,
                timeout=0,
                check_same_thread=False,
                isolation_level=None,
            )
        except sqlite3.Error as exc:
            log.warning("WAL checkpoints stay with the committing connections: %s", exc)
            return
        try:
            done = -1
            while not self._stop.is_set():
                self._wake.wait(IDLE_SECONDS)
                self._wake.clear()
                if self._commits != done:  # nothing new since the last one: stay idle
                    done = self._commits
                    self._checkpoint(conn)
            self._checkpoint(conn)
        finally:
            conn.close()

    def _checkpoint(self, conn: sqlite3.Connection) -> None:
        try:
            with self._running:
                conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
            self.checkpoints += 1
        except sqlite3.Error as exc:  # e.g. another process is checkpointing: the next wake retries
            log.debug("WAL checkpoint skipped: %s", exc)
