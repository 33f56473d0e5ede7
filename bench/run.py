"""`make bench`: hennan_flow against plain SpiffWorkflow, measured in the same run on the same machine.

Every figure is the median of repeated runs with its spread ((max − min) / median). Both sides use
SQLite files in WAL mode with synchronous=NORMAL. Both logs are checkpointed to the end, untimed,
before each timed run; within a run hennan_flow's background thread checkpoints its log (on the same
cores), while the naive side would checkpoint in the commit that takes its log past SQLite's
1,000 pages, which a 10-case round of short cases does not reach. Results: a table on stdout and bench/results/latest.json (with the ratios the
performance issue asks for). See docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from naive import DATA, Naive  # noqa: E402
from shapes import parallel, sequential  # noqa: E402

from hennan_flow import Engine, SimulatedClock  # noqa: E402

START = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)  # Monday 09:00 in Shanghai


def stats(samples: list[float]) -> dict[str, float]:
    med = statistics.median(samples)
    return {
        "median": med,
        "min": min(samples),
        "max": max(samples),
        "spread": (max(samples) - min(samples)) / med if med else 0.0,
        "n": len(samples),
    }


def settle(files: list[Path]) -> None:
    """Checkpoint both sides' write-ahead logs to the end, untimed, before a timed run.

    A PASSIVE checkpoint gives up while another is running (hennan_flow's thread may be): it is
    repeated until the whole log is copied back, so none of it spills into the next timed run.
    """
    for path in files:
        conn = sqlite3.connect(path, timeout=10)
        try:
            for _ in range(1000):
                busy, log, done = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
                if not busy and log == done:
                    break
                time.sleep(0.005)
        finally:
            conn.close()


def timed(fn: Callable[[], None]) -> float:
    gc.collect()
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


class Workspace:
    """A temp folder holding a bundle file and databases for one shape."""

    def __init__(self, pid: str, bpmn: str) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix=f"hfbench-{pid}-"))
        (self.dir / "processes").mkdir()
        (self.dir / "processes" / f"{pid}.bpmn").write_text(bpmn, encoding="utf-8")
        self.pid, self.bpmn = pid, bpmn

    def engine(self, name: str) -> Engine:
        """An engine on a new simulation database whose clock stands at a Monday inside the calendar data."""
        url = f"sqlite:///{self.dir / name}"
        Engine(url).upgrade(simulation=True)
        engine = Engine(url, clock=SimulatedClock(START))
        # a stored directory: every start and completion goes through the permission check (DESIGN §8)
        directory = self.dir / "directory.toml"
        directory.write_text(DIRECTORY, encoding="utf-8")
        engine.load_directory(str(directory))
        engine.deploy(str(self.dir / "processes"), actor="bench")
        return engine


DEPARTMENTS = [f"d{d}" for d in range(5)]  # the shapes' lanes (shapes._lanes)
DIRECTORY = (
    'version = "bench-1"\n'
    + "".join(f'[[department]]\ncode = "{d}"\nname = "部门{d}"\n' for d in DEPARTMENTS)
    + '[[user]]\nid = "bench"\nname = "基准"\ndepartments = ['
    + ", ".join(f'"{d}"' for d in DEPARTMENTS)
    + ']\nroles = ["clerk", "handler", "admin"]\n'
)


def hf_case(engine: Engine, pid: str) -> None:
    """A case as a portal drives it: each start and completion hands back the steps it made ready
    (the naive loop likewise finds its ready step inside its own transaction)."""
    ready = list(engine.start_case(pid, actor="bench").ready)
    while ready:
        task = ready.pop(0)
        done = engine.complete_task(task.id, data=DATA, actor="bench")
        ready.extend(done.ready)


def hf_case_reading_the_queue(engine: Engine, pid: str) -> None:
    """The same case, reading the case's work queue (a separate read) before every round of steps."""
    case = engine.start_case(pid, actor="bench")
    while True:
        ready = engine.tasks(case=case.id)
        if not ready:
            return
        for task in ready:
            engine.complete_task(task.id, data=DATA, actor="bench")


def naive_case(naive: Naive) -> None:
    case = naive.start()
    while naive.step(case):
        pass


def throughput(
    shape: tuple[str, str], cases: int, rounds: int, hf: Callable[[Engine, str], None] = hf_case
) -> dict[str, Any]:
    """Cases/s of both sides over `rounds` short rounds, alternating which side goes first.

    Adjacent rounds see the same machine, so the median of the per-round ratios (paired) is steadier
    than a ratio of two medians when the machine's speed drifts.
    """
    pid, bpmn = shape
    ws = Workspace(pid, bpmn)
    naive = Naive(str(ws.dir / "naive.db"), bpmn, pid)
    engine = ws.engine("hf.db")
    for _ in range(2):  # warm both
        naive_case(naive)
        hf(engine, pid)
    hf_rates, naive_rates, ratios = [], [], []
    runs = {
        "naive": lambda: [naive_case(naive) for _ in range(cases)],
        "hf": lambda: [hf(engine, pid) for _ in range(cases)],
    }
    files = [ws.dir / "naive.db", ws.dir / "hf.db"]
    for r in range(rounds):
        order = ("naive", "hf") if r % 2 == 0 else ("hf", "naive")
        rate = {}
        for side in order:
            settle(files)  # neither side's log copying falls into the other's round
            rate[side] = cases / timed(runs[side])
        hf_rates.append(rate["hf"])
        naive_rates.append(rate["naive"])
        ratios.append(rate["hf"] / rate["naive"])
    engine.close()
    return {
        "shape": pid,
        "cases_per_round": cases,
        "rounds": rounds,
        "hennan_flow": stats(hf_rates),
        "naive": stats(naive_rates),
        "paired_ratio": stats(ratios),
        "ratio": statistics.median(ratios),
    }


def step_latency(n: int, at: tuple[int, ...], cases: int) -> dict[str, Any]:
    """Latency of one completion at given positions of an n-step case (ms), both sides, over `cases` cases."""
    pid, bpmn = sequential(n)
    ws = Workspace(pid, bpmn)
    engine = ws.engine("lat.db")
    naive = Naive(str(ws.dir / "naive-lat.db"), bpmn, pid)
    hf_samples: dict[int, list[float]] = {k: [] for k in at}
    nv_samples: dict[int, list[float]] = {k: [] for k in at}
    for _ in range(cases):
        [task] = engine.start_case(pid, actor="bench").ready
        ncase = naive.start()
        gc.collect()
        for position in range(1, n + 1):
            gc.disable()  # a collection one side's garbage causes never lands in the other's step
            start = time.perf_counter()
            done = engine.complete_task(task.id, data=DATA, actor="bench")
            took = time.perf_counter() - start
            gc.enable()
            if done.ready:
                [task] = done.ready
            if position in hf_samples:
                hf_samples[position].append(took * 1000)
            gc.disable()
            start = time.perf_counter()
            naive.step(ncase)
            took = time.perf_counter() - start
            gc.enable()
            if position in nv_samples:
                nv_samples[position].append(took * 1000)
    engine.close()
    return {
        "n": n,
        "cases": cases,
        "hennan_flow_ms": {str(k): stats(v) for k, v in hf_samples.items()},
        "naive_ms": {str(k): stats(v) for k, v in nv_samples.items()},
    }


def audit_corpus(shared: Path) -> dict[str, Any] | None:
    corpora = shared / "corpora"
    if not corpora.is_dir():
        return None
    from hennan_flow.audit import audit_paths
    from hennan_flow.bpmn.validate import bundle_files
    from hennan_flow.errors import InputError

    files = [f for f, _ in bundle_files([str(corpora)])]
    refused = 0

    def audit_all() -> None:
        nonlocal refused
        refused = 0
        for f in files:
            try:
                audit_paths([f])
            except InputError:  # not XML, unsafe, not BPMN: refused clearly, as the CLI does
                refused += 1

    samples = [timed(audit_all) for _ in range(3)]
    return {
        "files": len(files),
        "refused": refused,
        "seconds": stats(samples),
        "files_per_second": len(files) / statistics.median(samples),
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer repetitions (a smoke run)")
    parser.add_argument("--no-sweep", action="store_true", help="skip the sweeper benchmark")
    args = parser.parse_args(argv)
    rounds = 6 if args.quick else 15
    results: dict[str, Any] = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
        },
    }
    print(
        "hennan_flow benchmarks (medians; spread = (max-min)/median); both sides SQLite WAL synchronous=NORMAL;"
        " both logs checkpointed untimed between runs; hennan_flow's thread checkpoints during its own runs"
    )
    results["seq10"] = throughput(sequential(10), cases=10, rounds=rounds)
    results["seq100"] = throughput(sequential(100), cases=1, rounds=rounds)
    results["par10"] = throughput(parallel(10), cases=5, rounds=rounds)
    results["seq10_queue"] = throughput(sequential(10), cases=10, rounds=rounds, hf=hf_case_reading_the_queue)
    import http_seq  # bench/http_seq.py

    pid, bpmn = sequential(10)
    results["http_seq10"] = http_seq.throughput(
        Workspace(pid, bpmn),
        START.isoformat(),
        cases=10,
        rounds=rounds,
        timed=timed,
        stats=stats,
        in_process=hf_case,
    )
    h = results["http_seq10"]
    print(
        f"  http_seq10  hennan_flow {h['hennan_flow']['median']:7.1f} cases/s (±{h['hennan_flow']['spread']:.0%})"
        f" over HTTP, one server process; in-process {h['in_process']['median']:.1f} cases/s in the same"
        f" rounds (seq10 above: {results['seq10']['hennan_flow']['median']:.1f}); paired ratio {h['ratio']:.2f}"
    )
    for key in ("seq10", "seq100", "par10", "seq10_queue"):
        r = results[key]
        hf, nv = r["hennan_flow"], r["naive"]
        print(
            f"  {key:<11} hennan_flow {hf['median']:7.1f} cases/s (±{hf['spread']:.0%})   naive {nv['median']:7.1f}"
            f" cases/s (±{nv['spread']:.0%})   paired ratio {r['ratio']:.2f} (±{r['paired_ratio']['spread']:.0%})"
        )
    lat = step_latency(100, (1, 10, 50, 99, 100), cases=4 if args.quick else 10)
    results["latency_seq100"] = lat
    print("  per-step latency in a 100-step case (ms, medians):  step   hennan_flow    naive")
    for k in ("1", "10", "50", "99", "100"):
        hf_ms, nv_ms = lat["hennan_flow_ms"][k]["median"], lat["naive_ms"][k]["median"]
        print(f"  {'':50}{k:>4}   {hf_ms:9.2f}  {nv_ms:8.2f}")
    step1 = lat["hennan_flow_ms"]["1"]["median"]
    step100 = lat["hennan_flow_ms"]["100"]["median"]
    results["ratios"] = {
        "seq10_vs_naive": results["seq10"]["ratio"],
        "seq100_vs_naive": results["seq100"]["ratio"],
        "par10_vs_naive": results["par10"]["ratio"],
        "seq10_queue_vs_naive": results["seq10_queue"]["ratio"],
        "step100_over_step1": step100 / step1,
        "http_seq10_vs_seq10": results["http_seq10"]["ratio"],
    }
    if not args.no_sweep:
        import sweep  # bench/sweep.py

        results["sweep"] = sweep.main(sizes=(10_000, 100_000), rounds=2) if args.quick else sweep.main()
    import safety  # bench/safety.py

    results["safety"] = safety.main()
    import forms  # bench/forms.py

    results["forms"] = forms.main()
    corpus = audit_corpus(Path(os.environ.get("HENNAN_FLOW_SHARED", HERE.parent.parent / "shared")))
    if corpus is None:
        print("  audit over the corpora: skipped (../shared/corpora is absent)")
    else:
        results["audit_corpora"] = corpus
        print(
            f"  audit over {corpus['files']} corpus files: {corpus['seconds']['median']:.2f} s "
            f"({corpus['files_per_second']:.0f} files/s)"
        )
    print("  ratios: " + ", ".join(f"{k} = {v:.2f}" for k, v in results["ratios"].items()))
    out = HERE / "results" / "latest.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, indent=2, ensure_ascii=False), encoding="utf-8")
    print(f"  written: {out.relative_to(HERE.parent)}")
    return results


if __name__ == "__main__":
    main()
