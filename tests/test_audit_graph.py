"""Flow order over the BPMN graph (DESIGN §3 "runs before"): must-pass sets and "always runs".

Each test draws a small process and asks which steps run before which; the expected answers follow
the token semantics (what has certainly completed before a node starts).
"""

from __future__ import annotations

import pytest

from hennan_flow.audit.graph import FlowGraph
from hennan_flow.bpmn.bundle import Bundle
from hennan_flow.bpmn.dialect import BPMN_NS, read_document
from hennan_flow.bpmn.xmlsafe import parse_bytes


def graph_of(body: str) -> FlowGraph:
    xml = (
        f'<bpmn:definitions xmlns:bpmn="{BPMN_NS}" id="d" targetNamespace="urn:t">'
        f'<bpmn:process id="p" isExecutable="true">{body}</bpmn:process></bpmn:definitions>'
    )
    doc = read_document(parse_bytes(xml.encode(), file="g.bpmn"), "g.bpmn")
    bundle: Bundle = doc.bundles[0]
    return FlowGraph.of(bundle)


def flows(*pairs: str) -> str:
    out = []
    for i, pair in enumerate(pairs):
        source, target = pair.split(">")
        out.append(f'<bpmn:sequenceFlow id="x{i}" sourceRef="{source}" targetRef="{target}"/>')
    return "".join(out)


def tasks(*ids: str) -> str:
    return "".join(f'<bpmn:userTask id="{i}"/>' for i in ids)


def test_sequence() -> None:
    g = graph_of('<bpmn:startEvent id="s"/>' + tasks("a", "b", "c") + flows("s>a", "a>b", "b>c"))
    assert g.runs_before("a", "c") and g.runs_before("b", "c") and g.runs_before("s", "a")
    assert not g.runs_before("c", "a") and not g.runs_before("a", "a")
    assert g.must_pass("c") == {"s", "a", "b", "c"}
    assert all(g.always(n) for n in "abc")


def test_parallel_join_is_a_union() -> None:
    body = (
        '<bpmn:startEvent id="s"/><bpmn:parallelGateway id="fork"/><bpmn:parallelGateway id="join"/>'
        + tasks("a", "b", "after")
        + flows("s>fork", "fork>a", "fork>b", "a>join", "b>join", "join>after")
    )
    g = graph_of(body)
    assert g.runs_before("a", "after") and g.runs_before("b", "after")  # every incoming branch has run
    assert not g.runs_before("a", "b") and not g.runs_before("b", "a")
    assert g.always("a") and g.always("b")
    assert g.accompanies("a", "b") and g.accompanies("b", "a")


def test_exclusive_merge_is_an_intersection() -> None:
    body = (
        '<bpmn:startEvent id="s"/><bpmn:exclusiveGateway id="x" default="d"/><bpmn:exclusiveGateway id="m"/>'
        + tasks("first", "a", "b", "after")
        + '<bpmn:sequenceFlow id="c" sourceRef="x" targetRef="a"><bpmn:conditionExpression>k</bpmn:conditionExpression>'
        "</bpmn:sequenceFlow>"
        + '<bpmn:sequenceFlow id="d" sourceRef="x" targetRef="b"/>'
        + flows("s>first", "first>x", "a>m", "b>m", "m>after")
    )
    g = graph_of(body)
    assert not g.runs_before("a", "after") and not g.runs_before("b", "after")
    assert g.runs_before("first", "after") and g.runs_before("first", "a")
    assert not g.always("a") and not g.always("b") and g.always("after")
    assert not g.accompanies("a", "b")
    assert g.accompanies("a", "first") and g.accompanies("a", "after")


def test_inclusive_join_merges_like_exclusive() -> None:
    body = (
        '<bpmn:startEvent id="s"/><bpmn:inclusiveGateway id="split"/><bpmn:inclusiveGateway id="join"/>'
        + tasks("a", "b", "after")
        + flows("s>split", "split>a", "split>b", "a>join", "b>join", "join>after")
    )
    g = graph_of(body)
    assert not g.runs_before("a", "after") and not g.runs_before("b", "after")
    assert not g.always("a") and g.always("after")


def test_loop() -> None:
    # s > a > x(merge) > b > y(split) > x (back) | c
    body = (
        '<bpmn:startEvent id="s"/><bpmn:exclusiveGateway id="x"/><bpmn:exclusiveGateway id="y"/>'
        + tasks("a", "b", "c")
        + flows("s>a", "a>x", "x>b", "b>y", "y>x", "y>c")
    )
    g = graph_of(body)
    assert g.runs_before("a", "b") and g.runs_before("b", "c") and g.runs_before("a", "c")
    assert not g.runs_before("b", "x")  # the loop's entry can be reached without b
    assert g.always("b") and g.always("c")


def test_cycle_without_exit_guarantees_nothing_after_it() -> None:
    body = '<bpmn:startEvent id="s"/>' + tasks("a", "b", "never") + flows("s>a", "a>b", "b>a")
    g = graph_of(body)
    assert g.runs_before("a", "b")
    # "never" is a separate root (no incoming flow): the endless cycle must not claim it
    assert not g.accompanies("a", "never") and not g.always("never")
    assert not g.runs_before("a", "never") and g.reachable("never")


def test_subprocess() -> None:
    body = (
        '<bpmn:startEvent id="s"/>'
        + tasks("before")
        + '<bpmn:subProcess id="sub"><bpmn:startEvent id="ss"/><bpmn:userTask id="inner"/>'
        '<bpmn:endEvent id="se"/>'
        + flows("ss>inner", "inner>se")
        + "</bpmn:subProcess>"
        + tasks("after")
        + flows("s>before", "before>sub", "sub>after")
    )
    g = graph_of(body)
    assert g.runs_before("before", "inner")  # the subprocess starts after what precedes it
    assert g.runs_before("inner", "after")  # what it certainly runs inside has run after it
    assert not g.runs_before("after", "inner")
    assert g.always("inner")


def test_adhoc_subprocess_certainly_runs_nothing_inside() -> None:
    body = (
        '<bpmn:startEvent id="s"/>'
        '<bpmn:adHocSubProcess id="sub"><bpmn:userTask id="maybe"/></bpmn:adHocSubProcess>'
        + tasks("after")
        + flows("s>sub", "sub>after")
    )
    g = graph_of(body)
    assert not g.runs_before("maybe", "after")
    assert g.runs_before("sub", "after")


def test_boundary_event_path_excludes_its_host() -> None:
    body = (
        '<bpmn:startEvent id="s"/>'
        + tasks("first", "host", "normal", "escalate", "after")
        + '<bpmn:boundaryEvent id="timer" attachedToRef="host"/><bpmn:exclusiveGateway id="m"/>'
        + flows("s>first", "first>host", "host>normal", "timer>escalate", "normal>m", "escalate>m", "m>after")
    )
    g = graph_of(body)
    assert g.runs_before("first", "escalate")
    assert not g.runs_before("host", "escalate")  # interrupted or still running
    assert g.runs_before("host", "normal")
    assert not g.runs_before("host", "after")  # the boundary path merges in without it
    assert not g.always("normal")  # a boundary path is an alternative


def test_conditional_flows_from_an_activity() -> None:
    body = (
        '<bpmn:startEvent id="s"/>'
        + tasks("a", "both", "maybe", "default")
        + flows("s>a", "a>both")
        + '<bpmn:sequenceFlow id="c1" sourceRef="a" targetRef="maybe"><bpmn:conditionExpression>k'
        "</bpmn:conditionExpression></bpmn:sequenceFlow>"
    )
    g = graph_of(body)
    assert g.always("both")  # an unconditional flow always fires
    assert not g.always("maybe")


def test_unreachable_and_unknown_nodes() -> None:
    body = '<bpmn:startEvent id="s"/>' + tasks("a", "island_target") + flows("s>a", "ghost>a")
    g = graph_of(body)
    assert not g.runs_before("nowhere", "a") and not g.runs_before("a", "nowhere")
    # a node with no incoming flow is a root: nothing runs before it
    assert g.must_pass("island_target") == {"island_target"}
    assert not g.always("nowhere") and g.must_pass("nowhere") == frozenset()


@pytest.mark.parametrize("n", [50, 400])
def test_long_chains_stay_fast(n: int) -> None:
    ids = [f"t{i}" for i in range(n)]
    body = (
        '<bpmn:startEvent id="s"/>' + tasks(*ids) + flows("s>t0", *(f"t{i}>t{i + 1}" for i in range(n - 1)))
    )
    g = graph_of(body)
    assert g.runs_before("t0", f"t{n - 1}") and not g.runs_before(f"t{n - 1}", "t0")
