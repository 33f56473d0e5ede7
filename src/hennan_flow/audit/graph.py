"""Flow order of a bundle: which steps run before which (must-pass sets), and which always run.

DESIGN §3 "Runs before": MP(start) = {start}; for any other node n, MP(n) = {n} ∪ the intersection of
MP(p) over its predecessors p, except at a parallel join, where it is the union (every incoming branch
has run). Step P runs before S when P ∈ MP(p) for every predecessor p of S. This is the dominator
relation of the flow graph, widened at parallel joins; it is computed as a greatest fixed point, so
loops need no special case (what runs before a loop's entry runs before its body; nothing inside the
loop runs before its entry).

The graph also has to say what "lies on every path to the end" (R4: two occurrences on parallel
branches) and whether one step always accompanies another (R4 covered pairs). For that it computes,
per node n, F(n): the nodes certainly executed from n onwards in every complete run — the union over
the branches of a parallel split (or of unconditional flows leaving an activity), the intersection over
the branches of an exclusive, inclusive, event-based or complex split (or of the conditional and default
flows leaving an activity). ALWAYS = F(start): what runs in every complete case.

The rest of BPMN, handled conservatively (never claiming an order that a run could break):

* inclusive and complex joins merge like exclusive ones (intersection): not every branch has run;
* subprocesses: a node inside starts after everything that runs before the subprocess (its entry set);
  what follows the subprocess has also run everything the subprocess certainly runs inside (F of its
  start events); an ad-hoc subprocess certainly runs nothing inside;
* boundary events: the path leaving a boundary event of activity A has what runs before A, never A
  itself (A was interrupted or is still running); for F, a boundary path is an alternative to A's normal
  continuation (intersection), whether interrupting or not;
* several start events are alternatives; a node with no incoming flow (other than a boundary event) is
  a root that nothing runs before; nodes no root reaches are never ordered;
* a back edge into a parallel join is ignored at that join (it would otherwise keep the union from
  shrinking); a cycle with no way out guarantees nothing after it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from ..bpmn.bundle import Bundle, Flow, Node

__all__ = ["FlowGraph"]

_CONTAINERS = {"subProcess", "transaction", "adHocSubProcess"}
_ALTERNATIVE_SPLITS = {"exclusiveGateway", "inclusiveGateway", "eventBasedGateway", "complexGateway"}


@dataclass
class FlowGraph:
    """Order facts over a bundle's nodes and flows (`Bundle.nodes`, `Bundle.flows`).

    Usage::

        graph = FlowGraph.of(bundle)
        graph.runs_before("register", "seal")   # True when register is on every path to seal
        graph.always("seal")                      # True when every complete case runs seal
    """

    ids: list[str]
    index: dict[str, int]
    _in: list[int] = field(repr=False)  # what runs before each node (MP minus the node itself)
    _fwd: list[int] = field(repr=False)  # what certainly runs from each node on, to the end of the case
    _always: int = field(repr=False)
    _reachable: int = field(repr=False)

    # -- queries ---------------------------------------------------------------------------------
    def runs_before(self, before: str, node: str) -> bool:
        """DESIGN §3: `before` ∈ MP(p) for every predecessor p of `node` (and `node` is reachable)."""
        i, j = self.index.get(before), self.index.get(node)
        if i is None or j is None or i == j:
            return False
        return bool(self._in[j] >> i & 1)

    def must_pass(self, node: str) -> frozenset[str]:
        """MP(node): the node and everything that runs before it on every path."""
        j = self.index.get(node)
        if j is None:
            return frozenset()
        return frozenset(self._names(self._in[j] | 1 << j))

    def always(self, node: str) -> bool:
        """True when every complete case runs this node (it lies on every path to the end)."""
        i = self.index.get(node)
        return i is not None and bool(self._always >> i & 1)

    def accompanies(self, node: str, other: str) -> bool:
        """True when every complete case that runs `node` also runs `other` (before, after or alongside)."""
        i, j = self.index.get(node), self.index.get(other)
        if i is None or j is None:
            return False
        if i == j:
            return True
        return bool((self._in[i] | self._fwd[i] | self._always) >> j & 1)

    def reachable(self, node: str) -> bool:
        i = self.index.get(node)
        return i is not None and bool(self._reachable >> i & 1)

    def _names(self, bits: int) -> Iterable[str]:
        return (self.ids[k] for k in range(len(self.ids)) if bits >> k & 1)

    # -- construction ----------------------------------------------------------------------------
    @classmethod
    def of(cls, bundle: Bundle) -> FlowGraph:
        return _build(bundle.nodes, bundle.flows)


def _build(all_nodes: Iterable[Node], all_flows: Iterable[Flow]) -> FlowGraph:
    nodes: list[Node] = []
    index: dict[str, int] = {}
    for node in all_nodes:
        if node.id and node.id not in index:
            index[node.id] = len(nodes)
            nodes.append(node)
    n = len(nodes)
    full = (1 << n) - 1
    kind = [nd.kind for nd in nodes]
    container = [index.get(nd.parent) if nd.parent else None for nd in nodes]
    succ: list[list[tuple[int, Flow]]] = [[] for _ in range(n)]
    pred: list[list[int]] = [[] for _ in range(n)]
    for flow in all_flows:
        s, t = index.get(flow.source), index.get(flow.target)
        if s is None or t is None:
            continue
        succ[s].append((t, flow))
        pred[t].append(s)
    boundary_of: list[int | None] = [None] * n
    boundaries: list[list[int]] = [[] for _ in range(n)]
    for i, nd in enumerate(nodes):
        if nd.kind == "boundaryEvent" and nd.attached_to in index:
            host = index[nd.attached_to]
            boundary_of[i] = host
            boundaries[host].append(i)
    children: dict[int | None, list[int]] = {}
    for i in range(n):
        children.setdefault(container[i], []).append(i)
    # roots: no incoming flow, not a boundary event; per container (None = the process)
    roots: dict[int | None, list[int]] = {}
    for i in range(n):
        if not pred[i] and boundary_of[i] is None:
            roots.setdefault(container[i], []).append(i)
    is_container = [kind[i] in _CONTAINERS or i in children for i in range(n)]

    def start_roots(c: int | None) -> list[int]:
        rs = roots.get(c, [])
        starts = [r for r in rs if kind[r] == "startEvent"]
        return starts or rs

    # traversal edges: flows, container → its roots, host → its boundary events
    def edges(i: int) -> list[int]:
        out = [t for t, _ in succ[i]]
        if is_container[i]:
            out += roots.get(i, [])
        return out + boundaries[i]

    order, back = _dfs(roots.get(None, []), edges, n)
    reachable = 0
    for i in order:
        reachable |= 1 << i

    # F: what certainly runs from each node on, inside its container (greatest fixed point)
    exits = _can_exit(order, succ, n)
    fwd = [full] * n
    cont = [0] * n
    inner = [0] * n
    changed = True
    while changed:
        changed = False
        for i in reversed(order):
            if is_container[i] and kind[i] != "adHocSubProcess":
                rs = start_roots(i)
                inner_i = _meet(fwd[r] for r in rs) if rs else 0
            else:
                inner_i = 0
            c = 0
            if exits[i]:
                targets = succ[i]
                if kind[i] == "parallelGateway":
                    c = _join(fwd[t] for t, _ in targets)
                elif kind[i] in _ALTERNATIVE_SPLITS:
                    c = _meet(fwd[t] for t, _ in targets) if targets else 0
                else:
                    default = nodes[i].default
                    plain = [t for t, f in targets if f.condition is None and f.id != default]
                    chosen = [t for t, f in targets if f.condition is not None or f.id == default]
                    c = _join(fwd[t] for t in plain)
                    # conditional flows: one of them (or the default) fires when there is a default or
                    # nothing else leaves; beside unconditional flows without a default, none need fire
                    if chosen and (default in {f.id for _, f in targets} or not plain):
                        c |= _meet(fwd[t] for t in chosen)
                if boundaries[i]:
                    c &= _meet(fwd[b] for b in boundaries[i])
            value = 1 << i | inner_i | c
            changed = changed or value != fwd[i]
            # cont and inner settle with fwd: the last pass recomputes them from the final values
            fwd[i], cont[i], inner[i] = value, c, inner_i
    # continuation after a node's container completes, up to the process
    after: dict[int | None, int] = {None: 0}

    def post(c: int | None) -> int:
        if c not in after:
            assert c is not None
            after[c] = cont[c] | post(container[c])
        return after[c]

    fwd_case = [fwd[i] | post(container[i]) if reachable >> i & 1 else 1 << i for i in range(n)]
    top = start_roots(None)
    always = _meet(fwd[r] for r in top) if top else 0

    # In: what runs before each node (greatest fixed point; MP(n) = {n} | In(n))
    inn = [full if reachable >> i & 1 else 0 for i in range(n)]
    for r in roots.get(None, []):
        inn[r] = 0
    changed = True
    while changed:
        changed = False
        for i in order:
            box = container[i]
            attached = boundary_of[i]
            if attached is not None:
                value = inn[attached]
            elif not pred[i]:
                value = 0 if box is None else (1 << box | inn[box])
            else:
                ps = [p for p in pred[i] if reachable >> p & 1]
                if kind[i] == "parallelGateway" and len(ps) > 1:
                    forward = [p for p in ps if (p, i) not in back] or ps
                    value = _join(_out(p, inn, inner) for p in forward)
                else:
                    value = _meet(_out(p, inn, inner) for p in ps) if ps else 0
            value &= ~(1 << i)
            if value != inn[i]:
                inn[i] = value
                changed = True
    return FlowGraph(
        ids=[nd.id for nd in nodes],
        index=index,
        _in=inn,
        _fwd=fwd_case,
        _always=always & reachable,
        _reachable=reachable,
    )


def _out(p: int, inn: list[int], inner: list[int]) -> int:
    """MP(p) as its successors see it: p, what ran before p, and what p certainly ran inside."""
    return 1 << p | inn[p] | inner[p]


def _meet(values: Iterable[int]) -> int:
    result: int | None = None
    for v in values:
        result = v if result is None else result & v
    return result or 0


def _join(values: Iterable[int]) -> int:
    result = 0
    for v in values:
        result |= v
    return result


def _dfs(
    starts: list[int], get: Callable[[int], list[int]], n: int
) -> tuple[list[int], set[tuple[int, int]]]:
    """Reverse postorder of the nodes reachable from `starts`, and the back edges met."""
    state = [0] * n  # 0 new, 1 on the stack, 2 done
    post: list[int] = []
    back: set[tuple[int, int]] = set()
    for s in starts:
        if state[s]:
            continue
        state[s] = 1
        stack = [(s, iter(get(s)))]
        while stack:
            node, it = stack[-1]
            nxt = next(it, None)
            if nxt is None:
                stack.pop()
                state[node] = 2
                post.append(node)
            elif state[nxt] == 0:
                state[nxt] = 1
                stack.append((nxt, iter(get(nxt))))
            elif state[nxt] == 1:
                back.add((node, nxt))
    post.reverse()
    return post, back


def _can_exit(order: list[int], succ: list[list[tuple[int, Flow]]], n: int) -> list[bool]:
    """Nodes from which some path reaches a node with no outgoing flow (a way out of every cycle)."""
    ok = [False] * n
    rev: list[list[int]] = [[] for _ in range(n)]
    work = []
    for i in order:
        targets = [t for t, _ in succ[i]]
        if not targets:
            ok[i] = True
            work.append(i)
        for t in targets:
            rev[t].append(i)
    while work:
        t = work.pop()
        for s in rev[t]:
            if not ok[s]:
                ok[s] = True
                work.append(s)
    return ok
