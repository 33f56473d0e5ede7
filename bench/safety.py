"""The timing side of the safety tests: how fast the sandbox refuses each size bomb and runs each
cheap expression over large case data, and how fast validate refuses the billion laughs.

tests/test_sandbox.py and tests/test_validate.py check that each is refused (or runs) and that
nothing big is built; how long it takes is a goal for here: each well under a second (a sandbox that
built a bomb, or went quadratic on a 10 MB string, takes seconds or runs out of memory).

    python bench/safety.py
"""

from __future__ import annotations

import contextlib
import statistics
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
TESTS = HERE.parent / "tests"
sys.path.insert(0, str(TESTS))

from hennan_flow.errors import BpmnError, ExpressionError  # noqa: E402
from hennan_flow.sandbox import Sandbox  # noqa: E402
from hennan_flow.xmlsafe import parse_bytes  # noqa: E402
from test_sandbox import BOMBS_CHEAP, BOMBS_REFUSED  # noqa: E402  (the payloads the tests use)

GOAL_SECONDS = 1.0
DATA = {"big": "a" * 10_000_000, "many": list(range(1_000_000)), "n": 999_999_999}


def _evaluate(text: str) -> None:
    with contextlib.suppress(ExpressionError):  # refused or failed: both end the evaluation
        Sandbox().evaluate(text, DATA)


def _median_seconds(fn: Any, *args: Any, rounds: int = 3) -> float:
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        fn(*args)
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def _refuse_laughs() -> None:
    data = (TESTS / "fixtures" / "validate" / "cases" / "billion_laughs.bpmn").read_bytes()
    try:
        parse_bytes(data, file="billion_laughs.bpmn")
    except BpmnError:
        return
    raise AssertionError("the billion laughs were not refused")


def main() -> dict[str, Any]:
    refused = {text: _median_seconds(_evaluate, text) for text in BOMBS_REFUSED}
    cheap = {text: _median_seconds(_evaluate, text) for text in BOMBS_CHEAP}
    laughs = _median_seconds(_refuse_laughs)
    slowest_refused = max(refused, key=lambda t: refused[t])
    slowest_cheap = max(cheap, key=lambda t: cheap[t])
    out = {
        "goal_seconds": GOAL_SECONDS,
        "bombs_refused": len(refused),
        "slowest_refusal": {"expression": slowest_refused[:60], "seconds": refused[slowest_refused]},
        "cheap_expressions": len(cheap),
        "slowest_cheap": {"expression": slowest_cheap[:60], "seconds": cheap[slowest_cheap]},
        "billion_laughs_seconds": laughs,
    }
    out["within_goal"] = max(refused[slowest_refused], cheap[slowest_cheap], laughs) < GOAL_SECONDS
    print(
        f"safety: {len(refused)} bombs refused, slowest {refused[slowest_refused] * 1000:.1f} ms; "
        f"{len(cheap)} cheap expressions over 10 MB data, slowest {cheap[slowest_cheap] * 1000:.1f} ms; "
        f"billion laughs refused in {laughs * 1000:.2f} ms; each under {GOAL_SECONDS:.0f} s: {out['within_goal']}"
    )
    return out


if __name__ == "__main__":
    sys.exit(0 if main()["within_goal"] else 1)
