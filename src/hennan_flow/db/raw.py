"""Driver-level statements for the engine's hot path, inside a SQLAlchemy-managed transaction.

A step completion touches a dozen rows; through the ORM each costs a flush and an identity-map
round, through Core ~50 µs of statement machinery, through the driver's cursor ~10 µs. The hot path
(start a case, complete a step, list a queue) therefore speaks SQL directly on the cursor of the
transaction SQLAlchemy opened (so the ORM can still join it for the rare paths). SQL is written
with `?` placeholders and converted once for psycopg. Instants are stored exactly as SQLAlchemy's
`DateTime(timezone=True)` stores them: UTC text on SQLite, timestamptz on PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import Connection

from ..clock.instants import as_utc, local_iso

__all__ = ["Raw"]


class Raw:
    """The DBAPI cursor of a SQLAlchemy connection, with the two dialects' differences hidden."""

    def __init__(self, conn: Connection | None = None, *, dbapi: Any = None, postgres: bool = False) -> None:
        if conn is not None:
            postgres = conn.dialect.name == "postgresql"
            dbapi = conn.connection.dbapi_connection
        assert dbapi is not None
        self.postgres = postgres
        self._cursor = dbapi.cursor()
        self._sql: dict[str, str] = {}

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

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        self._cursor.execute(self._text(sql), tuple(params))
        return list(self._cursor.fetchall())

    def row(self, sql: str, params: Sequence[Any] = ()) -> tuple[Any, ...] | None:
        self._cursor.execute(self._text(sql), tuple(params))
        found = self._cursor.fetchone()
        return tuple(found) if found is not None else None

    def run(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Execute a statement; the number of rows it changed."""
        self._cursor.execute(self._text(sql), tuple(params))
        return int(self._cursor.rowcount)

    def many(self, sql: str, params: Iterable[Sequence[Any]]) -> None:
        batch = [tuple(p) for p in params]
        if batch:
            self._cursor.executemany(self._text(sql), batch)

    def placeholders(self, n: int) -> str:
        return ", ".join("?" * n)


@lru_cache(maxsize=4096)
def _local_iso_of_text(text: str) -> str:
    # deadlines fall on a few instants (mostly a day's end), so a queue converts the same texts over and over
    return str(local_iso(datetime.fromisoformat(text).replace(tzinfo=UTC)))
