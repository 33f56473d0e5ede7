"""The timing side of the safety tests: how fast the sandbox refuses each hostile payload (as an
expression and as a script) and each size bomb, runs each cheap expression over large case data,
and how fast validate refuses the billion laughs.

tests/test_sandbox.py and tests/test_validate.py check that each is refused (or runs) and that
nothing big is built; how long it takes is a goal for here: each well under a second (a sandbox that
built a bomb, or went quadratic on a 10 MB string, takes seconds or runs out of memory).

    python bench/safety.py
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
TESTS = HERE.parent / "tests"
sys.path.insert(0, str(TESTS))

from hennan_flow.bpmn.xmlsafe import parse_bytes  # noqa: E402
from hennan_flow.errors import BpmnError, ExpressionError  # noqa: E402
from hennan_flow.runtime.sandbox import Sandbox  # noqa: E402
from test_sandbox import BOMBS_CHEAP, BOMBS_REFUSED, PAYLOADS  # noqa: E402  (the payloads the tests use)

GOAL_SECONDS = 1.0
DATA = {"big": "a" * 10_000_000, "many": list(range(1_000_000)), "n": 999_999_999}


def _evaluate(text: str) -> bool:
    """Whether the sandbox refused the expression over DATA (refused or failed: both end it)."""
    try:
        Sandbox().evaluate(text, DATA)
    except ExpressionError:
        return True
    return False


def _refuse_payload(text: str) -> bool:
    """Whether the sandbox refused a payload both as an expression and as a script."""
    refused = 0
    for run in (Sandbox().evaluate, Sandbox().execute):
        try:
            run(text, {"x": 1}, element="gw_1")
        except ExpressionError:
            refused += 1
    return refused == 2


def timed(fn: Any, *args: Any, rounds: int = 3) -> tuple[float, Any]:
    """The median seconds of `rounds` calls, and what the calls returned (the same each time)."""
    samples, results = [], set()
    for _ in range(rounds):
        start = time.perf_counter()
        results.add(fn(*args))
        samples.append(time.perf_counter() - start)
    (result,) = results
    return statistics.median(samples), result


def _refuse_laughs() -> bool:
    data = (TESTS / "fixtures" / "validate" / "cases" / "billion_laughs.bpmn").read_bytes()
    try:
        parse_bytes(data, file="billion_laughs.bpmn")
    except BpmnError:
        return True
    return False


def _slowest(timings: dict[str, tuple[float, Any]]) -> dict[str, Any]:
    text = max(timings, key=lambda t: timings[t][0])
    return {"expression": text[:60], "seconds": timings[text][0]}


def main() -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="hf-safety-") as tmp:  # where an escape would write
        payloads = {p.id: timed(_refuse_payload, p.text(str(Path(tmp) / p.id))) for p in PAYLOADS}
    bombs = {text: timed(_evaluate, text) for text in BOMBS_REFUSED}
    cheap = {text: timed(_evaluate, text) for text in BOMBS_CHEAP}
    laughs, laughs_refused = timed(_refuse_laughs)
    counts = {
        "payloads_refused": sum(r for _, r in payloads.values()),
        "bombs_refused": sum(r for _, r in bombs.values()),
        "cheap_ran": sum(not r for _, r in cheap.values()),
    }
    out: dict[str, Any] = {
        "goal_seconds": GOAL_SECONDS,
        **counts,
        "slowest_payload_refusal": _slowest(payloads),
        "slowest_refusal": _slowest(bombs),
        "slowest_cheap": _slowest(cheap),
        "billion_laughs_seconds": laughs,
    }
    slowest = max(
        *(out[k]["seconds"] for k in ("slowest_payload_refusal", "slowest_refusal", "slowest_cheap")), laughs
    )
    out["within_goal"] = (
        counts == {"payloads_refused": len(PAYLOADS), "bombs_refused": len(bombs), "cheap_ran": len(cheap)}
        and laughs_refused
        and slowest < GOAL_SECONDS
    )
    print(
        f"safety: {counts['payloads_refused']} of {len(PAYLOADS)} payloads refused, slowest "
        f"{out['slowest_payload_refusal']['seconds'] * 1000:.1f} ms; {counts['bombs_refused']} of {len(bombs)} "
        f"bombs refused, slowest {out['slowest_refusal']['seconds'] * 1000:.1f} ms; {counts['cheap_ran']} of "
        f"{len(cheap)} cheap expressions ran over 10 MB data, slowest {out['slowest_cheap']['seconds'] * 1000:.1f} ms; "
        f"billion laughs {'refused' if laughs_refused else 'NOT refused'} in {laughs * 1000:.2f} ms; "
        f"all as expected and each under {GOAL_SECONDS:.0f} s: {out['within_goal']}"
    )
    return out


if __name__ == "__main__":
    sys.exit(0 if main()["within_goal"] else 1)
