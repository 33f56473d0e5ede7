"""`keys status` and `keys rotate`: which key sealed the personal data at rest, and re-sealing it.

The sealed columns are the model's `SealedText` columns (sealing.py). `rotate` walks each of them by
primary key, a batch of rows per write transaction, and re-seals every value that is not sealed with
the keyring's first key (plain values from before a key was configured included). Each row is
written only if it still holds what was read (a step completed meanwhile wrote it anew, with the
first key), so rotation runs beside live engines. It is idempotent and resumable: a value already
sealed with the first key is skipped, so running it again after an interruption goes on where it
stopped, and running it on a rotated database changes nothing. On SQLite the rows are rewritten with
`secure_delete` on and the write-ahead log is truncated at the end, so no old ciphertext stays in the
files; on PostgreSQL old row versions stay in the table files until VACUUM reuses their space (a dump
holds only live rows).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Any

from ..db.models import Base
from ..db.raw import Raw
from ..errors import ConfigError
from ..sealing import KEY_ENV, KEY_FILE_ENV, PREFIX, Keyring, SealedText
from .context import EngineContext

__all__ = ["DEFAULT_BATCH", "RotateResult", "SealedColumn", "rotate", "sealed_columns", "status"]

DEFAULT_BATCH = 200
_TRUNCATE_TRIES = 20  # SQLite log truncation: tries of up to _TRUNCATE_WAIT_MS each, ~6 s in all
_TRUNCATE_WAIT_MS = 250
_KID = 16  # hex characters of a key id


@dataclass(frozen=True)
class SealedColumn:
    table: str
    column: str
    keys: tuple[str, ...]  # primary key columns
    label: str

    @property
    def name(self) -> str:
        return f"{self.table}.{self.column}"


def sealed_columns() -> list[SealedColumn]:
    """Every column of the schema whose values are sealed, in table order."""
    found: list[SealedColumn] = []
    for table in Base.metadata.sorted_tables:
        for column in table.columns:
            if isinstance(column.type, SealedText):
                keys = tuple(c.name for c in table.primary_key.columns)
                found.append(SealedColumn(table.name, column.name, keys, column.type.label))
    return found


def status(ctx: EngineContext) -> dict[str, Any]:
    """Per sealed column: how many values are plain, and how many each key id sealed."""
    columns: dict[str, dict[str, int]] = {}
    with ctx.reading() as raw:
        for col in sealed_columns():
            counts: dict[str, int] = {}
            rows = raw.rows(
                f"SELECT CASE WHEN substr({col.column}, 1, ?) = ? THEN substr({col.column}, ?, ?) ELSE '' END,"
                f" count(*) FROM {col.table} WHERE {col.column} IS NOT NULL GROUP BY 1",
                (len(PREFIX), PREFIX, len(PREFIX) + 1, _KID),
            )
            for kid, count in rows:
                counts[kid or "plaintext"] = int(count)
            columns[col.name] = counts
    keyring = ctx.keyring
    current = keyring.current if keyring else None
    pending = sum(n for c in columns.values() for k, n in c.items() if k != current)
    return {
        "sealing_key": current,
        "keys": list(keyring.key_ids) if keyring else [],
        "columns": columns,
        "to_rotate": pending if keyring else 0,
        "plaintext": sum(c.get("plaintext", 0) for c in columns.values()),
    }


@dataclass
class RotateResult:
    sealing_key: str
    resealed: dict[str, int] = field(default_factory=dict)
    skipped: int = 0  # rows another writer changed between the read and the write (sealed anew by it)
    batches: int = 0
    log_cleared: bool = True  # SQLite: the write-ahead log (old frames, old values) was truncated

    def as_dict(self) -> dict[str, Any]:
        return {
            "sealing_key": self.sealing_key,
            "resealed": dict(self.resealed),
            "total": sum(self.resealed.values()),
            "skipped": self.skipped,
            "batches": self.batches,
            "complete": True,
            "log_cleared": self.log_cleared,
        }


def rotate(
    ctx: EngineContext,
    *,
    batch: int = DEFAULT_BATCH,
    on_batch: Callable[[str, int], None] | None = None,
) -> RotateResult:
    """Re-seal every sealed value not sealed with the first key; one transaction per batch of rows."""
    keyring = ctx.keyring
    if keyring is None:
        raise ConfigError(
            "keys rotate 需要密钥，但没有配置任何密钥",
            hint=f"把 {KEY_ENV}（或 {KEY_FILE_ENV}）设为新密钥在前、旧密钥在后",
        )
    result = RotateResult(keyring.current)
    for col in sealed_columns():
        result.resealed[col.name] = 0
        after: tuple[Any, ...] | None = None
        while True:
            with ctx.write() as tx:
                rows = _batch(tx.raw, col, keyring, after, batch)
                if not rows:
                    break
                if not ctx.postgres:  # the space an old value leaves is zeroed, not left in the file
                    tx.raw.run("PRAGMA secure_delete = ON")
                done, skipped = _reseal(tx.raw, col, keyring, rows)
                if not ctx.postgres:
                    tx.raw.run("PRAGMA secure_delete = OFF")
            result.resealed[col.name] += done
            result.skipped += skipped
            result.batches += 1
            after = tuple(rows[-1][: len(col.keys)])
            if on_batch is not None:
                on_batch(col.name, done)
            if len(rows) < batch:
                break
    if not ctx.postgres:  # SQLite: the log's old frames hold the old values until it is truncated
        result.log_cleared = _truncate_log(ctx)
    return result


def _truncate_log(ctx: EngineContext) -> bool:
    """Checkpoint the whole log and truncate it; False if other connections kept it busy throughout.

    The engine's own checkpoint thread is held off meanwhile. Another process's checkpoint is refused
    at once and a reader's snapshot waited for briefly, so each try waits a short while, not the
    engine's busy timeout, and a few seconds in all.
    """
    pause = ctx.checkpointer.paused() if ctx.checkpointer is not None else nullcontext()
    with pause, ctx.connect() as conn:
        patience = conn.exec_driver_sql("PRAGMA busy_timeout").one()[0]
        conn.exec_driver_sql(f"PRAGMA busy_timeout = {_TRUNCATE_WAIT_MS}")
        try:
            for _ in range(_TRUNCATE_TRIES):
                if not conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)").one()[0]:
                    return True
                time.sleep(0.05)
        finally:
            conn.exec_driver_sql(f"PRAGMA busy_timeout = {int(patience)}")
    return False


def _batch(
    raw: Raw, col: SealedColumn, keyring: Keyring, after: tuple[Any, ...] | None, size: int
) -> list[tuple[Any, ...]]:
    """The next rows by primary key after `after`, with their value (any: the filter is in Python)."""
    keys = ", ".join(col.keys)
    where = f"{col.column} IS NOT NULL"
    params: list[Any] = []
    if after is not None:
        where += f" AND ({keys}) > ({raw.placeholders(len(after))})"
        params += after
    rows = raw.rows(
        f"SELECT {keys}, {col.column} FROM {col.table} WHERE {where} ORDER BY {keys} LIMIT {size}", params
    )
    return rows


def _reseal(raw: Raw, col: SealedColumn, keyring: Keyring, rows: list[tuple[Any, ...]]) -> tuple[int, int]:
    done = skipped = 0
    where = " AND ".join(f"{k} = ?" for k in col.keys)
    for row in _stale(keyring, rows):
        *ids, stored = row
        fresh = keyring.seal(keyring.open(str(stored), col.label), col.label)
        changed = raw.run(
            f"UPDATE {col.table} SET {col.column} = ? WHERE {where} AND {col.column} = ?",
            (fresh, *ids, stored),
        )
        done += changed
        skipped += 1 - changed
    return done, skipped


def _stale(keyring: Keyring, rows: list[tuple[Any, ...]]) -> Iterator[tuple[Any, ...]]:
    return (row for row in rows if not keyring.is_current(str(row[-1])))
