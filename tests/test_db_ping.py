"""Pooled PostgreSQL connections are pinged only after sitting idle (issue 27): a dead one is
replaced before use, a busy one costs no extra round trip (db/session.py `PING_AFTER_S`)."""

from __future__ import annotations

from typing import Any

import pytest

from hennan_flow.db import session as db_session
from hennan_flow.engine import Engine, SimulatedClock
from test_shardable import logged

pytestmark = pytest.mark.postgres


def backend_pid(engine: Engine) -> int:
    with engine.context.reading() as raw:
        found = raw.row("SELECT pg_backend_pid()")
    assert found is not None
    return int(found[0])


def test_a_pooled_connection_whose_server_end_died_while_idle_is_replaced(
    pg_sim: tuple[Engine, SimulatedClock], postgres: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    (engine, _clock), cluster = pg_sim, postgres
    case = engine.start_case("review_clock")
    pid = backend_pid(engine)
    with cluster.connect("postgres") as admin:  # the server ends the idle pooled session
        admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
    monkeypatch.setattr(db_session, "PING_AFTER_S", 0.0)  # every check-out counts as idle
    [task] = case.ready
    assert engine.complete_task(task.id, data={}).state == "completed"  # no error reaches the caller
    assert backend_pid(engine) != pid


def test_a_connection_used_a_moment_ago_is_not_pinged(
    pg_sim: tuple[Engine, SimulatedClock], monkeypatch: pytest.MonkeyPatch
) -> None:
    engine, _clock = pg_sim
    monkeypatch.setattr(db_session, "PING_AFTER_S", 3600.0)
    log = logged(engine)
    engine.start_case("review_clock")
    log.on = True
    [task] = engine.start_case("review_clock").ready
    engine.complete_task(task.id, data={})
    sent = [sql for sql, _ in log.take()]
    assert sent and ";" not in sent
    monkeypatch.setattr(db_session, "PING_AFTER_S", 0.0)
    engine.tasks()
    assert ";" in [sql for sql, _ in log.take()]  # idle long enough: pinged at check-out
