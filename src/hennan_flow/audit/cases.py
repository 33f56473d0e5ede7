"""Named pass/fail cases of each rule (`rules/rNN_name.toml`): the rules' documentation, run as tests.

A case file holds, for one rule::

    rule = "R1"
    [[case]]
    name = "fail_no_legal_basis"           # pass_… expects no finding of the rule, fail_… at least one
    description = "…"                      # what the case shows, in a sentence
    steps = ['''<bpmn:userTask id="register" …>…</bpmn:userTask>''']   # chained start → … → end
    # or: process = '''…the whole bpmn:process body, flows included…'''
    [[case.expect]]                        # every finding of the rule, exactly
    element = "register"
    material = "premises_proof"            # omitted for step-level findings
    severity = "error"                     # default: the rule's severity
    verdict = "cancel"                     # optional: the material's final verdict
    # optional, what the applicant is told (DESIGN §12), each compared exactly when given:
    checklist = ["公司章程", "签署告知承诺书（替代：住所证明）"]   # the union checklist, in order
    online_forms = ["application"]                                # ids of the online_form materials
    validation = ["SPIFF-RESERVED-ID"]    # the codes of validate's errors on the case as a file, [] for none
                                          # (DESIGN §12: they come first, and such a report is never clean)
    [[case.scenario]]                                             # every scenario, in order
    name = "简易注销"
    checklist = ["全体投资人承诺书"]

The file `checklist.toml` (rule = "checklist") holds cases of what no single rule decides: the online
forms, the commitment letters and the scenarios; its `expect` entries name a material and its verdict,
and no finding is compared.

Snippets use the prefixes `bpmn:` and `hf:`; the harness adds the namespaces, the process and (for
`steps`) the start event, the end event and the sequence flows.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from importlib import resources
from itertools import pairwise
from pathlib import Path

from lxml import etree

from ..bpmn.dialect import BPMN_NS, HF_NS, Document, read_document
from ..bpmn.xmlsafe import parse_bytes
from ..errors import ConfigError, Location

__all__ = ["ExpectedFinding", "ExpectedScenario", "RuleCase", "case_document", "case_files", "load_cases"]

_B = f"{{{BPMN_NS}}}"


@dataclass(frozen=True)
class ExpectedFinding:
    element: str
    material: str | None = None
    severity: str | None = None
    verdict: str | None = None


@dataclass(frozen=True)
class ExpectedScenario:
    name: str
    checklist: tuple[str, ...]


@dataclass(frozen=True)
class RuleCase:
    rule: str
    name: str
    description: str
    xml: str
    expect: tuple[ExpectedFinding, ...]
    file: str
    checklist: tuple[str, ...] | None = None
    online_forms: tuple[str, ...] | None = None
    scenarios: tuple[ExpectedScenario, ...] | None = None
    validation: tuple[str, ...] | None = None

    @property
    def passes(self) -> bool:
        return self.name.startswith("pass")


def case_files() -> list[Path]:
    """The case files shipped beside the rule modules (and `checklist.toml`), in name order."""
    return sorted(Path(str(resources.files("hennan_flow.audit"))).joinpath("rules").glob("*.toml"))


def _wrap(process_body: str, key: str) -> str:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<bpmn:definitions xmlns:bpmn="{BPMN_NS}" xmlns:hf="{HF_NS}" id="defs_{key}" '
        'targetNamespace="urn:hennan-flow:cases">\n'
        f'<bpmn:process id="{key}" name="{key}" isExecutable="true">\n{process_body}\n</bpmn:process>\n'
        "</bpmn:definitions>\n"
    )


def _chain(steps: list[str], key: str) -> str:
    body = '<bpmn:startEvent id="start"/>\n' + "\n".join(steps) + '\n<bpmn:endEvent id="end"/>'
    root = etree.fromstring(_wrap(body, key).encode("utf-8"))
    proc = root.find(_B + "process")
    assert proc is not None
    ids = [el.get("id", "") for el in proc if isinstance(el.tag, str) and el.tag.startswith(_B)]
    for i, (source, target) in enumerate(pairwise(ids), start=1):
        etree.SubElement(proc, _B + "sequenceFlow", id=f"flow_{i}", sourceRef=source, targetRef=target)
    return str(etree.tostring(root, encoding="unicode", pretty_print=True))


def load_cases(path: Path) -> list[RuleCase]:
    """Read one case file; a malformed one raises ConfigError naming the file."""
    where = Location(file=str(path))
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"规则用例文件：{exc}", location=where) from exc
    rule = data.get("rule")
    if not isinstance(rule, str):
        raise ConfigError('规则用例文件：须写 rule = "R…"', location=where)
    out = []
    for raw in data.get("case", []):
        name = raw.get("name", "")
        if "steps" in raw:
            xml = _chain(list(raw["steps"]), name)
        elif "process" in raw:
            xml = _wrap(raw["process"], name)
        else:
            raise ConfigError(f"规则用例 {name!r}：须写 steps 或 process", location=where)
        expect = tuple(
            ExpectedFinding(
                element=e["element"],
                material=e.get("material"),
                severity=e.get("severity"),
                verdict=e.get("verdict"),
            )
            for e in raw.get("expect", [])
        )
        checklist = raw.get("checklist")
        online = raw.get("online_forms")
        scenarios = raw.get("scenario")
        validation = raw.get("validation")
        out.append(
            RuleCase(
                rule,
                name,
                " ".join(raw.get("description", "").split()),
                xml,
                expect,
                str(path),
                checklist=tuple(checklist) if checklist is not None else None,
                online_forms=tuple(online) if online is not None else None,
                scenarios=tuple(
                    ExpectedScenario(sc["name"], tuple(sc.get("checklist", []))) for sc in scenarios
                )
                if scenarios is not None
                else None,
                validation=tuple(validation) if validation is not None else None,
            )
        )
    return out


def case_document(case: RuleCase) -> Document:
    """The case's BPMN, parsed and read like a file on disk."""
    display = f"{Path(case.file).name}::{case.name}"
    return read_document(parse_bytes(case.xml.encode("utf-8"), file=display), display)
