"""The PostgreSQL section of `make bench`: what a step costs one PostgreSQL server (docs/scale.md).

The bench starts its own private PostgreSQL cluster in a temp dir (initdb/pg_ctl, as the `postgres`
user when run as root, as tests/conftest.py does), on a Unix socket, and always stops it (finally,
and on SIGTERM). Where PostgreSQL or psycopg is absent the section is skipped with the reason.

Server settings: `fsync=on`, `full_page_writes=on`, `synchronous_commit=off` — the PostgreSQL
counterpart of the SQLite side's WAL with `synchronous=NORMAL` (a crash can lose the last commits,
never corrupt); `autovacuum=off` so the per-step WAL and CPU figures hold only the measured work.

- `seq10`, `seq100`: cases/s through the engine and through the naive loop (bench/naive.py) on two
  databases of the same server, alternating which goes first, the median of per-round ratios;
  a `CHECKPOINT` (untimed) before each timed run.
- per step (over the timed rounds): statements (pg_stat_statements, BEGIN/COMMIT included),
  round trips (counted at the driver: each execute, each executemany (a pipeline), each BEGIN the
  driver sends, each COMMIT), transactions, WAL bytes (pg_current_wal_lsn deltas) and server CPU
  (utime + stime of the postmaster and its children, from /proc).
- two engine processes on one database against one (cases/s each and together), with the engine
  as it is and with one simulated outbox event per transaction (the per-step events of issue 22,
  which take the outbox advisory lock, db/hotpath.outbox_lock).
- the sweep of 1,000 due signals among 10k and 100k open steps (bulk-loaded with SQL), one sweeper
  and two sweepers at once.

    python bench/postgres.py [--quick] [--only-seq] [--json FILE]   # the section alone
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import glob
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

PORT = 54339  # apart from the test suite's 54329
CLK_TCK = os.sysconf("SC_CLK_TCK")


# -- the private cluster ------------------------------------------------------------------------
def bindir() -> Path | None:
    found = shutil.which("pg_config")
    if found:
        with contextlib.suppress(OSError, subprocess.CalledProcessError):
            out = subprocess.run(
                [found, "--bindir"], capture_output=True, text=True, check=True
            ).stdout.strip()
            if (Path(out) / "initdb").exists():
                return Path(out)
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), reverse=True)
    return Path(candidates[0]).parent if candidates else None


def absent() -> str | None:
    """Why the section cannot run here, or None."""
    if bindir() is None:
        return "PostgreSQL is not installed here (no initdb)"
    try:
        import psycopg  # noqa: F401
    except ImportError:
        return "psycopg is not installed (pip install hennan-flow[postgres])"
    return None


class Cluster:
    """A throw-away cluster on a Unix socket; `with Cluster() as c:` always stops it."""

    def __init__(self) -> None:
        found = bindir()
        assert found is not None
        self.bin = found
        self.root = Path(tempfile.mkdtemp(prefix="hfpgbench"))
        self.data = self.root / "data"
        self.as_postgres = os.geteuid() == 0
        if self.as_postgres:
            os.chmod(self.root, 0o777)

    def _run(self, *args: Any) -> None:
        cmd = [str(a) for a in args]
        if self.as_postgres:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        subprocess.run(cmd, capture_output=True, text=True, check=True, timeout=120)

    def __enter__(self) -> Cluster:
        previous = self._previous = signal.getsignal(signal.SIGTERM)

        def stop_on_term(signum: int, frame: Any) -> None:
            signal.signal(signal.SIGTERM, previous)
            raise SystemExit(143)  # unwinds through __exit__, which stops the cluster

        signal.signal(signal.SIGTERM, stop_on_term)
        try:
            self._run(self.bin / "initdb", "-D", self.data, "-A", "trust", "-U", "postgres", "-E", "UTF8")
            opts = (
                f"-k {self.root} -c listen_addresses='' -p {PORT} -c max_connections=50 "
                "-c shared_buffers=256MB -c synchronous_commit=off -c autovacuum=off "
                "-c shared_preload_libraries=pg_stat_statements "
                "-c max_wal_size=2GB"
            )
            self._run(
                self.bin / "pg_ctl", "-D", self.data, "-o", opts, "-l", self.root / "log", "-w", "start"
            )
            with self.connect("postgres") as conn:
                conn.execute("CREATE EXTENSION pg_stat_statements")
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
        signal.signal(signal.SIGTERM, self._previous)

    def stop(self) -> None:
        if self.data.exists():
            with contextlib.suppress(subprocess.CalledProcessError, subprocess.TimeoutExpired):
                self._run(self.bin / "pg_ctl", "-D", self.data, "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.root, ignore_errors=True)

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://postgres@/{database}?host={self.root}&port={PORT}"

    def connect(self, database: str) -> Any:
        import psycopg

        return psycopg.connect(
            host=str(self.root), port=PORT, user="postgres", dbname=database, autocommit=True
        )

    def database(self) -> str:
        name = "hf_" + uuid.uuid4().hex[:10]
        with self.connect("postgres") as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return name

    def server_pids(self) -> list[int]:
        postmaster = int((self.data / "postmaster.pid").read_text().split()[0])
        pids = [postmaster]
        for stat in glob.glob("/proc/[0-9]*/stat"):
            with contextlib.suppress(OSError, IndexError, ValueError):
                fields = Path(stat).read_text().rsplit(")", 1)[1].split()
                if int(fields[1]) == postmaster:
                    pids.append(int(Path(stat).parent.name))
        return pids

    def cpu_seconds(self) -> float:
        """CPU the server has used: its processes' utime + stime, and the postmaster's reaped children."""
        ticks = 0
        for i, pid in enumerate(self.server_pids()):
            with contextlib.suppress(OSError):
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                ticks += int(fields[11]) + int(fields[12])  # utime, stime
                if i == 0:
                    ticks += int(fields[13]) + int(fields[14])  # cutime, cstime
        return ticks / CLK_TCK


# -- counting ------------------------------------------------------------------------------------
class Trips:
    """Round trips and transactions counted at the driver (psycopg 3): each statement outside a
    pipeline (and the BEGIN sent before it), each executemany, each pipeline the engine sends (its
    statements and BEGIN ride in one), each COMMIT/ROLLBACK."""

    count = 0
    transactions = 0
    installed = False

    @classmethod
    def install(cls) -> None:
        if cls.installed:
            return
        import psycopg
        from psycopg.pq import TransactionStatus
        from sqlalchemy import event
        from sqlalchemy.engine import Engine as SaEngine

        class CountingCursor(psycopg.Cursor[Any]):
            def execute(self, *args: Any, **kw: Any) -> Any:
                cls._one(self.connection, TransactionStatus)
                return super().execute(*args, **kw)

            def executemany(self, *args: Any, **kw: Any) -> None:
                cls._one(self.connection, TransactionStatus)
                super().executemany(*args, **kw)

        commit = psycopg.Connection.commit
        pipeline = psycopg.Connection.pipeline

        @contextlib.contextmanager
        def counted_pipeline(self: Any) -> Iterator[Any]:
            outer = self._pipeline is None
            with pipeline(self) as p:
                yield p
            if outer:
                cls.count += 1

        rollback = psycopg.Connection.rollback

        def counted_commit(self: Any) -> None:
            if self.info.transaction_status != TransactionStatus.IDLE:
                cls.count += 1
            commit(self)

        def counted_rollback(self: Any) -> None:
            if self.info.transaction_status != TransactionStatus.IDLE:
                cls.count += 1
            rollback(self)

        psycopg.Connection.commit = counted_commit  # type: ignore[method-assign]
        psycopg.Connection.pipeline = counted_pipeline  # type: ignore[method-assign,assignment]
        psycopg.Connection.rollback = counted_rollback  # type: ignore[method-assign]

        @event.listens_for(SaEngine, "connect")
        def _counting(dbapi: Any, _rec: Any) -> None:
            if isinstance(dbapi, psycopg.Connection):
                dbapi.cursor_factory = CountingCursor

        cls.installed = True

    @classmethod
    def _one(cls, conn: Any, status: Any) -> None:
        if conn._pipeline is not None:
            if not conn.autocommit and conn.info.transaction_status == status.IDLE:
                cls.transactions += 1  # its BEGIN rides in the pipeline
            return
        cls.count += 1
        if not conn.autocommit and conn.info.transaction_status == status.IDLE:
            cls.count += 1  # the BEGIN the driver sends first
            cls.transactions += 1


class Meter:
    """Server-side counters of one database (and the cluster's WAL and CPU), read from another."""

    def __init__(self, cluster: Cluster, database: str) -> None:
        self.cluster, self.database = cluster, database
        self.conn = cluster.connect("postgres")
        self.total: dict[str, float] = {
            "statements": 0,
            "round_trips": 0,
            "transactions": 0,
            "wal_bytes": 0,
            "cpu_s": 0,
        }

    def _read(self) -> dict[str, float]:
        row = self.conn.execute(
            "SELECT (SELECT coalesce(sum(calls), 0) FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid"
            " WHERE d.datname = %s), pg_current_wal_lsn() - '0/0'::pg_lsn",
            (self.database,),
        ).fetchone()
        return {
            "statements": float(row[0]),
            "transactions": float(Trips.transactions),
            "wal_bytes": float(row[1]),
            "cpu_s": self.cluster.cpu_seconds(),
            "round_trips": float(Trips.count),
        }

    @contextlib.contextmanager
    def measuring(self) -> Iterator[None]:
        before = self._read()
        yield
        after = self._read()
        for key in self.total:
            self.total[key] += after[key] - before[key]

    def per(self, steps: int) -> dict[str, float]:
        return {k: round(v / steps, 3 if k != "cpu_s" else 6) for k, v in self.total.items()} | {
            "server_cpu_ms": round(1000 * self.total["cpu_s"] / steps, 3)
        }

    def close(self) -> None:
        self.conn.close()


# -- throughput, engine against naive --------------------------------------------------------------
def prepared(cluster: Cluster, shape: tuple[str, str]) -> tuple[str, str]:
    """A migrated simulation database with the bench directory and the shape deployed: (name, url)."""
    from run import DIRECTORY

    from hennan_flow import Engine

    pid, bpmn = shape
    name = cluster.database()
    url = cluster.url(name)
    work = Path(tempfile.mkdtemp(prefix="hfpgbench-ws-"))
    (work / "processes").mkdir()
    (work / "processes" / f"{pid}.bpmn").write_text(bpmn, encoding="utf-8")
    (work / "directory.toml").write_text(DIRECTORY, encoding="utf-8")
    with Engine(url) as engine:
        engine.upgrade(simulation=True)
        engine.load_directory(str(work / "directory.toml"))
        engine.deploy(str(work / "processes"), actor="bench")
    shutil.rmtree(work, ignore_errors=True)
    return name, url


def engine_on(url: str) -> Any:
    from run import START

    from hennan_flow import Engine, SimulatedClock

    return Engine(url, clock=SimulatedClock(START))


def throughput(
    cluster: Cluster, shape: tuple[str, str], steps: int, cases: int, rounds: int
) -> dict[str, Any]:
    from naive import Naive
    from run import hf_case, naive_case, paired, timed

    pid, bpmn = shape
    hf_name, hf_url = prepared(cluster, shape)
    naive_name = cluster.database()
    naive = Naive(cluster.url(naive_name), bpmn, pid)
    engine = engine_on(hf_url)
    for _ in range(2):
        naive_case(naive)
        hf_case(engine, pid)
    meters = {"hf": Meter(cluster, hf_name), "naive": Meter(cluster, naive_name)}
    runs: dict[str, Callable[[], None]] = {
        "naive": lambda: [naive_case(naive) for _ in range(cases)] and None,
        "hf": lambda: [hf_case(engine, pid) for _ in range(cases)] and None,
    }
    hf_rates, naive_rates, ratios = [], [], []
    with cluster.connect("postgres") as admin:
        for r in range(rounds):
            rate = {}
            for side in ("naive", "hf") if r % 2 == 0 else ("hf", "naive"):
                admin.execute("CHECKPOINT")  # neither side's checkpoint falls into the other's run
                with meters[side].measuring():
                    rate[side] = cases / timed(runs[side])
            hf_rates.append(rate["hf"])
            naive_rates.append(rate["naive"])
            ratios.append(rate["hf"] / rate["naive"])
    engine.close()
    naive.db.dispose()
    total_steps = steps * cases * rounds
    out = paired(pid, cases, hf_rates, naive_rates, ratios)
    out["per_step"] = {side: meters[side].per(total_steps) for side in ("hf", "naive")}
    for m in meters.values():
        m.close()
    return out


# -- several engine processes on one server --------------------------------------------------------
def _spawn(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(Path(__file__)), *args], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )


def _together(
    workers: list[subprocess.Popen[str]], ready: Callable[[], None] = lambda: None
) -> list[dict[str, Any]]:
    """Wait until every worker is warm, call `ready`, let them go at once, collect their JSON lines."""
    try:
        for w in workers:
            assert w.stdout is not None and w.stdout.readline().strip() == "ready"
        ready()
        for w in workers:
            assert w.stdin is not None
            w.stdin.write("go\n")
            w.stdin.flush()
        results = []
        for w in workers:
            assert w.stdout is not None
            results.append(json.loads(w.stdout.readline()))
            w.wait(timeout=60)
        return results
    finally:
        for w in workers:
            if w.poll() is None:
                w.kill()
                w.wait()


def worker_cases(url: str, pid: str, seconds: float, outbox: bool) -> None:
    """A worker process: warm up, say ready, wait for go, run whole cases for `seconds`."""
    from run import hf_case

    if outbox:
        simulate_step_events()
    engine = engine_on(url)
    for _ in range(2):
        hf_case(engine, pid)
    print("ready", flush=True)
    sys.stdin.readline()
    done, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        hf_case(engine, pid)
        done += 1
    took = time.perf_counter() - start
    engine.close()
    print(json.dumps({"cases": done, "seconds": took, "rate": done / took}), flush=True)


def simulate_step_events() -> None:
    """One outbox event in every transaction that records audit events (what issue 22's per-step
    task.ready/task.completed events add): each such commit takes the outbox advisory lock."""
    from hennan_flow.db.journal import Journal

    flush = Journal.flush

    def with_event(self: Journal, raw: Any) -> None:
        if self.pending:
            now = datetime.now(UTC)
            self.publish("bench.step", case=None, ref="bench", at=now, payload={"bench": True})
        flush(self, raw)

    Journal.flush = with_event  # type: ignore[method-assign]


def processes(cluster: Cluster, seconds: float, rounds: int, outbox: bool) -> dict[str, Any]:
    from run import stats
    from shapes import sequential

    pid, bpmn = sequential(10)
    _name, url = prepared(cluster, (pid, bpmn))
    flag = ["--outbox"] if outbox else []
    ones, twos, ratios, each = [], [], [], []
    for _ in range(rounds):
        [one] = _together([_spawn("worker", url, pid, str(seconds), *flag)])
        two = _together([_spawn("worker", url, pid, str(seconds), *flag) for _ in range(2)])
        together = sum(r["rate"] for r in two)
        ones.append(one["rate"])
        twos.append(together)
        each.extend(r["rate"] for r in two)
        ratios.append(together / one["rate"])
    return {
        "shape": pid,
        "seconds_per_run": seconds,
        "rounds": rounds,
        "simulated_outbox_event_per_transaction": outbox,
        "one_process_cases_per_s": stats(ones),
        "two_processes_each_cases_per_s": stats(each),
        "two_processes_together_cases_per_s": stats(twos),
        "two_over_one": stats(ratios),
        "ratio": statistics.median(ratios),
    }


# -- the sweep with two sweepers -------------------------------------------------------------------
CASES = (
    "INSERT INTO hf_case (id, definition_id, key, state, applicant, started_at, rev, spiff_version, wf_state,"
    " next_timer_at) SELECT 'c' || lpad(i::text, 9, '0'), %(definition)s, 'review_clock', 'open', '{}',"
    " '2025-09-29 02:00:00+00', 1, %(spiff)s, '', '2026-06-01 00:00:00+00' FROM generate_series(%(lo)s, %(hi)s - 1) i"
)
TASKS = (
    "INSERT INTO hf_task (id, case_id, step, name, department, state, ready_at) SELECT 't' || lpad(i::text, 9, '0'),"
    " 'c' || lpad(i::text, 9, '0'), 'review', '审查', 'amr', 'ready', '2025-09-29 02:00:00+00'"
    " FROM generate_series(%(lo)s, %(hi)s - 1) i"
)
DEADLINES = (
    "INSERT INTO hf_deadline (id, case_id, task_id, scope, step, kind, unit, legal, promised, notice_before,"
    " yellow_light_at, red_after, accepted_at, pending, shift_workdays, arm_at, notice_due, yellow_light_due,"
    " yellow_due, red_due) SELECT 't' || lpad(i::text, 9, '0'), 'c' || lpad(i::text, 9, '0'),"
    " 't' || lpad(i::text, 9, '0'), 'step', 'review', 'promised', 'workday', 10, 5, 1, '0.8', 3,"
    " '2025-09-29 02:00:00+00', false, 0, {due} FROM generate_series(%(lo)s, %(hi)s - 1) i"
)
_NEXT_YEAR = "make_timestamptz(2026, 1 + mod(i, 12), 1 + mod(i, 28), 0, 0, 0, 'UTC')"
FUTURE = ", ".join([_NEXT_YEAR] * 5)
PAST = "'2025-10-11 16:00:00+00', '2025-10-11 16:00:00+00', '2025-10-11 16:00:00+00', " + (
    "'2025-10-13 16:00:00+00', '2025-10-16 16:00:00+00'"
)


def seed(cluster: Cluster, database: str, definition: int, lo: int, hi: int, *, due: bool) -> None:
    from hennan_flow.runtime.workflow import SPIFF_VERSION

    params = {"definition": definition, "spiff": SPIFF_VERSION, "lo": lo, "hi": hi}
    with cluster.connect(database) as conn, conn.transaction():
        for sql in (CASES, TASKS, DEADLINES.format(due=PAST if due else FUTURE)):
            conn.execute(sql, params)


def worker_sweep(url: str) -> None:
    from sweep import NOW  # bench/sweep.py's instant: the seeded signals due, no record phase ended

    from hennan_flow import Engine, SimulatedClock

    engine = Engine(url, clock=SimulatedClock(NOW))
    engine.sweep()  # warm: nothing is due yet (the late steps are stored once every sweeper is ready)
    print("ready", flush=True)
    sys.stdin.readline()
    start = time.perf_counter()
    result = engine.sweep(batch_size=500)
    took = time.perf_counter() - start
    engine.close()
    print(json.dumps({"issued": len(result.issued), "ms": took * 1000}), flush=True)


def sweep(cluster: Cluster, sizes: tuple[int, ...], rounds: int) -> dict[str, Any]:
    from hennan_flow import Engine

    name = cluster.database()
    url = cluster.url(name)
    with Engine(url) as engine:
        engine.upgrade(simulation=True)
        engine.deploy(str(HERE.parent / "tests" / "fixtures" / "clock" / "processes"))
    with cluster.connect(name) as conn:
        definition = conn.execute("SELECT id FROM hf_definition").fetchone()[0]
    late, seeded, out = 900_000_000, 0, {}
    for size in sizes:
        t0 = time.perf_counter()
        seed(cluster, name, definition, seeded, size, due=False)
        seeded = size
        with cluster.connect(name) as conn:
            conn.execute("VACUUM ANALYZE")
            conn.execute("CHECKPOINT")
        seed_s = time.perf_counter() - t0
        ones, twos, split = [], [], []
        for _ in range(rounds):
            for sweepers, into in ((1, ones), (2, twos)):
                due = functools.partial(seed, cluster, name, definition, late, late + 250, due=True)
                late += 250
                results = _together([_spawn("sweeper", url) for _ in range(sweepers)], due)
                issued = sum(r["issued"] for r in results)
                if issued != 1000:
                    raise SystemExit(f"{sweepers} sweeper(s) issued {issued} of 1000 signals")
                into.append(max(r["ms"] for r in results))
                if sweepers == 2:
                    split.append([r["issued"] for r in results])
        out[str(size)] = {
            "open_steps": size,
            "seed_seconds": round(seed_s, 1),
            "one_sweeper_ms": [round(t, 1) for t in ones],
            "two_sweepers_ms": [round(t, 1) for t in twos],
            "two_sweepers_split": split,
            "one_sweeper_ms_median": round(statistics.median(ones), 1),
            "two_sweepers_ms_median": round(statistics.median(twos), 1),
        }
    return {"due_per_round": 1000, "rounds": rounds, "sizes": out}


# -- the section -----------------------------------------------------------------------------------
def main(quick: bool = False, sweeps: bool = True, only_seq: bool = False) -> dict[str, Any]:
    """Run the section; print its table; the `pg` figures (or {"skipped": reason}). `only_seq`:
    the `seq10` and `seq100` shapes alone (no processes, no sweep), for pairing two checkouts."""
    reason = absent()
    if reason is not None:
        print(f"  PostgreSQL: skipped ({reason})")
        return {"skipped": reason}
    from shapes import sequential

    Trips.install()
    rounds = 4 if quick else 9
    out: dict[str, Any] = {"settings": "fsync=on full_page_writes=on synchronous_commit=off autovacuum=off"}
    started = time.perf_counter()
    with Cluster() as cluster:
        with cluster.connect("postgres") as conn:
            out["server"] = conn.execute("SHOW server_version").fetchone()[0]
        print(f"  PostgreSQL {out['server']} (private cluster; {out['settings']})")
        out["seq10"] = throughput(cluster, sequential(10), 10, cases=10, rounds=rounds)
        out["seq100"] = throughput(cluster, sequential(100), 100, cases=1, rounds=rounds)
        for key in ("seq10", "seq100"):
            r = out[key]
            hf, nv = r["hennan_flow"], r["naive"]
            print(
                f"  pg {key:<8} hennan_flow {hf['median']:7.1f} cases/s (±{hf['spread']:.0%})   naive"
                f" {nv['median']:7.1f} cases/s (±{nv['spread']:.0%})   paired ratio {r['ratio']:.2f}"
            )
            for side in ("hf", "naive"):
                p = r["per_step"][side]
                print(
                    f"  {'':12}{side:<6} per step: {p['statements']:5.1f} statements {p['round_trips']:5.1f} round trips"
                    f" {p['transactions']:4.2f} transactions {p['wal_bytes']:8.0f} WAL bytes"
                    f" {p['server_cpu_ms']:6.2f} ms server CPU"
                )
        if only_seq:
            sweeps = False
        else:
            seconds, prounds = (3.0, 2) if quick else (6.0, 3)
            out["processes"] = processes(cluster, seconds, prounds, outbox=False)
            out["processes_outbox"] = processes(cluster, seconds, prounds, outbox=True)
        for key in () if only_seq else ("processes", "processes_outbox"):
            p = out[key]
            print(
                f"  pg {key:<17} one process {p['one_process_cases_per_s']['median']:6.1f} cases/s; two:"
                f" {p['two_processes_each_cases_per_s']['median']:6.1f} each,"
                f" {p['two_processes_together_cases_per_s']['median']:6.1f} together → {p['ratio']:.2f}"
            )
        if sweeps:
            out["sweep"] = sweep(cluster, (10_000, 100_000), rounds=1 if quick else 3)
            for size, s in out["sweep"]["sizes"].items():
                print(
                    f"  pg sweep of 1,000 due signals among {int(size):>7,} open steps: one sweeper"
                    f" {s['one_sweeper_ms_median']:7.1f} ms, two sweepers {s['two_sweepers_ms_median']:7.1f} ms"
                    f" (split {s['two_sweepers_split']})"
                )
    hf10, hf100 = out["seq10"]["per_step"]["hf"], out["seq100"]["per_step"]["hf"]
    out["per_step"] = {"seq10": hf10, "seq100": hf100}
    out["seq10_vs_naive"] = out["seq10"]["ratio"]
    out["seq100_vs_naive"] = out["seq100"]["ratio"]
    out["total_seconds"] = round(time.perf_counter() - started, 1)
    if only_seq:
        print(
            f"  pg ratios: seq10_vs_naive = {out['seq10_vs_naive']:.2f},"
            f" seq100_vs_naive = {out['seq100_vs_naive']:.2f}; {out['total_seconds']} s"
        )
        return out
    out["two_processes_over_one"] = out["processes"]["ratio"]
    out["two_processes_over_one_outbox"] = out["processes_outbox"]["ratio"]
    print(
        f"  pg ratios: seq10_vs_naive = {out['seq10_vs_naive']:.2f}, seq100_vs_naive = {out['seq100_vs_naive']:.2f},"
        f" two_processes_over_one = {out['two_processes_over_one']:.2f}"
        f" (with an outbox event per transaction {out['two_processes_over_one_outbox']:.2f}); {out['total_seconds']} s"
    )
    return out


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "worker":
        worker_cases(sys.argv[2], sys.argv[3], float(sys.argv[4]), "--outbox" in sys.argv[5:])
    elif len(sys.argv) > 1 and sys.argv[1] == "sweeper":
        worker_sweep(sys.argv[2])
    else:
        parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
        parser.add_argument("--quick", action="store_true")
        parser.add_argument("--no-sweep", action="store_true")
        parser.add_argument(
            "--only-seq",
            action="store_true",
            help="only the seq10 and seq100 shapes (no processes, no sweep)",
        )
        parser.add_argument("--json", help="write the figures to this file")
        args = parser.parse_args()
        figures = main(args.quick, not args.no_sweep, args.only_seq)
        if args.json:
            Path(args.json).write_text(json.dumps(figures, indent=2, ensure_ascii=False), encoding="utf-8")
