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

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.orm.exc import StaleDataError

from ..clock.instants import as_utc, local_iso

__all__ = ["Raw"]


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
        self._cursor = dbapi.cursor()
        self._sql: dict[str, str] = {}
        self._defer = defer and postgres
        # held-back writes: (sql text, params, rows it must change or None, the conflict's message)
        self._later: list[tuple[str, tuple[Any, ...], int | None, str]] = []

    # -- values ----------------------------------------------------------------------------
    def ts(self, value: datetime | None) -> Any:
        """An instant as the column stores it."""
        if value is None:
            return None
        value = value.astimezone(UTC) if value.tzinfo else value
        if self.postgres:
            return value
        return "%04d-%02d-%02d %02d:%02d:%02d.%06d" % (  # noqa: UP031 - the hot path; strftime is slower
            value.year,
            value.month,
            value.day,
            value.hour,
            value.minute,
            value.second,
            value.microsecond,
        )

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
        text = self._sql.get(sql)
        if text is None:
            text = sql.replace("?", "%s") if self.postgres else sql
            self._sql[sql] = text
        return text

    def _execute(self, sql: str, params: Sequence[Any]) -> None:
        if self._later:
            self._send([(self._text(sql), tuple(params))])
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
            text = self._text(sql)
            self._later.extend((text, p, None, "") for p in batch)
        else:
            self._cursor.executemany(self._text(sql), batch)

    def later(
        self, sql: str, params: Sequence[Any] = (), *, expect: int | None = None, stale: str = ""
    ) -> None:
        """A write whose result nothing reads: sent with the transaction's next statement (PostgreSQL,
        a deferring Raw), else at once. `expect`: the rows it must change, else `StaleDataError(stale)`
        — raised at once, or when it was sent (always before the transaction commits: `flush`)."""
        if self._defer:
            self._later.append((self._text(sql), tuple(params), expect, stale))
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
        cursors = self._send([(self._text(sql), tuple(params)) for sql, params in statements])
        return [list(c.fetchall()) if c.description else int(c.rowcount) for c in cursors]

    def flush(self) -> None:
        """Send the held-back writes now (the transaction is about to commit, or the ORM to speak)."""
        if self._later:
            self._send([])

    def _send(self, then: Sequence[tuple[str, tuple[Any, ...]]]) -> list[Any]:
        """The held-back writes, then `then`, in one pipeline (PostgreSQL); the cursors of `then`'s
        statements (the last on this Raw's own cursor). A held-back write that did not change the
        rows it had to raises StaleDataError here; a failing statement raises the driver's error."""
        later, self._later = self._later, []
        checks: list[tuple[Any, int, str]] = []
        cursors: list[Any] = []
        with self._dbapi.pipeline():
            for text, params, expect, stale in later:
                cursor = self._cursor if expect is None else self._dbapi.cursor()
                cursor.execute(text, params)
                if expect is not None:
                    checks.append((cursor, expect, stale))
            for i, (text, params) in enumerate(then):
                cursor = self._cursor if i == len(then) - 1 else self._dbapi.cursor()
                cursor.execute(text, params)
                cursors.append(cursor)
        for cursor, expect, stale in checks:
            if cursor.rowcount != expect:
                raise StaleDataError(stale)
        return cursors

    def placeholders(self, n: int) -> str:
        return ", ".join("?" * n)


@lru_cache(maxsize=4096)
def _local_iso_of_text(text: str) -> str:
    # deadlines fall on a few instants (mostly a day's end), so a queue converts the same texts over and over
    return str(local_iso(datetime.fromisoformat(text).replace(tzinfo=UTC)))
