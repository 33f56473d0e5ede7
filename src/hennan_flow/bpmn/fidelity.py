"""What SpiffWorkflow 3.2.0 would silently skip or drop, found at validate (issue 29).

SpiffWorkflow's parser builds a process by walking sequence flows from its start events. Whatever
that walk never reaches, or whatever its parser has no reading for, vanishes without a word: a
flow without an id (the model "completes" at once), an element nothing leads to, an event
definition its parser does not read for that kind of event (a signal end event ends quietly, an
error start event starts its event subprocess with the process), a condition on a flow that no
gateway evaluates, a `default` naming no outgoing flow, a link event. Each is a validate error
naming the element, so a model never runs differently from what it says.

`spiffworkflow:` extensions: the pre- and post-scripts run (under the code-task rule,
`runtime/expressions.code_problems`); the ones SpiffWorkflow itself keeps as data (properties,
instructions…) are kept and a warning says hennan_flow uses none of them; the ones that change what
SpiffWorkflow's spiff-arena parser builds (message and signal payloads, services, DMN) are refused.

`callee_problems` checks call activities across the files validated or deployed together.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from pathlib import Path

from lxml import etree

from ..errors import Location
from .diagnostics import Problem
from .dialect import BPMN_NS, owner_id
from .flowgraph import bad_hosts

__all__ = ["called_processes", "callee_problems", "fidelity_problems", "with_callees"]

_B = f"{{{BPMN_NS}}}"
_SPIFF_NS = "http://spiffworkflow.org/bpmn/schema/1.0/core"
_S = f"{{{_SPIFF_NS}}}"
_VENDOR_NS = {
    "http://camunda.org/schema/1.0/bpmn": "camunda",
    "http://activiti.org/bpmn": "activiti",
    "http://flowable.org/bpmn": "flowable",
}

# what SpiffWorkflow 3.2.0's parser reads on each kind of event (bpmn/parser/event_parsers.py)
_READ_DEFINITIONS = {
    "startEvent": {"message", "signal", "timer", "conditional"},
    "endEvent": {"message", "cancel", "error", "escalation", "terminate"},
    "intermediateCatchEvent": {"message", "signal", "timer", "conditional"},
    "intermediateThrowEvent": {"escalation", "message", "signal", "timer"},
    "boundaryEvent": {"cancel", "error", "escalation", "message", "signal", "timer", "conditional"},
}
_FLOW_NODES = {
    "startEvent", "endEvent", "intermediateCatchEvent", "intermediateThrowEvent", "boundaryEvent",
    "task", "userTask", "manualTask", "serviceTask", "scriptTask", "businessRuleTask", "sendTask",
    "receiveTask", "callActivity", "subProcess", "transaction", "adHocSubProcess",
    "exclusiveGateway", "inclusiveGateway", "parallelGateway", "eventBasedGateway", "complexGateway",
}  # fmt: skip
_SCOPES = {"process", "subProcess", "transaction", "adHocSubProcess"}
_CONDITIONAL_SOURCES = {"exclusiveGateway", "inclusiveGateway"}

_SPIFF_KEPT = {
    "instructionsForEndUser", "properties", "unitTests", "taskMetadataValues", "allowGuest",
    "guestConfirmation", "signalButtonLabel", "category",
}  # fmt: skip
_SPIFF_RUN = {"preScript", "postScript"}
_SPIFF_REFUSED = {
    "messagePayload": "a message payload",
    "messageVariable": "the variable a message's payload is stored in",
    "payloadExpression": "a signal payload",
    "variableName": "the variable a signal's payload is stored in",
    "processVariableCorrelation": "a message correlation on process variables",
    "serviceTaskOperator": "a service call",
    "calledDecisionId": "a DMN decision",
    "calledDecision": "a DMN decision",
}


def _a(word: str) -> str:
    return ("an " if word[:1].lower() in "aeio" else "a ") + word  # a userTask


def _local(el: etree._Element) -> str:
    return etree.QName(el).localname if isinstance(el.tag, str) else ""


def _executable(proc: etree._Element) -> bool:
    return proc.get("isExecutable", "true").strip().lower() in {"true", "1"}


def fidelity_problems(tree: etree._ElementTree, file: str) -> list[Problem]:
    """Structures SpiffWorkflow would skip silently, and spiffworkflow: extensions, in one document."""
    root = tree.getroot()
    problems: list[Problem] = []
    for proc in root.iter(_B + "process"):
        if _executable(proc):
            problems += _scope_problems(proc, file)
    problems += _event_problems(root, file)
    problems += _extension_problems(root, file)
    return problems


# -- flows and reachability --------------------------------------------------------------------


def _scope_problems(scope: etree._Element, file: str) -> list[Problem]:
    """One process or subprocess: its flows, what its start events reach, its conditions."""
    out: list[Problem] = []
    nodes = {c.get("id"): c for c in scope if _local(c) in _FLOW_NODES and c.get("id")}
    flows = [c for c in scope if _local(c) == "sequenceFlow"]
    outgoing: dict[str, list[etree._Element]] = {}
    for f in flows:
        source, target = f.get("sourceRef", ""), f.get("targetRef", "")
        if not f.get("id"):
            out.append(
                _error(
                    "SPIFF-FLOW-ID",
                    f"a sequence flow without an id ({source} → {target}): SpiffWorkflow ignores it, "
                    "so the path it draws never runs",
                    file,
                    f,
                    scope.get("id"),
                    "give every sequenceFlow an id (modelers do; check how the file was generated)",
                )
            )
        for end, ref in (("sourceRef", source), ("targetRef", target)):
            if ref and ref not in nodes:
                out.append(
                    _error(
                        "SPIFF-FLOW-REF",
                        f'{end}="{ref}" names no flow element of this '
                        f"{'process' if _local(scope) == 'process' else 'subprocess'}: "
                        "SpiffWorkflow never follows the flow",
                        file,
                        f,
                        f.get("id") or scope.get("id"),
                        "connect the flow to an element of the same process or subprocess",
                    )
                )
        outgoing.setdefault(source, []).append(f)
    out += _unreachable(scope, nodes, outgoing, file)
    out += _condition_problems(nodes, outgoing, file)
    for node in nodes.values():
        if _local(node) in _SCOPES:
            out += _scope_problems(node, file)
    return out


def _unreachable(
    scope: etree._Element,
    nodes: dict[str | None, etree._Element],
    outgoing: dict[str, list[etree._Element]],
    file: str,
) -> list[Problem]:
    attached: dict[str, list[str]] = {}
    for nid, node in nodes.items():
        if _local(node) == "boundaryEvent" and nid:
            attached.setdefault(node.get("attachedToRef", ""), []).append(nid)
    incoming = {f.get("targetRef") for fs in outgoing.values() for f in fs}
    if _local(scope) == "adHocSubProcess":
        starts = [nid for nid in nodes if nid not in incoming]
    else:
        starts = [nid for nid, n in nodes.items() if _local(n) == "startEvent"]
    starts += [nid for nid, n in nodes.items() if n.get("triggeredByEvent") == "true"]
    if not any(_local(n) == "startEvent" for n in nodes.values()) and _local(scope) != "adHocSubProcess":
        return []  # SpiffWorkflow refuses a process or subprocess without a start event itself
    seen: set[str | None] = set()
    # a boundary event on no activity is reported once, on itself (flowgraph, BPMN-BOUNDARY-HOST):
    # neither it nor what only it leads to is called unreachable besides
    stack = [*starts, *bad_hosts({nid: n for nid, n in nodes.items() if nid})]
    while stack:
        nid = stack.pop()
        if nid in seen:
            continue
        seen.add(nid)
        stack.extend(f.get("targetRef") for f in outgoing.get(nid or "", ()))
        stack.extend(attached.get(nid or "", ()))
    out = []
    for nid, node in nodes.items():
        if nid in seen or node.get("isForCompensation") == "true":
            continue
        out.append(
            _error(
                "SPIFF-UNREACHABLE",
                f"no path from a start event leads to this {_local(node)}: SpiffWorkflow never runs it",
                file,
                node,
                nid,
                "connect it with a sequence flow, or delete it",
            )
        )
    return out


def _condition_problems(
    nodes: dict[str | None, etree._Element], outgoing: dict[str, list[etree._Element]], file: str
) -> list[Problem]:
    out = []
    for nid, node in nodes.items():
        flows = outgoing.get(nid or "", [])
        default = node.get("default")
        if default and default not in {f.get("id") for f in flows}:
            out.append(
                _error(
                    "SPIFF-DEFAULT-FLOW",
                    f'default="{default}" is not an outgoing sequence flow of this element: '
                    "SpiffWorkflow has no default path here",
                    file,
                    node,
                    nid,
                    "name one of its outgoing sequence flows, or remove the attribute",
                )
            )
        for f in flows:
            condition = f.find(_B + "conditionExpression")
            if condition is None or not (condition.text or "").strip():
                continue
            if _local(node) not in _CONDITIONAL_SOURCES:
                out.append(
                    _error(
                        "SPIFF-CONDITION-IGNORED",
                        f"a condition on a flow leaving {_a(_local(node))}: SpiffWorkflow evaluates "
                        "conditions only after exclusive and inclusive gateways and ignores this one",
                        file,
                        f,
                        f.get("id"),
                        "put an exclusive gateway after the element and the condition on its outgoing flow",
                    )
                )
            elif f.get("id") and f.get("id") == default:
                out.append(
                    Problem(
                        "SPIFF-CONDITION-IGNORED",
                        "warning",
                        "a condition on the default flow: the default is taken when no other condition holds, "
                        "so this condition is never evaluated",
                        Location(file, f.sourceline, f.get("id")),
                        "remove the condition from the default flow",
                    )
                )
    return out


# -- events ----------------------------------------------------------------------------------


def _event_problems(root: etree._Element, file: str) -> list[Problem]:
    out = []
    for proc in root.iter(_B + "process"):
        if not _executable(proc):
            continue
        for event in proc.iter(*(_B + k for k in _READ_DEFINITIONS)):
            kind = _local(event)
            read = _READ_DEFINITIONS[kind]
            for child in event:
                name = _local(child)
                if name == "eventDefinitionRef":
                    out.append(
                        _error(
                            "SPIFF-EVENT-IGNORED",
                            "an eventDefinitionRef (a definition shared from bpmn:definitions): "
                            "SpiffWorkflow reads only definitions written inside the event",
                            file,
                            child,
                            event.get("id"),
                            "write the event definition inside the event",
                        )
                    )
                elif name.endswith("EventDefinition") and name[: -len("EventDefinition")] not in read:
                    what = name[: -len("EventDefinition")]
                    why = (
                        "SpiffWorkflow 3.2.0 does not support link events"
                        if what == "link"
                        else "SpiffWorkflow 3.2.0 does not support compensation"
                        if what == "compensate"
                        else f"SpiffWorkflow's parser does not read {_a(what)} definition on {_a(kind)}"
                    )
                    out.append(
                        _error(
                            "SPIFF-EVENT-IGNORED",
                            f"{_a(kind)} with {_a(name)}: {why}, so the event would behave as one without it",
                            file,
                            child,
                            event.get("id"),
                            "model it with what the event supports here "
                            f"({', '.join(sorted(read))}), or with a plain sequence flow",
                        )
                    )
        for timer in proc.iter(_B + "timerEventDefinition"):
            given = [_local(c) for c in timer if _local(c) in {"timeDate", "timeDuration", "timeCycle"}]
            if len(given) > 1:
                out.append(
                    _error(
                        "SPIFF-EVENT-IGNORED",
                        f"a timer with {' and '.join(given)}: SpiffWorkflow reads only the {given[0]}",
                        file,
                        timer,
                        owner_id(timer),
                        "give the timer one of timeDate, timeDuration or timeCycle",
                    )
                )
    return out


# -- extensions -------------------------------------------------------------------------------


def _extension_problems(root: etree._Element, file: str) -> list[Problem]:
    out = []
    for ext in root.iter(_B + "extensionElements"):
        owner = owner_id(ext)
        for el in ext:
            if not isinstance(el.tag, str):
                continue
            qname = etree.QName(el)
            if qname.namespace == _SPIFF_NS:
                out += _spiff_extension(el, qname.localname, owner, file)
            elif qname.namespace in _VENDOR_NS and qname.localname in {"executionListener", "taskListener"}:
                vendor = _VENDOR_NS[qname.namespace]
                out.append(
                    Problem(
                        "VENDOR-LISTENER-IGNORED",
                        "warning",
                        f"{vendor}:{qname.localname} runs Java code in {vendor.capitalize()}; "
                        "hennan_flow does not run it",
                        Location(file, el.sourceline, owner),
                        "model what the listener does as a step, or drop it",
                    )
                )
    return out


def _spiff_extension(el: etree._Element, name: str, owner: str | None, file: str) -> list[Problem]:
    if name in _SPIFF_RUN:
        return []  # run under the code-task rule (runtime/expressions.code_problems)
    if name in _SPIFF_KEPT:
        return [
            Problem(
                "SPIFF-EXTENSION-IGNORED",
                "warning",
                f"spiffworkflow:{name} is kept on the element as SpiffWorkflow keeps it, but hennan_flow "
                "shows and uses none of it (it is spiff-arena's)",
                Location(file, el.sourceline, owner),
                "say it with the hf: dialect (steps, departments, forms, materials) where it matters",
            )
        ]
    what = _SPIFF_REFUSED.get(name)
    message = (
        f"spiffworkflow:{name} ({what}) is read by SpiffWorkflow's spiff-arena parser only; "
        "hennan_flow's parser would drop it, so it is refused"
        if what
        else f"spiffworkflow:{name} is not a SpiffWorkflow extension hennan_flow knows"
    )
    return [
        _error(
            "SPIFF-EXTENSION",
            message,
            file,
            el,
            owner,
            "remove it; data reaches a step through its form, and services and decisions are not run",
        )
    ]


def _error(code: str, message: str, file: str, el: etree._Element, element: str | None, hint: str) -> Problem:
    return Problem(code, "error", message, Location(file, el.sourceline, element), hint)


# -- call activities across files ---------------------------------------------------------------


def called_processes(tree: etree._ElementTree) -> Iterator[tuple[etree._Element, str]]:
    """(callActivity, calledElement) of every call activity in the executable processes of a document."""
    for proc in tree.getroot().iter(_B + "process"):
        if not _executable(proc):
            continue
        for el in proc.iter(_B + "callActivity"):
            called = (el.get("calledElement") or "").strip()
            if called:
                yield el, called


def callee_problems(documents: Iterable[tuple[str, etree._ElementTree]]) -> dict[str, list[Problem]]:
    """Per file: call activities whose process is in none of the files checked together, or that call
    back into their own process (directly or through other call activities: SpiffWorkflow would make
    subprocesses until the case's step bound, each slower than the last)."""
    docs = list(documents)
    defined: dict[str, str] = {}
    for file, tree in docs:
        for proc in tree.getroot().iter(_B + "process"):
            defined.setdefault(proc.get("id", ""), file)
    together = ", ".join(Path(f).name for f, _ in docs)
    calls: dict[str, set[str]] = {}  # process → the processes its call activities call
    for _file, tree in docs:
        for el, called in called_processes(tree):
            calls.setdefault(_process_of(el), set()).add(called)
    out: dict[str, list[Problem]] = {}
    for file, tree in docs:
        for el, called in called_processes(tree):
            caller = _process_of(el)
            if called in defined and _reaches(calls, called, caller):
                out.setdefault(file, []).append(
                    _error(
                        "CALL-RECURSION",
                        f'calledElement="{called}" calls back into process "{caller}" '
                        + ("itself" if called == caller else "through its own call activities")
                        + "; every case would start subprocesses without end",
                        file,
                        el,
                        el.get("id"),
                        "call a process that does not call this one; repeat work with a loop "
                        "(standardLoopCharacteristics) or a gateway back to an earlier step",
                    )
                )
            if called in defined:
                continue
            out.setdefault(file, []).append(
                _error(
                    "SPIFF-CALLED-PROCESS",
                    f'calledElement="{called}" is a process of none of the files checked together '
                    f"({together})",
                    file,
                    el,
                    el.get("id"),
                    "validate and deploy the file that defines it together with this one "
                    "(name both files, or their folder)",
                )
            )
    return out


def _process_of(el: etree._Element) -> str:
    node = el.getparent()
    while node is not None and node.tag != _B + "process":
        node = node.getparent()
    return node.get("id", "") if node is not None else ""


def _reaches(calls: dict[str, set[str]], start: str, target: str) -> bool:
    """True when process `start` calls `target`, directly or through the processes it calls."""
    seen, stack = {start}, [start]
    while stack:
        pid = stack.pop()
        if pid == target:
            return True
        for nxt in calls.get(pid, ()):
            if nxt not in seen:
                seen.add(nxt)
                stack.append(nxt)
    return False


_DIAGRAM = re.compile(r"<(?:[\w.-]+:)?BPMNDiagram[\s>/]")
_CLOSE = re.compile(r"</(?:[\w.-]+:)?definitions\s*>\s*$")
_SHARED_ROOTS = {
    "message", "error", "signal", "escalation", "itemDefinition", "dataStore", "correlationProperty",
}  # fmt: skip


def with_callees(
    text: str, tree: etree._ElementTree, documents: Iterable[tuple[str, etree._ElementTree]]
) -> str:
    """The document `text` (parsed as `tree`) with every process its call activities reach that is
    defined in another of `documents` appended, so the one stored definition holds what it calls.

    The file's own text is kept as it is (its lines stay where they are); each appended process and
    the messages, errors, signals… of its file not defined here already come after a comment naming
    the file. The text is unchanged when nothing is called across files.
    """
    here = {p.get("id") for p in tree.getroot().iter(_B + "process")}
    where: dict[str, tuple[str, etree._Element]] = {}
    for file, other in documents:
        for proc in other.getroot().iter(_B + "process"):
            where.setdefault(proc.get("id", ""), (file, proc))
    needed: list[str] = []
    queue = [called for _, called in called_processes(tree)]
    while queue:
        pid = queue.pop(0)
        if pid in here or pid in needed or pid not in where:
            continue
        needed.append(pid)
        queue.extend(c.get("calledElement", "").strip() for c in where[pid][1].iter(_B + "callActivity"))
    if not needed:
        return text
    ids = {el.get("id") for el in tree.getroot().iter() if isinstance(el.tag, str) and el.get("id")}
    parts: list[str] = []
    for pid in needed:
        file, proc = where[pid]
        parts.append(
            f"  <!-- hennan-flow: process {pid} from {Path(file).name}, deployed with this file -->\n"
        )
        for root_el in proc.getparent() if proc.getparent() is not None else ():
            if _local(root_el) in _SHARED_ROOTS and root_el.get("id") not in ids:
                ids.add(root_el.get("id"))
                parts.append("  " + etree.tostring(root_el, encoding="unicode", with_tail=False) + "\n")
        parts.append("  " + etree.tostring(proc, encoding="unicode", with_tail=False) + "\n")
    block = "".join(parts)
    found = _DIAGRAM.search(text) or _CLOSE.search(text)  # root elements come before the diagram
    if found is None:
        raise ValueError("the document has no closing </definitions>")
    return text[: found.start()] + block + text[found.start() :]
