"""How long `validate` takes on large hostile bundles (issue 28 item 5: 50,000 flows took 54–80 s).

Shapes: a fork of N user steps in one lane (2N + 2 flows, the lane listing every step: libxml2's
`.//*[@id]` was quadratic on it), the same without a lane, and a livelock of N gateways in one cycle.
Every check is linear; the goal is well under a minute for 50,000 flows on the 2-core machine.

    python bench/validate_large.py [N]      (default N = 25,000, i.e. 50,002 flows)
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from hennan_flow.bpmn.validate import validate_file

GOAL_SECONDS = 60.0
HEAD = (
    '<?xml version="1.0" encoding="UTF-8"?>\n<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" '
    'xmlns:hf="urn:hennan-flow:bpmn:1" id="d" targetNamespace="urn:bench">\n<bpmn:process id="big" isExecutable="true">\n'
)
TAIL = "</bpmn:process>\n</bpmn:definitions>\n"


def fork(n: int, *, lane: bool) -> str:
    out = []
    if lane:
        refs = "".join(f"<bpmn:flowNodeRef>t{i}</bpmn:flowNodeRef>\n" for i in range(n))
        out.append(
            '<bpmn:laneSet id="ls"><bpmn:lane id="l" name="窗口"><bpmn:extensionElements>'
            f'<hf:department code="amr"/></bpmn:extensionElements>\n{refs}</bpmn:lane></bpmn:laneSet>'
        )
    out.append('<bpmn:startEvent id="s"/><bpmn:parallelGateway id="fork"/><bpmn:parallelGateway id="join"/>')
    out.append('<bpmn:endEvent id="e"/><bpmn:sequenceFlow id="fs" sourceRef="s" targetRef="fork"/>')
    out.append('<bpmn:sequenceFlow id="fe" sourceRef="join" targetRef="e"/>')
    for i in range(n):
        out.append(
            f'<bpmn:userTask id="t{i}"/><bpmn:sequenceFlow id="a{i}" sourceRef="fork" targetRef="t{i}"/>'
            f'<bpmn:sequenceFlow id="b{i}" sourceRef="t{i}" targetRef="join"/>'
        )
    return HEAD + "\n".join(out) + TAIL


def livelock(n: int) -> str:
    out = ['<bpmn:startEvent id="s"/><bpmn:sequenceFlow id="f" sourceRef="s" targetRef="g0"/>']
    for i in range(n):
        out.append(
            f'<bpmn:exclusiveGateway id="g{i}"/>'
            f'<bpmn:sequenceFlow id="c{i}" sourceRef="g{i}" targetRef="g{(i + 1) % n}"/>'
        )
    return HEAD + "\n".join(out) + TAIL


def main(n: int = 25_000) -> dict[str, float]:
    timings: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as folder:
        for name, text in (
            ("fork in one lane", fork(n, lane=True)),
            ("fork, no lane", fork(n, lane=False)),
            ("livelock cycle", livelock(2 * n)),
        ):
            path = Path(folder) / "big.bpmn"
            path.write_text(text, encoding="utf-8")
            start = time.perf_counter()
            result = validate_file(path)
            timings[name] = seconds = time.perf_counter() - start
            codes = sorted({p.code for p in result.problems})
            verdict = "ok" if seconds < GOAL_SECONDS else "OVER THE GOAL"
            print(f"{name:<18} {2 * n + 2:>7,} flows  {seconds:6.2f} s  {verdict}  {codes}")
    return timings


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 25_000)
