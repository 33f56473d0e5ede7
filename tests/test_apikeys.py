"""API keys as every HTTP request checks them (`engine.api_keys.user_of`): a key works in every
engine on the database at once, and a revocation holds at once in every one of them (two engines on
one database are two `serve` worker processes). On a SQLite file the lookups run on a connection
kept for them, which must never hold a snapshot between lookups."""

from __future__ import annotations

import sqlite3

from hennan_flow.engine import Engine
from http_service import ADMIN, DIRECTORY


def _engines(url: str) -> tuple[Engine, Engine]:
    first = Engine(url)
    first.load_directory(str(DIRECTORY))
    return first, Engine(url)


def test_a_revoked_key_stops_working_at_once_in_every_engine_on_the_database(migrated_url: str) -> None:
    first, second = _engines(migrated_url)
    with first, second:
        record, key = first.api_keys.create("portal-hn", actor=ADMIN)
        other, other_key = second.api_keys.create("window-wang", actor=ADMIN)
        for _ in range(3):  # looked up again and again, as on every request
            assert second.api_keys.user_of(key) == "portal-hn"
            assert first.api_keys.user_of(other_key) == "window-wang"
        first.api_keys.revoke(record.id, actor=ADMIN)
        assert second.api_keys.user_of(key) is None  # the very next lookup, in the other engine
        assert first.api_keys.user_of(key) is None
        assert second.api_keys.user_of(other_key) == "window-wang"
        second.api_keys.revoke(other.id, actor=ADMIN)
        assert first.api_keys.user_of(other_key) is None
        assert first.api_keys.user_of(key[:-1] + ("x" if key[-1] != "x" else "y")) is None


def test_key_lookups_hold_no_snapshot_that_would_stop_a_checkpoint(migrated_url: str) -> None:
    if not migrated_url.startswith("sqlite"):
        return  # the kept connection is SQLite's; PostgreSQL lookups use the pool
    first, second = _engines(migrated_url)
    with first, second:
        _record, key = first.api_keys.create("portal-hn", actor=ADMIN)
        assert second.api_keys.user_of(key) == "portal-hn"
        first.api_keys.create("window-wang", actor=ADMIN)  # a commit after the lookup
        conn = sqlite3.connect(migrated_url.removeprefix("sqlite:///"))
        try:
            busy, log, done = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        finally:
            conn.close()
        assert busy == 0 and log == done == 0  # no reader kept the log from being emptied
        assert second.api_keys.user_of(key) == "portal-hn"
