"""Issue 19 on the county's own library: what the applicant's checklists say (one per scenario, no form
collected online, a 告知承诺书 for every commitment), and the bundle corrections checked against the
statute texts (docs/bundles.md, "Corrections checked against the statute texts").

Each assertion names the fact of the statute it stands for; each fails on the library as it was
before the corrections (the old flow order, the old materials, the old citations).
"""

from __future__ import annotations

import json
from functools import cache

import pytest

from helpers import FORMS, PROCESSES
from hennan_flow.audit import BundleAudit, FlowGraph, audit_paths
from hennan_flow.bpmn.bundle import Bundle, Material
from hennan_flow.bpmn.dialect import load_document

KEYS = sorted(p.stem for p in PROCESSES.glob("*.bpmn"))
# 清税 and the 社保/医保/公积金 cancellations: every deregistration runs them
CLEARANCES = ("tax_clearance", "social_insurance_cancel", "medical_insurance_cancel", "housing_fund_cancel")


@cache
def _audit(key: str) -> BundleAudit:
    report = audit_paths([str(PROCESSES / f"{key}.bpmn")])
    assert not report.validation, report.validation
    (bundle,) = report.bundles
    return bundle


@cache
def _bundle(key: str) -> Bundle:
    doc = load_document(PROCESSES / f"{key}.bpmn", display=f"processes/{key}.bpmn")
    return next(b for b in doc.bundles if b.key == key)


def _material(key: str, material: str) -> Material:
    found = [m for s in _bundle(key).steps for m in s.materials if m.id == material]
    assert len(found) == 1, f"{key}: material {material!r}"
    return found[0]


def _cites(m: Material) -> set[tuple[str, str | None]]:
    return {(b.doc, b.article) for b in m.legal_bases}


# -- the checklists (Done when, bullet 2) --------------------------------------------------------


@pytest.mark.parametrize("key", KEYS)
def test_no_form_collected_online_is_on_any_checklist(key: str) -> None:
    audit = _audit(key)
    online = {(v.step, v.material) for v in audit.online_forms}
    for sc in audit.scenarios:
        on_list = {(e.step, e.material) for e in sc.checklist if e.kind == "material"}
        assert not online & on_list, f"{key} / {sc.name}: {sorted(online & on_list)}"
    assert not online & {(e.step, e.material) for e in audit.checklist if e.kind == "material"}
    for v in audit.online_forms:  # collected by a form the step has
        step = _bundle(key).step(v.step)
        assert step is not None and step.form is not None and v.form == step.form


@pytest.mark.parametrize("key", KEYS)
def test_every_commitment_letter_is_on_each_checklist_whose_scenario_runs_its_step(key: str) -> None:
    audit = _audit(key)
    committed = [v for v in audit.materials if v.verdict == "exempt" and v.exempt_by == "commitment"]
    for v in committed:
        letter = f"签署告知承诺书（替代：{v.name}）"
        assert (v.step, v.material, letter) in {(e.step, e.material, e.name) for e in audit.checklist}
        for sc in audit.scenarios:
            names = {(e.step, e.material): e.name for e in sc.checklist if e.kind == "commitment"}
            if v.step in sc.steps:
                assert names.get((v.step, v.material)) == letter, f"{key} / {sc.name}: {letter}"
            else:
                assert (v.step, v.material) not in names, f"{key} / {sc.name}: {letter} off its path"


def test_deregistration_lists_simple_and_ordinary_checklists_apart() -> None:
    audit = _audit("enterprise_deregistration")
    lists = {sc.name: [e.name for e in sc.checklist] for sc in audit.scenarios}
    # 细则 第四十七条: 申请书 (collected online by the acceptance form) and 全体投资人承诺书 only
    assert lists == {"简易注销": ["全体投资人承诺书"], "一般注销": ["股东会解散决议", "清算报告"]}
    assert {v.name for v in audit.online_forms} >= {"企业注销登记申请书"}
    simple = next(sc for sc in audit.scenarios if sc.name == "简易注销")
    # 清税 and the 社保/医保/公积金 cancellations run on the 简易注销 path too
    assert set(CLEARANCES) <= set(simple.steps)
    assert "liquidation_notice" not in simple.steps and "ordinary_cancellation" not in simple.steps


# -- the corrections, each against its statute ---------------------------------------------------


def test_enterprise_opening_corrections() -> None:
    premises = _material("enterprise_opening", "premises_proof")
    assert ("《中华人民共和国市场主体登记管理条例实施细则》", "第二十五条第（三）项") in _cites(premises)
    assert not any(a and a.startswith("第二十六条") for _, a in _cites(premises))  # §26: officers' papers
    # the 法定代表人 is a 登记事项 (条例 第八条): its appointment paper is required, not 容缺
    legal_rep = _material("enterprise_opening", "legal_rep_appointment")
    assert legal_rep.necessity == "required"
    assert ("《中华人民共和国市场主体登记管理条例实施细则》", "第二十六条") in _cites(legal_rep)
    officers = _material("enterprise_opening", "officer_appointment")
    assert officers.necessity == "tolerable" and "法定代表人" not in officers.name
    assert ("《中华人民共和国市场主体登记管理条例》", "第九条第（四）项") in _cites(officers)
    # the 统一社会信用代码 is what registration issues: the department enters it, not the applicant
    schema = json.loads((FORMS / "enterprise_opening" / "register.schema.json").read_text(encoding="utf-8"))
    assert schema["properties"]["credit_code"].get("readOnly") is True


def test_enterprise_deregistration_corrections() -> None:
    b = _bundle("enterprise_deregistration")
    ids = {m.id for s in b.steps for m in s.materials}
    assert "debt_clearance_proof" not in ids  # 细则 第四十七条: 申请书 + 全体投资人承诺书 only
    assert b.step("liquidation_filing") is None  # no 清算组备案 since 2022 (条例 第三十二条, 细则 第四十五条)
    notice = b.step("liquidation_notice")
    assert notice is not None and notice.kind == "immediate" and "备案" not in (notice.result or "")
    graph = FlowGraph.of(b)
    for step in CLEARANCES:
        assert graph.always(step), f"{step} runs on both paths"
        assert graph.runs_before(step, "simple_cancellation"), step
        assert graph.runs_before(step, "ordinary_cancellation"), step


def test_after_death_corrections() -> None:
    b = _bundle("after_death")
    graph = FlowGraph.of(b)
    # 殡葬管理条例 第十三条第（二）项: cremation on the death certificate alone
    assert graph.runs_before("death_certificate", "cremation")
    assert not graph.runs_before("household_cancel", "cremation")
    cremation = b.step("cremation")
    assert cremation is not None and all(m.produced_by != "household_cancel" for m in cremation.materials)
    kinship = _cites(_material("after_death", "kinship_proof"))
    assert ("《中华人民共和国社会保险法》", "第十七条") in kinship
    assert ("《中华人民共和国社会保险法》", "第十四条") in kinship
    assert ("《中华人民共和国社会保险法》", "第四十九条") not in kinship  # unemployment benefit


def test_construction_project_corrections() -> None:
    b = _bundle("construction_project")
    graph = FlowGraph.of(b)
    # 城乡规划法 第三十六条: the 选址意见书 only for 划拨 land
    assert not graph.always("land_preexamination")
    into = [f for f in b.flows if f.target == "land_preexamination"]
    assert [f.name for f in into] == ["划拨"]
    # 环境影响评价法 第二十五条, 水土保持法 第二十六条: they forbid starting construction only
    for approval in ("eia_approval", "soil_water_plan"):
        assert not graph.runs_before(approval, "drawing_review")
        assert not graph.runs_before(approval, "fire_design_review")
        assert graph.runs_before(approval, "construction_permit")
    # 国办发〔2019〕11号's 120 working days are a national target, not a statute
    assert b.time_limit is not None and b.time_limit.legal is None and b.time_limit.promised == 60


def test_restaurant_opening_corrections() -> None:
    b = _bundle("restaurant_opening")
    sign = _cites(_material("restaurant_opening", "sign_design"))
    assert ("《城市市容和环境卫生管理条例》", "第十一条") not in sign  # 第二款: large outdoor ads only
    assert ("《城市市容和环境卫生管理条例》", "第十一条第一款") in sign
    # 城镇排水与污水处理条例 第二十一条 names 餐饮: the drainage permit runs on every path
    drainage = b.step("drainage_permit")
    assert drainage is not None and FlowGraph.of(b).always("drainage_permit")
    assert ("《城镇排水与污水处理条例》", "第二十一条") in {
        (lb.doc, lb.article) for m in drainage.materials for lb in m.legal_bases
    }


def test_newborn_corrections() -> None:
    b = _bundle("newborn")
    parents = _cites(_material("newborn", "parents_id"))
    assert not any(doc == "《中华人民共和国母婴保健法》" for doc, _ in parents)
    assert ("《中华人民共和国居民身份证法》", "第十三条") in parents
    # 母婴保健法 第二十三条: the 助产机构 issues the 出生医学证明, not the 卫健局
    step = b.step("birth_certificate")
    assert step is not None and step.department == "midwife"
    dept = b.department("midwife")
    assert dept is not None and "助产机构" in dept.name
