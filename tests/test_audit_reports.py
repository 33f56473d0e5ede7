"""Reports from one record shape: JSON (against the shipped schema), SARIF 2.1.0 (against the official
schema), text (grouped, colour only when asked) and HTML (self-contained, accessible, escaped)."""

from __future__ import annotations

import json
import os
import re
from html.parser import HTMLParser
from importlib import resources
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.validators import validator_for
from wcwidth import wcswidth

from hennan_flow.audit import audit_paths
from hennan_flow.report.html import render_html
from hennan_flow.report.json import render_json
from hennan_flow.report.records import AuditRecords, audit_records
from hennan_flow.report.sarif import file_uri, render_sarif, sarif_log
from hennan_flow.report.text import render_text

FIXTURES = Path(__file__).parent / "fixtures" / "audit"
SHARED = Path(os.environ.get("HENNAN_FLOW_SHARED", Path(__file__).resolve().parents[2] / "shared"))
SARIF_SCHEMA = SHARED / "schemas" / "sarif-schema-2.1.0.json"


@pytest.fixture(scope="module")
def records() -> AuditRecords:
    return audit_records(audit_paths([str(FIXTURES / "violations.bpmn"), str(FIXTURES / "clean.bpmn")]))


def audit_schema() -> dict[str, object]:
    text = resources.files("hennan_flow").joinpath("schemas/audit.schema.json").read_text(encoding="utf-8")
    schema: dict[str, object] = json.loads(text)
    return schema


# -- records and JSON --------------------------------------------------------------------------


def test_records_are_sorted(records: AuditRecords) -> None:
    keys = [(f["file"], f["line"] or 0) for f in records["findings"]]
    assert keys == sorted(keys)
    assert [b["file"] for b in records["bundles"]] == sorted(b["file"] for b in records["bundles"])
    assert [r["id"] for r in records["rules"]] == [
        "R1",
        "R2",
        "R3",
        "R4",
        "R5",
        "R6",
        "R7",
        "R8",
        "R10",
        "R11",
    ]


def test_json_is_one_document_valid_against_the_shipped_schema(records: AuditRecords) -> None:
    text = render_json(records)
    document = json.loads(text)  # exactly one document
    assert "\\u" not in text and "居住证明" in text  # readable UTF-8
    Draft202012Validator.check_schema(audit_schema())
    Draft202012Validator(audit_schema(), format_checker=FormatChecker()).validate(document)


def test_json_contract_keys(records: AuditRecords) -> None:
    document = json.loads(render_json(records))
    assert document["version"] == 1
    finding_keys = {"rule", "severity", "file", "line", "element", "material", "quoted", "message", "fix"}
    assert all(finding_keys <= set(f) for f in document["findings"])
    bundle_keys = {
        "file",
        "key",
        "name",
        "steps",
        "materials_before",
        "materials_after",
        "materials",
        "checklist",
    }
    for b in document["bundles"]:
        assert bundle_keys <= set(b)
        assert isinstance(b["steps"], int)
        assert b["materials_before"] == len(b["materials"])
        # the checklist: the materials kept, and a commitment letter per material exempted by commitment
        assert b["materials_after"] == sum(c["kind"] == "material" for c in b["checklist"])
        assert b["commitments"] == sum(c["kind"] == "commitment" for c in b["checklist"])
        # figures by reason add up (DESIGN §12)
        assert b["materials_before"] == b["materials_after"] + sum(
            b[k] for k in ("exempt_e_license", "exempt_commitment", "cancelled", "generated", "online_form")
        )
        assert all({"name", "choices", "checklist"} <= set(sc) for sc in b["scenarios"])
        assert all({"step", "material", "name", "verdict"} <= set(m) for m in b["materials"])
        assert all({"step", "material", "name"} <= set(c) for c in b["checklist"])
    violations = next(b for b in document["bundles"] if b["key"] == "violations")
    assert (violations["steps"], violations["materials_before"], violations["materials_after"]) == (3, 10, 2)
    r8 = next(f for f in document["findings"] if f["rule"] == "R8")
    assert r8["material"] is None and r8["element"] == "seal"


def test_the_schema_rejects_a_broken_report(records: AuditRecords) -> None:
    document = json.loads(render_json(records))
    document["findings"][0]["severity"] = "fatal"
    errors = list(Draft202012Validator(audit_schema()).iter_errors(document))
    assert errors and "fatal" in errors[0].message


def test_json_schema_is_documented() -> None:
    docs = Path(__file__).resolve().parents[1] / "docs" / "audit.md"
    text = docs.read_text(encoding="utf-8")
    assert "audit.schema.json" in text
    for key in ("materials_before", "materials_after", "checklist", "verdict", "quoted", "fix"):
        assert f"`{key}`" in text


# -- SARIF -------------------------------------------------------------------------------------


def test_sarif_validates_against_the_official_schema(records: AuditRecords) -> None:
    if not SARIF_SCHEMA.is_file():
        pytest.skip(f"the SARIF 2.1.0 schema is not at {SARIF_SCHEMA} (shared folder absent)")
    schema = json.loads(SARIF_SCHEMA.read_text(encoding="utf-8"))
    log = json.loads(render_sarif(records))
    cls = validator_for(schema)
    cls.check_schema(schema)
    errors = sorted(cls(schema, format_checker=FormatChecker()).iter_errors(log), key=str)
    assert errors == [], errors[0].message if errors else ""


def test_sarif_content(records: AuditRecords) -> None:
    log = sarif_log(records)
    assert log["version"] == "2.1.0"
    (run,) = log["runs"]
    rules = run["tool"]["driver"]["rules"]
    assert [r["id"] for r in rules] == [r["id"] for r in records["rules"]]  # each rule once
    assert all(len(r["fullDescription"]["text"]) < 1024 for r in rules)
    assert all(r["shortDescription"]["text"] for r in rules)
    assert len(run["results"]) == len(records["findings"])
    for result, finding in zip(run["results"], records["findings"], strict=True):
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"] == finding["rule"]
        assert result["level"] == finding["severity"]
        (location,) = result["locations"]
        assert location["physicalLocation"]["region"]["startLine"] == finding["line"]  # 1-based
        names = [loc["name"] for loc in location["logicalLocations"]]
        assert names == [finding["element"], *([finding["material"]] if finding["material"] else [])]
        assert finding["fix"] in result["message"]["text"]
    assert len({r["partialFingerprints"]["hennanFlowFinding/v1"] for r in run["results"]}) == len(
        run["results"]
    )


def test_json_and_sarif_messages_in_chinese_machine_values_kept(records: AuditRecords) -> None:
    """The messages a reader sees are Chinese; field names, severity codes, rule ids and verdicts are
    the machine values they were. The SARIF message is the finding's message and its fix, once."""
    document = json.loads(render_json(records))
    r2 = next(f for f in document["findings"] if f["rule"] == "R2" and f["material"] == "legal_rep_id")
    assert (r2["severity"], r2["verdict"]) == ("note", "exempt")
    assert r2["message"] == "材料“法定代表人身份证”免于提交：电子证照“居民身份证”可证明，不再要求申请人提供"
    assert r2["fix"] == "无需修改；受理时窗口调取"
    kept = [m for b in document["bundles"] for m in b["materials"] if m["verdict"] == "keep"]
    assert kept and all(m["reason"] == "向申请人收取" for m in kept)
    assert {r["severity"] for r in document["rules"]} <= {"error", "warning", "note"}
    (run,) = sarif_log(records)["runs"]
    result = next(
        r for r in run["results"] if r["ruleId"] == "R2" and r["properties"]["material"] == "legal_rep_id"
    )
    assert result["level"] == "note" and result["properties"]["verdict"] == "exempt"
    assert result["message"]["text"] == f"{r2['message']}。修改建议：{r2['fix']}"
    words = [
        w for res in run["results"] for w in _english_words(res["message"]["text"], _ids_and_codes(records))
    ]
    assert words == []
    for rule in run["tool"]["driver"]["rules"]:  # the rules' descriptions and help, in Chinese too
        r = next(r for r in records["rules"] if r["id"] == rule["id"])
        assert rule["shortDescription"]["text"] == r["summary"]
        assert rule["fullDescription"]["text"] == f"{r['source']} — {r['summary']}"
        assert "反例：" in rule["help"]["text"] and "正例：" in rule["help"]["text"]
        for text in (rule["fullDescription"]["text"], rule["help"]["text"]):
            assert _english_words(text, set()) == [], text


def test_sarif_help_uri_and_file_uris(records: AuditRecords) -> None:
    log = sarif_log(records, help_base="https://example.org/docs/audit.md")
    rules = log["runs"][0]["tool"]["driver"]["rules"]
    assert rules[0]["helpUri"] == "https://example.org/docs/audit.md#r1"
    assert file_uri("processes/企业开办.bpmn") == "processes/%E4%BC%81%E4%B8%9A%E5%BC%80%E5%8A%9E.bpmn"
    assert file_uri("/srv/x y.bpmn") == "file:///srv/x%20y.bpmn"
    assert file_uri("processes\\a.bpmn") == "processes/a.bpmn"


# -- text --------------------------------------------------------------------------------------


def test_text_groups_by_bundle_and_step(records: AuditRecords) -> None:
    text = render_text(records)
    assert "\x1b[" not in text  # no colour unless asked
    lines = text.splitlines()
    header = next(i for i, line in enumerate(lines) if "（violations）" in line)
    seal = next(i for i, line in enumerate(lines) if i > header and line.startswith("  环节 seal "))
    r4 = next(i for i, line in enumerate(lines) if " R4 材料 r4_articles_again：" in line)
    bank = next(i for i, line in enumerate(lines) if i > header and line.startswith("  环节 bank "))
    assert header < seal < r4 < bank
    assert "材料 10 → 2 件（4 件取消，" in lines[header] and "错误 8 项" in lines[header]
    assert "    - 公司章程 [register/articles]" in lines
    assert lines[-1].startswith("2 个文件，2 个事项：未通过 — 错误 8 项、警告 0 项、")


def _material_line(lines: list[str], material: str) -> str:
    return next(line for line in lines if line.startswith("    ") and f" {material} “" in line)


def test_text_findings_and_verdicts_in_chinese(records: AuditRecords) -> None:
    """Each finding says its rule, material and verdict in Chinese; ids, file:line and the quoted
    source stay as they are; the verdict column is aligned by display width."""
    lines = render_text(records).splitlines()
    finding = next(line for line in lines if " R2 材料 legal_rep_id：" in line)
    assert finding.startswith("    ") and "clean.bpmn:" in finding and ": 提示 R2 " in finding
    assert "“法定代表人身份证”免于提交" in finding and "电子证照“居民身份证”" in finding
    at = lines.index(finding)
    assert lines[at + 1] == '        引文：eLicense="居民身份证"'
    assert lines[at + 2].startswith("        修改建议：无需修改")
    cancelled = next(line for line in lines if " R1 材料 r1_no_basis：" in line)
    assert ": 错误 R1 " in cancelled and "“居住证明”" in cancelled and "予以取消" in cancelled
    assert _material_line(lines, "r1_no_basis").lstrip().startswith("取消 ")
    assert _material_line(lines, "legal_rep_id").lstrip().startswith("免交 ")
    assert _material_line(lines, "seal_licence").lstrip().startswith("内部生成 ")
    assert _material_line(lines, "articles").lstrip().startswith("需携带 ")
    verdicts = [line for line in lines if line.startswith("    ") and line.rstrip().endswith(("”", "）"))]
    columns = {wcswidth(line[: line.index(" “")].rsplit(" ", 1)[0]) for line in verdicts if " “" in line}
    assert columns == {4 + 8}  # "    " + the widest name, 内部生成 (8 columns), for every verdict
    r8 = next(line for line in lines if " R8：" in line)
    assert "环节 seal 承诺时限 2 个工作日，超过法定时限 1 个工作日" in r8


def _ids_and_codes(records: AuditRecords) -> set[str]:
    names: set[str] = set()
    for b in records["bundles"]:
        names |= {b["key"], *b["file"].split("/")}
        names |= {s[k] for s in b["per_step"] for k in ("step", "department") if s[k]}
        names |= {m["material"] for m in b["materials"]}
    return names


# the dialect's own names, which fix hints and messages cite as they are written
_DIALECT = {"eLicense", "onlineCheck", "supplementWithin", "producedBy", "commitment", "validate"}


def test_the_text_report_has_no_english_word_outside_ids_and_codes(records: AuditRecords) -> None:
    """County staff read the text form: once file names, ids, the quoted source and the dialect's
    markup (`attr="…"`, `<hf:…/>`, `[[law]] …`) are taken out, no Latin word of three letters or more
    is left."""
    names = _ids_and_codes(records)
    assert {"violations", "register", "r1_no_basis", "amr", "clean.bpmn"} <= names
    assert not (names | _DIALECT) & {
        "materials",
        "exempt",
        "generated",
        "keep",
        "note",
        "error",
        "fix",
        "step",
    }
    assert _english_words(render_text(records), names) == []
    assert _english_words("materials 10 → 2; 0 error(s)", names) == ["materials", "error"]  # it can fail


def _english_words(text: str, names: set[str]) -> list[str]:
    words = []
    for line in text.splitlines():
        if line.lstrip().startswith("引文："):
            continue
        line = re.sub(r"<[^>]*>|[\w:]+=\"[^\"]*\"|\bhf:\w+|\[\[law\]\][^）]*", " ", line)
        for name in sorted(names | _DIALECT, key=len, reverse=True):
            line = re.sub(rf"(?<![\w-]){re.escape(name)}(?![\w-])", " ", line)
        words += re.findall(r"[A-Za-z]{3,}", line)
    return words


def test_text_colour_on_request(records: AuditRecords) -> None:
    coloured = render_text(records, color=True)
    assert "\x1b[31m" in coloured  # red for errors
    assert re.sub(r"\x1b\[[0-9;]*m", "", coloured) == render_text(records)


# -- HTML --------------------------------------------------------------------------------------


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def test_html_is_self_contained_and_accessible(records: AuditRecords) -> None:
    page = render_html(records)
    parser = _Page()
    parser.feed(page)
    tags = parser.tags
    assert page.startswith("<!DOCTYPE html>")
    assert ("html", {"lang": "zh-CN"}) in tags  # labels in Chinese, for county staff
    assert not [t for t, a in tags if t == "script"]
    external = [
        a for _, a in tags for k in ("src", "href") if (a.get(k) or "").startswith(("http:", "https:", "//"))
    ]
    assert external == []
    assert any(t == "main" for t, _ in tags) and any(t == "caption" for t, _ in tags)
    assert all(a.get("scope") in ("col", "row") for t, a in tags if t == "th")
    text = " ".join(parser.text)
    assert "未通过：发现错误。" in text
    for f in records["findings"]:  # per-step findings, quoted text and fixes are all there
        assert f["rule"] in text and f["quoted"] in text
        assert f["message"] in text and f"修改建议：{f['fix']}" in text  # the findings' own Chinese text
    assert {"需携带", "取消", "免交", "内部生成"} <= set(
        parser.text
    )  # the verdicts, named as in the text report
    assert "精简后：合并清单（所有情形，材料 2 项，告知承诺书 1 份）" in text
    assert "精简前：申报的材料（10 项）及处理结果" in text
    assert "申请人一次性告知清单（按申请情形）" in text and "情形：所有申请人" in text


def test_html_escapes_designer_text(records: AuditRecords) -> None:
    hostile = json.loads(json.dumps(records))
    hostile["bundles"][0]["name"] = "<script>alert(1)</script>"
    page = render_html(hostile)
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
