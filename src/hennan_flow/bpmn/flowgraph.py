"""Checks of a process graph that deploy and run rely on, each linear in the size of the file.

Per container (a process, a subprocess, an event subprocess), with its own flow nodes and flows:

* every `sourceRef`/`targetRef` names a flow node of the same container (`BPMN-DANGLING-FLOW`, on the
  flow), and every lane `flowNodeRef` a flow node of its process (`BPMN-DANGLING-LANE-REF`, on the
  lane), with the near miss suggested;
* every boundary event's `attachedToRef` names an activity (a task, subprocess or call activity) of
  the same container (`BPMN-BOUNDARY-HOST`, on the event): SpiffWorkflow would otherwise build a
  process whose boundary event never fires, or fail at `case start`;
* from every node a start event reaches, some end is reachable (`BPMN-NO-END`): a cycle with no way
  out either waits for ever or, when none of its elements waits, makes SpiffWorkflow recurse until it
  fails at `case start`. Ends are end events and nodes with no outgoing flow (BPMN's implicit end);
  a boundary event continues its host, a link throw event its catch event of the same name;
* every cycle a start reaches passes an exclusive, inclusive, complex or event-based gateway
  (`SPIFF-LOOP`): SpiffWorkflow predicts the task tree ahead through every element whose future is
  certain and stops only at a decision, so a loop of tasks, events, subprocesses or parallel
  gateways alone (its way out a boundary event or a parallel branch, which `BPMN-NO-END` accepts)
  makes it recurse until it fails at `case start`;
* the longest acyclic path stays within what SpiffWorkflow's recursive task tree can run
  (`SPIFF-DEPTH`).

Each check is a breadth- or depth-first walk that visits every node and flow once, so a bundle of
50,000 flows is checked in well under a second (bench/validate_large.py).
"""

from __future__ import annotations

import difflib
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from lxml import etree

from ..errors import Location
from .diagnostics import Problem
from .dialect import BPMN_NS, FLOW_NODES

__all__ = ["ACTIVITIES", "BLOCKING", "MAX_PATH_ELEMENTS", "bad_hosts", "graph_problems", "near_miss"]

_B = f"{{{BPMN_NS}}}"
MAX_PATH_ELEMENTS = 400  # SpiffWorkflow predicts the task tree recursively, one frame per element
_CONTAINERS = {"process", "subProcess", "transaction", "adHocSubProcess"}
BLOCKING = frozenset(  # no Spiff build
    {"BPMN-DANGLING-FLOW", "BPMN-DANGLING-LANE-REF", "BPMN-NO-END", "BPMN-BOUNDARY-HOST"}
)
# what a boundary event can be attached to (BPMN 2.0 §10.5.4: an activity)
ACTIVITIES = frozenset(
    {
        "task", "userTask", "manualTask", "serviceTask", "scriptTask", "businessRuleTask", "sendTask",
        "receiveTask", "callActivity", "subProcess", "transaction", "adHocSubProcess",
    }
)  # fmt: skip
_SHOWN = 5


def near_miss(word: str, choices: Iterable[str]) -> str | None:
    """The closest of `choices` to a misspelt `word` (case-insensitive), if one is close enough."""
    options = {c.lower(): c for c in choices if c}
    found = difflib.get_close_matches(word.lower(), list(options), n=1, cutoff=0.6)
    return options[found[0]] if found else None


def _local(el: etree._Element) -> str:
    tag = el.tag
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


@dataclass
class _Container:
    el: etree._Element
    nodes: dict[str, etree._Element] = field(default_factory=dict)
    flows: list[etree._Element] = field(default_factory=list)

    @property
    def what(self) -> str:
        return "process" if _local(self.el) == "process" else "subprocess"


def _containers(proc: etree._Element) -> Iterator[_Container]:
    """The process and every (event) subprocess in it, each with its direct nodes and flows."""
    stack = [proc]
    while stack:
        el = stack.pop()
        box = _Container(el)
        for child in el:
            if not isinstance(child.tag, str) or not child.tag.startswith(_B):
                continue
            local = _local(child)
            if local == "sequenceFlow":
                box.flows.append(child)
            elif local in FLOW_NODES:
                nid = child.get("id")
                if nid:
                    box.nodes[nid] = child
                if local in _CONTAINERS:
                    stack.append(child)
        yield box


def graph_problems(root: etree._Element, file: str) -> list[Problem]:
    """Dangling references, cycles with no end, paths too long: every process of the file."""
    problems: list[Problem] = []
    for proc in root.iter(_B + "process"):
        boxes = list(_containers(proc))
        in_process = {nid for box in boxes for nid in box.nodes}
        problems += _lane_refs(proc, in_process, file)
        for box in boxes:
            dangling = _flow_refs(box, in_process, file) + _host_refs(box, in_process, file)
            problems += dangling
            if not dangling:
                found = _no_end(box, file)
                problems += found + _undecided_loops(box, file, {p.location.element for p in found})
        problems += _path_length(proc, boxes, file)
    return problems


def _flow_refs(box: _Container, in_process: set[str], file: str) -> list[Problem]:
    out = []
    for flow in box.flows:
        for attr in ("sourceRef", "targetRef"):
            ref = flow.get(attr)
            if ref is None or ref in box.nodes:  # a missing attribute is the BPMN XSD's to report
                continue
            if ref in in_process:
                message = (
                    f'{attr}="{ref}" names an element of another {box.what} level; a sequence flow '
                    f"connects elements of the same {box.what}"
                )
                hint = "connect the subprocess itself, or move the flow inside it"
            else:
                guess = near_miss(ref, box.nodes)
                message = f'{attr}="{ref}" names no task, event or gateway of this {box.what}' + (
                    f' (did you mean "{guess}"?)' if guess else ""
                )
                hint = "point it at the id of a flow node beside the flow"
            out.append(
                Problem(
                    "BPMN-DANGLING-FLOW",
                    "error",
                    message,
                    Location(file, flow.sourceline, flow.get("id")),
                    hint,
                )
            )
    return out


def bad_hosts(nodes: dict[str, etree._Element]) -> set[str]:
    """The ids of the boundary events among `nodes` (one container's) whose `attachedToRef` names no
    activity among them."""
    return {
        nid
        for nid, el in nodes.items()
        if _local(el) == "boundaryEvent"
        and el.get("attachedToRef") is not None  # a missing attribute is the BPMN XSD's to report
        and not (
            (host := nodes.get(_unprefixed(el.get("attachedToRef", "")))) is not None
            and _local(host) in ACTIVITIES
        )
    }


def _unprefixed(ref: str) -> str:
    """An `attachedToRef` QName's id (an id is an NCName: it holds no colon)."""
    return ref.rsplit(":", 1)[-1].strip()


def _host_refs(box: _Container, in_process: set[str], file: str) -> list[Problem]:
    out = []
    activities = [nid for nid, el in box.nodes.items() if _local(el) in ACTIVITIES]
    for nid in sorted(bad_hosts(box.nodes), key=lambda n: box.nodes[n].sourceline or 0):
        el = box.nodes[nid]
        ref = el.get("attachedToRef", "")
        host = box.nodes.get(_unprefixed(ref))
        if host is not None:
            message = f"names a {_local(host)}, not an activity (a task, subprocess or call activity)"
        elif _unprefixed(ref) in in_process:
            message = f"names an element of another {box.what} level, not an activity of its own"
        else:
            guess = near_miss(_unprefixed(ref), activities)
            message = f"names no activity of this {box.what}" + (
                f' (did you mean "{guess}"?)' if guess else ""
            )
        out.append(
            Problem(
                "BPMN-BOUNDARY-HOST",
                "error",
                f'this boundary event\'s attachedToRef="{ref}" {message}: it never fires',
                Location(file, el.sourceline, nid),
                "set attachedToRef to the id of the task, subprocess or call activity it guards "
                "(in a modeler: drag the event onto that activity's border), or delete the event",
            )
        )
    return out


def _lane_refs(proc: etree._Element, in_process: set[str], file: str) -> list[Problem]:
    out = []
    for lane in proc.iter(_B + "lane"):
        for ref in lane.iterfind(_B + "flowNodeRef"):
            text = (ref.text or "").strip()
            if not text or text in in_process:
                continue
            guess = near_miss(text, in_process)
            out.append(
                Problem(
                    "BPMN-DANGLING-LANE-REF",
                    "error",
                    f'flowNodeRef "{text}" names no flow node of this process'
                    + (f' (did you mean "{guess}"?)' if guess else ""),
                    Location(file, ref.sourceline, lane.get("id")),
                    "list the ids of the tasks, events and gateways the lane holds",
                )
            )
    return out


def _successors(box: _Container) -> dict[str, list[str]]:
    succ: dict[str, list[str]] = {nid: [] for nid in box.nodes}
    for flow in box.flows:
        source, target = flow.get("sourceRef", ""), flow.get("targetRef", "")
        if source in succ and target in box.nodes:
            succ[source].append(target)
    catches: dict[str, list[str]] = {}
    throws: list[tuple[str, str]] = []
    for nid, el in box.nodes.items():
        local = _local(el)
        host = el.get("attachedToRef")
        if local == "boundaryEvent" and host in succ:
            succ[host].append(nid)  # the boundary event continues its host's flow
        link = el.find(_B + "linkEventDefinition")
        if link is not None:
            name = link.get("name") or link.get("id") or ""
            if local == "intermediateCatchEvent":
                catches.setdefault(name, []).append(nid)
            elif local == "intermediateThrowEvent":
                throws.append((nid, name))
    for nid, name in throws:
        succ[nid].extend(catches.get(name, ()))
    return succ


def _no_end(box: _Container, file: str) -> list[Problem]:
    """Nodes a start reaches from which no end is reachable: one problem per cycle they run into."""
    succ = _successors(box)
    starts = [nid for nid, el in box.nodes.items() if _local(el) == "startEvent"]
    reached = _walk(starts, succ)
    pred: dict[str, list[str]] = {nid: [] for nid in succ}
    for nid, targets in succ.items():
        for t in targets:
            pred[t].append(nid)
    ends = [nid for nid, el in box.nodes.items() if _local(el) == "endEvent" or not succ[nid]]
    finishing = _walk(ends, pred)
    trapped = {nid for nid in reached if nid not in finishing}
    if not trapped:
        return []
    # every trapped node has successors, all trapped: the region holds a cycle; name each one
    position = {nid: i for i, nid in enumerate(box.nodes)}
    out = []
    for component in _cycles({n: [t for t in succ[n] if t in trapped] for n in trapped}):
        members = sorted(component, key=position.__getitem__)
        entry = next((n for n in members if any(p not in component for p in pred[n])), members[0])
        shown = ", ".join(f'"{n}"' for n in members[:_SHOWN]) + (" …" if len(members) > _SHOWN else "")
        out.append(
            Problem(
                "BPMN-NO-END",
                "error",
                f"no path from here reaches an end event: the flow loops through {shown} with no way out, "
                "so a case never completes (and a loop of gateways or events makes SpiffWorkflow fail at "
                "case start)",
                Location(file, box.nodes[entry].sourceline, entry),
                "give the loop an exit: a gateway branch (or a boundary event) that leads to an end event",
            )
        )
    return sorted(out, key=lambda p: p.location.line or 0)


_DECISIONS = frozenset({"exclusiveGateway", "inclusiveGateway", "complexGateway", "eventBasedGateway"})


def _undecided_loops(box: _Container, file: str, reported: set[str | None]) -> list[Problem]:
    """Cycles a start reaches with no decision on them (`SPIFF-LOOP`); a boundary event breaks the
    prediction (it may never fire), so the flow from a host to its boundary events is no cycle edge."""
    succ = _successors(box)
    flows = {
        nid: [
            t
            for t in targets
            if _local(box.nodes[t]) != "boundaryEvent" or box.nodes[t].get("attachedToRef") != nid
        ]
        for nid, targets in succ.items()
    }
    reached = _walk([nid for nid, el in box.nodes.items() if _local(el) == "startEvent"], succ)
    position = {nid: i for i, nid in enumerate(box.nodes)}
    loops = [
        c
        for c in _cycles({n: [t for t in flows[n] if t in reached] for n in reached})
        if not reported & c and not any(_local(box.nodes[n]) in _DECISIONS for n in c)
    ]
    member_of = {n: i for i, c in enumerate(loops) for n in c}
    entries = {t for p in reached for t in succ[p] if t in member_of and member_of.get(p) != member_of[t]}
    out = []
    for component in loops:
        members = sorted(component, key=position.__getitem__)
        entry = next((n for n in members if n in entries), members[0])
        shown = ", ".join(f'"{n}"' for n in members[:_SHOWN]) + (" …" if len(members) > _SHOWN else "")
        out.append(
            Problem(
                "SPIFF-LOOP",
                "error",
                f"the flow loops through {shown} with no gateway that decides whether to go round again; "
                "SpiffWorkflow 3.2.0 predicts such a loop for ever and fails at case start, even when a "
                "boundary event or a parallel branch leads out",
                Location(file, box.nodes[entry].sourceline, entry),
                "put an exclusive gateway on the loop: one branch goes round again, its default leads on",
            )
        )
    return sorted(out, key=lambda p: p.location.line or 0)


def _cycles(edges: dict[str, list[str]]) -> list[set[str]]:
    """The strongly connected components that hold a cycle (Tarjan's algorithm, without recursion)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[set[str]] = []
    for root in edges:
        if root in index:
            continue
        work: list[tuple[str, Iterator[str]]] = [(root, iter(edges[root]))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, it = work[-1]
            nxt = next(it, None)
            if nxt is not None:
                if nxt not in index:
                    index[nxt] = low[nxt] = len(index)
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, iter(edges[nxt])))
                elif nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == node:
                        break
                if len(component) > 1 or node in edges[node]:
                    found.append(component)
    return found


def _walk(sources: Iterable[str], edges: dict[str, list[str]]) -> set[str]:
    seen = set(sources)
    queue = deque(seen)
    while queue:
        for nxt in edges[queue.popleft()]:
            if nxt not in seen:
                seen.add(nxt)
                queue.append(nxt)
    return seen


def _path_length(proc: etree._Element, boxes: list[_Container], file: str) -> list[Problem]:
    """Longest acyclic path per (sub)process: SpiffWorkflow builds each task tree one frame per element."""
    out = []
    for box in boxes:
        depth = _longest(box)
        if depth > MAX_PATH_ELEMENTS:
            where = box.el
            out.append(
                Problem(
                    "SPIFF-DEPTH",
                    "error",
                    f"a path of {depth} elements; SpiffWorkflow 3.2.0 builds and walks the task tree "
                    f"recursively and cannot run paths over {MAX_PATH_ELEMENTS} elements reliably",
                    Location(file, where.sourceline, where.get("id")),
                    "split the process into call activities",
                )
            )
    return out


def _longest(box: _Container) -> int:
    succ: dict[str, list[str]] = {}
    for flow in box.flows:
        succ.setdefault(flow.get("sourceRef", ""), []).append(flow.get("targetRef", ""))
    starts = [nid for nid, el in box.nodes.items() if _local(el) == "startEvent"]
    longest: dict[str, int] = {}
    state: dict[str, int] = {}  # 1 on stack, 2 done
    for start in starts:
        if start in state:
            continue
        stack: list[tuple[str, Iterator[str]]] = [(start, iter(succ.get(start, ())))]
        state[start] = 1
        while stack:
            nid, it = stack[-1]
            nxt = next(it, None)
            if nxt is None:
                stack.pop()
                state[nid] = 2
                longest[nid] = 1 + max(
                    (longest.get(t, 0) for t in succ.get(nid, ()) if state.get(t) == 2), default=0
                )
            elif nxt not in state:
                state[nxt] = 1
                stack.append((nxt, iter(succ.get(nxt, ()))))
    return max((longest.get(s, 0) for s in starts), default=0)
