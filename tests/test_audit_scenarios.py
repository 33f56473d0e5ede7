"""DESIGN §12 beyond the rule cases: the scenario limit, validate errors first, the reports' scenarios.

The rule cases (`hennan_flow/audit/rules/checklist.toml`) pin the scenarios of small processes; here
the limit of 64 is reached with generated chains of choices, a bundle that validate rejects is shown
never to audit clean (and a plain BPMN file never to be called clean), and the text, JSON, SARIF and
HTML reports are shown to carry the scenarios of the county's 企业注销 bundle.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hennan_flow.audit import audit_paths
from hennan_flow.audit.scenarios import LIMIT
from hennan_flow.cli import main
from hennan_flow.report.html import render_html
from hennan_flow.report.records import audit_records
from hennan_flow.report.sarif import sarif_log
from hennan_flow.report.text import render_text

REPO = Path(__file__).resolve().parents[1]
PROCESSES = REPO / "processes"
BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"
HF = "urn:hennan-flow:bpmn:1"


def _material_step(sid: str, name: str) -> str:
    return (
        f'<bpmn:userTask id="{sid}" name="{name}"><bpmn:extensionElements><hf:step kind="immediate"/>'
        f'<hf:materials><hf:material id="m_{sid}" name="{name}材料清单" necessity="required" source="applicant">'
        '<hf:legalBasis doc="《中华人民共和国行政许可法》" article="第三十一条" level="law"/>'
        "</hf:material></hf:materials></bpmn:extensionElements></bpmn:userTask>"
    )


def chain_of_choices(n: int) -> str:
    """A process of `n` choices in a row, each between two steps with their own material."""
    nodes = ['<bpmn:startEvent id="start"/>']
    flows = []
    previous = "start"
    for i in range(n):
        nodes.append(f'<bpmn:exclusiveGateway id="q{i}" name="问题{i}" default="q{i}_b"/>')
        nodes.append(_material_step(f"a{i}", f"甲{i}"))
        nodes.append(_material_step(f"b{i}", f"乙{i}"))
        nodes.append(f'<bpmn:exclusiveGateway id="m{i}"/>')
        flows += [
            f'<bpmn:sequenceFlow id="to_q{i}" sourceRef="{previous}" targetRef="q{i}"/>',
            f'<bpmn:sequenceFlow id="q{i}_a" name="甲{i}" sourceRef="q{i}" targetRef="a{i}">'
            f"<bpmn:conditionExpression>x{i} == 1</bpmn:conditionExpression></bpmn:sequenceFlow>",
            f'<bpmn:sequenceFlow id="q{i}_b" name="乙{i}" sourceRef="q{i}" targetRef="b{i}"/>',
            f'<bpmn:sequenceFlow id="a{i}_m" sourceRef="a{i}" targetRef="m{i}"/>',
            f'<bpmn:sequenceFlow id="b{i}_m" sourceRef="b{i}" targetRef="m{i}"/>',
        ]
        previous = f"m{i}"
    nodes.append('<bpmn:endEvent id="end"/>')
    flows.append(f'<bpmn:sequenceFlow id="to_end" sourceRef="{previous}" targetRef="end"/>')
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<bpmn:definitions xmlns:bpmn="{BPMN}" xmlns:hf="{HF}" '
        f'id="d" targetNamespace="urn:t"><bpmn:process id="choices" name="选择" isExecutable="true">'
        f'<bpmn:extensionElements><hf:bundle code="T-1" lifecycle="other"/></bpmn:extensionElements>'
        + "".join(nodes + flows)
        + "</bpmn:process></bpmn:definitions>"
    )


def test_sixty_four_scenarios_are_listed(tmp_path: Path) -> None:
    path = tmp_path / "six.bpmn"
    path.write_text(chain_of_choices(6), encoding="utf-8")
    (bundle,) = audit_paths([str(path)]).bundles
    assert len(bundle.scenarios) == LIMIT == 64 and bundle.scenario_note is None
    first = bundle.scenarios[0]
    assert first.name == "；".join(f"甲{i}" for i in range(6))
    assert [e.name for e in first.checklist] == [f"甲{i}材料清单" for i in range(6)]
    assert len({sc.name for sc in bundle.scenarios}) == 64  # every combination once


def test_beyond_sixty_four_only_the_union_with_a_note(tmp_path: Path) -> None:
    path = tmp_path / "seven.bpmn"
    path.write_text(chain_of_choices(7), encoding="utf-8")  # 128 combinations
    (bundle,) = audit_paths([str(path)]).bundles
    (union,) = bundle.scenarios
    assert union.choices == () and union.name == "合并清单（所有情形）"
    assert bundle.scenario_note is not None and "64" in bundle.scenario_note
    assert [e.name for e in union.checklist] == [e.name for e in bundle.checklist] and len(
        union.checklist
    ) == 14
    assert f"  说明：{bundle.scenario_note}" in render_text(audit_records(audit_paths([str(path)])))


# -- validate errors first ------------------------------------------------------------------------


def _broken_bundle(tmp_path: Path) -> Path:
    """The county's 企业注销 bundle with a validate error: a step named with an id SpiffWorkflow reserves."""
    folder = tmp_path / "processes"
    folder.mkdir()
    text = (PROCESSES / "enterprise_deregistration.bpmn").read_text(encoding="utf-8")
    path = folder / "enterprise_deregistration.bpmn"
    path.write_text(text.replace('"end"', '"End"').replace(">end<", ">End<"), encoding="utf-8")
    return path


def test_a_bundle_validate_rejects_is_never_reported_clean(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _broken_bundle(tmp_path)
    report = audit_paths([str(path)], forms=str(REPO / "forms"))
    assert not [f for f in report.findings if f.severity == "error"]  # the materials audit clean ...
    codes = {p.code for p in report.validation}
    assert "SPIFF-RESERVED-ID" in codes  # ... but validate rejects the file
    assert report.has_errors and report.fails("error") and not report.fails("never")
    records = audit_records(report)
    assert records["summary"]["clean"] is False and records["summary"]["validation_errors"] == len(codes) >= 1
    text = render_text(records)
    assert text.splitlines()[0].startswith("校验（validate）错误 ")
    assert "：未通过 — " in text.splitlines()[-1] and "审查通过" not in text.splitlines()[-1]
    assert "SPIFF-RESERVED-ID" in text.split("\n\n")[0]  # the validate errors come first
    with pytest.raises(SystemExit) as exited:
        main(["audit", "--format", "json", "--forms", str(REPO / "forms"), str(path)])
    assert exited.value.code == 1
    document = json.loads(capsys.readouterr().out)
    assert [v["code"] for v in document["validation"]] and document["summary"]["clean"] is False
    # SARIF: the validate errors come first, as results of a rule named by the code
    log = sarif_log(records)
    (run,) = log["runs"]
    first = run["results"][0]
    rules = run["tool"]["driver"]["rules"]
    assert first["ruleId"] == "SPIFF-RESERVED-ID" and rules[first["ruleIndex"]]["id"] == "SPIFF-RESERVED-ID"
    assert "校验错误" in render_html(records)


def test_a_bundle_validate_accepts_is_clean() -> None:
    report = audit_paths([str(PROCESSES / "enterprise_deregistration.bpmn")])
    assert report.validation == () and not report.has_errors


def test_a_plain_bpmn_file_is_not_audited_and_not_called_clean(tmp_path: Path) -> None:
    plain = tmp_path / "plain.bpmn"
    plain.write_text(  # no hf: dialect, and a reserved id validate would reject: nothing for the audit
        f'<bpmn:definitions xmlns:bpmn="{BPMN}" id="d" targetNamespace="urn:t"><bpmn:process id="p" '
        'isExecutable="true"><bpmn:startEvent id="Start"/><bpmn:userTask id="approve"/>'
        '<bpmn:sequenceFlow id="f" sourceRef="Start" targetRef="approve"/></bpmn:process></bpmn:definitions>',
        encoding="utf-8",
    )
    records = audit_records(audit_paths([str(plain)]))
    assert records["summary"]["audited"] == 0 and records["validation"] == []
    last = render_text(records).splitlines()[-1]
    assert "未作审查" in last and "审查通过" not in last and "普通 BPMN 流程" in last
    assert "没有使用 hf: 扩展的事项" in render_html(records)


# -- the reports show the scenarios -------------------------------------------------------------


def test_every_report_shows_the_deregistration_scenarios() -> None:
    records = audit_records(audit_paths([str(PROCESSES / "enterprise_deregistration.bpmn")]))
    (bundle,) = records["bundles"]
    names = [sc["name"] for sc in bundle["scenarios"]]
    assert names == ["简易注销", "一般注销"]
    text = render_text(records)
    assert "申请人一次性告知清单，情形“简易注销”（注销方式 → 简易注销）：" in text
    assert "情形“一般注销”" in text
    html = render_html(records)
    assert "情形：简易注销" in html and "情形：一般注销" in html
    (run,) = sarif_log(records)["runs"]
    (entry,) = run["properties"]["scenarios"]  # type: ignore[misc]
    assert [sc["name"] for sc in entry["scenarios"]] == names
    for sc in bundle["scenarios"]:
        assert sc["checklist"], sc["name"]
        assert all(c["kind"] in ("material", "commitment") for c in sc["checklist"])
