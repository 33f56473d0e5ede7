"""Database connections: SQLite (embedded default) and PostgreSQL (many workers).

SQLite runs in WAL mode and writes in `BEGIN IMMEDIATE` transactions, so two writers conflict
cleanly at the start (the second waits for the lock, then reads what the first committed) instead
of failing later on a stale snapshot. Reads use plain deferred transactions so they never wait.
A state change's write transaction is `transaction.transaction`.
"""

from __future__ import annotations

import os
import threading
import time
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DisconnectionError, NoSuchModuleError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import QueuePool

from ..errors import ConfigError
from .checkpoint import BACKSTOP_PAGES

__all__ = [
    "KeptConnection",
    "TransactionSession",
    "is_sqlite",
    "make_engine",
    "normalize_url",
    "read_sessions",
    "sqlite_file",
    "write_sessions",
]

# Waits are bounded, so a stalled worker delays the others only so long (each settable in the
# environment, in milliseconds; README "PostgreSQL"): a write waiting for SQLite's write lock, a
# PostgreSQL statement waiting for a row lock (a case lock), and a PostgreSQL session left idle
# inside a transaction (its server ends it, so a stalled holder loses its locks). A wait that runs
# out is a `ConflictError` ("try again", exit 1) and the transaction rolls back.
BUSY_TIMEOUT_MS = 30_000  # HENNAN_FLOW_BUSY_TIMEOUT_MS (SQLite)
LOCK_TIMEOUT_MS = 10_000  # HENNAN_FLOW_LOCK_TIMEOUT_MS (PostgreSQL lock_timeout)
IDLE_TX_TIMEOUT_MS = 30_000  # HENNAN_FLOW_IDLE_TX_TIMEOUT_MS (idle_in_transaction_session_timeout)
# A pooled PostgreSQL connection that sat idle longer than this is pinged when it is checked out
# (and replaced if its server end is gone); one used within it is not: a ping is a round trip, and
# a step makes two check-outs (bench/postgres.py: 18 → 16 round trips a step).
PING_AFTER_S = 1.0


def timeout_ms(name: str, default: int) -> int:
    """A wait bound from the environment (whole milliseconds ≥ 1), else `default`."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    if not raw.isascii() or not raw.isdigit() or not 1 <= int(raw) <= 2**31 - 1:
        raise ConfigError(
            f"{name} must be a whole number of milliseconds from 1 to 2147483647",
            hint=f"unset {name} for the default ({default} ms)",
        )
    return int(raw)


def normalize_url(url: str) -> str:
    """`postgresql://` means psycopg 3 here; refuse what SQLAlchemy cannot parse."""
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise ConfigError(
            f"database URL {url!r} is not a URL",
            hint="use sqlite:///path/to/file.db or postgresql+psycopg://user@host/db",
        ) from exc
    if parsed.drivername in {"postgresql", "postgres"}:
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.get_backend_name() not in {"sqlite", "postgresql"}:
        raise ConfigError(
            f"database {parsed.get_backend_name()!r} is not supported",
            hint="use SQLite (sqlite:///file.db) or PostgreSQL (postgresql+psycopg://…)",
        )
    return parsed.render_as_string(hide_password=False)


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


def sqlite_file(engine: Engine) -> str | None:
    """The database file of a SQLite engine (None for PostgreSQL, memory and URI databases)."""
    return _file_of(engine.url) if is_sqlite(engine) else None


def _file_of(url: URL) -> str | None:
    name = url.database
    if not name or name == ":memory:" or name.startswith("file:") or url.query.get("uri"):
        return None
    return name


def make_engine(url: str, **kwargs: Any) -> Engine:
    """A SQLAlchemy engine with hennan_flow's connection settings."""
    url = normalize_url(url)
    try:
        if url.startswith("sqlite"):
            # a file database's pool hands out the connection used last: its page cache is still
            # warm, where first-in-first-out alternates connections that each re-read what the
            # other wrote (~8 % of a step on the benchmark); memory databases have one connection
            lifo = {"pool_use_lifo": True} if _file_of(make_url(url)) else {}
            busy = timeout_ms("HENNAN_FLOW_BUSY_TIMEOUT_MS", BUSY_TIMEOUT_MS)
            engine = create_engine(
                url,
                connect_args={"timeout": busy / 1000},
                hide_parameters=True,  # parameters hold case data: never in logs
                logging_name="hennan_flow",
                **lifo,
                **kwargs,
            )
            _configure_sqlite(engine, busy)
        else:
            lock = timeout_ms("HENNAN_FLOW_LOCK_TIMEOUT_MS", LOCK_TIMEOUT_MS)
            idle = timeout_ms("HENNAN_FLOW_IDLE_TX_TIMEOUT_MS", IDLE_TX_TIMEOUT_MS)
            options = f"-c lock_timeout={lock} -c idle_in_transaction_session_timeout={idle}"
            engine = create_engine(
                url,
                connect_args={"options": options},  # session settings, sent with the connection
                pool_use_lifo=True,  # idle connections beyond the busy few can time out server-side
                hide_parameters=True,
                logging_name="hennan_flow",
                **kwargs,
            )
            _ping_when_idle(engine)
    except NoSuchModuleError as exc:
        raise ConfigError(
            f"no driver for {url.split(':', 1)[0]!r}", hint="install hennan-flow[postgres] for PostgreSQL"
        ) from exc
    except ModuleNotFoundError as exc:
        raise ConfigError(
            f"the database driver is not installed ({exc.name})",
            hint="install hennan-flow[postgres] for PostgreSQL",
        ) from exc
    return engine


def _ping_when_idle(engine: Engine) -> None:
    """SQLAlchemy's pessimistic disconnect handling (`pool_pre_ping`), for connections idle longer
    than `PING_AFTER_S` only: a dead one raises DisconnectionError, which makes the pool replace it."""

    @event.listens_for(engine, "checkin")
    def _idle_from(_dbapi: Any, record: Any) -> None:
        record.info["hf_idle_from"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _ping(dbapi: Any, record: Any, _proxy: Any) -> None:
        idle_from = record.info.pop("hf_idle_from", None)
        if idle_from is None or time.monotonic() - idle_from <= PING_AFTER_S:
            return  # just connected, or used a moment ago
        try:
            engine.dialect.do_ping(dbapi)
        except Exception as exc:
            raise DisconnectionError("the pooled connection is gone") from exc


class KeptConnection:
    """The pooled connection the last write transaction used, kept checked out for the next one.

    A pool checkout and return cost ~10–15 µs of SQLAlchemy bookkeeping a transaction (events,
    weak references, the reset's ROLLBACK), more than an empty commit. One slot per engine, not one
    per thread: the thread that finds it empty (another thread's transaction holds it) checks out of
    the pool as before, so a server's thread pool never holds more connections than it uses. What
    the pool would do at a checkout is done here too: on PostgreSQL a connection idle longer than
    `PING_AFTER_S` is pinged first and replaced if its server end is gone. A transaction that failed
    gives its connection back to the pool (its reset or invalidation deals with it), never here.
    Only for a `QueuePool` (files and PostgreSQL): a memory database's connection is its thread's.
    """

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self.enabled = isinstance(engine.pool, QueuePool)
        self._postgres = engine.dialect.name == "postgresql"
        self._lock = threading.Lock()
        self._fairy: Any = None
        self._idle_from = 0.0
        self._generation = 0  # `close` moves it on: a connection taken before goes back to the pool
        # a disposed pool's connections are closed as they come back: the kept one too
        event.listen(engine, "engine_disposed", lambda _engine: self.close())

    def take(self) -> tuple[Any, int]:
        """A connection for one write transaction (the kept one if free, else the pool's) and the
        generation to hand back with it."""
        with self._lock:
            fairy, self._fairy = self._fairy, None
            idle_from, generation = self._idle_from, self._generation
        if fairy is not None and self._postgres and time.monotonic() - idle_from > PING_AFTER_S:
            try:
                self._engine.dialect.do_ping(fairy.dbapi_connection)
            except Exception as exc:
                fairy.invalidate(exc)  # closed and back to the pool, which connects anew
                fairy = None
        if fairy is None:
            fairy = self._engine.raw_connection()
        return fairy, generation

    def give_back(self, fairy: Any, generation: int) -> None:
        """After a committed transaction: keep `fairy` for the next one, or return it to the pool."""
        if self.enabled:
            with self._lock:
                if self._fairy is None and generation == self._generation:
                    self._fairy, self._idle_from = fairy, time.monotonic()
                    return
        fairy.close()

    def close(self) -> None:
        """Return the kept connection to the pool (`Engine.close`, and whenever the pool is disposed)."""
        with self._lock:
            fairy, self._fairy = self._fairy, None
            self._generation += 1
        if fairy is not None:
            fairy.close()

    def forget(self) -> Any:
        """In a forked child: drop the parent's connection untouched (a rollback or close would go
        over the parent's socket) and hand it to the caller, who keeps it referenced so no finalizer
        runs on it. The child has one thread: the lock is made anew, another may have held it."""
        self._lock = threading.Lock()
        fairy, self._fairy = self._fairy, None
        self._generation += 1
        return fairy


def _configure_sqlite(engine: Engine, busy_ms: int) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we emit BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA wal_autocheckpoint={BACKSTOP_PAGES}")  # see db.checkpoint
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={busy_ms}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        if conn.connection.dbapi_connection.in_transaction:
            return  # `transaction` began it on the driver: the ORM joins it
        write = conn.get_execution_options().get("hf_write", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


class TransactionSession(Session):
    """A session of one `transaction.transaction`: bound to its driver connection, through a
    SQLAlchemy Connection made only when the ORM first needs one (most state changes never do)."""

    hf_engine: Engine
    hf_fairy: Any = None  # None: a plain session of the maker (e.g. `sessions.begin()`)
    hf_conn: Connection | None = None

    def get_bind(self, *args: Any, **kw: Any) -> Engine | Connection:
        if self.hf_fairy is None:
            return super().get_bind(*args, **kw)
        conn = self.hf_conn
        if conn is None:
            conn = self.hf_conn = Connection(self.hf_engine, connection=self.hf_fairy)
        return conn


def write_sessions(engine: Engine) -> sessionmaker[Session]:
    """Sessions whose transactions take the write lock up front (SQLite) — one per state change."""
    return sessionmaker(
        bind=engine.execution_options(hf_write=True), expire_on_commit=False, class_=TransactionSession
    )


def read_sessions(engine: Engine) -> sessionmaker[Session]:
    """Sessions for reading only."""
    return sessionmaker(bind=engine, expire_on_commit=False)
