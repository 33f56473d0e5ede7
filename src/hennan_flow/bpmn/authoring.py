"""What a designer writing a bundle by hand trips over: checks and hints that name the fix.

* A namespace that looks like hennan_flow's but is not (`urn:hennan-flow:bpmn:2`, `urn:hennan_flow:…`):
  its elements would be ignored without a word (`HF-NAMESPACE`, an error naming the right URI).
* An executable process with user tasks and no hf: at all (`HF-NONE`), a user task without `hf:form`
  (`HF-NO-FORM`: any data is accepted), a file without diagram interchange (`BPMN-NO-DIAGRAM`: bpmn.io
  cannot open it): warnings.
* Near misses: a misspelt hf: attribute or element gets "did you mean …?", from the names the shipped
  XSD (`src/hennan_flow/schemas/hf.xsd`) declares, so the suggestion never drifts from the dialect.

Hints point at files a designer has: the XSD, and the README section "The hf: dialect in one screen".
"""

from __future__ import annotations

import re
from functools import cache

from lxml import etree

from ..errors import Location
from .diagnostics import Problem
from .dialect import HF_NS, Document, owner_id
from .flowgraph import near_miss

__all__ = ["DIALECT_HINT", "XSD_FILE", "authoring_problems", "suggest"]

XSD_FILE = "src/hennan_flow/schemas/hf.xsd"
DIALECT_HINT = f'see {XSD_FILE} and the README section "The hf: dialect in one screen"'
_DI_NS = "http://www.omg.org/spec/BPMN/20100524/DI"
_XS = "{http://www.w3.org/2001/XMLSchema}"
_UNKNOWN_ATTRIBUTE = re.compile(
    r"Element 'hf:(\w+)', attribute '([^']+)': The attribute '[^']+' is not allowed"
)
_UNKNOWN_ELEMENT = re.compile(r"unknown hf: element <hf:([^>]+)>")


@cache
def _declared() -> dict[str, tuple[str, ...]]:
    """hf: element name -> its attribute names, as the shipped XSD declares them."""
    from ..resources import schema_path

    root = etree.parse(str(schema_path("hf.xsd"))).getroot()
    return {
        el.get("name", ""): tuple(a.get("name", "") for a in el.iter(_XS + "attribute") if a.get("name"))
        for el in root.findall(_XS + "element")
    }


def suggest(message: str) -> str:
    """The XSD's message, with the near miss of an unknown hf: attribute or element appended."""
    declared = _declared()
    found = _UNKNOWN_ATTRIBUTE.search(message)
    if found is not None:
        element, attribute = found.groups()
        guess = near_miss(attribute, declared.get(element, ()))
        if guess is not None:
            return f"{message.rstrip('.')} (did you mean {guess}?)"
        owners = {a: name for name, attrs in declared.items() for a in attrs}
        guess = near_miss(attribute, owners)
        if guess is not None:
            return f"{message.rstrip('.')} (did you mean {guess}? It is an attribute of hf:{owners[guess]})"
        return message
    found = _UNKNOWN_ELEMENT.search(message)
    if found is not None:
        guess = near_miss(found.group(1), declared)
        if guess is not None:
            return f"{message} (did you mean <hf:{guess}>?)"
    return message


def _squash(uri: str) -> str:
    return re.sub(r"[^a-z0-9]", "", uri.lower())


def _looks_like_hf(uri: str) -> bool:
    if uri == HF_NS:
        return False
    squashed = _squash(uri)
    return (
        "hennan" in squashed or "hennanflow" in squashed or near_miss(squashed, [_squash(HF_NS)]) is not None
    )


def _namespace_problems(root: etree._Element, file: str) -> list[Problem]:
    first_use: dict[str, etree._Element] = {}  # every namespace in use, with its first element
    for el in root.iter():
        tag = el.tag
        if isinstance(tag, str) and tag.startswith("{"):
            first_use.setdefault(tag[1:].split("}", 1)[0], el)
    first_use = {uri: el for uri, el in first_use.items() if _looks_like_hf(uri)}
    declared = {uri for uri in root.nsmap.values() if uri and _looks_like_hf(uri)}
    if root.nsmap.get("hf") not in (None, HF_NS):
        declared.add(str(root.nsmap["hf"]))
    out = []
    for uri in sorted(declared | set(first_use)):
        el = first_use.get(uri, root)
        out.append(
            Problem(
                "HF-NAMESPACE",
                "error",
                f'the namespace "{uri}" is not hennan_flow\'s, so its elements would be ignored; the hf: '
                f"dialect's namespace is {HF_NS}",
                Location(file, el.sourceline, _owner(el)),
                f'declare xmlns:hf="{HF_NS}" ({DIALECT_HINT})',
            )
        )
    return out


def _owner(el: etree._Element) -> str | None:
    return owner_id(el) if el.getparent() is not None else None


def authoring_problems(doc: Document) -> list[Problem]:
    """Namespace near misses, bundles without hf:, user tasks without a form, files without a diagram."""
    root = doc.tree.getroot()
    problems = _namespace_problems(root, doc.file)
    for bundle in doc.bundles:
        user_tasks = [s for s in bundle.steps if s.tag == "userTask"]
        if not bundle.has_hf:
            if bundle.executable and user_tasks and not problems:
                problems.append(
                    Problem(
                        "HF-NONE",
                        "warning",
                        "this executable process has user tasks but no hf: annotation at all: no department "
                        "work queue, time limit, form or material list will apply",
                        Location(doc.file, bundle.line, bundle.key),
                        f'add xmlns:hf="{HF_NS}" and annotate its lanes and steps ({DIALECT_HINT})',
                    )
                )
            continue
        for step in user_tasks:
            if step.form is None:
                problems.append(
                    Problem(
                        "HF-NO-FORM",
                        "warning",
                        "this user task has no hf:form, so any data is accepted when it is completed",
                        Location(doc.file, step.line, step.id),
                        f'add <hf:form ref="{bundle.key}/{step.id}"/> and its schema '
                        f"forms/{bundle.key}/{step.id}.schema.json",
                    )
                )
    if doc.bundles and root.find(f"{{{_DI_NS}}}BPMNDiagram") is None:
        problems.append(
            Problem(
                "BPMN-NO-DIAGRAM",
                "warning",
                "the file has no diagram (BPMN DI: bpmndi:BPMNDiagram), so bpmn.io and Camunda Modeler cannot "
                "open it",
                Location(doc.file, root.sourceline),
                "draw it in a modeler and save, or lay it out with a tool such as bpmn-auto-layout",
            )
        )
    return problems
