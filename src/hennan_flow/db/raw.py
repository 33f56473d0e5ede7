"""Driver-level statements for the engine's hot path, inside a SQLAlchemy-managed transaction.

A step completion touches a dozen rows; through the ORM each costs a flush and an identity-map
round, through Core ~50 µs of statement machinery, through the driver's cursor ~10 µs. The hot path
(start a case, complete a step, list a queue) therefore speaks SQL directly on the cursor of the
transaction SQLAlchemy opened (so the ORM can still join it for the rare paths). SQL is written
with `?` placeholders and converted once for psycopg. Instants are stored exactly as SQLAlchemy's
`DateTime(timezone=True)` stores them: UTC text on SQLite, timestamptz on PostgreSQL.

A write transaction's `Raw` (made with `defer=True`) holds back the writes nothing reads a result of
(`later`) on PostgreSQL and sends them with the transaction's next statement, all in one psycopg
pipeline: one round trip to the server for the lot instead of one each (docs/scale.md). Its reads
that do not depend on one another go out together too (`batch`). On SQLite every statement is a
function call in the process, so nothing is held back.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from functools import lru_cache
from itertools import chain
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.orm.exc import StaleDataError

from ..clock.instants import as_utc, local_iso

__all__ = ["Raw"]

_last_ts: tuple[datetime | None, str] = (None, "")  # the instant `Raw.ts` formatted last, and its text


class Raw:
    """The DBAPI cursor of a SQLAlchemy connection, with the two dialects' differences hidden."""

    def __init__(
        self,
        conn: Connection | None = None,
        *,
        dbapi: Any = None,
        postgres: bool = False,
        defer: bool = False,
    ) -> None:
        if conn is not None:
            postgres = conn.dialect.name == "postgresql"
            dbapi = conn.connection.dbapi_connection
        assert dbapi is not None
        self.postgres = postgres
        self._dbapi = dbapi
        self._native = postgres and _RawMixin is not None
        self._cursor = self._new_cursor()
        self._defer = defer and postgres
        # held-back writes: (sql text, params, rows it must change or None, the conflict's message)
        self._later: list[tuple[str, tuple[Any, ...], int | None, str]] = []
        self._spare: list[Any] = []  # cursors for a pipeline's further results, reused

    # -- values ----------------------------------------------------------------------------
    def ts(self, value: datetime | None) -> Any:
        """An instant as the column stores it."""
        if value is None:
            return None
        if self.postgres:
            return value.astimezone(UTC) if value.tzinfo else value
        global _last_ts
        last = _last_ts  # an operation writes the same instant to several rows: ~17 calls, ~6 instants
        if last[0] == value:
            return last[1]
        utc = value.astimezone(UTC) if value.tzinfo else value
        text = "%04d-%02d-%02d %02d:%02d:%02d.%06d" % (  # noqa: UP031 - the hot path; strftime is slower
            utc.year,
            utc.month,
            utc.day,
            utc.hour,
            utc.minute,
            utc.second,
            utc.microsecond,
        )
        _last_ts = (value, text)  # one tuple, swapped whole: safe between threads
        return text

    @staticmethod
    def instant(value: Any) -> datetime | None:
        """A stored instant back as aware UTC."""
        if value is None:
            return None
        if isinstance(value, datetime):
            return as_utc(value)
        return datetime.fromisoformat(str(value)).replace(tzinfo=UTC)

    @staticmethod
    def local_iso(value: Any) -> str | None:
        """A stored instant as Asia/Shanghai ISO text, for people (queues list many of the same)."""
        if value is None:
            return None
        if isinstance(value, datetime):
            return local_iso(value)
        return _local_iso_of_text(str(value))

    # -- statements ------------------------------------------------------------------------
    def _text(self, sql: str) -> str:
        return _statement(sql, self._native) if self.postgres else sql

    def _new_cursor(self) -> Any:
        """PostgreSQL (psycopg ≥ 3.2): a raw cursor, which takes the statement with the server's own
        `$n` placeholders, so psycopg parses none of it (it caches its parse only of statements with
        at most 50 values: the held-back writes sent as one statement have more). It is of the
        connection's cursor class, so what instruments that (tracing, tests) sees these statements."""
        if not self._native:
            return self._dbapi.cursor()
        return _raw_cursor_class(self._dbapi.cursor_factory)(self._dbapi)

    def _execute(self, sql: str, params: Sequence[Any]) -> None:
        if self._later:
            self._send([(sql, tuple(params))])
        else:
            self._cursor.execute(self._text(sql), tuple(params))

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        self._execute(sql, params)
        return list(self._cursor.fetchall())

    def row(self, sql: str, params: Sequence[Any] = ()) -> tuple[Any, ...] | None:
        self._execute(sql, params)
        found = self._cursor.fetchone()
        return tuple(found) if found is not None else None

    def run(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Execute a statement; the number of rows it changed."""
        self._execute(sql, params)
        return int(self._cursor.rowcount)

    def many(self, sql: str, params: Iterable[Sequence[Any]]) -> None:
        batch = [tuple(p) for p in params]
        if not batch:
            return
        if self._defer:
            self._later.extend((sql, p, None, "") for p in batch)
        else:
            self._cursor.executemany(self._text(sql), batch)

    def later(
        self, sql: str, params: Sequence[Any] = (), *, expect: int | None = None, stale: str = ""
    ) -> None:
        """A write whose result nothing reads: sent with the transaction's next statement (PostgreSQL,
        a deferring Raw), else at once. `expect`: the rows it must change, else `StaleDataError(stale)`
        — raised at once, or when it was sent (always before the transaction commits: `flush`)."""
        if self._defer:
            self._later.append((sql, tuple(params), expect, stale))
            return
        changed = self.run(sql, params)
        if expect is not None and changed != expect:
            raise StaleDataError(stale)

    def batch(self, statements: Sequence[tuple[str, Sequence[Any]]]) -> list[list[tuple[Any, ...]] | int]:
        """Statements none of which needs another's result, sent together (PostgreSQL: one pipeline
        with the held-back writes, one round trip): for each its rows, or the rows it changed."""
        if not self.postgres:
            out: list[list[tuple[Any, ...]] | int] = []
            for sql, params in statements:
                self._cursor.execute(self._text(sql), tuple(params))
                out.append(
                    list(self._cursor.fetchall()) if self._cursor.description else int(self._cursor.rowcount)
                )
            return out
        cursors = self._send([(sql, tuple(params)) for sql, params in statements])
        # (the result's status, not `description`: psycopg builds that anew, a Column a column, each time)
        return [list(c.fetchall()) if c.pgresult.status == _ROWS else int(c.rowcount) for c in cursors]

    def flush(self) -> None:
        """Send the held-back writes now (the transaction is about to commit, or the ORM to speak)."""
        if self._later:
            self._send([])

    def _send(self, then: Sequence[tuple[str, tuple[Any, ...]]]) -> list[Any]:
        """The held-back writes, then `then`, in one pipeline (PostgreSQL); the cursors of `then`'s
        statements (the last on this Raw's own cursor). A held-back write that did not change the
        rows it had to raises StaleDataError here; a failing statement raises the driver's error."""
        later, self._later = self._later, []
        checks: list[tuple[Any, list[tuple[int, str]]]] = []
        cursors: list[Any] = []
        used = 0  # spare cursors taken in this pipeline: each statement whose result is read has its own

        def further() -> Any:
            nonlocal used
            if used == len(self._spare):
                self._spare.append(self._new_cursor())  # kept: making one costs more than a statement
            used += 1
            return self._spare[used - 1]

        with self._dbapi.pipeline():
            for sql, params, expects in _merged(later):
                cursor = further() if expects else self._cursor
                cursor.execute(self._text(sql), params)
                if expects:
                    checks.append((cursor, expects))
            for i, (sql, params) in enumerate(then):
                cursor = self._cursor if i == len(then) - 1 else further()
                cursor.execute(self._text(sql), params)
                cursors.append(cursor)
        for cursor, expects in checks:
            changed = cursor.fetchone() if cursor.pgresult.status == _ROWS else (cursor.rowcount,)
            for count, (expect, stale) in zip(changed, expects, strict=True):
                if count != expect:
                    raise StaleDataError(stale)
        return cursors

    def placeholders(self, n: int) -> str:
        return ", ".join("?" * n)


_RawMixin: Any = None
_ROWS: Any = None
try:
    from psycopg.pq import ExecStatus

    _ROWS = ExecStatus.TUPLES_OK  # a result with rows (a SELECT, or a statement's main SELECT)
    from psycopg.raw_cursor import RawCursorMixin as _RawMixin
except ImportError:  # no psycopg (SQLite only), or psycopg 3.1: `%s` placeholders
    pass


@lru_cache(maxsize=16)
def _raw_cursor_class(factory: type) -> type:
    """The connection's cursor class, taking `$n` placeholders (psycopg's RawCursor is the plain one)."""
    return type(f"Raw{factory.__name__}", (_RawMixin, factory), {})


@lru_cache(maxsize=1024)
def _statement(sql: str, native: bool) -> str:
    """A statement written with `?` placeholders as psycopg takes it: `$1, $2, …` (native) or `%s`."""
    if not native:
        return sql.replace("?", "%s")
    parts = sql.split("?")
    return "".join(f"{part}${i}" for i, part in enumerate(parts[:-1], 1)) + parts[-1]


_WRITE = re.compile(r"(?:INSERT INTO|UPDATE|DELETE FROM) (hf_\w+) ")
_TABLE = re.compile(r"\bhf_\w+")
_LOCK = "SELECT pg_advisory_xact_lock("  # a lock on no row or table (the outbox's order, hotpath.outbox_lock)


@lru_cache(maxsize=256)
def _target(text: str) -> str | None:
    """The table a write changes if it may share one statement with writes to other tables: an
    INSERT, UPDATE or DELETE that names no other table and returns nothing; else None."""
    found = _WRITE.match(text)
    if found is None or " RETURNING " in text or set(_TABLE.findall(text)) != {found[1]}:
        return None
    return found[1]


def _merged(
    later: Sequence[tuple[str, tuple[Any, ...], int | None, str]],
) -> list[tuple[str, tuple[Any, ...], list[tuple[int, str]]]]:
    """Held-back writes as few statements: each run of writes to different tables becomes one
    statement of data-modifying CTEs (one statement's parse, plan and execution on the server, and
    one execute in psycopg, instead of one each). Writes to different tables that name no other table
    cannot see one another's rows, so running them as one statement changes nothing; a second write to
    a table starts a new statement, after the first; the outbox lock, which names no table, is taken
    before the run it would split (still before the outbox's rows). Each statement comes with the
    (rows, message) checks of its guarded writes, read from its result: the rows each changed."""
    out: list[tuple[str, tuple[Any, ...], list[tuple[int, str]]]] = []
    for text, members, guarded in _plan(tuple((sql, expect is not None) for sql, _p, expect, _s in later)):
        params = (
            later[members[0]][1]
            if len(members) == 1
            else tuple(chain.from_iterable(later[i][1] for i in members))
        )
        out.append((text, params, [(int(later[i][2] or 0), later[i][3]) for i in guarded]))
    return out


@lru_cache(maxsize=512)
def _plan(later: tuple[tuple[str, bool], ...]) -> list[tuple[str, list[int], list[int]]]:
    """`_merged`'s statements for held-back writes (their texts, and whether each is guarded): each
    statement's text, the writes it holds (their values in this order) and its guarded ones. The
    same step sends the same writes: the plan is made once."""
    out: list[tuple[str, list[int], list[int]]] = []
    run: list[int] = []
    tables: set[str] = set()

    def close() -> None:
        if len(run) == 1:
            out.append((later[run[0]][0], list(run), [run[0]] if later[run[0]][1] else []))
        elif run:
            parts: list[str] = []
            counts: list[str] = []
            guarded: list[int] = []
            for n, i in enumerate(run):
                text, is_guarded = later[i]
                if not is_guarded and n == len(run) - 1 and not counts:
                    parts.append(text)  # the main statement
                    continue
                parts.append(f"w{n} AS ({text}{' RETURNING 1' if is_guarded else ''})")
                if is_guarded:
                    counts.append(f"(SELECT count(*) FROM w{n})")
                    guarded.append(i)
            main = parts.pop() if not counts else "SELECT " + ", ".join(counts)
            out.append(("WITH " + ", ".join(parts) + " " + main, list(run), guarded))
        run.clear()
        tables.clear()

    for i, (text, is_guarded) in enumerate(later):
        if text.startswith(_LOCK) and run:
            out.append((text, [i], []))  # taken before the run, which goes on after it
            continue
        table = _target(text)
        if table is None or table in tables:
            close()
        if table is None:
            out.append((text, [i], [i] if is_guarded else []))
            continue
        run.append(i)
        tables.add(table)
    close()
    return out


@lru_cache(maxsize=4096)
def _local_iso_of_text(text: str) -> str:
    # deadlines fall on a few instants (mostly a day's end), so a queue converts the same texts over and over
    return str(local_iso(datetime.fromisoformat(text).replace(tzinfo=UTC)))
