"""The sweeper (issue 7) in one process: claims, leases and their reaping, fencing, batches, budget,
BPMN timers, lag, the calendar warning, query plans, and `sla sweep --loop` stopping on SIGTERM.

Leases run on the engine's clock, so a simulated clock expires them deterministically: a claim made
at T with a 60 s lease is live at T + 59 s and reaped at T + 61 s.
"""

from __future__ import annotations

import json
import logging
import os
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, insert, select

from helpers import (
    CLOCK_BUNDLE,
    CLOCK_START,
    at,
    card_events,
    cli,
    database,
    migrated,
    port,
    read,
    simulation,
    sweeper,
)
from hennan_flow.clock.instants import SHANGHAI
from hennan_flow.db.models import CaseRow, DeadlineRow, OutboxRow, SignalRow
from hennan_flow.engine import Engine, SimulatedClock
from hennan_flow.engine.supervision import SweepPort
from hennan_flow.entities import Issued
from hennan_flow.errors import ExpressionError
from hennan_flow.supervision.sweeper import BatchReport, Sweeper, calendar_warning, explain


@pytest.fixture
def sim(db_url: str) -> Iterator[tuple[Engine, SimulatedClock]]:
    with simulation(db_url, CLOCK_BUNDLE, CLOCK_START) as sim:
        yield sim


def start_cases(engine: Engine, n: int) -> list[str]:
    return [engine.start_case("review_clock").id for _ in range(n)]


def signal_states(engine: Engine) -> dict[str, int]:
    with read(engine) as session:
        rows = session.execute(select(SignalRow.state, func.count()).group_by(SignalRow.state)).all()
    return {state: count for state, count in rows}


def outbox_refs(engine: Engine) -> list[str]:
    """The outbox's signal and card events (the cases' and steps' own events left out)."""
    with read(engine) as session:
        return list(
            session.scalars(
                select(OutboxRow.ref)
                .where(OutboxRow.type.not_like("case.%"), OutboxRow.type.not_like("task.%"))
                .order_by(OutboxRow.id)
            )
        )


# -- leases -------------------------------------------------------------------------------------


def test_a_dead_workers_claims_are_reaped_after_the_lease_and_issued_once(
    sim: tuple[Engine, SimulatedClock],
) -> None:
    engine, clock = sim
    start_cases(engine, 2)
    clock.set(at("2025-10-12T08:00"))  # notice + yellow light of each review step are due
    dead = sweeper(engine, lease=60, worker="dead")
    assert dead._arm(engine.now()) == 2  # the review steps' signals, stored as rows now they come due
    held = dead._claim(engine.now(), "dead#1")  # claimed, committed, never fired: the worker died
    assert len(held) == 4 and signal_states(engine)["claimed"] == 4

    live = engine.sweep(timers=False)
    assert live.issued == () and live.reaped == 0  # the lease is live: nobody else may fire them
    assert live.lag_seconds == 8 * 3600  # but the lag shows them
    clock.set(at("2025-10-12T08:00") + timedelta(seconds=59))
    assert engine.sweep(timers=False).issued == ()

    clock.set(at("2025-10-12T08:00") + timedelta(seconds=61))
    after = engine.sweep(timers=False)
    assert (after.reaped, len(after.issued)) == (4, 4)
    assert {i.signal_id for i in after.issued} == set(held)
    assert all(i.at == at("2025-10-12T00:00") for i in after.issued)  # still stamped with the due instant
    # the dead worker wakes up: its token is gone, it fires nothing (fencing)
    assert dead._fire(held, "dead#1") == []
    assert engine.sweep(timers=False).issued == ()
    assert signal_states(engine).get("claimed", 0) == 0
    refs = outbox_refs(engine)
    assert len(refs) == 4 and len(set(refs)) == 4


def test_a_stalled_worker_cannot_fire_what_another_reaped_and_fired(
    sim: tuple[Engine, SimulatedClock],
) -> None:
    engine, clock = sim
    start_cases(engine, 3)
    clock.set(at("2025-10-14T08:00"))  # notice, yellow light, yellow card of each: 9 due
    other = Engine(engine.url, clock=lambda: clock() + timedelta(seconds=120))  # two minutes later
    seen: list[int] = []

    def stall(phase: str, ids: Sequence[int]) -> None:
        if phase == "claimed" and not seen:  # stalls past its lease after its first claim
            seen.extend(ids)
            result = other.sweep(timers=False, lease=60)
            assert result.reaped == len(ids) and len(result.issued) == 9

    slow = sweeper(engine, batch_size=4, lease=60, timers=False, hold=stall)
    result = slow.run()
    assert len(seen) == 4
    assert result.lost == 4 and result.issued == ()  # fenced out: nothing twice
    # 9 fired, the red cards and the yellow records' verify deadlines (DESIGN §9) wait; the cases'
    # own signals, none due, still ride on their deadline rows
    assert signal_states(engine) == {"fired": 9, "pending": 6}
    refs = outbox_refs(engine)
    assert len(refs) == 9 and len(set(refs)) == 9
    assert len(engine.cards()) == 3
    other.close()


def test_a_late_completion_fires_a_claimed_card_and_the_sweeper_skips_it(
    sim: tuple[Engine, SimulatedClock],
) -> None:
    engine, clock = sim
    (case_id,) = start_cases(engine, 1)
    review = engine.tasks(case=case_id)[0]
    clock.set(at("2025-10-15T11:00"))

    def complete_meanwhile(phase: str, _ids: Sequence[int]) -> None:
        if phase == "claimed":  # the clerk completes the late step while the sweeper holds the claims
            engine.complete_task(review.id, actor="clerk")

    result = sweeper(engine, timers=False, hold=complete_meanwhile).run()
    assert result.claimed == 3 and result.issued == () and result.lost == 3
    assert [(c.step, c.color) for c in engine.cards()] == [("review", "yellow")]
    assert [e.payload["name"] for e in card_events(engine)] == ["notice", "yellow_light", "yellow"]


def test_a_completion_racing_a_firing_sweep_waits_for_it_and_issues_nothing_twice(
    sim: tuple[Engine, SimulatedClock],
) -> None:
    engine, clock = sim
    (case_id,) = start_cases(engine, 1)
    review = engine.tasks(case=case_id)[0]
    clock.set(at("2025-10-15T11:00"))
    other = Engine(engine.url, clock=clock)  # another worker of the portal, its own connections
    done: list[object] = []
    blocked: list[bool] = []
    clerk = threading.Thread(target=lambda: done.append(other.complete_task(review.id, actor="clerk")))

    def race(phase: str, _ids: Sequence[int]) -> None:
        if phase == "firing":  # inside the fire transaction, holding the case (and on SQLite the db)
            clerk.start()
            clerk.join(timeout=1.0)
            blocked.append(clerk.is_alive())  # the completion waits for this transaction

    result = sweeper(engine, timers=False, hold=race).run()
    clerk.join(timeout=120)
    assert blocked == [True] and len(done) == 1
    assert len(result.issued) == 3  # the sweeper fired them; the completion found them fired
    assert [(c.step, c.color) for c in engine.cards()] == [("review", "yellow")]
    assert [e.payload["name"] for e in card_events(engine)] == ["notice", "yellow_light", "yellow"]
    other.close()


# -- batches, budget, stop --------------------------------------------------------------------------


def test_batches_are_bounded_and_each_is_reported(sim: tuple[Engine, SimulatedClock]) -> None:
    engine, clock = sim
    start_cases(engine, 3)
    clock.set(at("2025-10-14T08:00"))
    reports: list[BatchReport] = []
    result = engine.sweep(batch_size=4, timers=False, on_batch=reports.append)
    assert [(r.batch, r.claimed, r.issued, r.lost) for r in reports] == [
        (1, 4, 4, 0),
        (2, 4, 4, 0),
        (3, 1, 1, 0),
    ]
    assert (result.batches, result.claimed, len(result.issued), result.complete) == (3, 9, 9, True)
    assert reports[0].line().startswith("扫描第 1 批：认领 4，发出 4，被他人处理 0，收回过期认领 0，")
    assert [i.at for i in result.issued] == sorted(i.at for i in result.issued)


def test_a_spent_time_budget_yields_and_the_next_sweep_goes_on(sim: tuple[Engine, SimulatedClock]) -> None:
    engine, clock = sim
    start_cases(engine, 3)
    clock.set(at("2025-10-14T08:00"))
    counts = []
    while True:
        result = engine.sweep(batch_size=4, budget=1e-9, timers=False)  # spent after any batch
        counts.append((len(result.issued), result.complete))
        if result.complete:
            break
    assert counts == [(4, False), (4, False), (1, True)]


def test_a_stop_request_ends_the_sweep_between_batches(sim: tuple[Engine, SimulatedClock]) -> None:
    engine, clock = sim
    start_cases(engine, 3)
    clock.set(at("2025-10-14T08:00"))
    reports: list[BatchReport] = []
    result = engine.sweep(batch_size=4, timers=False, on_batch=reports.append, stop=lambda: bool(reports))
    assert (len(result.issued), result.complete) == (4, False)
    # the three steps' signals were stored (one batch), four issued; nothing left claimed
    assert signal_states(engine)["pending"] == 3 * 4 - 4
    assert "claimed" not in signal_states(engine)


# -- BPMN timers --------------------------------------------------------------------------------------


def test_due_timers_fire_and_a_failing_one_marks_its_case_while_the_sweep_goes_on(
    sim: tuple[Engine, SimulatedClock],
) -> None:
    engine, clock = sim
    broken, healthy = start_cases(engine, 2)
    clock.set(at("2025-10-14T00:00"))  # the boundary timer workdays(5) of both is due
    assert sorted(engine.due_timer_cases()) == sorted([broken, healthy])

    class Refusing(SweepPort):  # the sweeper takes any engine port: this one's timer of `broken` fails
        def fire_timers(self, case_id: str) -> list[Issued] | None:
            if case_id == broken:
                raise ExpressionError("timer expression refused", expression="workdays(x)")
            return super().fire_timers(case_id)

    result = Sweeper(port(engine, Refusing)).run()
    assert result.timers_fired == (healthy,)
    assert [case for case, _ in result.timer_errors] == [broken]
    assert "timer expression refused" in result.timer_errors[0][1]
    assert len(result.issued) == 6  # the signals of both cases were issued all the same
    assert sorted(t.step for t in engine.tasks(case=healthy)) == ["escalate", "review"]
    assert [t.step for t in engine.tasks(case=broken)] == ["review"]
    assert any(e.type == "case.error" for e in engine.case(broken).events)
    with read(engine) as session:
        row = session.get(CaseRow, broken)
        assert row is not None and "refused" in (row.error or "")
    assert engine.due_timer_cases() == []
    again = engine.sweep()
    assert (again.timers_fired, again.timer_errors, again.issued) == ((), (), ())


# -- lag, calendar, plans -----------------------------------------------------------------------------


def test_the_calendar_warning_comes_within_60_days_of_its_end(sim: tuple[Engine, SimulatedClock]) -> None:
    engine, clock = sim
    last = engine.calendar().last_date
    noon = datetime.combine(last, datetime.min.time()).replace(tzinfo=SHANGHAI, hour=12)
    clock.set(noon - timedelta(days=61))
    assert engine.sweep().calendar_warning is None
    clock.set(noon - timedelta(days=59))
    result = engine.sweep()
    assert result.calendar_warning is not None and last.isoformat() in result.calendar_warning
    assert "距今 59 天" in result.calendar_warning and "calendar load" in result.calendar_warning
    assert result.calendar_last_date == last


def english_words(text: str) -> list[str]:
    """The English words of a line county staff read, beside the commands it names."""
    commands = {"hennan", "flow", "calendar", "load", "provisional", "sla", "sweep"}
    return [w for w in re.findall(r"[A-Za-z]{2,}", text) if w not in commands]


def test_the_calendar_warning_is_chinese_with_both_parts() -> None:
    doc = {"pending_deadlines": 3, "needed_years": [2027], "days_left": 12, "ends": "2026-12-31"}
    warning = calendar_warning(doc)
    assert warning == (
        "3 项未结期限待定，须工作日历覆盖 2027 年；工作日历数据止于 2026-12-31（距今 12 天）；"
        "超出日历的期限暂不计算。请载入 2027 年日历：hennan-flow calendar load 文件"
        "（国务院放假安排公布前，可先用 hennan-flow calendar provisional 2027）"
    )
    assert english_words(warning) == []
    assert calendar_warning({**doc, "pending_deadlines": 0, "days_left": 60}) is None


def test_sla_sweep_warns_in_chinese_in_text_and_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = migrated(f"sqlite:///{tmp_path / 'hf.db'}", simulation=True)
    with Engine(url) as engine:
        last = engine.calendar().last_date
    now = f"{last - timedelta(days=40)}T12:00:00+08:00"
    rc, out, _err = cli(capsys, "--db", url, "--now", now, "sla", "sweep")
    (line,) = [x for x in out.splitlines() if x.startswith("警告")]
    assert rc == 0 and line.startswith(f"警告（工作日历）：工作日历数据止于 {last}（距今 40 天）")
    assert english_words(line) == []
    rc, out, err = cli(capsys, "--db", url, "--now", now, "--format", "json", "sla", "sweep")
    assert rc == 0 and json.loads(out)["calendar"]["days_left"] == 40
    (line,) = [x for x in err.splitlines() if x.startswith("警告")]
    assert "距今 40 天" in line and english_words(line) == []


def test_the_calendar_warning_is_logged_once_an_hour_not_at_every_sweep(
    sim: tuple[Engine, SimulatedClock], caplog: pytest.LogCaptureFixture
) -> None:
    engine, clock = sim
    last = engine.calendar().last_date
    noon = datetime.combine(last, datetime.min.time()).replace(tzinfo=SHANGHAI, hour=12)
    clock.set(noon - timedelta(days=33, minutes=7))  # a text no other test logs
    with caplog.at_level(logging.WARNING, logger="hennan_flow.supervision.sweeper"):
        results = [engine.sweep() for _ in range(5)]
        clock.set(noon - timedelta(days=32, minutes=7))  # a day later: the text changes, logged at once
        results.append(engine.sweep())
    assert all(r.calendar_warning for r in results)  # every sweep still reports it
    logged = [r.getMessage() for r in caplog.records if "工作日历数据止于" in r.getMessage()]
    assert len(logged) == 2 and "距今 33 天" in logged[0] and "距今 32 天" in logged[1], logged


def test_sweep_queries_read_the_indexes_not_the_tables(sqlite_url: str) -> None:
    engine = Engine(migrated(sqlite_url))
    plans = explain(port(engine))
    assert set(plans) == {
        "arm",
        "claim",
        "reap",
        "lag_armed",
        "lag_pending",
        "lag_claimed",
        "lag_timers",
        "timers",
    }
    for name, lines in plans.items():
        text = " ".join(lines)
        assert "SCAN" not in text, (name, lines)  # no full scan of any table
        assert "TEMP B-TREE" not in text, (name, lines)  # and no sort: the index gives the order
    for name in ("claim", "reap", "lag_pending", "lag_claimed"):
        assert "USING INDEX ix_hf_signal_live" in " ".join(plans[name]).replace("COVERING ", ""), name
    for name in ("arm", "lag_armed"):
        assert "USING INDEX ix_hf_deadline_arm" in " ".join(plans[name]).replace("COVERING ", ""), name
    for name in ("lag_timers", "timers"):
        assert "ix_hf_case_open_timer" in " ".join(plans[name]), name
    engine.close()


@pytest.mark.postgres
def test_sweep_queries_on_postgresql_do_not_scan_the_signal_table(postgres: object) -> None:
    url = postgres.create_database(migrated=True)  # type: ignore[attr-defined]
    engine = Engine(url)
    with database(engine).begin() as conn:  # make the planner's choice meaningful: many fired signals
        conn.execute(
            insert(SignalRow),
            [
                {
                    "deadline_id": f"d{i}",
                    "case_id": f"c{i}",
                    "task_id": None,
                    "scope": "case",
                    "step": None,
                    "name": "notice",
                    "kind": "signal",
                    "trigger": "notice_before",
                    "due_at": datetime(2025, 1, 1, tzinfo=UTC) + timedelta(minutes=i),
                    "state": "fired",
                    "rev": 1,
                }
                for i in range(5000)
            ],
        )
        conn.execute(  # and many closed deadlines
            insert(DeadlineRow),
            [
                {
                    "id": f"d{i}",
                    "case_id": f"c{i}",
                    "scope": "case",
                    "kind": "promised",
                    "accepted_at": datetime(2025, 1, 1, tzinfo=UTC),
                    "closed_at": datetime(2025, 1, 2, tzinfo=UTC),
                }
                for i in range(5000)
            ],
        )
        conn.exec_driver_sql("ANALYZE hf_signal")
        conn.exec_driver_sql("ANALYZE hf_deadline")
    plans = explain(port(engine))
    for name in ("claim", "reap", "lag_pending", "lag_claimed"):
        text = " ".join(plans[name])
        assert "Seq Scan on hf_signal" not in text, (name, plans[name])
        assert "ix_hf_signal_live" in text, (name, plans[name])
    for name in ("arm", "lag_armed"):
        text = " ".join(plans[name])
        assert "Seq Scan on hf_deadline" not in text, (name, plans[name])
        assert "ix_hf_deadline_arm" in text, (name, plans[name])
    engine.close()


# -- sla sweep --loop -----------------------------------------------------------------------------------


def test_the_loop_logs_each_batch_and_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'live.db'}"
    engine = Engine(migrated(url))  # a real database: real time
    with database(engine).begin() as conn:
        conn.execute(
            insert(SignalRow),
            [
                {
                    "deadline_id": "d1",
                    "case_id": "c1",
                    "task_id": None,
                    "scope": "case",
                    "step": None,
                    "name": "notice",
                    "kind": "signal",
                    "trigger": "notice_before",
                    "due_at": datetime.now(UTC) - timedelta(minutes=5),
                    "state": "pending",
                    "rev": 0,
                }
            ],
        )
    engine.close()
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "hennan_flow",
            "--db",
            url,
            "--format",
            "json",
            "sla",
            "sweep",
            "--loop",
            "--interval",
            "0.2",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert proc.stderr is not None
        lines = []
        for line in proc.stderr:
            lines.append(line)
            if line.startswith("扫描第 "):
                break
        assert lines[0].startswith("督办扫描已启动：")
        assert "认领 1，发出 1，" in lines[-1]
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    assert "督办扫描已停止（SIGTERM）" in err
    doc = json.loads(out)  # one document on stdout
    assert doc["stopped_by"] == "SIGTERM" and doc["issued_count"] == 1 and doc["sweeps"] >= 1
