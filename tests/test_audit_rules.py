"""The rules describe themselves, register once, and pass their own named cases (the documentation).

The cases live beside the rule modules (`hennan_flow/audit/rules/rNN_name.toml`); each `pass_…` case
expects no error from its rule, each `fail_…` case a report from it, and both list every finding of the
rule exactly (element, material, severity) plus, where given, the material's final verdict and what the
applicant is told: the union checklist, the online forms, the checklist per scenario (DESIGN §12), and
the codes of validate's errors on the case as a file, which come first and make the report unclean.
`checklist.toml` holds the cases of those that no single rule decides.
"""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest

from hennan_flow.audit import (
    BaseRule,
    RuleSet,
    audit_document,
    audit_paths,
    default_rules,
    describe,
    load_catalog,
)
from hennan_flow.audit.cases import RuleCase, case_document, case_files, load_cases
from hennan_flow.audit.catalog import Catalog
from hennan_flow.audit.rules import rule_classes

DESIGN_RULES = ["R1", "R2", "R3", "R4", "R5", "R6", "R7", "R8", "R10", "R11"]
SOURCES = {  # DESIGN §3, the 五个一律 text of each rule
    "R1": "没有法律法规规定或开具单位无法调查核实证明的材料一律取消",
    "R2": "能够通过电子证照证明或在线政务服务平台核验核查的材料一律免于提交",
    "R3": "能够采取申请人书面承诺方式解决的材料一律免于提交",
    "R4": "能被其他材料涵盖或者代替的材料一律取消",
    "R5": "“其他、有关”等模糊字段、兜底条款一律取消",
}
SEVERITIES = {"R3": "note"}  # every other rule's default is error


def all_cases() -> list[RuleCase]:
    return [case for path in case_files() for case in load_cases(path)]


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog()


def test_default_rules_are_exactly_design_section_3() -> None:
    rules = default_rules()
    assert list(rules.ids) == DESIGN_RULES  # no R9; R10 sorts after R8; R11 is DESIGN §12's
    assert len(rules) == 10 and "R9" not in rules


def test_duplicate_rule_id_is_refused() -> None:
    rules = default_rules()
    with pytest.raises(ValueError, match="R1 has already been registered"):
        rules.register(rule_classes()[0])


def test_register_checks_the_rule() -> None:
    class Nameless(BaseRule):
        id = "X1"
        name = "x"
        severity = "error"
        summary = "x"
        source = "x"

    with pytest.raises(ValueError, match="R<number>"):
        RuleSet([Nameless()])
    with pytest.raises(TypeError, match="not a rule"):
        RuleSet().register(object())


def test_select_and_get() -> None:
    rules = default_rules()
    assert rules.select(["R5", "R1"]).ids == ("R1", "R5")
    assert rules.get("R10") is not None and rules.get("R9") is None


@pytest.mark.parametrize("cls", rule_classes(), ids=lambda c: c.__name__)
def test_rule_conventions(cls: type[BaseRule]) -> None:
    rule = cls()
    module = inspect.getmodule(cls)
    assert module is not None
    # one rule per module, named by its id: r01_legal_basis.py holds R1 legal_basis
    number = int(rule.id[1:])
    assert Path(module.__file__ or "").name == f"r{number:02d}_{rule.name}.py"
    assert SEVERITIES.get(rule.id, "error") == rule.severity
    if rule.id in SOURCES:
        assert rule.source == SOURCES[rule.id]
    else:
        assert rule.source == "（一致性检查）"
    info = describe(rule)
    assert info.description and info.summary and not info.summary.endswith(" ")
    assert info.anti_pattern, f"{rule.id}: docstring needs an **Anti-pattern** section"
    assert info.best_practice, f"{rule.id}: docstring needs a **Best practice** section"
    # its case file sits beside it, with at least one pass and one fail case
    cases = load_cases(Path(module.__file__ or "").with_suffix(".toml"))
    assert {c.rule for c in cases} == {rule.id}
    assert any(c.name.startswith("pass_") for c in cases), f"{rule.id}: no pass_ case"
    assert any(c.name.startswith("fail_") for c in cases), f"{rule.id}: no fail_ case"
    assert all(re.fullmatch(r"(pass|fail)_[a-z0-9_]+", c.name) for c in cases)
    assert all(c.description for c in cases)


def test_every_case_file_belongs_to_a_rule() -> None:
    modules = {Path(inspect.getfile(cls)).stem for cls in rule_classes()}
    assert {p.stem for p in case_files()} == modules | {"checklist"}
    assert {c.rule for c in load_cases(next(p for p in case_files() if p.stem == "checklist"))} == {
        "checklist"
    }


@pytest.mark.parametrize("case", all_cases(), ids=lambda c: f"{c.rule}-{c.name}")
def test_rule_case(case: RuleCase, catalog: Catalog, tmp_path: Path) -> None:
    doc = case_document(case)
    assert [p for p in doc.problems if p.severity == "error"] == [], "the case itself must be valid"
    report = audit_document(doc, catalog=catalog)
    (bundle,) = report.bundles
    if case.validation is not None:  # the case as a file: validate's errors come first (DESIGN §12)
        path = tmp_path / f"{case.name}.bpmn"
        path.write_text(case.xml, encoding="utf-8")
        as_file = audit_paths([str(path)], catalog=catalog)
        assert sorted({p.code for p in as_file.validation}) == sorted(case.validation)
        assert as_file.has_errors == bool(case.validation) and as_file.fails("error") == bool(case.validation)
    if case.checklist is not None:
        assert [e.name for e in bundle.checklist] == list(case.checklist)
    if case.online_forms is not None:
        assert [v.material for v in bundle.online_forms] == list(case.online_forms)
    if case.scenarios is not None:
        got_scenarios = [(sc.name, [e.name for e in sc.checklist]) for sc in bundle.scenarios]
        assert got_scenarios == [(sc.name, list(sc.checklist)) for sc in case.scenarios]
    if case.rule == "checklist":  # what no single rule decides: verdicts, no finding compared
        assert case.expect and all(e.verdict and e.material for e in case.expect)
        assert not report.has_errors, [f.line_text() for f in report.findings if f.severity == "error"]
        verdicts = {v.material: v.verdict for v in bundle.materials}
        assert {e.material: verdicts[e.material or ""] for e in case.expect} == {
            e.material: e.verdict for e in case.expect
        }
        return
    rule = default_rules().get(case.rule)
    assert rule is not None
    got = sorted((f.element, f.material, f.severity) for f in report.findings if f.rule == case.rule)
    want = sorted((e.element, e.material, e.severity or rule.severity) for e in case.expect)
    assert got == want
    if case.passes:
        assert all(sev not in ("error", "warning") for _, _, sev in got)
    elif rule.severity != "note":
        assert any(sev in ("error", "warning") for _, _, sev in got)
    else:
        assert got  # a note-only rule (R3) fails by firing
    verdicts = {v.material: v.verdict for b in report.bundles for v in b.materials}
    for e in case.expect:
        if e.verdict is not None:
            assert e.material is not None
            assert verdicts[e.material] == e.verdict, e.material
    for f in report.findings:  # every finding names a concrete fix and quotes something
        assert f.fix and f.quoted and f.message


# the dialect's names and codes a message or fix may cite as written (attributes, levels, units)
_CITED = {
    "eLicense",
    "onlineCheck",
    "supplementWithin",
    "producedBy",
    "commitment",
    "law",
    "admin_regulation",
}
_CITED |= {"local_regulation", "rule", "normative_doc", "YYYY"}


def test_every_finding_and_reason_of_every_case_is_chinese(catalog: Catalog) -> None:
    """County designers read the messages, fixes and verdict reasons: across every rule case, once the
    ids of the case (steps, materials, forms), its names and quoted text and the dialect's markup are
    taken out, no Latin word of three letters or more is left."""
    seen: set[str] = set()
    left: list[tuple[str, str]] = []
    for case in all_cases():
        report = audit_document(case_document(case), catalog=catalog)
        ids = {case.name}
        for b in report.bundles:
            ids |= {b.key} | {s.id for s in b.steps} | {s.form for s in b.steps if s.form}
            ids |= {v.material for v in b.materials} | {v.name for v in b.materials}
        texts = [(f.rule, t) for f in report.findings for t in (f.message, f.fix)]
        texts += [("reason", v.reason) for b in report.bundles for v in b.materials]
        for rule, text in texts:
            seen.add(rule)
            text = re.sub(
                r"<[^>]*>|[\w:]+=\"[^\"]*\"|\bhf:\w+|\[\[law\]\][^）]*|“[^”]*”|《[^》]*》", " ", text
            )
            for name in sorted(ids | _CITED, key=len, reverse=True):
                text = re.sub(rf"(?<![\w-]){re.escape(name)}(?![\w-])", " ", text)
            left += [(rule, w) for w in re.findall(r"[A-Za-z]{3,}", text)]
    assert set(DESIGN_RULES) | {"reason"} <= seen  # every rule spoke
    assert left == []
