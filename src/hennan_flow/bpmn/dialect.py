"""Read the hf: dialect (DESIGN §2) out of a parsed BPMN tree into the typed bundle model.

The reader never raises for a bad bundle: it returns what it could read plus the problems it saw
(placement, duplicates, dangling references), each with file, line and element, so that `validate`
can list them all and the audit can refuse clearly. XSD checks of attribute values live in
`validate`; the reader re-checks only what it must to build a sound model.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from lxml import etree

from ..errors import BpmnError, Location
from .bundle import Bundle, Department, Flow, LegalBasis, Material, Node, SpecialProcedure, Step, TimeLimit
from .diagnostics import Problem, Severity
from .xmlsafe import parse_file

__all__ = [
    "BPMN_NS",
    "FLOW_NODES",
    "HF_NS",
    "Document",
    "load_document",
    "owner_id",
    "read_document",
    "resolve_form",
]

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
HF_NS = "urn:hennan-flow:bpmn:1"
NS = {"bpmn": BPMN_NS, "hf": HF_NS}

_B = f"{{{BPMN_NS}}}"
_H = f"{{{HF_NS}}}"

# flow nodes we keep in the graph (local names in the BPMN namespace)
FLOW_NODES = {
    "startEvent", "endEvent", "intermediateCatchEvent", "intermediateThrowEvent", "boundaryEvent",
    "task", "userTask", "manualTask", "serviceTask", "scriptTask", "businessRuleTask", "sendTask",
    "receiveTask", "callActivity", "subProcess", "transaction", "adHocSubProcess",
    "exclusiveGateway", "parallelGateway", "inclusiveGateway", "eventBasedGateway", "complexGateway",
}  # fmt: skip
_STEP_TAGS = {"userTask", "manualTask"}
_STEP_LEVEL = {"step", "timeLimit", "form", "materials", "specialProcedure"}
_TRUE = {"true", "1"}
_FALSE = {"false", "0"}


@dataclass
class Document:
    """One BPMN file: its tree, the bundles (one per process) and the reader's problems."""

    file: str
    tree: etree._ElementTree
    bundles: list[Bundle] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    @property
    def has_hf(self) -> bool:
        return any(b.has_hf for b in self.bundles)


def load_document(path: str | os.PathLike[str], *, display: str | None = None) -> Document:
    """Parse a file with the hardened parser and read its bundles (raises BpmnError if unusable)."""
    name = display or str(path)
    return read_document(parse_file(path, display=name), name)


def owner_id(el: etree._Element) -> str | None:
    """The id of the BPMN element a node belongs to (itself, or the nearest flow element above it)."""
    node: etree._Element | None = el
    while node is not None:
        tag = node.tag if isinstance(node.tag, str) else ""
        nid = node.get("id")
        if (
            nid
            and tag.startswith(_B)
            and not tag.endswith(("EventDefinition", "Expression", "Characteristics"))
        ):
            return str(nid)
        node = node.getparent()
    return None


def _local(el: etree._Element) -> str:
    tag = el.tag
    if not isinstance(tag, str):
        return ""
    return tag.rsplit("}", 1)[-1]


def _ns(el: etree._Element) -> str:
    tag = el.tag
    if not isinstance(tag, str) or not tag.startswith("{"):
        return ""
    return tag[1:].split("}", 1)[0]


class _Reader:
    def __init__(self, file: str) -> None:
        self.file = file
        self.problems: list[Problem] = []

    def problem(
        self,
        code: str,
        message: str,
        el: etree._Element | None,
        *,
        hint: str | None = None,
        severity: Severity = "error",
        element: str | None = None,
        material: str | None = None,
        line: int | None = None,
    ) -> None:
        if line is None and el is not None:
            line = el.sourceline
        if element is None and el is not None:
            element = el.get("id")
        loc = Location(file=self.file, line=line, element=element, material=material)
        self.problems.append(Problem(code, severity, message, loc, hint))

    # -- attribute helpers -------------------------------------------------------------------
    def _int(self, el: etree._Element, attr: str, owner: str | None) -> int | None:
        raw = el.get(attr)
        if raw is None:
            return None
        try:
            value = int(raw.strip())
        except ValueError:
            value = 0
        if value <= 0:
            self.problem(
                "HF-VALUE",
                f'hf:{_local(el)} {attr}="{raw}" is not a positive whole number',
                el,
                element=owner,
                hint=f'write {attr} as a whole number of units, e.g. {attr}="5"',
            )
            return None
        return value

    def _required(self, el: etree._Element, attrs: tuple[str, ...], owner: str | None) -> bool:
        missing = [a for a in attrs if not (el.get(a) or "").strip()]
        for attr in missing:
            self.problem(
                "HF-REQUIRED",
                f"hf:{_local(el)} has no {attr}",
                el,
                element=owner,
                hint=f'add the required attribute {attr}="…" (see src/hennan_flow/schemas/hf.xsd)',
            )
        return not missing

    def time_limit(self, el: etree._Element, owner: str | None) -> TimeLimit | None:
        if not self._required(el, ("unit",), owner):
            return None
        legal = self._int(el, "legal", owner)
        promised = self._int(el, "promised", owner)
        if el.get("legal") is None and el.get("promised") is None:
            self.problem(
                "HF-LIMIT",
                "hf:timeLimit gives neither legal nor promised",
                el,
                element=owner,
                hint='add legal="N" (法定时限) and promised="M" (承诺时限)',
            )
            return None
        notice = el.get("noticeBefore")
        red = el.get("redAfter")
        yellow = el.get("yellowLightAt")
        try:
            yellow_at = float(yellow) if yellow is not None else 0.8
        except ValueError:
            yellow_at = 0.8  # reported by the XSD check
        try:
            notice_before = int(notice) if notice is not None else 1
            red_after = int(red) if red is not None else 3
        except ValueError:
            notice_before, red_after = 1, 3  # reported by the XSD check
        return TimeLimit(
            unit=el.get("unit", "workday"),
            legal=legal,
            promised=promised,
            notice_before=notice_before,
            yellow_light_at=yellow_at,
            red_after=red_after,
            line=el.sourceline,
            extensions=self._int(el, "extensions", owner) if el.get("extensions") is not None else None,
            max_extension=self._int(el, "maxExtension", owner)
            if el.get("maxExtension") is not None
            else None,
        )

    # -- elements ----------------------------------------------------------------------------
    def hf_children(self, el: etree._Element) -> list[etree._Element]:
        ext = el.find(_B + "extensionElements")
        if ext is None:
            return []
        return [c for c in ext if _ns(c) == HF_NS]

    def single(self, children: list[etree._Element], name: str, owner: str | None) -> etree._Element | None:
        found = [c for c in children if _local(c) == name]
        for extra in found[1:]:
            self.problem(
                "HF-DUPLICATE",
                f"a second hf:{name} on the same element",
                extra,
                element=owner,
                hint=f"keep one hf:{name}; the first one is used",
            )
        return found[0] if found else None

    def material(self, el: etree._Element, step_id: str) -> Material | None:
        mid = (el.get("id") or "").strip()
        name = (el.get("name") or "").strip()
        if not mid or not name:
            self.problem(
                "HF-MATERIAL",
                f"hf:material {'has no id' if not mid else 'has no name'}",
                el,
                element=step_id,
                material=mid or None,
                hint='every material needs id="…" (unique in the process) and name="…" (材料名称)',
            )
            return None
        self._required(el, ("necessity", "source"), step_id)
        bases = []
        for b in el:
            if _ns(b) == HF_NS and _local(b) == "legalBasis":
                if not self._required(b, ("doc", "level"), step_id):
                    continue
                bases.append(
                    LegalBasis(
                        doc=b.get("doc", "").strip(),
                        level=b.get("level", "").strip(),
                        article=(b.get("article") or "").strip() or None,
                        line=b.sourceline,
                    )
                )
        covered = tuple((el.get("coveredBy") or "").split())
        supplement = self._int(el, "supplementWithin", step_id)
        return Material(
            id=mid,
            name=name,
            necessity=el.get("necessity", "required"),
            source=el.get("source", "applicant"),
            step=step_id,
            issuer=el.get("issuer"),
            issuer_can_verify=(el.get("issuerCanVerify", "true").strip().lower() in _TRUE),
            e_license=(el.get("eLicense") or "").strip() or None,
            online_check=(el.get("onlineCheck") or "").strip() or None,
            commitment=(el.get("commitment", "false").strip().lower() in _TRUE),
            produced_by=(el.get("producedBy") or "").strip() or None,
            covered_by=covered,
            supplement_within=supplement,
            legal_bases=tuple(bases),
            line=el.sourceline,
        )

    def step(self, el: etree._Element, department: Department | None) -> Step:
        sid = el.get("id", "")
        children = self.hf_children(el)
        step_el = self.single(children, "step", sid)
        limit_el = self.single(children, "timeLimit", sid)
        form_el = self.single(children, "form", sid)
        mats_el = self.single(children, "materials", sid)
        kind = step_el.get("kind", "promised") if step_el is not None else "promised"
        limit = self.time_limit(limit_el, sid) if limit_el is not None else None
        if kind == "immediate" and limit is not None:
            self.problem(
                "HF-IMMEDIATE-LIMIT",
                "an immediate step (即办件) takes no time limit; this one is ignored",
                limit_el,
                element=sid,
                severity="warning",
                hint='remove the hf:timeLimit, or make the step kind="promised"',
            )
            limit = None
        materials: list[Material] = []
        if mats_el is not None:
            for m in mats_el:
                if _ns(m) == HF_NS and _local(m) == "material":
                    mat = self.material(m, sid)
                    if mat is not None:
                        materials.append(mat)
        procedures = []
        for p in children:
            if _local(p) != "specialProcedure":
                continue
            if not self._required(p, ("kind", "limit", "unit"), sid):
                continue
            limit_days = self._int(p, "limit", sid)
            if limit_days is None:
                continue
            procedures.append(
                SpecialProcedure(
                    kind=p.get("kind", "other"),
                    limit=limit_days,
                    unit=p.get("unit", "workday"),
                    line=p.sourceline,
                )
            )
        form_ref = (form_el.get("ref") or "").strip() or None if form_el is not None else None
        if form_el is not None and form_ref is None:
            self._required(form_el, ("ref",), sid)
        return Step(
            id=sid,
            name=el.get("name") or sid,
            kind=kind,
            item=step_el.get("item") if step_el is not None else None,
            result=((step_el.get("result") or "").strip() or None) if step_el is not None else None,
            department=department.code if department else None,
            lane=department.name if department else None,
            time_limit=limit,
            form=form_ref,
            form_line=form_el.sourceline if form_el is not None else None,
            materials=tuple(materials),
            special_procedures=tuple(procedures),
            tag=_local(el),
            line=el.sourceline,
            category=(step_el.get("category") or "licence").strip() if step_el is not None else "licence",
        )

    def process(self, proc: etree._Element) -> Bundle:
        key = proc.get("id", "")
        hf_any = proc.find(".//" + _H + "*") is not None
        children = self.hf_children(proc)
        bundle_el = self.single(children, "bundle", key)
        limit_el = self.single(children, "timeLimit", key)
        for c in children:
            if _local(c) not in {"bundle", "timeLimit"}:
                self.problem(
                    "HF-PLACEMENT",
                    f"hf:{_local(c)} does not belong on a process",
                    c,
                    element=key,
                    hint="put hf:bundle and the whole-case hf:timeLimit on the process; steps carry the rest",
                )
        if bundle_el is not None:
            self._required(bundle_el, ("code", "lifecycle"), key)
        case_limit = self.time_limit(limit_el, key) if limit_el is not None else None

        # lanes: departments, and which node sits in which lane
        departments: list[Department] = []
        lane_of: dict[str, Department] = {}
        bare: dict[str, etree._Element] = {}  # node id -> first lane without hf:department holding it
        for lane in proc.iter(_B + "lane"):
            lane_hf = self.hf_children(lane)
            dept_el = self.single(lane_hf, "department", lane.get("id"))
            for c in lane_hf:
                if _local(c) != "department":
                    self.problem(
                        "HF-PLACEMENT",
                        f"hf:{_local(c)} does not belong on a lane",
                        c,
                        element=lane.get("id"),
                        hint="a lane carries only hf:department",
                    )
            refs = [r.text.strip() for r in lane.findall(_B + "flowNodeRef") if r.text and r.text.strip()]
            if dept_el is None or not self._required(dept_el, ("code",), lane.get("id")):
                for ref in refs:
                    bare.setdefault(ref, lane)
                continue
            dept = Department(
                code=dept_el.get("code", "").strip(),
                name=(lane.get("name") or dept_el.get("code", "")).strip(),
                lane=lane.get("id", ""),
                line=lane.sourceline,
                accountable=(dept_el.get("accountable") or "true").strip().lower() not in _FALSE,
            )
            departments.append(dept)
            for ref in refs:
                lane_of.setdefault(ref, dept)

        nodes: list[Node] = []
        flows: list[Flow] = []
        steps: list[Step] = []
        self._walk(proc, None, None, lane_of, nodes, flows, steps)

        self._check_materials(steps)
        if hf_any:
            self._check_departments(steps, bare)
        name = proc.get("name") or key
        return Bundle(
            key=key,
            name=name,
            file=self.file,
            line=proc.sourceline,
            code=bundle_el.get("code") if bundle_el is not None else None,
            lifecycle=(bundle_el.get("lifecycle") or "other") if bundle_el is not None else "other",
            lead=bundle_el.get("lead") if bundle_el is not None else None,
            time_limit=case_limit,
            departments=tuple(departments),
            steps=tuple(steps),
            nodes=tuple(nodes),
            flows=tuple(flows),
            executable=proc.get("isExecutable", "true").strip().lower() in _TRUE,
            has_hf=hf_any,
        )

    def _walk(
        self,
        container: etree._Element,
        parent: str | None,
        inherited: Department | None,
        lane_of: dict[str, Department],
        nodes: list[Node],
        flows: list[Flow],
        steps: list[Step],
    ) -> None:
        for el in container:
            local = _local(el)
            if _ns(el) != BPMN_NS:
                continue
            if local == "sequenceFlow":
                cond = el.find(_B + "conditionExpression")
                flows.append(
                    Flow(
                        id=el.get("id", ""),
                        source=el.get("sourceRef", ""),
                        target=el.get("targetRef", ""),
                        condition=(cond.text or "").strip() or None if cond is not None else None,
                        line=el.sourceline,
                        name=(el.get("name") or "").strip() or None,
                    )
                )
                continue
            if local not in FLOW_NODES:
                continue
            nid = el.get("id", "")
            dept = lane_of.get(nid, inherited)
            hf = self.hf_children(el)
            message = _message_name(el)
            form_el = self.single(hf, "form", nid) if message is not None else None
            form_ref = (form_el.get("ref") or "").strip() or None if form_el is not None else None
            if form_el is not None and form_ref is None:
                self._required(form_el, ("ref",), nid)
            nodes.append(
                Node(
                    id=nid,
                    kind=local,
                    name=el.get("name"),
                    line=el.sourceline,
                    attached_to=el.get("attachedToRef"),
                    parent=parent,
                    default=el.get("default"),
                    department=dept.code if dept else None,
                    message=message,
                    form=form_ref,
                    form_line=form_el.sourceline if form_el is not None else None,
                )
            )
            if local in _STEP_TAGS:
                steps.append(self.step(el, dept))
            else:
                for c in hf:
                    if c is form_el:
                        continue  # the data a message brings (Engine.deliver_message)
                    if _local(c) in _STEP_LEVEL:
                        self.problem(
                            "HF-PLACEMENT",
                            f"hf:{_local(c)} is only read on a userTask or manualTask, not on a {local}",
                            c,
                            element=nid,
                            hint="move it to the user step it describes",
                        )
            if local in {"subProcess", "transaction", "adHocSubProcess"}:
                self._walk(el, nid, dept, lane_of, nodes, flows, steps)

    def _check_departments(self, steps: list[Step], bare: dict[str, etree._Element]) -> None:
        """A step in a lane without hf:department is in no work queue: an error on that lane."""
        orphans: dict[int, tuple[etree._Element, list[str]]] = {}
        for s in steps:
            if s.department is not None:
                continue
            lane = bare.get(s.id)
            if lane is not None:
                orphans.setdefault(id(lane), (lane, []))[1].append(s.id)
                continue
            self.problem(
                "HF-NO-DEPARTMENT",
                "this step is in no lane with an hf:department, so no work queue holds it",
                None,
                element=s.id,
                severity="warning",
                hint='put the step in a lane that carries <hf:department code="…"/>',
                line=s.line,
            )
        for lane, held in orphans.values():
            shown = ", ".join(f'"{h}"' for h in held[:5]) + (" …" if len(held) > 5 else "")
            self.problem(
                "HF-NO-DEPARTMENT",
                f'lane "{lane.get("name") or lane.get("id")}" holds step(s) {shown} but has no hf:department, '
                "so no department's work queue would ever show them",
                lane,
                hint='add <bpmn:extensionElements><hf:department code="…"/></bpmn:extensionElements> to the lane',
            )

    def _check_materials(self, steps: list[Step]) -> None:
        seen: dict[str, Material] = {}
        step_ids = {s.id for s in steps}
        for s in steps:
            for m in s.materials:
                if m.id in seen:
                    self.problem(
                        "HF-DUP-MATERIAL",
                        f'material id "{m.id}" is used twice in the process (first at line {seen[m.id].line})',
                        None,
                        element=s.id,
                        material=m.id,
                        hint="give every hf:material an id unique in the process",
                        line=m.line,
                    )
                else:
                    seen[m.id] = m
        for s in steps:
            for m in s.materials:
                if m.produced_by is not None and m.produced_by not in step_ids:
                    self.problem(
                        "HF-UNKNOWN-REF",
                        f'producedBy="{m.produced_by}" names no step of this process',
                        None,
                        element=s.id,
                        material=m.id,
                        hint="name the id of the user step whose result this material is",
                        line=m.line,
                    )
                for ref in m.covered_by:
                    if ref not in seen:
                        self.problem(
                            "HF-UNKNOWN-REF",
                            f'coveredBy names "{ref}", which is no material of this process',
                            None,
                            element=s.id,
                            material=m.id,
                            hint="list ids of hf:material elements, separated by spaces",
                            line=m.line,
                        )


def read_document(tree: etree._ElementTree, file: str) -> Document:
    """Read every process of a parsed BPMN tree into bundles, collecting problems."""
    root = tree.getroot()
    doc = Document(file=file, tree=tree)
    if _ns(root) != BPMN_NS or _local(root) != "definitions":
        raise BpmnError(
            f"不是 BPMN 2.0 文件：根元素是 <{_local(root) or root.tag}>，不是 bpmn:definitions",
            hint=f'BPMN 2.0 文件以 <definitions xmlns="{BPMN_NS}"> 开头',
            location=Location(file=file, line=root.sourceline),
        )
    reader = _Reader(file)
    for proc in root.findall(_B + "process"):
        doc.bundles.append(reader.process(proc))
    doc.problems = reader.problems
    return doc


def resolve_form(ref: str, bpmn_file: str, forms_dir: str | os.PathLike[str] | None = None) -> Path | None:
    """Where `hf:form ref` lives: --forms DIR, else forms/ beside the BPMN's folder, else the package's."""
    candidates: list[Path] = []
    if forms_dir is not None:
        candidates.append(Path(forms_dir))
    else:
        candidates.append(Path(bpmn_file).resolve().parent.parent / "forms")
        from ..resources import packaged_forms

        candidates.append(packaged_forms())
    for base in candidates:
        path = base / f"{ref}.schema.json"
        if path.is_file():
            return path
    return None


def _message_name(el: etree._Element) -> str | None:
    """The name of the message a catch event or receive task waits for (the `bpmn:message` it
    refers to: its name, else its id), or None for any other element."""
    local = _local(el)
    if local == "receiveTask":
        ref = el.get("messageRef")
    elif local in {"intermediateCatchEvent", "boundaryEvent"}:
        definition = el.find(_B + "messageEventDefinition")
        ref = definition.get("messageRef") if definition is not None else None
    else:
        return None
    if not ref:
        return None
    for message in el.getroottree().getroot().iter(_B + "message"):
        if message.get("id") == ref:
            return str(message.get("name") or "").strip() or str(ref)
    return str(ref)
