"""A generated diagram for BPMN files that carry no diagram interchange (BPMN DI).

The Python counterpart of bpmn-auto-layout: a copy of the file gets one `BPMNDiagram` whose plane
holds a `BPMNShape` for every flow node and a `BPMNEdge` for every sequence flow, so bpmn-js can draw
it. Per container (a process, a (event) subprocess):

* the flow graph loses its back edges (a depth-first walk from the start nodes), each node's layer
  is its longest path from a source (Kahn's order), and two barycentre sweeps order each layer;
* boundary events sit on their host's lower border and their flows leave from there (one whose
  `attachedToRef` names no activity beside it is left out: there is nothing to draw it on);
* a subprocess is drawn collapsed, its contents on a plane of its own (bpmn-js drills down into it);
* a collaboration draws each participant as a pool around its process, message flows between them.

Files that already have shapes are returned unchanged: the modeller's layout wins.
"""

from __future__ import annotations

import copy
from collections import defaultdict, deque
from dataclasses import dataclass, field

from lxml import etree

from .dialect import BPMN_NS, FLOW_NODES

__all__ = ["BPMNDI_NS", "DC_NS", "DI_NS", "has_diagram", "laid_out", "with_layout"]

BPMNDI_NS = "http://www.omg.org/spec/BPMN/20100524/DI"
DC_NS = "http://www.omg.org/spec/DD/20100524/DC"
DI_NS = "http://www.omg.org/spec/DD/20100524/DI"
_B = f"{{{BPMN_NS}}}"
_BD = f"{{{BPMNDI_NS}}}"
_DC = f"{{{DC_NS}}}"
_DI = f"{{{DI_NS}}}"
_NSMAP = {"bpmndi": BPMNDI_NS, "dc": DC_NS, "di": DI_NS}

_CONTAINERS = {"subProcess", "transaction", "adHocSubProcess"}
_EVENTS = {"startEvent", "endEvent", "intermediateCatchEvent", "intermediateThrowEvent", "boundaryEvent"}
_GATEWAYS = {"exclusiveGateway", "parallelGateway", "inclusiveGateway", "eventBasedGateway", "complexGateway"}
_COLUMN = 160  # horizontal distance between layers
_ROW = 120  # vertical distance between nodes of one layer
_CELL_W, _CELL_H = 100, 80
_MARGIN = 60
_POOL_HEADER = 30


@dataclass
class _Box:
    x: float
    y: float
    w: float
    h: float

    @property
    def right(self) -> tuple[float, float]:
        return (self.x + self.w, self.y + self.h / 2)

    @property
    def left(self) -> tuple[float, float]:
        return (self.x, self.y + self.h / 2)

    @property
    def centre(self) -> tuple[float, float]:
        return (self.x + self.w / 2, self.y + self.h / 2)


@dataclass
class _Plane:
    """The shapes and edges of one plane, keyed by the BPMN element they draw."""

    shapes: dict[str, _Box] = field(default_factory=dict)
    expanded: dict[str, bool] = field(default_factory=dict)
    horizontal: set[str] = field(default_factory=set)
    edges: dict[str, list[tuple[float, float]]] = field(default_factory=dict)


def _local(el: etree._Element) -> str:
    tag = el.tag
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) and tag.startswith(_B) else ""


def has_diagram(root: etree._Element) -> bool:
    """Whether the file already draws at least one element (then its own layout is kept)."""
    return next(root.iter(_BD + "BPMNShape"), None) is not None


def _size(kind: str) -> tuple[float, float]:
    if kind in _EVENTS:
        return (36, 36)
    if kind in _GATEWAYS:
        return (50, 50)
    return (_CELL_W, _CELL_H)


def _layers(nodes: list[str], succ: dict[str, list[str]], starts: list[str]) -> dict[str, int]:
    """Longest-path layer of each node once the back edges of a depth-first walk are dropped."""
    state: dict[str, int] = {}  # 1 on the stack, 2 done
    dag: dict[str, list[str]] = defaultdict(list)
    for root in [*starts, *nodes]:
        if root in state:
            continue
        state[root] = 1
        stack = [(root, iter(succ[root]))]
        while stack:
            node, children = stack[-1]
            child = next(children, None)
            if child is None:
                state[node] = 2
                stack.pop()
            elif state.get(child) == 1:
                continue  # a back edge: the loop's return flow
            else:
                dag[node].append(child)
                if child not in state:
                    state[child] = 1
                    stack.append((child, iter(succ[child])))
    indegree = {n: 0 for n in nodes}
    for node in nodes:
        for child in dag[node]:
            indegree[child] += 1
    layer = dict.fromkeys(nodes, 0)
    ready = deque(n for n in nodes if indegree[n] == 0)
    while ready:
        node = ready.popleft()
        for child in dag[node]:
            layer[child] = max(layer[child], layer[node] + 1)
            indegree[child] -= 1
            if indegree[child] == 0:
                ready.append(child)
    return layer


def _order(layer: dict[str, int], succ: dict[str, list[str]], nodes: list[str]) -> list[list[str]]:
    """Nodes per layer, ordered by the barycentre of their predecessors, then of their successors."""
    rows: list[list[str]] = [[] for _ in range(max(layer.values(), default=-1) + 1)]
    for node in nodes:
        rows[layer[node]].append(node)
    pred: dict[str, list[str]] = defaultdict(list)
    for node in nodes:
        for child in succ[node]:
            pred[child].append(node)
    for neighbours, sweep, step in ((pred, range(1, len(rows)), -1), (succ, range(len(rows) - 2, -1, -1), 1)):
        for i in sweep:
            rank = {n: k for k, n in enumerate(rows[i + step])}
            keys = {}
            for k, node in enumerate(rows[i]):
                seen = [rank[m] for m in neighbours[node] if m in rank]
                keys[node] = sum(seen) / len(seen) if seen else float(k)
            rows[i].sort(key=keys.__getitem__)
    return rows


def _flows(container: etree._Element) -> list[etree._Element]:
    return [c for c in container if _local(c) == "sequenceFlow"]


def _lay_container(
    container: etree._Element, plane: _Plane, ox: float, oy: float, sub_planes: list[etree._Element]
) -> tuple[float, float]:
    """Draw the direct flow nodes and flows of `container` from (ox, oy); the width and height used."""
    kinds: dict[str, str] = {}
    hosts: dict[str, str] = {}
    for child in container:
        kind = _local(child)
        nid = child.get("id")
        if kind not in FLOW_NODES or not nid:
            continue
        kinds[nid] = kind
        if kind == "boundaryEvent":
            hosts[nid] = child.get("attachedToRef", "")
        if kind in _CONTAINERS:
            sub_planes.append(child)
    for boundary in [b for b, h in hosts.items() if h not in kinds or h in hosts]:
        del kinds[boundary]  # attached to nothing of this container: BPMN cannot draw it
        del hosts[boundary]
    nodes = [n for n in kinds if n not in hosts]
    succ: dict[str, list[str]] = {n: [] for n in nodes}
    flows = [f for f in _flows(container) if f.get("sourceRef") in kinds and f.get("targetRef") in kinds]
    has_in = set()
    for flow in flows:
        src, dst = flow.get("sourceRef", ""), flow.get("targetRef", "")
        src, dst = hosts.get(src, src), hosts.get(dst, dst)
        if src != dst:
            succ[src].append(dst)
            has_in.add(dst)
    starts = [n for n in nodes if kinds[n] == "startEvent"] + [n for n in nodes if n not in has_in]
    rows = _order(_layers(nodes, succ, starts), succ, nodes)
    tallest = max((len(r) for r in rows), default=0)
    for col, row in enumerate(rows):
        for k, node in enumerate(row):
            w, h = _size(kinds[node])
            cx = ox + col * _COLUMN + _CELL_W / 2
            cy = oy + k * _ROW + _CELL_H / 2
            plane.shapes[node] = _Box(cx - w / 2, cy - h / 2, w, h)
            if kinds[node] in _CONTAINERS:
                plane.expanded[node] = False
    attached: dict[str, int] = defaultdict(int)
    for boundary, host in hosts.items():
        box = plane.shapes[host]
        k = attached[host]
        attached[host] += 1
        plane.shapes[boundary] = _Box(box.x + box.w - 48 - 40 * k, box.y + box.h - 18, 36, 36)
    for flow in flows:
        fid = flow.get("id")
        a, b = plane.shapes[flow.get("sourceRef", "")], plane.shapes[flow.get("targetRef", "")]
        if fid:
            plane.edges[fid] = _route(a, b, flow.get("sourceRef", "") in hosts)
    width = len(rows) * _COLUMN - (_COLUMN - _CELL_W)
    height = tallest * _ROW - (_ROW - _CELL_H) + (18 if hosts else 0)
    return (max(width, 0), max(height, 0))


def _route(a: _Box, b: _Box, from_boundary: bool) -> list[tuple[float, float]]:
    """Orthogonal waypoints: out of the right side (a boundary event: its bottom), into the left side."""
    if from_boundary:
        start = (a.x + a.w / 2, a.y + a.h)
        end = b.left if b.x > start[0] else (b.x + b.w / 2, b.y + b.h)
        return [start, (start[0], end[1]), end] if start[1] != end[1] else [start, end]
    start, end = a.right, b.left
    if end[0] <= start[0]:  # a loop back: under both shapes
        low = max(a.y + a.h, b.y + b.h) + 20
        bottom_a, bottom_b = (a.x + a.w / 2, a.y + a.h), (b.x + b.w / 2, b.y + b.h)
        return [bottom_a, (bottom_a[0], low), (bottom_b[0], low), bottom_b]
    if start[1] == end[1]:
        return [start, end]
    mid = start[0] + 20
    return [start, (mid, start[1]), (mid, end[1]), end]


def _unique(base: str, taken: set[str]) -> str:
    name, n = base, 1
    while name in taken:
        n += 1
        name = f"{base}_{n}"
    taken.add(name)
    return name


def _emit(root: etree._Element, element: str, plane: _Plane, taken: set[str]) -> None:
    diagram = etree.SubElement(root, _BD + "BPMNDiagram", nsmap=_NSMAP)
    diagram.set("id", _unique(f"{element}_diagram", taken))
    bplane = etree.SubElement(diagram, _BD + "BPMNPlane")
    bplane.set("id", _unique(f"{element}_plane", taken))
    bplane.set("bpmnElement", element)
    for ref, box in plane.shapes.items():
        shape = etree.SubElement(bplane, _BD + "BPMNShape")
        shape.set("id", _unique(f"{ref}_di", taken))
        shape.set("bpmnElement", ref)
        if ref in plane.expanded:
            shape.set("isExpanded", "true" if plane.expanded[ref] else "false")
        if ref in plane.horizontal:
            shape.set("isHorizontal", "true")
        bounds = etree.SubElement(shape, _DC + "Bounds")
        for key, value in (("x", box.x), ("y", box.y), ("width", box.w), ("height", box.h)):
            bounds.set(key, f"{value:g}")
    for ref, points in plane.edges.items():
        edge = etree.SubElement(bplane, _BD + "BPMNEdge")
        edge.set("id", _unique(f"{ref}_di", taken))
        edge.set("bpmnElement", ref)
        for x, y in points:
            point = etree.SubElement(edge, _DI + "waypoint")
            point.set("x", f"{x:g}")
            point.set("y", f"{y:g}")


def _lay_collaboration(
    collab: etree._Element, processes: dict[str, etree._Element], plane: _Plane
) -> list[etree._Element]:
    subs: list[etree._Element] = []
    y = float(_MARGIN)
    for participant in collab.iterfind(_B + "participant"):
        pid = participant.get("id")
        if not pid:
            continue
        proc = processes.get(participant.get("processRef", ""))
        w, h = float(_CELL_W), float(_CELL_H)
        if proc is not None:
            w, h = _lay_container(proc, plane, _MARGIN + _POOL_HEADER + 40, y + 40, subs)
        pool = _Box(_MARGIN, y, max(w + _POOL_HEADER + 80, 600), h + 80)
        plane.shapes[pid] = pool
        plane.horizontal.add(pid)
        y += pool.h + 40
    for flow in collab.iterfind(_B + "messageFlow"):
        a = plane.shapes.get(flow.get("sourceRef", ""))
        b = plane.shapes.get(flow.get("targetRef", ""))
        fid = flow.get("id")
        if a is None or b is None or not fid:
            continue
        (ax, ay), (bx, by) = a.centre, b.centre
        start = (ax, a.y + a.h) if by > ay else (ax, a.y)
        end = (bx, b.y) if by > ay else (bx, b.y + b.h)
        plane.edges[fid] = [
            start,
            (start[0], (start[1] + end[1]) / 2),
            (end[0], (start[1] + end[1]) / 2),
            end,
        ]
    return subs


def with_layout(root: etree._Element) -> etree._Element:
    """A copy of `definitions` with a generated diagram in place of whatever DI it had."""
    out = copy.deepcopy(root)
    for old in list(out.iterfind(_BD + "BPMNDiagram")):
        out.remove(old)
    taken = {v for el in out.iter() if isinstance(el.tag, str) for v in [el.get("id")] if v}
    processes = {p.get("id", ""): p for p in out.iterfind(_B + "process")}
    pending: list[etree._Element] = []
    collab = next(out.iterfind(_B + "collaboration"), None)
    if collab is not None and collab.get("id"):
        plane = _Plane()
        pending += _lay_collaboration(collab, processes, plane)
        _emit(out, collab.get("id", ""), plane, taken)
        drawn = {p.get("processRef") for p in collab.iterfind(_B + "participant")}
        processes = {k: v for k, v in processes.items() if k not in drawn}
    for pid, proc in processes.items():
        if not pid:
            continue
        plane = _Plane()
        _lay_container(proc, plane, _MARGIN, _MARGIN, pending)
        _emit(out, pid, plane, taken)
    while pending:  # every subprocess, at any depth, on its own plane
        sub = pending.pop(0)
        plane = _Plane()
        _lay_container(sub, plane, _MARGIN, _MARGIN, pending)
        _emit(out, sub.get("id", ""), plane, taken)
    return out


def laid_out(root: etree._Element) -> etree._Element:
    """`root` itself when it draws its elements, else a copy with a generated diagram."""
    return root if has_diagram(root) else with_layout(root)
