"""`hennan-flow validate`: everything that can be wrong with a bundle file before it runs.

Checks, in order: hardened well-formedness, the BPMN 2.0 XSD that SpiffWorkflow ships, the hf: XSD,
the dialect's own structure, form references, the SpiffWorkflow traps of spiffworkflow-notes §10
(reserved ids, dangling references, paths too long for its recursive task tree), the sandbox rules
for designer code, and finally that SpiffWorkflow builds an executable spec. Validation never raises
for a bad file: every problem becomes a `Problem` with file, line, element, code and hint.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from lxml import etree

from ..errors import BpmnError, Location
from .authoring import DIALECT_HINT, authoring_problems, suggest
from .diagnostics import Problem, Severity
from .dialect import BPMN_NS, HF_NS, Document, owner_id, read_document, resolve_form
from .flowgraph import BLOCKING, MAX_PATH_ELEMENTS, graph_problems
from .xmlsafe import read_source

__all__ = [
    "MAX_PATH_ELEMENTS",
    "FileResult",
    "ValidationReport",
    "add_callee_problems",
    "bundle_files",
    "validate_file",
    "validate_paths",
]

_B = f"{{{BPMN_NS}}}"
MAX_XSD_PROBLEMS = 25
BPMN_SUFFIXES = (".bpmn", ".bpmn20.xml")
UNUSABLE = frozenset({"IO-READ", "XML-ENCODING"})  # nothing could be read: exit 2, not a finding


@dataclass
class FileResult:
    """The verdict on one file."""

    file: str
    problems: list[Problem] = field(default_factory=list)
    unusable: bool = False  # missing, unreadable or not text: nothing could be checked
    document: Document | None = field(default=None, repr=False)
    text: str | None = field(default=None, repr=False)  # the file as UTF-8 text: what deploy stores

    def raise_if_unusable(self) -> None:
        """Raise the `BpmnError` (exit 2) of a file that could not be read at all."""
        if self.unusable:
            first = self.problems[0]
            raise BpmnError(first.message, hint=first.hint, location=first.location, code=first.code)

    @property
    def ok(self) -> bool:
        return not self.unusable and not any(p.severity == "error" for p in self.problems)

    def as_dict(self) -> dict[str, object]:
        return {"file": self.file, "ok": self.ok, "problems": [p.as_dict() for p in self.problems]}


@dataclass
class ValidationReport:
    files: list[FileResult]

    @property
    def exit_code(self) -> int:
        if any(f.unusable for f in self.files):
            return 2
        return 0 if all(f.ok for f in self.files) else 1

    def as_dict(self) -> dict[str, object]:
        return {"files": [f.as_dict() for f in self.files]}


def bundle_files(paths: Iterable[str]) -> Iterator[tuple[str, bool]]:
    """(path, exists) for every file named or found (recursively, *.bpmn / *.bpmn20.xml) under a folder."""
    for raw in paths:
        p = Path(raw)
        try:
            is_dir = p.is_dir()
            exists = is_dir or p.exists()
        except OSError:  # e.g. a name too long for the file system: nothing there to read
            yield raw, False
            continue
        if is_dir:
            found = sorted(
                str(f) for f in p.rglob("*") if f.is_file() and f.name.lower().endswith(BPMN_SUFFIXES)
            )
            yield from ((f, True) for f in found)
        else:
            yield raw, exists


def _missing(path: str) -> str:
    """Why a named path is not there: the system's reason, or "no such file or folder"."""
    try:
        os.stat(path)
    except FileNotFoundError:
        return "no such file or folder"
    except OSError as exc:
        return f"cannot use the path: {exc.strerror or exc}"
    return "no such file or folder"


def validate_paths(
    paths: Iterable[str], *, forms_dir: str | None = None, allow_scripts: bool = False
) -> ValidationReport:
    results = []
    for path, exists in bundle_files(paths):
        if not exists:
            loc = Location(file=path)
            results.append(
                FileResult(
                    path,
                    [Problem("IO-READ", "error", _missing(path), loc, "check the path")],
                    unusable=True,
                )
            )
            continue
        results.append(validate_file(path, forms_dir=forms_dir, allow_scripts=allow_scripts))
    add_callee_problems(results)
    return ValidationReport(results)


def add_callee_problems(results: list[FileResult]) -> None:
    """Call activities whose process none of the files checked together defines (fidelity.py)."""
    from .fidelity import callee_problems

    found = callee_problems((r.file, r.document.tree) for r in results if r.document is not None)
    for result in results:
        if result.file in found:
            result.problems += found[result.file]
            result.problems.sort(key=lambda p: (p.location.line or 0, p.code))


# -- schemas ----------------------------------------------------------------------------------


@cache
def _bpmn_schema() -> etree.XMLSchema:
    from SpiffWorkflow.bpmn.parser.BpmnParser import XSD_PATH

    return etree.XMLSchema(etree.parse(XSD_PATH))


@cache
def _hf_schema() -> etree.XMLSchema:
    from ..resources import schema_path

    return etree.XMLSchema(etree.parse(str(schema_path("hf.xsd"))))


def _xsd_problems(
    code: str, schema: etree.XMLSchema, target: etree._ElementTree | etree._Element, file: str, hint: str
) -> list[Problem]:
    if schema.validate(target):
        return []
    out = []
    for err in schema.error_log:
        message = err.message.replace(f"{{{BPMN_NS}}}", "bpmn:").replace(f"{{{HF_NS}}}", "hf:")
        out.append(Problem(code, "error", message, Location(file=file, line=err.line or None), hint))
    return out


def _check_bpmn_xsd(tree: etree._ElementTree, file: str) -> list[Problem]:
    work = copy.deepcopy(tree)
    # bpmn-js writes formalExpression where the XSD wants messagePath (SpiffWorkflow's validator does this too)
    for expr in work.getroot().iter(_B + "formalExpression"):
        parent = expr.getparent()
        if parent is not None and parent.tag == _B + "correlationPropertyRetrievalExpression":
            expr.tag = _B + "messagePath"
    problems = _xsd_problems(
        "BPMN-XSD",
        _bpmn_schema(),
        work,
        file,
        "make the file valid BPMN 2.0 (a modeler such as bpmn.io writes valid files)",
    )
    return problems[:MAX_XSD_PROBLEMS]


def _check_hf_xsd(tree: etree._ElementTree, file: str) -> list[Problem]:
    problems: list[Problem] = []
    schema = _hf_schema()
    for el in tree.getroot().iter(f"{{{HF_NS}}}*"):
        parent = el.getparent()
        if parent is not None and isinstance(parent.tag, str) and parent.tag.startswith(f"{{{HF_NS}}}"):
            continue  # validated with its top-level hf: ancestor
        owner = owner_id(el)
        for p in _xsd_problems(
            "HF-XSD", schema, el, file, f"use the hf: attributes and values ({DIALECT_HINT})"
        ):
            msg = p.message
            if "No matching global declaration" in msg:
                msg = f"unknown hf: element <hf:{etree.QName(el).localname}>"
            msg = suggest(msg)
            problems.append(Problem("HF-XSD", "error", msg, Location(file, p.location.line, owner), p.hint))
        if parent is None or parent.tag != _B + "extensionElements":
            problems.append(
                Problem(
                    "HF-PLACEMENT",
                    "error",
                    "hf: elements must sit inside bpmn:extensionElements",
                    Location(file, el.sourceline, owner),
                    "move it into the element's extensionElements",
                )
            )
    return problems[:MAX_XSD_PROBLEMS]


# -- SpiffWorkflow traps ----------------------------------------------------------------------

_REFS = {
    "errorEventDefinition": ("errorRef", "error"),
    "messageEventDefinition": ("messageRef", "message"),
    "signalEventDefinition": ("signalRef", "signal"),
    "escalationEventDefinition": ("escalationRef", "escalation"),
    "sendTask": ("messageRef", "message"),
    "receiveTask": ("messageRef", "message"),
}


def _spiff_traps(tree: etree._ElementTree, file: str) -> list[Problem]:
    root = tree.getroot()
    problems: list[Problem] = []
    reserved = {"Start", "End", "StartEventSplit", "StartEventJoin"}
    for proc in root.iter(_B + "process"):
        pid = proc.get("id", "")
        names = reserved | {f"{pid}.EndJoin"}
        for el in proc.iter():
            eid = el.get("id")
            if eid is None or not isinstance(el.tag, str):
                continue
            if eid in names or eid.endswith((".BoundaryEventSplit", ".BoundaryEventJoin")):
                problems.append(
                    Problem(
                        "SPIFF-RESERVED-ID",
                        "error",
                        f'the id "{eid}" is reserved by SpiffWorkflow for an internal task (case-sensitive)',
                        Location(file, el.sourceline, eid),
                        f'rename it, e.g. "{eid.lower().replace(".", "_")}"',
                    )
                )
    defined = {
        kind: {e.get("id", "") for e in root.iter(_B + kind)}
        for kind in ("error", "message", "signal", "escalation")
    }
    for local, (attr, kind) in _REFS.items():
        for el in root.iter(_B + local):
            ref = el.get(attr)
            if ref and ref not in defined[kind]:
                problems.append(
                    Problem(
                        "SPIFF-DANGLING-REF",
                        "error",
                        f'{attr}="{ref}" points at no bpmn:{kind} of this file',
                        Location(file, el.sourceline, owner_id(el)),
                        f'add <bpmn:{kind} id="{ref}" name="…"/> under bpmn:definitions, or fix the reference',
                    )
                )
    # a calledElement in another file: checked across the files validated together (fidelity.py)
    return problems


# -- forms ------------------------------------------------------------------------------------


def _form_issues(path: Path, ref: str) -> list[tuple[Severity, str, str]]:
    """(severity, message, hint) of a form schema and the schemas it refers to (stepforms.schema)."""
    from ..stepforms.schema import check_form

    return [(i.severity, i.message, i.hint) for i in check_form(path, ref)]


def _form_problems(doc: Document, forms_dir: str | None) -> list[Problem]:
    problems = []
    checked: dict[Path, list[tuple[Severity, str, str]]] = {}  # a form several steps use: checked once
    for bundle in doc.bundles:
        for owner, ref, line in bundle.form_refs():
            loc = Location(doc.file, line, owner)
            path = resolve_form(ref, doc.file, forms_dir)
            if path is None:
                problems.append(
                    Problem(
                        "HF-FORM",
                        "error",
                        f'form "{ref}" not found ({ref}.schema.json)',
                        loc,
                        "put the schema under forms/ beside the folder of this file, or pass --forms DIR",
                    )
                )
                continue
            if path not in checked:
                checked[path] = _form_issues(path, ref)
            problems.extend(
                Problem("HF-FORM", sev, message, loc, hint) for sev, message, hint in checked[path]
            )
    return problems


# -- one file ---------------------------------------------------------------------------------


def validate_file(
    path: str | os.PathLike[str],
    *,
    display: str | None = None,
    forms_dir: str | None = None,
    allow_scripts: bool = False,
) -> FileResult:
    """Validate one file: never raises for a bad file."""
    name = display or str(path)
    result = FileResult(name)
    try:
        source = read_source(path, display=name)
    except BpmnError as exc:
        code = exc.code or "XML-SYNTAX"
        result.problems.append(Problem.from_error(code, exc))
        result.unusable = code in UNUSABLE
        return result
    tree = source.tree
    result.text = source.text
    try:
        doc = read_document(tree, name)
    except BpmnError as exc:
        result.problems.append(Problem.from_error("BPMN-ROOT", exc))
        return result
    result.document = doc
    result.problems += _check_bpmn_xsd(tree, name)
    hf_xsd = _check_hf_xsd(tree, name)
    result.problems += hf_xsd
    # the reader re-checks attribute values the hf: XSD already reported; keep one problem per line
    xsd_lines = {p.location.line for p in hf_xsd}
    result.problems += [
        p
        for p in doc.problems
        if not (p.code in {"HF-REQUIRED", "HF-VALUE", "HF-MATERIAL"} and p.location.line in xsd_lines)
    ]
    result.problems += _form_problems(doc, forms_dir)
    result.problems += authoring_problems(doc)
    traps = _spiff_traps(tree, name) + graph_problems(tree.getroot(), name)
    result.problems += traps
    from ..runtime.expressions import code_problems

    result.problems += code_problems(doc, allow_scripts=allow_scripts)
    result.problems += _fidelity(tree, name)
    if not any(p.severity == "error" and (p.code.startswith("SPIFF-") or p.code in BLOCKING) for p in traps):
        result.problems += _build_problems(doc)
    if not doc.bundles:
        result.problems.append(
            Problem(
                "BPMN-NO-PROCESS",
                "warning",
                "the file defines no bpmn:process",
                Location(name, tree.getroot().sourceline),
                "nothing here can run",
            )
        )
    result.problems.sort(key=lambda p: (p.location.line or 0, p.code))
    return result


def _fidelity(tree: etree._ElementTree, file: str) -> list[Problem]:
    """What SpiffWorkflow would skip or drop silently (issue 29; fidelity.py)."""
    from .fidelity import fidelity_problems

    return fidelity_problems(tree, file)


def _build_problems(doc: Document) -> list[Problem]:
    from .parser import build_specs, new_parser

    problems: list[Problem] = []
    executable = [b for b in doc.bundles if b.executable]
    for b in doc.bundles:
        if not b.executable:
            problems.append(
                Problem(
                    "BPMN-NOT-EXECUTABLE",
                    "warning",
                    "isExecutable is not true; the engine will not run this process",
                    Location(doc.file, b.line, b.key),
                    'set isExecutable="true" to run it',
                )
            )
    if not executable:
        return problems
    try:
        parser = new_parser(doc.tree, doc.file)
    except BpmnError as exc:
        return [*problems, Problem.from_error("SPIFF-BUILD", exc)]
    for b in executable:
        try:
            build_specs(doc.tree, doc.file, b.key, parser=parser, require_called=False)
        except BpmnError as exc:
            problems.append(Problem.from_error("SPIFF-BUILD", exc))
    return problems
