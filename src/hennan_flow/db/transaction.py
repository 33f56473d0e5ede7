"""One write transaction and its typed state (`Tx`): what every state change runs inside.

A `Tx` is to an engine operation what SQLAlchemy's unit of work is to a flush: the transaction's
connection (the ORM session for the rarer paths, the driver cursor for the hot path), the journal its
events go to, the case lock, and the few things the modules below the engine remember for the length
of one transaction — each a typed attribute, nothing in `session.info`:

- `calendar`: the working-day calendar, read once per transaction (`engine.context`);
- `started`: the deadline views `clock.deadlines` stored in it, shown without reading them back;
- `issued`: the signals and cards it issued when steps or cases ended late (`engine.supervision`);
- `applicant_salt`: the database's applicant-key secret, read once (`services.commitments`);
- `after_commit`: what runs once the data is durable (e-licence checks, asked with no lock held).

`transaction` begins it on a driver connection (the engine's kept one, else the pool's; `BEGIN
IMMEDIATE` on SQLite) and commits there; the session, made when a rarer path first asks for it, is
bound to that same connection.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy.orm import Session, sessionmaker

from ..entities import Issued
from . import hotpath
from .journal import Journal
from .raw import Raw
from .session import KeptConnection, TransactionSession

if TYPE_CHECKING:
    from ..clock.workdays import WorkCalendar

__all__ = ["DeadlineView", "Tx", "transaction"]

log = logging.getLogger(__name__)

DeadlineView = dict[str, Any]  # a deadline as portals see it (`Task.deadlines`)


class Tx:
    """One write transaction: its session and cursor, journal, case lock and per-transaction state."""

    __slots__ = (
        "_actions",
        "_fairy",
        "_orm",
        "_raw",
        "_session",
        "_sessions",
        "applicant_salt",
        "calendar",
        "calendar_version",
        "issued",
        "journal",
        "started",
    )

    def __init__(self, sessions: sessionmaker[Session], fairy: Any, raw: Raw) -> None:
        self._sessions = sessions
        self._fairy = fairy
        self._session: TransactionSession | None = None  # made when a rarer path first asks (`session`)
        self._orm = False  # the session was handed out (`session`): only then can it hold changes
        self._raw = raw
        self.journal = Journal()
        self.calendar: WorkCalendar | None = None
        self.calendar_version: int | None = None
        """The newest stored calendar's id when a batched read already fetched it (`engine.context`)."""
        self.started: dict[str, DeadlineView | None] = {}
        self.issued: list[Issued] = []
        self.applicant_salt: bytes | None = None
        self._actions: list[Callable[[], None]] = []

    @property
    def raw(self) -> Raw:
        """The driver cursor. Like the ORM's autoflush, pending ORM changes are flushed first, so
        driver-level statements see (and come after) everything the session did before them."""
        if self._orm:  # (the hot path never touches the session: nothing to look at, ~5 µs a call)
            session = self._session
            assert session is not None
            if session.new or session.dirty or session.deleted:
                session.flush()
        return self._raw

    @property
    def session(self) -> Session:
        """The ORM session (the rarer paths), made on first use (~5 µs the hot path never pays). The
        cursor's held-back writes are sent first, so the ORM sees (and comes after) everything the
        hot path wrote before (`Raw.later`)."""
        self._raw.flush()
        session = self._session
        if session is None:
            session = self._session = cast(TransactionSession, self._sessions(bind=None))
            session.hf_engine, session.hf_fairy = self._sessions.kw["bind"], self._fairy
        self._orm = True
        return session

    @property
    def postgres(self) -> bool:
        return self._raw.postgres

    def lock_case(self, case_id: str, columns: str = "id") -> tuple[Any, ...] | None:
        """One writer per case, as every engine operation and the sweeper take it: the case row locked
        and `columns` of it read (None: no such case). ORM rows of the case read before the lock are
        stale on PostgreSQL: refresh them after it."""
        return hotpath.lock_case(self.raw, case_id, columns)

    def lock_cases(self, case_ids: Sequence[str]) -> None:
        """Lock several cases (sorted: two sweepers locking overlapping batches cannot deadlock)."""
        hotpath.lock_cases(self.raw, case_ids)

    def after_commit(self, action: Callable[[], None]) -> None:
        """Run `action` once this transaction has committed (never if it rolls back); it must not raise."""
        self._actions.append(action)

    def _finish(self) -> None:
        raw = self.raw
        self.journal.flush(raw)
        raw.flush()

    def _committed(self) -> None:
        for action in self._actions:
            action()


@contextmanager
def transaction(
    sessions: sessionmaker[Session],
    *,
    committed: Callable[[], None] | None = None,
    kept: KeptConnection | None = None,
) -> Iterator[Tx]:
    """One write transaction, begun and committed on the driver connection; the ORM joins it if used.

    A SQLAlchemy session transaction costs ~0.3 ms of bookkeeping on this path (checkout, begin
    event, connection and transaction objects, commit, reset), which is more than a whole step's
    SQL. Here the driver connection begins (`BEGIN IMMEDIATE` on SQLite) and commits itself; a
    session, made only when a rarer path asks for one, is bound to that same connection (its
    SQLAlchemy Connection made on first use), in which case its commit is the transaction's COMMIT.
    The connection is `kept`'s when given (the one the last transaction used, no pool checkout),
    else the pool's; one the ORM used or whose transaction failed goes back to the pool. The journal
    is written just before the commit; `committed` (the WAL checkpointer's count) and the
    transaction's after-commit actions run after it.
    """
    bind = sessions.kw["bind"]
    if kept is not None:
        fairy, generation = kept.take()
    else:
        fairy, generation = bind.raw_connection(), 0
    dbapi = fairy.dbapi_connection
    tx: Tx | None = None
    try:
        postgres = bind.dialect.name == "postgresql"
        if not postgres:
            dbapi.execute("BEGIN IMMEDIATE")  # PostgreSQL's driver begins on the first statement
        tx = Tx(sessions, fairy, Raw(dbapi=dbapi, postgres=postgres, defer=True))
        yield tx
        tx._finish()
        session = tx._session
        if session is not None and session.in_transaction():
            session.connection()  # joins the driver's transaction: the ORM's commit is its COMMIT
            session.commit()
        else:
            dbapi.commit()
    except BaseException:
        session = tx._session if tx is not None else None
        try:
            if session is not None:
                session.close()
            with suppress(Exception):  # a broken connection: the error that broke it is the one to see
                dbapi.rollback()
        finally:
            _release(session, fairy)  # the pool resets it, or replaces it when it is broken
        raise
    session = tx._session
    if session is None and kept is not None:
        kept.give_back(fairy, generation)
    else:
        _release(session, fairy)
    if committed is not None:
        committed()
    tx._committed()


def _release(session: TransactionSession | None, fairy: Any) -> None:
    """The connection back to the pool, through the session's Connection when the ORM made one."""
    conn = None
    if session is not None:
        conn = session.hf_conn
        if conn is not None or session.identity_map or session.new:  # else it holds nothing
            session.close()
    if conn is not None:
        conn.close()  # back to the pool
    else:
        fairy.close()
