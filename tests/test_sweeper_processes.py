"""Many sweeper processes over one database issue every due signal exactly once (issue 7).

2,000 due signals (250 cases × 4 step + 4 case signals: half of them cards) are bulk-seeded, then
sweeper processes race over them: 4 on PostgreSQL (FOR UPDATE SKIP LOCKED), 2 on SQLite (the
version-checked claim). In the kill tests one worker is SIGKILLed while it holds a batch — after its
claim committed (PostgreSQL), or inside its fire transaction (SQLite) — and the rest must still be
issued exactly once, after the lease.

Time: every worker runs on the same simulated instant T, so a dead worker's 60 s lease is live for
the others however slow the machine is, and expires deterministically when a final sweep runs at
T + 61 s. (The lease arithmetic is the same as on real time: `engine.now() + lease`.) Workers wait on
stdin for "go" so they start together; each prints what it issued as JSON.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, insert, select

from helpers import CLOCK_BUNDLE, migrated, read, write_session
from hennan_flow.db.models import (
    CardRow,
    CaseRow,
    DeadlineRow,
    DefinitionRow,
    EventRow,
    OutboxRow,
    SignalRow,
    TaskRow,
)
from hennan_flow.engine import Engine, SimulatedClock
from hennan_flow.runtime.workflow import SPIFF_VERSION

T = datetime(2025, 11, 3, 2, 0, tzinfo=UTC)  # Mon 10:00 Shanghai: everything seeded is due
SIGNALS = (
    ("notice", "signal", "notice_before"),
    ("yellow_light", "signal", "yellow_light_at"),
    ("yellow", "card", "promised_passed"),
    ("red", "card", "overdue_workdays"),
)

WORKER = r"""
import json, sys, time
from datetime import datetime
from hennan_flow.engine import Engine, SimulatedClock
from hennan_flow.engine.supervision import SweepPort
from hennan_flow.supervision.sweeper import Sweeper

url, now, hold_phase, batch = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
engine = Engine(url, clock=SimulatedClock(datetime.fromisoformat(now)))
engine.now()  # connect and check the simulation mark before the race


def hold(phase, ids):
    if phase == hold_phase:
        print(json.dumps({"held": list(ids)}), flush=True)
        time.sleep(3600)  # killed here


print("ready", flush=True)
sys.stdin.readline()
issued = []
while True:
    result = Sweeper(SweepPort(engine.context), batch_size=batch, lease=60, timers=False, hold=hold).run()
    issued += [i.signal_id for i in result.issued]
    if result.claimed == 0:
        break
print(json.dumps({"issued": issued}), flush=True)
"""


def seed(engine: Engine, cases: int) -> int:
    """Bulk-insert `cases` open cases, each with a late step and 4 + 4 due signals; returns the count."""
    with write_session(engine) as session:
        definition_id = session.scalar(select(DefinitionRow.id).where(DefinitionRow.key == "review_clock"))
        assert definition_id is not None
        accepted = T - timedelta(days=40)
        case_rows, task_rows, deadline_rows, signal_rows = [], [], [], []
        for i in range(cases):
            case_id, task_id = str(uuid.uuid4()), str(uuid.uuid4())
            case_rows.append(
                {
                    "id": case_id,
                    "definition_id": definition_id,
                    "key": "review_clock",
                    "state": "open",
                    "applicant": "{}",
                    "started_at": accepted,
                    "rev": 1,
                    "spiff_version": SPIFF_VERSION,
                    "wf_state": "",  # never loaded: no timer is due
                }
            )
            task_rows.append(
                {
                    "id": task_id,
                    "case_id": case_id,
                    "step": "review",
                    "name": "审查",
                    "department": "amr",
                    "state": "ready",
                    "ready_at": accepted,
                }
            )
            for owner, scope, step, task in (
                (task_id, "step", "review", task_id),
                (case_id, "case", None, None),
            ):
                deadline_rows.append(
                    {
                        "id": owner,
                        "case_id": case_id,
                        "task_id": task,
                        "scope": scope,
                        "step": step,
                        "kind": "promised",
                        "unit": "workday",
                        "legal": 10,
                        "promised": 5,
                        "notice_before": 1,
                        "yellow_light_at": "0.8",
                        "red_after": 3,
                        "accepted_at": accepted,
                        "pending": False,
                        "shift_workdays": 0,
                    }
                )
                for n, (name, kind, trigger) in enumerate(SIGNALS):
                    signal_rows.append(
                        {
                            "deadline_id": owner,
                            "case_id": case_id,
                            "task_id": task,
                            "scope": scope,
                            "step": step,
                            "name": name,
                            "kind": kind,
                            "trigger": trigger,
                            "due_at": T - timedelta(days=10 - n, seconds=i),
                            "state": "pending",
                            "rev": 0,
                        }
                    )
        session.execute(insert(CaseRow), case_rows)
        session.execute(insert(TaskRow), task_rows)
        session.execute(insert(DeadlineRow), deadline_rows)
        session.execute(insert(SignalRow), signal_rows)
    return len(signal_rows)


def prepare(url: str) -> Engine:
    engine = Engine(migrated(url, simulation=True), clock=SimulatedClock(T))
    engine.deploy(str(CLOCK_BUNDLE))
    assert seed(engine, 250) == 2000
    return engine


class Worker:
    def __init__(self, url: str, *, hold: str = "none", batch: int = 25) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", WORKER, url, T.isoformat(), hold, str(batch)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        assert self.readline() == "ready"

    def readline(self) -> str:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise AssertionError(f"worker died: {self.proc.stderr.read() if self.proc.stderr else ''}")
        return line.strip()

    def go(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write("go\n")
        self.proc.stdin.flush()

    def held(self) -> list[int]:
        return list(json.loads(self.readline())["held"])

    def result(self) -> list[int]:
        out, err = self.proc.communicate(timeout=300)
        assert self.proc.returncode == 0, err
        return list(json.loads(out.strip().splitlines()[-1])["issued"])

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=60)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def assert_exactly_once(engine: Engine, issued_by: list[list[int]]) -> None:
    """Every seeded signal fired once: one outbox row, one audit event, at most one card each; and each
    card's record, opened with its verify phase, got that phase's record_overdue once (DESIGN §9)."""
    with read(engine) as session:
        phase_ids = set(session.scalars(select(SignalRow.id).where(SignalRow.kind == "record")))
    everything = [i for worker in issued_by for i in worker]
    seeded = [i for i in everything if i not in phase_ids]
    assert len(seeded) == 2000 and len(set(seeded)) == 2000, Counter(seeded).most_common(3)
    phases = [i for i in everything if i in phase_ids]
    assert len(phases) == len(set(phases)) == len(phase_ids) == 1000, Counter(phases).most_common(3)
    with read(engine) as session:
        states = dict(session.execute(select(SignalRow.state, func.count()).group_by(SignalRow.state)).all())
        assert states == {"fired": 3000}
        ids = set(session.scalars(select(SignalRow.id).where(SignalRow.kind != "record")))
        assert set(seeded) == ids
        payloads = [json.loads(p) for p in session.scalars(select(OutboxRow.payload))]
        outbox = [p["signal"] for p in payloads if p["signal"] in ids]
        assert len(outbox) == 2000 and set(outbox) == ids
        audit = [
            json.loads(d)["signal"]
            for d in session.scalars(
                select(EventRow.detail).where(EventRow.type.in_(("signal.fired", "card.issued")))
            )
        ]
        audit = [a for a in audit if a in ids]
        assert len(audit) == 2000 and set(audit) == ids
        cards = session.execute(
            select(CardRow.deadline_id, CardRow.color).where(CardRow.trigger != "escalated")
        ).all()
        assert len(cards) == 1000 and len(set(cards)) == 1000
        assert session.scalar(select(func.count()).select_from(CardRow).where(CardRow.state != "open")) == 0


def race(url: str, workers: int, *, kill: str | None = None) -> None:
    engine = prepare(url)
    started: list[Worker] = []
    try:
        victim_held: list[int] = []
        if kill is not None:
            victim = Worker(url, hold=kill)
            started.append(victim)
            victim.go()
            victim_held = victim.held()  # it holds a claimed batch (and, "firing", its transaction)
            assert len(victim_held) == 25
        others = [Worker(url) for _ in range(workers - (1 if kill else 0))]
        started += others
        for w in others:
            w.go()
        if kill is not None:
            started[0].kill()  # SIGKILL while the others sweep
        issued_by = [w.result() for w in others]
        if kill is not None:
            assert not set(victim_held) & {i for w in issued_by for i in w}  # its lease kept them
            with read(engine) as session:
                claimed = set(session.scalars(select(SignalRow.id).where(SignalRow.state == "claimed")))
            assert claimed == set(victim_held)
            late = Engine(url, clock=SimulatedClock(T + timedelta(seconds=61)))  # after the lease
            final = late.sweep(timers=False, lease=60)
            assert final.reaped == 25
            issued_by.append([i.signal_id for i in final.issued])
            late.close()
        assert_exactly_once(engine, issued_by)
    finally:
        for w in started:
            w.stop()
        engine.close()


@pytest.mark.postgres
def test_four_sweepers_on_postgresql_issue_each_signal_exactly_once(postgres: object) -> None:
    race(postgres.create_database(), 4)  # type: ignore[attr-defined]


@pytest.mark.postgres
def test_a_sweeper_killed_holding_claims_on_postgresql_loses_nothing(postgres: object) -> None:
    race(postgres.create_database(), 4, kill="claimed")  # type: ignore[attr-defined]


@pytest.mark.postgres
def test_a_sweeper_killed_inside_its_fire_transaction_on_postgresql_loses_nothing(postgres: object) -> None:
    race(postgres.create_database(), 4, kill="firing")  # type: ignore[attr-defined]


def test_two_sweepers_on_sqlite_issue_each_signal_exactly_once(tmp_path: Path) -> None:
    race(f"sqlite:///{tmp_path / 'race.db'}", 2)


def test_a_sweeper_killed_inside_its_fire_transaction_on_sqlite_loses_nothing(tmp_path: Path) -> None:
    race(f"sqlite:///{tmp_path / 'race.db'}", 2, kill="firing")
