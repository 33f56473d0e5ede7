"""Sweep cost against the number of open steps (issue 7): 1,000 due signals among 10k, 100k, 1M open steps.

One SQLite simulation database grows from 10k to 100k to 1M open steps. Each open step is a case,
its step and its deadline, armed with signals none of which is due yet (the realistic load: a county
has many steps running, few of them late; as the engine stores them, the signals ride on the
deadline row). At each size, 250 late steps are added whose armed deadlines hold 1,000 due signals
(notice, yellow light, yellow card, red card each — half of them cards with records), and one
`engine.sweep()` stores and issues them; the median of a few rounds is reported. Rows are bulk-seeded
with INSERT … SELECT over a recursive counter. The sweep's queries are index-bound (the partial index
of armed deadlines, the partial (state, due_at) index of live hf_signal rows, the (state,
next_timer_at) index of hf_case), so the cost should stay flat as open steps grow; the EXPLAIN QUERY
PLAN of each is printed and checked for full scans.

    python bench/sweep.py                      # 10k, 100k, 1M (about a minute and a half)
    python bench/sweep.py --sizes 10000,100000 # quicker
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select

from hennan_flow.db.models import DefinitionRow
from hennan_flow.engine import Engine, SimulatedClock
from hennan_flow.engine.supervision import SweepPort
from hennan_flow.runtime.workflow import SPIFF_VERSION
from hennan_flow.supervision.sweeper import explain

REPO = Path(__file__).resolve().parents[1]
BUNDLE = REPO / "tests" / "fixtures" / "clock" / "processes"
# every seeded "due" instant is before it, the rest after; and before the first phase deadline of the
# records the cards open (the yellow cards' 核查 ends 10-17 16:00 UTC), so a round sweeps only its 1,000
NOW = datetime(2025, 10, 17, 2, 0, tzinfo=UTC)
SIZES = (10_000, 100_000, 1_000_000)
DUE = 1_000  # due signals per round (250 late steps × 4)
ROUNDS = 3
CHUNK = 200_000  # open steps per seeding transaction

# one row per i in [:lo, :hi); ids are zero-padded counters so inserts append to the B-trees
COUNTER = "WITH RECURSIVE n(i) AS (SELECT :lo UNION ALL SELECT i + 1 FROM n WHERE i + 1 < :hi) "
CASES = (
    "INSERT INTO hf_case (id, definition_id, key, state, applicant, started_at, rev, spiff_version, "
    "wf_state, next_timer_at) " + COUNTER + "SELECT printf('c%09d', i), :definition, 'review_clock', 'open', "
    "'{}', '2025-09-29 02:00:00.000000', 1, :spiff, '', :timer FROM n"
)
TASKS = (
    "INSERT INTO hf_task (id, case_id, step, name, department, state, ready_at) "
    + COUNTER
    + "SELECT printf('t%09d', i), printf('c%09d', i), 'review', '审查', 'amr', 'ready', "
    "'2025-09-29 02:00:00.000000' FROM n"
)
DEADLINES = (
    "INSERT INTO hf_deadline (id, case_id, task_id, scope, step, kind, unit, legal, promised, notice_before, "
    "yellow_light_at, red_after, accepted_at, pending, shift_workdays, arm_at, notice_due, yellow_light_due, "
    "yellow_due, red_due) "
    + COUNTER
    + "SELECT printf('t%09d', i), printf('c%09d', i), printf('t%09d', i), 'step', 'review', 'promised', "
    "'workday', 10, 5, 1, '0.8', 3, '2025-09-29 02:00:00.000000', 0, 0, {due} FROM n"
)
# open steps: armed with signals some time next year; late steps: accepted on 2025-09-29 with 5
# (promised) / 10 (legal) working days, so with the National Day holidays their notice and yellow
# light fell due at the end of 10-11, the yellow card of 10-13, the red card of 10-16 (before NOW)
_NEXT_YEAR = "printf('2026-%02d-%02d 00:00:00.000000', 1 + (i % 12), 1 + (i % 28))"
FUTURE = ", ".join([_NEXT_YEAR] * 5)
PAST = "'2025-10-11 16:00:00.000000', '2025-10-11 16:00:00.000000', '2025-10-11 16:00:00.000000', " + (
    "'2025-10-13 16:00:00.000000', '2025-10-16 16:00:00.000000'"
)


def seed(engine: Engine, lo: int, hi: int, *, due: bool, definition: int) -> None:
    """Open steps [lo, hi): case, step and armed deadline each; `due` ones fell due in October."""
    params: dict[str, Any] = {
        "definition": definition,
        "spiff": SPIFF_VERSION,
        "timer": "2026-06-01 00:00:00.000000",  # a boundary timer, not due
    }
    deadlines = DEADLINES.format(due=PAST if due else FUTURE)
    with engine.context.db.begin() as conn:
        conn.exec_driver_sql("PRAGMA cache_size=-262144")
        for start in range(lo, hi, CHUNK):
            chunk = {**params, "lo": start, "hi": min(hi, start + CHUNK)}
            for sql in (CASES, TASKS, deadlines):
                conn.exec_driver_sql(sql, chunk)


def _fmt(ms: float) -> str:
    return f"{ms:8.1f}"


def main(sizes: tuple[int, ...] = SIZES, rounds: int = ROUNDS, quiet: bool = False) -> dict[str, Any]:
    """Run the benchmark; print a table (unless quiet) and return the figures."""
    out: dict[str, Any] = {"due_per_round": DUE, "rounds": rounds, "sizes": {}, "plans": {}}
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="hf-sweep-bench-") as tmp:
        url = f"sqlite:///{Path(tmp) / 'sweep.db'}"
        Engine(url).upgrade(simulation=True)
        clock = SimulatedClock(NOW)
        engine = Engine(url, clock=clock)
        engine.deploy(str(BUNDLE))
        with engine.context.read() as session:
            definition = session.scalar(select(DefinitionRow.id))
        assert definition is not None
        late_base = 900_000_000  # ids of late steps, apart from the open ones
        seeded = 0
        # warm up: definition parsed, statement caches filled (not measured)
        seed(engine, late_base, late_base + 25, due=True, definition=definition)
        late_base += 25
        assert len(engine.sweep().issued) == 100
        for size in sizes:
            t0 = time.perf_counter()
            seed(engine, seeded, size, due=False, definition=definition)
            seeded = size
            with engine.context.db.begin() as conn:
                conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
            seed_s = time.perf_counter() - t0
            timings = []
            for _ in range(rounds):
                seed(engine, late_base, late_base + DUE // 4, due=True, definition=definition)
                late_base += DUE // 4
                t1 = time.perf_counter()
                result = engine.sweep(batch_size=500)
                timings.append((time.perf_counter() - t1) * 1000)
                if len(result.issued) != DUE or not result.complete:
                    raise SystemExit(f"sweep issued {len(result.issued)} of {DUE}")
            plans = explain(SweepPort(engine.context))
            scans = {k: v for k, v in plans.items() if any("SCAN" in line for line in v)}
            out["sizes"][size] = {
                "open_steps": size,
                "armed_deadlines": size,
                "seed_seconds": round(seed_s, 2),
                "sweep_ms": [round(t, 1) for t in timings],
                "sweep_ms_per_1000": round(statistics.median(timings), 1),
                "full_scans": sorted(scans),
            }
            out["plans"][size] = plans
        engine.close()
    first, last = out["sizes"][sizes[0]], out["sizes"][sizes[-1]]
    out["ratio_largest_to_smallest"] = round(last["sweep_ms_per_1000"] / first["sweep_ms_per_1000"], 2)
    out["index_bound"] = all(not s["full_scans"] for s in out["sizes"].values())
    out["total_seconds"] = round(time.perf_counter() - started, 1)
    if not quiet:
        print(table(out, sizes))
    return out


def table(out: dict[str, Any], sizes: tuple[int, ...]) -> str:
    lines = [
        f"sweep: {out['due_per_round']} due signals (half cards) per sweep, SQLite, median of {out['rounds']}",
        f"{'open steps':>12} {'armed':>13} {'ms/1000':>8} {'ms/signal':>9}  {'rounds (ms)':<24} full scans",
    ]
    for size in sizes:
        s = out["sizes"][size]
        lines.append(
            f"{size:>12,} {s['armed_deadlines']:>13,} {_fmt(s['sweep_ms_per_1000'])} "
            f"{s['sweep_ms_per_1000'] / out['due_per_round']:9.3f}  {', '.join(f'{t:.0f}' for t in s['sweep_ms']):<24} "
            f"{', '.join(s['full_scans']) or 'none'}"
        )
    lines.append(
        f"ratio {sizes[-1]:,} / {sizes[0]:,} open steps: {out['ratio_largest_to_smallest']}x; "
        f"index-bound: {out['index_bound']}; total {out['total_seconds']} s"
    )
    plans = out["plans"][sizes[-1]]
    lines.append(f"query plans at {sizes[-1]:,} open steps:")
    lines += [f"  {name:<12} {' | '.join(plan)}" for name, plan in plans.items()]
    return "\n".join(lines)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default=",".join(str(s) for s in SIZES))
    parser.add_argument("--rounds", type=int, default=ROUNDS)
    args = parser.parse_args()
    result = main(tuple(int(s) for s in args.sizes.split(",")), args.rounds)
    sys.exit(0 if result["index_bound"] else 1)
