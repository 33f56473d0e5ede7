"""Applicant scenarios (DESIGN §12): which steps may run for each combination of an applicant's choices.

A *choice* is an exclusive gateway with two or more outgoing flows, at least one of them named, whose
branches reach different steps with materials: choosing 简易注销 or 一般注销 changes what the applicant
brings. Each outgoing flow is one answer, named by the flow's name (else by its target's name or id).
Gateways whose answers carry the same names ask the same question (a later gateway that tests the
choice again): a scenario answers it once and takes the same-named flow at each of them.

A scenario is one answer to every question its path meets (a question nested on one branch is asked
only there), and its steps are those that may run when every asked gateway takes the chosen flow and
every other split (parallel, inclusive, unnamed) may take any of its flows. At most `LIMIT` scenarios
are listed; beyond that the audit gives the union checklist alone, with a note. A bundle without such
a choice has one scenario holding every step.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from ..bpmn.bundle import Bundle, Flow

__all__ = ["LIMIT", "Choice", "ScenarioPlan", "plan_scenarios"]

LIMIT = 64
_CONTAINERS = {"subProcess", "transaction", "adHocSubProcess"}


@dataclass(frozen=True)
class Choice:
    """One answer of a scenario: at `gateway` (the first gateway asking the question) take `flow`."""

    gateway: str
    gateway_name: str | None
    flow: str
    name: str


@dataclass(frozen=True)
class ScenarioPlan:
    """The answers of one scenario and the steps that may run in it."""

    choices: tuple[Choice, ...]
    steps: frozenset[str]

    @property
    def name(self) -> str:
        return "；".join(c.name for c in self.choices)


@dataclass(frozen=True)
class Plans:
    """The scenarios of a bundle; `more_than` is set (to LIMIT) when they were too many to list."""

    scenarios: tuple[ScenarioPlan, ...]
    more_than: int | None = None


@dataclass(frozen=True)
class _Question:
    key: tuple[str, ...]  # the sorted answer names
    gateway: str  # the first gateway (document order) that asks it
    gateway_name: str | None
    answers: tuple[tuple[str, str], ...]  # (answer name, flow id at the first gateway), in flow order


def plan_scenarios(bundle: Bundle, material_steps: Iterable[str], *, limit: int = LIMIT) -> Plans:
    """The applicant scenarios of a bundle whose steps `material_steps` declare materials."""
    graph = _Graph(bundle)
    wanted = frozenset(material_steps) & graph.steps
    questions = graph.questions(wanted) if wanted else {}
    if not questions:
        return Plans((ScenarioPlan((), graph.reach({}, {})[0] & graph.steps),))
    found: list[ScenarioPlan] = []

    def explore(answers: dict[tuple[str, ...], str], chosen: tuple[Choice, ...]) -> None:
        if len(found) > limit:
            return
        reached, pending = graph.reach(questions, answers)
        if not pending:
            found.append(ScenarioPlan(chosen, reached & graph.steps))
            return
        q = pending[0]
        for answer, flow in q.answers:
            explore({**answers, q.key: answer}, (*chosen, Choice(q.gateway, q.gateway_name, flow, answer)))

    explore({}, ())
    if len(found) > limit:
        return Plans((ScenarioPlan((), graph.reach({}, {})[0] & graph.steps),), more_than=limit)
    return Plans(tuple(found))


class _Graph:
    """Successors for "may run" reachability: flows, a container to its start nodes, a host to its boundary events."""

    def __init__(self, bundle: Bundle) -> None:
        self.nodes = {n.id: n for n in bundle.nodes if n.id}
        self.steps = frozenset(s.id for s in bundle.steps)
        self.out: dict[str, list[Flow]] = {}
        incoming: set[str] = set()
        for f in bundle.flows:
            if f.source in self.nodes and f.target in self.nodes:
                self.out.setdefault(f.source, []).append(f)
                incoming.add(f.target)
        self.extra: dict[str, list[str]] = {}
        self.roots: list[str] = []
        for n in self.nodes.values():
            if n.kind == "boundaryEvent" and n.attached_to in self.nodes:
                self.extra.setdefault(n.attached_to or "", []).append(n.id)
            elif n.id not in incoming:
                if n.parent is None:
                    self.roots.append(n.id)
                elif n.parent in self.nodes:
                    self.extra.setdefault(n.parent, []).append(n.id)
        starts = [r for r in self.roots if self.nodes[r].kind == "startEvent"]
        self.roots = starts or self.roots

    def _label(self, flow: Flow) -> str:
        target = self.nodes.get(flow.target)
        return flow.name or (target.name if target is not None and target.name else flow.target)

    def _from(self, starts: Iterable[str]) -> set[str]:
        seen: set[str] = set()
        todo = [s for s in starts if s in self.nodes]
        while todo:
            node = todo.pop()
            if node in seen:
                continue
            seen.add(node)
            todo += [f.target for f in self.out.get(node, [])]
            todo += self.extra.get(node, [])
        return seen

    def questions(self, material_steps: frozenset[str]) -> dict[str, _Question]:
        """Relevant exclusive gateways (by id) and the question each one asks."""
        by_key: dict[tuple[str, ...], _Question] = {}
        asked: dict[str, _Question] = {}
        for node in self.nodes.values():
            flows = self.out.get(node.id, [])
            if node.kind != "exclusiveGateway" or len(flows) < 2 or not any(f.name for f in flows):
                continue
            labels = [self._label(f) for f in flows]
            if len(set(labels)) != len(labels):  # two answers of the same name cannot be told apart
                continue
            reached = [frozenset(self._from([f.target]) & material_steps) for f in flows]
            if len(set(reached)) < 2:
                continue  # every answer leads to the same materials
            key = tuple(sorted(labels))
            question = by_key.get(key)
            if question is None:
                question = by_key[key] = _Question(
                    key, node.id, node.name, tuple((lab, f.id) for lab, f in zip(labels, flows, strict=True))
                )
            asked[node.id] = question
        # a gateway that asks a known question but whose own branches agree is still held to the answer
        for node in self.nodes.values():
            flows = self.out.get(node.id, [])
            if node.id in asked or node.kind != "exclusiveGateway" or len(flows) < 2:
                continue
            key = tuple(sorted(self._label(f) for f in flows))
            if key in by_key:
                asked[node.id] = by_key[key]
        return asked

    def reach(
        self, questions: dict[str, _Question], answers: dict[tuple[str, ...], str]
    ) -> tuple[frozenset[str], list[_Question]]:
        """Nodes that may run under `answers`, and the questions met but not answered (in order met)."""
        seen: set[str] = set()
        pending: list[_Question] = []
        todo = list(reversed(self.roots))
        while todo:
            node = todo.pop()
            if node in seen:
                continue
            seen.add(node)
            flows = self.out.get(node, [])
            question = questions.get(node)
            if question is not None:
                answer = answers.get(question.key)
                if answer is None:
                    if question not in pending:
                        pending.append(question)
                    continue
                flows = [f for f in flows if self._label(f) == answer]
            nxt = [f.target for f in flows] + self.extra.get(node, [])
            todo += reversed(nxt)
        return frozenset(seen), pending
