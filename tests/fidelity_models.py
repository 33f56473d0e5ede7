"""Small BPMN models the fidelity tests (issue 29) write into a temp folder: written here, not copied
from the foreign corpora.

`process(pid, body)` wraps flow elements in a definitions document; `chain(...)` writes the
sequence flows of a straight path. Every model is plain BPMN 2.0 (no hf: dialect needed to run).
"""

from __future__ import annotations

from itertools import pairwise
from pathlib import Path

BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"
SPIFF = "http://spiffworkflow.org/bpmn/schema/1.0/core"


def process(pid: str, body: str, *, roots: str = "", name: str | None = None, extra: str = "") -> str:
    """A definitions document with one executable process `pid` (and `extra` processes after it)."""
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<bpmn:definitions xmlns:bpmn="{BPMN}" xmlns:spiffworkflow="{SPIFF}" id="defs_{pid}"'
        ' targetNamespace="http://example.org/hennan-flow/tests">\n'
        f"{roots}"
        f'  <bpmn:process id="{pid}" name="{name or pid}" isExecutable="true">\n{body}\n  </bpmn:process>\n'
        f"{extra}"
        "</bpmn:definitions>\n"
    )


def chain(*ids: str, prefix: str = "f") -> str:
    """Sequence flows along `ids` in order: f_a_b from a to b, …"""
    return "\n".join(
        f'    <bpmn:sequenceFlow id="{prefix}_{a}_{b}" sourceRef="{a}" targetRef="{b}"/>'
        for a, b in pairwise(ids)
    )


def flow(source: str, target: str, condition: str | None = None, *, fid: str | None = None) -> str:
    fid = fid or f"f_{source}_{target}"
    if condition is None:
        return f'    <bpmn:sequenceFlow id="{fid}" sourceRef="{source}" targetRef="{target}"/>'
    return (
        f'    <bpmn:sequenceFlow id="{fid}" sourceRef="{source}" targetRef="{target}">'
        f"<bpmn:conditionExpression><![CDATA[{condition}]]></bpmn:conditionExpression></bpmn:sequenceFlow>"
    )


def user(*ids: str) -> str:
    return "\n".join(f'    <bpmn:userTask id="{i}" name="{i}"/>' for i in ids)


def timer_catch(eid: str, kind: str, expression: str, *, name: str | None = None) -> str:
    named = f' name="{name}"' if name else ""
    return (
        f'    <bpmn:intermediateCatchEvent id="{eid}"{named}><bpmn:timerEventDefinition>'
        f"<bpmn:{kind}><![CDATA[{expression}]]></bpmn:{kind}>"
        "</bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>"
    )


def message_catch(eid: str, message: str) -> str:
    return (
        f'    <bpmn:intermediateCatchEvent id="{eid}">'
        f'<bpmn:messageEventDefinition messageRef="{message}"/></bpmn:intermediateCatchEvent>'
    )


def write(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path
