"""The generated diagram of files without BPMN DI (bpmn/layout.py): a shape for every flow node.

Every bundle of processes/ (its own DI removed first) and every file of the shared corpora that
validates (its DI removed too) (skipped when the corpora are absent) is laid out; each flow node at any depth gets exactly
one shape on exactly one plane, each sequence flow an edge with at least two waypoints, and shapes of
one plane never overlap.
"""

from __future__ import annotations

import copy
import os
from pathlib import Path

import pytest
from lxml import etree

from hennan_flow.bpmn.dialect import BPMN_NS, FLOW_NODES
from hennan_flow.bpmn.layout import BPMNDI_NS, has_diagram, laid_out, with_layout
from hennan_flow.bpmn.validate import BPMN_SUFFIXES, validate_paths
from hennan_flow.bpmn.xmlsafe import parse_file

PROCESSES = Path(__file__).resolve().parents[1] / "processes"
SHARED = Path(os.environ.get("HENNAN_FLOW_SHARED", Path(__file__).resolve().parents[2] / "shared"))
CORPORA = Path(os.environ.get("HENNAN_FLOW_CORPORA") or SHARED / "corpora")
_B = f"{{{BPMN_NS}}}"
_BD = f"{{{BPMNDI_NS}}}"


def _strip(root: etree._Element) -> etree._Element:
    bare = copy.deepcopy(root)
    for diagram in list(bare.iterfind(_BD + "BPMNDiagram")):
        bare.remove(diagram)
    return bare


def _flow_nodes(root: etree._Element) -> list[str]:
    """Every flow node of every process, but boundary events attached to nothing beside them."""
    out = []
    for proc in root.iterfind(_B + "process"):
        for el in proc.iter():
            if not (isinstance(el.tag, str) and el.tag.startswith(_B) and el.tag[len(_B) :] in FLOW_NODES):
                continue
            if (
                el.tag == _B + "boundaryEvent"
                and el.getparent().find(f"*[@id='{el.get('attachedToRef')}']") is None
            ):
                continue
            out.append(el.get("id", ""))
    return out


def dangling_boundary(root: etree._Element) -> bool:
    return any(
        el.getparent().find(f"*[@id='{el.get('attachedToRef')}']") is None
        for el in root.iter(_B + "boundaryEvent")
    )


def assert_drawn(root: etree._Element, file: str) -> None:
    """`root`, its own DI removed, laid out: each flow node and flow drawn once, nothing overlapping."""
    root = _strip(root)
    out = with_layout(root)
    shapes = [s.get("bpmnElement") for s in out.iter(_BD + "BPMNShape")]
    nodes = _flow_nodes(root)
    missing = sorted(set(nodes) - set(shapes))
    assert not missing, f"{file}: no shape for {missing[:5]}"
    twice = sorted({s for s in shapes if shapes.count(s) > 1})
    assert not twice, f"{file}: drawn twice {twice[:5]}"
    drawn = set(shapes)
    flows = {
        f.get("id")
        for f in root.iter(_B + "sequenceFlow")
        if f.get("sourceRef") in drawn and f.get("targetRef") in drawn
    }
    edges = {e.get("bpmnElement"): e for e in out.iter(_BD + "BPMNEdge")}
    assert flows <= set(edges), f"{file}: no edge for {sorted(flows - set(edges))[:5]}"
    for ref, edge in edges.items():
        assert len(edge.findall("{http://www.omg.org/spec/DD/20100524/DI}waypoint")) >= 2, (file, ref)
    before = {el.get("id") for el in root.iter() if isinstance(el.tag, str) and el.get("id")}
    made = [el.get("id") for d in out.iterfind(_BD + "BPMNDiagram") for el in d.iter() if el.get("id")]
    assert len(made) == len(set(made)) and not before & set(made), f"{file}: a generated id collides"
    for plane in out.iter(_BD + "BPMNPlane"):
        boxes = []
        for shape in plane.iterfind(_BD + "BPMNShape"):
            ref = shape.get("bpmnElement", "")
            element = out.xpath("//*[@id=$i]", i=ref)[0]
            if element.tag in (_B + "boundaryEvent", _B + "participant"):
                continue  # on their host's border / around their process
            b = shape.find("{http://www.omg.org/spec/DD/20100524/DC}Bounds")
            boxes.append((ref, *(float(b.get(k)) for k in ("x", "y", "width", "height"))))
        for i, (r1, x1, y1, w1, h1) in enumerate(boxes):
            for r2, x2, y2, w2, h2 in boxes[i + 1 :]:
                apart = x1 + w1 <= x2 or x2 + w2 <= x1 or y1 + h1 <= y2 or y2 + h2 <= y1
                assert apart, f"{file}: {r1} overlaps {r2}"
    # the result is well-formed BPMN XML again
    etree.fromstring(etree.tostring(out))


@pytest.mark.parametrize("path", sorted(PROCESSES.glob("*.bpmn")), ids=lambda p: p.stem)
def test_every_bundle_lays_out_without_its_di(path: Path) -> None:
    root = parse_file(str(path)).getroot()
    assert has_diagram(root)
    assert laid_out(root) is root  # the modeller's layout is kept
    assert not has_diagram(_strip(root))
    assert_drawn(root, str(path))


def test_a_loop_boundary_event_and_subprocess_are_drawn() -> None:
    xml = f"""<definitions xmlns="{BPMN_NS}" id="d" targetNamespace="t">
      <process id="p">
        <startEvent id="s"/><task id="a"/><exclusiveGateway id="g"/><endEvent id="e"/>
        <boundaryEvent id="b" attachedToRef="a"><timerEventDefinition/></boundaryEvent>
        <subProcess id="sub"><startEvent id="s2"/><task id="t2"/><sequenceFlow id="f5" sourceRef="s2" targetRef="t2"/></subProcess>
        <sequenceFlow id="f1" sourceRef="s" targetRef="a"/><sequenceFlow id="f2" sourceRef="a" targetRef="g"/>
        <sequenceFlow id="f3" sourceRef="g" targetRef="a"/><sequenceFlow id="f4" sourceRef="g" targetRef="e"/>
        <sequenceFlow id="f6" sourceRef="b" targetRef="sub"/><sequenceFlow id="f7" sourceRef="sub" targetRef="e"/>
      </process></definitions>"""
    root = etree.fromstring(xml.encode())
    assert_drawn(root, "inline")
    out = with_layout(root)
    planes = [p.get("bpmnElement") for p in out.iter(_BD + "BPMNPlane")]
    assert planes == ["p", "sub"]  # the subprocess drills down to a plane of its own
    x = {
        s.get("bpmnElement"): float(s.find("{http://www.omg.org/spec/DD/20100524/DC}Bounds").get("x"))
        for s in out.iter(_BD + "BPMNShape")
    }
    assert x["s"] < x["a"] < x["g"] < x["e"]  # layered left to right despite the loop g -> a
    assert x["a"] < x["sub"]  # the boundary event's target comes after its host


def test_a_boundary_event_attached_to_nothing_is_left_out() -> None:
    xml = f"""<definitions xmlns="{BPMN_NS}" id="d" targetNamespace="t"><process id="p">
      <startEvent id="s"/><task id="a"/><boundaryEvent id="b" attachedToRef="nothing"/>
      <sequenceFlow id="f1" sourceRef="s" targetRef="a"/></process></definitions>"""
    root = etree.fromstring(xml.encode())
    assert dangling_boundary(root)
    shapes = [s.get("bpmnElement") for s in with_layout(root).iter(_BD + "BPMNShape")]
    assert shapes == ["s", "a"]


@pytest.mark.slow
@pytest.mark.skipif(not CORPORA.is_dir(), reason=f"no corpora at {CORPORA} (set HENNAN_FLOW_CORPORA)")
def test_every_validating_corpus_file_lays_out() -> None:
    files = sorted(
        str(p) for p in CORPORA.rglob("*") if p.is_file() and p.name.lower().endswith(BPMN_SUFFIXES)
    )
    good = [r.file for r in validate_paths(files).files if r.ok]
    assert good, "no corpus file validates"
    for file in good:
        assert_drawn(parse_file(file).getroot(), file)
    print(f"laid out {len(good)} validating corpus files of {len(files)}")
