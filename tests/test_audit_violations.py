"""One deliberate violation of each rule, and a clean bundle with no false positive.

`tests/fixtures/audit/violations.bpmn` breaks every rule once; every finding's rule, severity,
element, material and line is pinned here. `clean.bpmn` (parallel split, exclusive choice, subprocess,
boundary timer, e-licences, a commitment, generated materials) yields no error.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from hennan_flow.audit import AuditReport, audit_document, audit_paths, load_catalog
from hennan_flow.bpmn.dialect import load_document
from hennan_flow.errors import BpmnError, InputError

FIXTURES = Path(__file__).parent / "fixtures" / "audit"
VIOLATIONS = str(FIXTURES / "violations.bpmn")
CLEAN = str(FIXTURES / "clean.bpmn")

# (rule, severity, element, material, line, quoted)
EXPECTED = [
    ("R1", "error", "register", "r1_no_basis", 21, "居住证明"),
    ("R2", "error", "register", "r2_id_card", 22, "法定代表人身份證"),
    ("R3", "note", "register", "r3_premises", 25, 'commitment="true"'),
    ("R5", "error", "register", "r5_other", 28, "其他相关材料"),
    ("R7", "error", "register", "r7_resolution", 31, 'necessity="tolerable"'),
    ("R10", "error", "register", "r10_appointment", 36, "国家有关规定"),
    ("R8", "error", "seal", None, 44, 'legal="1" promised="2"'),
    ("R4", "error", "seal", "r4_articles_again", 46, "公司章程"),
    ("R11", "note", "seal", "r4_articles_again", 47, "《印章业治安管理办法》"),  # uncatalogued documents
    ("R6", "error", "bank", "r6_seal_receipt", 57, "印章备案回执"),
    ("R11", "note", "bank", "r6_seal_receipt", 58, "《人民币银行结算账户管理办法》"),
]


@pytest.fixture(scope="module")
def violations() -> AuditReport:
    return audit_paths([VIOLATIONS])


def test_every_rule_once_with_its_location(violations: AuditReport) -> None:
    got = [(f.rule, f.severity, f.element, f.material, f.line, f.quoted) for f in violations.findings]
    assert got == EXPECTED  # sorted by file, line, rule
    assert {f.file for f in violations.findings} == {VIOLATIONS}
    assert {f.bundle for f in violations.findings} == {"violations"}
    lines = Path(VIOLATIONS).read_text(encoding="utf-8").splitlines()
    for f in violations.findings:  # the line really holds the element the finding is about
        text = lines[(f.line or 0) - 1]
        if f.rule == "R10":
            assert "国家有关规定" in text
        elif f.rule == "R11":
            assert f.quoted in text and "hf:legalBasis" in text
        elif f.material:
            assert f'id="{f.material}"' in text
        else:
            assert "hf:timeLimit" in text


def test_every_finding_has_a_message_and_a_concrete_fix(violations: AuditReport) -> None:
    for f in violations.findings:
        assert f.message and f.fix and f.quoted
    fixes = {f.rule: f.fix for f in violations.findings}
    assert 'eLicense="居民身份证"' in fixes["R2"]
    assert 'producedBy="seal"' in fixes["R6"]
    assert "supplementWithin" in fixes["R7"]
    assert "承诺时限不得超过 1 个工作日" in fixes["R8"]
    messages = {f.rule: f.message for f in violations.findings}
    assert "“居住证明”" in messages["R1"] and "予以取消" in messages["R1"]
    assert "“其他相关材料”" in messages["R5"] and "兜底表述" in messages["R5"]
    assert "免于提交" in messages["R3"] and "告知承诺" in messages["R3"]


def test_verdicts_checklist_and_figures(violations: AuditReport) -> None:
    (bundle,) = violations.bundles
    verdicts = {v.material: v.verdict for v in bundle.materials}
    assert verdicts == {
        "articles": "keep",
        "r1_no_basis": "cancel",
        "r2_id_card": "exempt",
        "r3_premises": "exempt",
        "r5_other": "cancel",
        "r7_resolution": "keep",  # R7 leaves the verdict alone
        "r10_appointment": "cancel",
        "r4_articles_again": "cancel",
        "seal_licence": "generated",  # a valid producedBy, no finding
        "r6_seal_receipt": "generated",
    }
    exempt_by = {v.material: v.exempt_by for v in bundle.materials if v.verdict == "exempt"}
    assert exempt_by == {"r2_id_card": "e_license", "r3_premises": "commitment"}
    # the commitment letter takes the exempted material's place (DESIGN §12)
    assert [(c.material, c.kind) for c in bundle.checklist] == [
        ("articles", "material"),
        ("r3_premises", "commitment"),
        ("r7_resolution", "material"),
    ]
    assert bundle.checklist[1].name == "签署告知承诺书（替代：住所（经营场所）使用证明）"
    f = bundle.figures
    assert (f.before, f.after, f.exempt_e_license, f.exempt_commitment, f.cancelled, f.generated) == (
        10,
        2,
        1,
        1,
        4,
        2,
    )
    per_step = {s.id: (s.figures.before, s.figures.after) for s in bundle.steps}
    assert per_step == {"register": (7, 2), "seal": (2, 0), "bank": (1, 0)}
    generated = {v.material: v.produced_by for v in bundle.materials if v.verdict == "generated"}
    assert generated == {"seal_licence": "register", "r6_seal_receipt": "seal"}
    assert violations.has_errors and bundle.has_errors
    assert violations.fails("error") and violations.fails("warning") and not violations.fails("never")


def test_cancel_beats_generated_beats_exempt(tmp_path: Path) -> None:
    # 营业执照副本: R2 (exempt: an e-licence name), R6 (generated: issued earlier), R10 + R1 (cancel)
    xml = (
        Path(VIOLATIONS)
        .read_text(encoding="utf-8")
        .replace(
            '<hf:material id="r6_seal_receipt" name="印章备案回执" necessity="required" source="government">\n'
            '            <hf:legalBasis doc="《人民币银行结算账户管理办法》" article="第十七条" level="rule"/>',
            '<hf:material id="r6_seal_receipt" name="营业执照副本" necessity="required" source="government">\n'
            '            <hf:legalBasis doc="相关文件" level="rule"/>',
        )
    )
    path = tmp_path / "priority.bpmn"
    path.write_text(xml, encoding="utf-8")
    report = audit_paths([str(path)])
    rules = sorted(f.rule for f in report.findings if f.material == "r6_seal_receipt")
    assert rules == ["R1", "R10", "R2", "R6"]
    (verdict,) = [v for v in report.bundles[0].materials if v.material == "r6_seal_receipt"]
    assert verdict.verdict == "cancel" and verdict.rules == ("R1", "R10")
    # without the vague basis: generated beats exempt
    path.write_text(xml.replace('doc="相关文件"', 'doc="《人民币银行结算账户管理办法》"'), encoding="utf-8")
    (verdict,) = [v for v in audit_paths([str(path)]).bundles[0].materials if v.material == "r6_seal_receipt"]
    assert verdict.verdict == "generated" and verdict.produced_by == "register"


def test_clean_bundle_has_no_error() -> None:
    report = audit_paths([CLEAN])
    assert not report.has_errors
    # the two exemptions, and a document the legal-basis catalogue does not list, as notes
    assert [f.rule for f in report.findings] == ["R2", "R3", "R11"]
    assert all(f.severity == "note" for f in report.findings)
    (bundle,) = report.bundles
    verdicts = {v.material: v.verdict for v in bundle.materials}
    assert verdicts["medical_receipt"] == "generated"  # produced inside the subprocess before it
    assert verdicts["bank_seal_receipt"] == "generated"  # produced on a parallel branch before the join
    assert verdicts["fund_form_company"] == verdicts["fund_form_branch"] == "keep"  # exclusive alternatives
    assert bundle.figures.before == 14 and bundle.figures.after == 7 and bundle.figures.generated == 5


def test_clean_bundle_stays_clean_with_the_county_catalogue() -> None:
    report = audit_paths([CLEAN], catalog=load_catalog([str(FIXTURES / "county.toml")]))
    assert not report.has_errors


def test_audit_document_and_a_plain_bpmn_process(tmp_path: Path) -> None:
    plain = tmp_path / "plain.bpmn"
    plain.write_text(
        '<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d" '
        'targetNamespace="urn:t"><bpmn:process id="leave" isExecutable="true"><bpmn:startEvent id="s"/>'
        '<bpmn:userTask id="approve"/><bpmn:sequenceFlow id="f" sourceRef="s" targetRef="approve"/>'
        "</bpmn:process></bpmn:definitions>",
        encoding="utf-8",
    )
    report = audit_document(load_document(plain))
    assert report.findings == () and not report.has_errors  # no hf: dialect, nothing to audit (no R8)
    (bundle,) = report.bundles
    assert not bundle.audited and bundle.figures.before == 0 and bundle.steps[0].id == "approve"


def test_folder_lists_files_as_found(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "bundles" / "nested"
    folder.mkdir(parents=True)
    for name in ("violations.bpmn", "clean.bpmn"):
        (folder / name).write_bytes((FIXTURES / name).read_bytes())
    (folder / "notes.txt").write_text("not a bundle", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    report = audit_paths(["bundles"])
    assert report.files == ("bundles/nested/clean.bpmn", "bundles/nested/violations.bpmn")
    assert {f.file for f in report.findings} == set(report.files)
    assert [b.key for b in report.bundles] == ["clean_opening", "violations"]


@pytest.mark.parametrize(
    ("fixture", "line", "words"),
    [
        ("material_no_id.bpmn", 9, "hf:material has no id"),
        ("material_no_name.bpmn", 9, "hf:material has no name"),
        ("duplicate_material.bpmn", 10, 'material id "articles" is used twice'),
        ("unknown_covered_by.bpmn", 9, 'material "copy": coveredBy names "articles"'),
        ("unknown_produced_by.bpmn", 9, 'material "licence": producedBy="nowhere" names no step'),
        ("not_xml.bpmn", 5, "XML 格式不正确"),
        ("not_bpmn.bpmn", 2, "不是 BPMN 2.0 文件"),
    ],
)
def test_unsound_input_is_an_input_error(fixture: str, line: int, words: str) -> None:
    path = str(FIXTURES / "bad" / fixture)
    with pytest.raises(BpmnError) as caught:
        audit_paths([path])
    err = caught.value
    assert isinstance(err, InputError) and err.exit_code == 2
    assert err.location is not None and err.location.file == path and err.location.line == line
    assert words in str(err)


def test_missing_path_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(BpmnError, match="文件或目录不存在"):
        audit_paths([str(tmp_path / "missing.bpmn")])
