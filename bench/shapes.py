"""Generated bundle shapes for the benchmarks: sequential N user steps, and a P-branch parallel split.

Every step carries an hf: time limit and sits in a department lane, so a measured hennan_flow step
includes its deadlines and signal rows, as in production.
"""

from __future__ import annotations

import itertools

HEADER = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:hf="urn:hennan-flow:bpmn:1"
                  id="defs_{pid}" targetNamespace="urn:hennan-flow:bench">
  <bpmn:process id="{pid}" name="{pid}" isExecutable="true">
    <bpmn:extensionElements>
      <hf:bundle code="BENCH-{pid}" lifecycle="other" lead="d0"/>
      <hf:timeLimit legal="40" promised="20" unit="workday"/>
    </bpmn:extensionElements>
"""

STEP = """    <bpmn:userTask id="{sid}" name="步骤{n}">
      <bpmn:extensionElements>
        <hf:step kind="promised" result="结果{n}"/>
        <hf:timeLimit legal="10" promised="5" unit="workday"/>
      </bpmn:extensionElements>
    </bpmn:userTask>
"""


def _lanes(pid: str, ids: list[str], departments: int = 5) -> str:
    groups: dict[int, list[str]] = {}
    for i, node in enumerate(ids):
        groups.setdefault(i % departments, []).append(node)
    out = [f'    <bpmn:laneSet id="ls_{pid}">\n']
    for d, nodes in groups.items():
        refs = "".join(f"      <bpmn:flowNodeRef>{n}</bpmn:flowNodeRef>\n" for n in nodes)
        out.append(
            f'     <bpmn:lane id="lane_{pid}_{d}" name="部门{d}">\n'
            f'      <bpmn:extensionElements><hf:department code="d{d}"/></bpmn:extensionElements>\n'
            f"{refs}     </bpmn:lane>\n"
        )
    out.append("    </bpmn:laneSet>\n")
    return "".join(out)


def sequential(n: int) -> tuple[str, str]:
    """(process id, BPMN text) of start → n user steps → end."""
    pid = f"seq{n}"
    steps = [f"s{i}" for i in range(1, n + 1)]
    nodes = ["start", *steps, "end"]
    body = [HEADER.format(pid=pid), _lanes(pid, nodes), '    <bpmn:startEvent id="start"/>\n']
    body += [STEP.format(sid=s, n=i) for i, s in enumerate(steps, start=1)]
    body.append('    <bpmn:endEvent id="end"/>\n')
    body += [
        f'    <bpmn:sequenceFlow id="f{i}" sourceRef="{a}" targetRef="{b}"/>\n'
        for i, (a, b) in enumerate(itertools.pairwise(nodes))
    ]
    body.append("  </bpmn:process>\n</bpmn:definitions>\n")
    return pid, "".join(body)


def parallel(p: int) -> tuple[str, str]:
    """(process id, BPMN text) of start → split → p user steps → join → end."""
    pid = f"par{p}"
    steps = [f"b{i}" for i in range(1, p + 1)]
    nodes = ["start", "split", *steps, "join", "end"]
    body = [
        HEADER.format(pid=pid),
        _lanes(pid, nodes),
        '    <bpmn:startEvent id="start"/>\n',
        '    <bpmn:parallelGateway id="split"/>\n',
        '    <bpmn:parallelGateway id="join"/>\n',
    ]
    body += [STEP.format(sid=s, n=i) for i, s in enumerate(steps, start=1)]
    body.append('    <bpmn:endEvent id="end"/>\n')
    flows = [("start", "split"), ("join", "end")]
    flows += [("split", s) for s in steps] + [(s, "join") for s in steps]
    body += [
        f'    <bpmn:sequenceFlow id="f{i}" sourceRef="{a}" targetRef="{b}"/>\n'
        for i, (a, b) in enumerate(flows)
    ]
    body.append("  </bpmn:process>\n</bpmn:definitions>\n")
    return pid, "".join(body)
