"""Versioned definitions: what `deploy` stores and what a case runs.

A definition is versioned by content: the SHA-256 of the BPMN bytes and of the form schemas it
references. Deploying unchanged content creates nothing; changed content creates the next version.
A running case keeps the version it started on. A loaded definition (bundle model, executable spec,
forms) is cached in memory by definition id, so each version is parsed once per process.

A process whose call activities call processes of other files deployed with it is stored with
those processes appended (`fidelity.with_callees`): the definition holds what it calls, and a
change to a called process is a new version of its callers too.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from ..bpmn.bundle import Bundle
from ..bpmn.dialect import read_document, resolve_form
from ..bpmn.fidelity import with_callees
from ..bpmn.parser import ProcessSpecs, build_specs, new_parser
from ..bpmn.validate import FileResult, add_callee_problems, bundle_files, validate_file
from ..bpmn.xmlsafe import parse_bytes
from ..errors import BpmnError, FindingsError, Location
from ..stepforms.data import FormValidator, build_validator, check_form_data
from ..stepforms.schema import bundle_form, sensitive_fields

__all__ = ["Candidate", "LoadedDefinition", "collect", "load_definition"]


@dataclass
class Candidate:
    """A bundle about to be deployed: its BPMN, its forms and the hash of both."""

    key: str
    name: str
    file: str
    bpmn: str
    forms: dict[str, Any]
    content_hash: str


@dataclass
class LoadedDefinition:
    """A deployed definition ready to run: the bundle model, the spec, the form schemas."""

    id: int
    key: str
    version: int
    bundle: Bundle
    specs: ProcessSpecs
    forms: dict[str, Any] = field(default_factory=dict)  # by form ref: step forms and what they $ref
    _validators: dict[str, FormValidator] = field(default_factory=dict, repr=False)

    def form_of(self, step_id: str) -> dict[str, Any] | None:
        step = self.bundle.step(step_id)
        if step is None or step.form is None:
            return None
        schema = self.forms.get(step.form)
        return schema if isinstance(schema, dict) else None

    def check_data(self, step_id: str, data: Mapping[str, Any]) -> None:
        """Validate a step's submission against its form (FormDataError per field; nothing changes).

        Standalone: it needs no session and takes no lock (the stored schemas are in memory), so it can
        run before the completion's write transaction. Bounded in time and size (`stepforms.data`); a
        `false` form refuses everything; a stored form that cannot be checked safely raises ConfigError.
        """
        step = self.bundle.step(step_id)
        node = self.bundle.node(step_id) if step is None else None  # a message catch (deliver_message)
        ref = step.form if step else node.form if node else None
        schema = self.forms.get(ref) if ref is not None else None
        validator = self._validators.get(step_id)
        if validator is None and isinstance(schema, dict):
            validator = build_validator(schema, self.forms, form=ref, step=step_id)
            self._validators[step_id] = validator
        if ref is not None and ref not in self.forms:
            schema = False  # a step whose form was not stored accepts nothing
        check_form_data(schema, data, step=step_id, form=ref, validator=validator, forms=self.forms)

    @cached_property
    def sensitive_fields(self) -> frozenset[str]:
        """The fields its forms mark `"x-hf-sensitive": true` (personal data)."""
        return frozenset().union(*(sensitive_fields(schema) for schema in self.forms.values()))

    @cached_property
    def cyclic_steps(self) -> frozenset[str]:
        """Steps that lie on a loop of the process graph: the only ones that can come round again."""
        succ: dict[str, list[str]] = {}
        for flow in self.bundle.flows:
            succ.setdefault(flow.source, []).append(flow.target)
        for boundary in self.bundle.nodes:  # a boundary event continues its host's flow
            if boundary.attached_to:
                succ.setdefault(boundary.attached_to, []).append(boundary.id)
        on_loop = set()
        for step in self.bundle.steps:
            seen, stack = set(), list(succ.get(step.id, ()))
            while stack:
                node = stack.pop()
                if node == step.id:
                    on_loop.add(step.id)
                    break
                if node not in seen:
                    seen.add(node)
                    stack.extend(succ.get(node, ()))
        return frozenset(on_loop)


def content_hash(bpmn: bytes, forms: dict[str, Any]) -> str:
    digest = hashlib.sha256(bpmn)
    for ref in sorted(forms):
        digest.update(b"\0form\0" + ref.encode() + b"\0")
        digest.update(json.dumps(forms[ref], sort_keys=True, ensure_ascii=False).encode())
    return digest.hexdigest()


def collect(
    paths: Iterable[str],
    *,
    forms_dir: str | None,
    allow_code: bool,
    allow_findings: bool,
    audit: bool = True,
) -> list[Candidate]:
    """Validate (and audit) every bundle under `paths`; refuse all if any has errors."""
    results: list[FileResult] = []
    for path, exists in bundle_files(paths):
        if not exists:
            raise BpmnError("文件或目录不存在", hint="检查路径", location=Location(file=path))
        results.append(validate_file(path, forms_dir=forms_dir, allow_scripts=allow_code))
    if not results:
        raise BpmnError(
            "没有找到 BPMN 文件（*.bpmn、*.bpmn20.xml）", location=Location(file=", ".join(paths))
        )
    add_callee_problems(results)  # a call activity may call a process of another file deployed with it
    errors = [p for r in results for p in r.problems if p.severity == "error"]
    if errors:
        lines = "\n  ".join(p.line_text() for p in errors[:20])
        more = f"\n  … and {len(errors) - 20} more" if len(errors) > 20 else ""
        raise FindingsError(
            f"deploy refused: {len(errors)} validation error(s) (never overridable):\n  {lines}{more}",
            hint="run hennan-flow validate on the files and fix them",
        )
    if audit:
        _audit_or_refuse(results, allow_findings)
    candidates = []
    documents = [(r.file, r.document.tree) for r in results if r.document is not None]
    for result in results:
        doc = result.document
        assert doc is not None and result.text is not None
        # the text validate decoded (UTF-16, GBK … declared as UTF-8 now), never the file read again
        text = _with_callees(result.text, doc.tree, result.file, documents)
        data = text.encode("utf-8")
        for bundle in doc.bundles:
            if not bundle.executable:
                continue
            forms: dict[str, Any] = {}
            for _owner, ref, _line in bundle.form_refs():
                found = resolve_form(ref, result.file, forms_dir)
                assert found is not None  # validate checked it
                forms.update(bundle_form(found, ref))  # the form and the schemas it $refs
            candidates.append(
                Candidate(
                    key=bundle.key,
                    name=bundle.name,
                    file=result.file,
                    bpmn=text,
                    forms=forms,
                    content_hash=content_hash(data, forms),
                )
            )
    keys = [c.key for c in candidates]
    dupes = sorted({k for k in keys if keys.count(k) > 1})
    if dupes:
        raise BpmnError(
            f"流程编号 {'、'.join(dupes)} 在多个文件中定义",
            hint="每个事项包须有自己的流程编号",
        )
    return candidates


def _with_callees(text: str, tree: Any, file: str, documents: list[tuple[str, Any]]) -> str:
    """The file's BPMN with the processes it calls from the other files appended (built once here,
    so a composition SpiffWorkflow cannot build is refused at deploy, not at the first case)."""
    merged = with_callees(text, tree, documents)
    if merged == text:
        return text
    combined = parse_bytes(merged.encode("utf-8"), file=file)
    parser = new_parser(combined, file)
    for bundle in read_document(combined, file).bundles:
        if bundle.executable:
            build_specs(combined, file, bundle.key, parser=parser)
    return merged


def _audit_or_refuse(results: list[FileResult], allow_findings: bool) -> None:
    from ..audit import audit_document

    errors: list[Any] = []
    for result in results:
        if result.document is None:
            continue
        report = audit_document(result.document)
        errors.extend(f for f in report.findings if f.severity == "error")
    if errors and not allow_findings:
        lines = "\n  ".join(f.line_text() for f in errors[:20])
        more = f"\n  ……另有 {len(errors) - 20} 项" if len(errors) > 20 else ""
        raise FindingsError(
            f"未部署：五个一律审查发现 {len(errors)} 项错误：\n  {lines}{more}",
            hint="用 hennan-flow audit 检查这些文件并修正；确需部署时加 --allow-findings",
        )


def load_definition(
    row_id: int, key: str, version: int, source_file: str, bpmn: str, forms_json: str
) -> LoadedDefinition:
    """Rebuild a deployed definition from its stored BPMN (hardened parse, no file access)."""
    tree = parse_bytes(bpmn.encode("utf-8"), file=source_file)
    doc = read_document(tree, source_file)
    bundle = next((b for b in doc.bundles if b.key == key), None)
    if bundle is None:
        raise BpmnError(f"已存的流程定义中没有流程 {key!r}", location=Location(file=source_file))
    specs = build_specs(tree, source_file, key, parser=new_parser(tree, source_file))
    return LoadedDefinition(row_id, key, version, bundle, specs, json.loads(forms_json))
