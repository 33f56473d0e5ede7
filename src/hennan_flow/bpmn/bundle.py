"""The typed model of a bundle: what the hf: dialect (DESIGN §2) says about a BPMN process.

Every element keeps its file and line so that every diagnostic can point at it. The model is
frozen: the audit, the clock and the engine read it, nobody mutates it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Literal

__all__ = [
    "PROCEDURE_NAMES",
    "Bundle",
    "Department",
    "Flow",
    "LegalBasis",
    "Material",
    "Node",
    "SpecialProcedure",
    "Step",
    "TimeLimit",
]

Lifecycle = Literal["enterprise", "person", "project", "other"]
StepKind = Literal["promised", "immediate"]
LimitUnit = Literal["workday", "natural_day", "hour"]
Necessity = Literal["required", "optional", "tolerable"]
Source = Literal["applicant", "government", "intermediary", "other"]
BasisLevel = Literal["law", "admin_regulation", "local_regulation", "rule", "normative_doc"]
ProcedureKind = Literal[
    "hearing",
    "tendering",
    "auction",
    "inspection",
    "testing",
    "quarantine",
    "appraisal",
    "expert_review",
    "site_survey",
    "publicity",
    "intermediary",
    "other",
]
PROCEDURE_NAMES: dict[str, str] = {
    "hearing": "听证",
    "tendering": "招标",
    "auction": "拍卖",
    "inspection": "检验",
    "testing": "检测",
    "quarantine": "检疫",
    "appraisal": "鉴定",
    "expert_review": "专家评审",
    "site_survey": "现场勘查",
    "publicity": "公示",
    "intermediary": "中介服务",
    "other": "特别程序",
}
"""The Chinese name of each special-procedure kind (forms, the 特别程序 data set)."""


@dataclass(frozen=True)
class LegalBasis:
    """`hf:legalBasis`: the law or document that requires a material."""

    doc: str
    level: str
    article: str | None = None
    line: int | None = None


@dataclass(frozen=True)
class Material:
    """`hf:material`: one item of a step's material list (办理材料)."""

    id: str
    name: str
    necessity: str
    source: str
    step: str  # id of the step that asks for it
    issuer: str | None = None
    issuer_can_verify: bool = True
    e_license: str | None = None
    online_check: str | None = None
    commitment: bool = False
    produced_by: str | None = None
    covered_by: tuple[str, ...] = ()
    supplement_within: int | None = None
    legal_bases: tuple[LegalBasis, ...] = ()
    line: int | None = None


@dataclass(frozen=True)
class TimeLimit:
    """`hf:timeLimit` on a step or on the whole case, with the signal thresholds."""

    unit: str
    legal: int | None = None
    promised: int | None = None
    notice_before: int = 1
    yellow_light_at: float = 0.8
    red_after: int = 3
    line: int | None = None
    extensions: int | None = None  # how many 延长审批 a step instance may have (None: no bound)
    max_extension: int | None = None  # their working days in total (None: no bound)


@dataclass(frozen=True)
class SpecialProcedure:
    """`hf:specialProcedure`: time spent in it is not counted (行政许可法 §45)."""

    kind: str
    limit: int
    unit: str
    line: int | None = None


@dataclass(frozen=True)
class Department:
    """A lane: `hf:department code`, named by the lane."""

    code: str
    name: str
    lane: str
    line: int | None = None
    # `accountable="false"`: no government supervisor holds this lane to account (a bank): its
    # steps get deadlines and signals, never cards
    accountable: bool = True


@dataclass(frozen=True)
class Node:
    """A flow node of the process graph (task, event, gateway), for order reasoning."""

    id: str
    kind: str  # local BPMN tag: userTask, exclusiveGateway, startEvent, ...
    name: str | None = None
    line: int | None = None
    attached_to: str | None = None  # boundary events: the host activity
    parent: str | None = None  # the enclosing subProcess, None at the top level
    default: str | None = None  # gateways and activities: the id of the default flow
    department: str | None = None  # the `hf:department` code of its lane
    message: str | None = None  # message catch events and receive tasks: the message's name
    form: str | None = None  # a message catch's `hf:form` ref: the data the message brings
    form_line: int | None = None


@dataclass(frozen=True)
class Flow:
    """A sequence flow."""

    id: str
    source: str
    target: str
    condition: str | None = None
    line: int | None = None
    name: str | None = (
        None  # the flow's label: an applicant's choice at an exclusive gateway (audit scenarios)
    )


@dataclass(frozen=True)
class Step:
    """A user step: a BPMN task with its `hf:step`, limits, form and materials."""

    id: str
    name: str
    kind: str = "promised"
    item: str | None = None
    result: str | None = None
    department: str | None = None
    lane: str | None = None
    time_limit: TimeLimit | None = None
    form: str | None = None
    form_line: int | None = None
    materials: tuple[Material, ...] = ()
    special_procedures: tuple[SpecialProcedure, ...] = ()
    tag: str = "userTask"
    line: int | None = None
    # 行政许可 licence (R8 requires its legal limit) | 公共服务 service | other
    category: str = "licence"


@dataclass(frozen=True)
class Bundle:
    """One executable BPMN process and everything the hf: dialect says about it."""

    key: str
    name: str
    file: str
    line: int | None = None
    code: str | None = None
    lifecycle: str = "other"
    lead: str | None = None
    time_limit: TimeLimit | None = None
    departments: tuple[Department, ...] = ()
    steps: tuple[Step, ...] = ()
    nodes: tuple[Node, ...] = ()
    flows: tuple[Flow, ...] = ()
    executable: bool = True
    has_hf: bool = False
    _by_id: dict[str, Step] = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._by_id.update({s.id: s for s in self.steps})

    def step(self, step_id: str) -> Step | None:
        """The step with this BPMN id, or None."""
        return self._by_id.get(step_id)

    def node(self, node_id: str) -> Node | None:
        """The flow node with this BPMN id, or None."""
        return next((n for n in self.nodes if n.id == node_id), None)

    def form_refs(self) -> Iterator[tuple[str, str, int | None]]:
        """(element id, form ref, line) of every `hf:form`: the steps', then the message catches'."""
        for step in self.steps:
            if step.form is not None:
                yield step.id, step.form, step.form_line
        for node in self.nodes:
            if node.form is not None:
                yield node.id, node.form, node.form_line

    def materials(self) -> Iterator[Material]:
        """Every material of every step, in document order."""
        for step in self.steps:
            yield from step.materials

    def department(self, code: str) -> Department | None:
        return next((d for d in self.departments if d.code == code), None)
