"""`hennan-flow validate`: bad input tried and answered clearly, good input read into the bundle model.

Every case goes through the real CLI boundary (`hennan_flow.cli.main`, which ends in `SystemExit`) and
is checked twice: as text (one line per problem, `file:line: element "id": [CODE] message. hint: …`)
and as `--format json` (exactly one document on stdout). The fixtures are small hand-written files in
`tests/fixtures/validate/`; the huge, chained and UTF-16 inputs are generated into `tmp_path`.
"""

from __future__ import annotations

import itertools
import json
import re
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest

from hennan_flow.bpmn import xmlsafe
from hennan_flow.bpmn.dialect import load_document, read_document, resolve_form
from hennan_flow.bpmn.parser import build_specs
from hennan_flow.bpmn.validate import MAX_PATH_ELEMENTS, validate_file
from hennan_flow.bpmn.xmlsafe import DEFAULT_MAX_BYTES, parse_bytes, parse_file
from hennan_flow.cli import main
from hennan_flow.errors import (
    BpmnError,
    ConfigError,
    ConflictError,
    FindingsError,
    HennanFlowError,
    NotFoundError,
)

FIXTURES = Path(__file__).parent / "fixtures" / "validate"
CASES = FIXTURES / "cases"
CLEAN = FIXTURES / "bundles" / "clean_bundle.bpmn"
FORMS = FIXTURES / "forms"

# file:line: element "id": [CODE] message. hint: …   (line, element and hint are optional)
LINE_SHAPE = re.compile(
    r'^(?P<file>.+?):(?:(?P<line>\d+):)?(?: element "(?P<element>[^"]+)":)? '
    r"\[(?P<code>[A-Z][A-Z0-9]*(?:-[A-Z0-9]+)+)\] (?P<message>\S.*?)\.(?: hint: (?P<hint>\S.*))?$"
)
SUMMARY = re.compile(r"^\d+ file\(s\) checked: \d+ with errors, \d+ error\(s\), \d+ warning\(s\)$")
PROBLEM_KEYS = {"code", "severity", "line", "element", "message", "hint"}
BPMN_HEAD = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" '
    'id="defs" targetNamespace="urn:hennan-flow:tests">\n'
)


# -- helpers ----------------------------------------------------------------------------------


def run(capsys: pytest.CaptureFixture[str], *argv: str | Path) -> tuple[int, str, str]:
    """Run the console script in-process: (exit code, stdout, stderr)."""
    with pytest.raises(SystemExit) as exited:
        main([str(a) for a in argv])
    out, err = capsys.readouterr()
    code = exited.value.code
    return (code if isinstance(code, int) else 0), out, err


def problem_lines(out: str) -> list[re.Match[str]]:
    """Every stdout line of the text format, each checked against the one-line shape."""
    matches = []
    for line in out.splitlines():
        m = LINE_SHAPE.match(line)
        assert m is not None, f"not a one-line diagnostic: {line!r}"
        matches.append(m)
    return matches


def only_summary(err: str) -> None:
    """stderr holds the one summary line and nothing else (no traceback, no logging)."""
    lines = err.splitlines()
    assert len(lines) == 1 and SUMMARY.match(lines[0]), err


def json_report(out: str) -> dict[str, Any]:
    """stdout is exactly one JSON document in the `validate` shape."""
    doc = json.loads(out)  # fails on anything before or after the one document
    assert set(doc) == {"files"}
    for f in doc["files"]:
        assert set(f) == {"file", "ok", "problems"}
        assert isinstance(f["ok"], bool)
        for p in f["problems"]:
            assert set(p) == PROBLEM_KEYS
            assert p["severity"] in {"error", "warning"}
            assert p["line"] is None or isinstance(p["line"], int)
            assert "\n" not in p["message"] and "\n" not in (p["hint"] or "")
    return doc


def line_of(path: Path, needle: str) -> int:
    """1-based line of the first line containing `needle`, so fixtures can change without renumbering."""
    for number, text in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if needle in text:
            return number
    raise AssertionError(f"{needle!r} not in {path}")


def check_text(
    capsys: pytest.CaptureFixture[str],
    path: Path,
    *,
    exit_code: int,
    code: str,
    line: int | None,
    element: str | None,
    words: tuple[str, ...] = (),
    extra: tuple[str, ...] = (),
) -> re.Match[str]:
    """Validate one file as text; exactly one problem with this code, at this line and element."""
    rc, out, err = run(capsys, "validate", path, *extra)
    assert rc == exit_code, out + err
    only_summary(err)
    found = [m for m in problem_lines(out) if m["code"] == code and m["element"] == element]
    assert len(found) == 1, out
    m = found[0]
    assert m["file"] == str(path)
    assert m["line"] == (str(line) if line is not None else None), m.group(0)
    assert m["element"] == element, m.group(0)
    assert m["hint"], f"no hint: {m.group(0)}"
    for word in words:
        assert word in m["message"], m.group(0)
    return m


def check_json(
    capsys: pytest.CaptureFixture[str],
    path: Path,
    *,
    exit_code: int,
    code: str,
    line: int | None,
    element: str | None,
    global_format: bool = False,
) -> dict[str, Any]:
    """The same case through `--format json` (global or after the subcommand)."""
    argv = ["--format", "json", "validate", path] if global_format else ["validate", path, "--format", "json"]
    rc, out, err = run(capsys, *argv)
    assert rc == exit_code
    assert err == ""  # with --format json, stdout is the one document and stderr is quiet
    doc = json_report(out)
    [result] = doc["files"]
    assert result["file"] == str(path)
    assert result["ok"] is (exit_code == 0)
    found = [p for p in result["problems"] if p["code"] == code]
    assert len(found) == 1, result["problems"]
    assert (found[0]["line"], found[0]["element"]) == (line, element)
    assert found[0]["hint"]
    return found[0]


def write_chain(folder: Path, n: int, pid: str = "chain") -> Path:
    """A process of `n` user tasks in one sequence (start → t0 → … → t{n-1} → end)."""
    ids = ["start", *(f"t{i}" for i in range(n)), "end"]
    body = [f'  <bpmn:process id="{pid}" isExecutable="true">', '    <bpmn:startEvent id="start"/>']
    body += [f'    <bpmn:userTask id="t{i}" name="第{i}步"/>' for i in range(n)]
    body.append('    <bpmn:endEvent id="end"/>')
    body += [
        f'    <bpmn:sequenceFlow id="f{i}" sourceRef="{a}" targetRef="{b}"/>'
        for i, (a, b) in enumerate(itertools.pairwise(ids))
    ]
    body.append("  </bpmn:process>")
    path = folder / f"{pid}_{n}.bpmn"
    path.write_text(BPMN_HEAD + "\n".join(body) + "\n</bpmn:definitions>\n", encoding="utf-8")
    return path


# -- the clean bundle -------------------------------------------------------------------------


def test_clean_bundle_has_no_problems(capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, err = run(capsys, "validate", CLEAN)
    assert (rc, out) == (0, "")
    assert err.strip() == "1 file(s) checked: 0 with errors, 0 error(s), 0 warning(s)"


@pytest.mark.parametrize("global_format", [True, False], ids=["global", "after-subcommand"])
def test_clean_bundle_json(capsys: pytest.CaptureFixture[str], global_format: bool) -> None:
    argv = (
        ["--format", "json", "validate", CLEAN] if global_format else ["validate", CLEAN, "--format", "json"]
    )
    rc, out, err = run(capsys, *argv)
    assert (rc, err) == (0, "")
    assert json_report(out) == {"files": [{"file": str(CLEAN), "ok": True, "problems": []}]}


def test_subcommand_format_wins_over_global(capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, _ = run(capsys, "--format", "json", "validate", CLEAN, "--format", "text")
    assert (rc, out) == (0, "")
    rc, out, _ = run(capsys, "--format", "text", "validate", CLEAN, "--format", "json")
    assert rc == 0 and json_report(out)["files"][0]["ok"] is True


def test_form_resolves_beside_the_bundle_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """DESIGN §2: --forms DIR, else forms/ beside the folder holding the BPMN, else the packaged forms."""
    assert (
        resolve_form("clean_bundle/apply", str(CLEAN))
        == (FORMS / "clean_bundle" / "apply.schema.json").resolve()
    )
    # the same file with no forms/ beside its folder: the ref resolves nowhere
    alone = tmp_path / "bundles" / CLEAN.name
    alone.parent.mkdir()
    shutil.copy(CLEAN, alone)
    check_text(
        capsys,
        alone,
        exit_code=1,
        code="HF-FORM",
        line=line_of(alone, '<hf:form ref="clean_bundle/apply'),
        element="apply",
        words=('form "clean_bundle/apply" not found',),
    )
    # --forms DIR points at it explicitly
    rc, out, _ = run(capsys, "validate", alone, "--forms", FORMS)
    assert (rc, out) == (0, "")


def test_form_that_is_not_a_json_schema(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    forms = tmp_path / "forms" / "clean_bundle"
    forms.mkdir(parents=True)
    (forms / "apply.schema.json").write_text('{"type": "no-such-type"}', encoding="utf-8")
    check_text(
        capsys,
        CLEAN,
        exit_code=1,
        code="HF-FORM",
        line=line_of(CLEAN, '<hf:form ref="clean_bundle/apply'),
        element="apply",
        words=("not a valid JSON Schema",),
        extra=("--forms", str(tmp_path / "forms")),
    )


# -- the typed model --------------------------------------------------------------------------


def test_read_document_builds_the_typed_model() -> None:
    doc = read_document(parse_file(CLEAN), str(CLEAN))
    assert doc.problems == []
    assert doc.has_hf
    [bundle] = doc.bundles
    assert (bundle.key, bundle.name, bundle.file, bundle.line) == (
        "clean_bundle",
        "测试一件事",
        str(CLEAN),
        line_of(CLEAN, '<bpmn:process id="clean_bundle"'),
    )
    assert (bundle.code, bundle.lifecycle, bundle.lead, bundle.executable) == (
        "HN-TEST-001",
        "enterprise",
        "amr",
        True,
    )
    case_limit = bundle.time_limit
    assert case_limit is not None
    assert (case_limit.legal, case_limit.promised, case_limit.unit) == (20, 5, "workday")
    assert case_limit.line == line_of(CLEAN, '<hf:timeLimit legal="20"')

    # departments come from lanes, named by the lane
    assert [(d.code, d.name, d.lane, d.line) for d in bundle.departments] == [
        ("amr", "县市场监督管理局", "lane_amr", line_of(CLEAN, 'id="lane_amr"')),
        ("tax", "县税务局", "lane_tax", line_of(CLEAN, 'id="lane_tax"')),
    ]
    assert bundle.department("tax") is bundle.departments[1]

    # steps carry their lane's department code
    assert [(s.id, s.department, s.lane, s.kind) for s in bundle.steps] == [
        ("apply", "amr", "县市场监督管理局", "promised"),
        ("invoice", "tax", "县税务局", "immediate"),
    ]
    apply = bundle.step("apply")
    assert apply is not None
    assert (apply.name, apply.item, apply.result, apply.tag) == (
        "设立登记",
        "114304220001",
        "营业执照",
        "userTask",
    )
    assert apply.line == line_of(CLEAN, '<bpmn:userTask id="apply"')
    limit = apply.time_limit
    assert limit is not None
    assert (limit.legal, limit.promised, limit.unit) == (3, 1, "workday")
    assert (limit.notice_before, limit.yellow_light_at, limit.red_after) == (1, 0.8, 3)
    assert limit.line == line_of(CLEAN, '<hf:timeLimit legal="3"')
    assert (apply.form, apply.form_line) == (
        "clean_bundle/apply",
        line_of(CLEAN, '<hf:form ref="clean_bundle/apply'),
    )
    [procedure] = apply.special_procedures
    assert (procedure.kind, procedure.limit, procedure.unit) == ("expert_review", 10, "workday")
    assert procedure.line == line_of(CLEAN, "<hf:specialProcedure")

    # materials, with their legal bases
    rep, premises = apply.materials
    assert (rep.id, rep.name, rep.necessity, rep.source, rep.step) == (
        "legal_rep_id",
        "法定代表人身份证",
        "required",
        "government",
        "apply",
    )
    assert (rep.issuer, rep.e_license, rep.issuer_can_verify, rep.commitment) == (
        "公安机关",
        "居民身份证",
        True,
        False,
    )
    # libxml2 numbers an element by the line where its start tag closes (this one spans two lines)
    assert rep.line == line_of(CLEAN, 'eLicense="居民身份证">')
    [basis] = rep.legal_bases
    assert (basis.doc, basis.article, basis.level) == (
        "《中华人民共和国市场主体登记管理条例》",
        "第十六条",
        "admin_regulation",
    )
    assert basis.line == line_of(CLEAN, "第十六条")
    assert (premises.id, premises.source, premises.commitment) == ("premises_proof", "applicant", True)
    assert [b.level for b in premises.legal_bases] == ["rule"]

    invoice = bundle.step("invoice")
    assert invoice is not None
    assert invoice.time_limit is None and invoice.form == "clean_bundle/invoice"
    [licence] = invoice.materials
    assert (licence.id, licence.produced_by, licence.step) == ("licence", "apply", "invoice")
    assert [(b.doc, b.article) for b in licence.legal_bases] == [("《中华人民共和国发票管理办法》", None)]
    assert [m.id for m in bundle.materials()] == ["legal_rep_id", "premises_proof", "licence"]

    # the graph
    assert [(n.id, n.kind) for n in bundle.nodes] == [
        ("start", "startEvent"),
        ("apply", "userTask"),
        ("invoice", "userTask"),
        ("end", "endEvent"),
    ]
    assert [(f.source, f.target) for f in bundle.flows] == [
        ("start", "apply"),
        ("apply", "invoice"),
        ("invoice", "end"),
    ]


def test_load_document_reads_the_same_model() -> None:
    loaded = load_document(CLEAN)
    read = read_document(parse_file(CLEAN), str(CLEAN))
    assert loaded.bundles == read.bundles


def test_plain_bpmn_is_a_bundle_without_hf() -> None:
    doc = load_document(CASES / "lowercase_start_end.bpmn")
    [bundle] = doc.bundles
    assert (bundle.lifecycle, bundle.time_limit, bundle.departments, bundle.has_hf) == (
        "other",
        None,
        (),
        False,
    )
    assert [m for m in bundle.materials()] == []


# -- bad input, answered clearly --------------------------------------------------------------


def test_malformed_xml(capsys: pytest.CaptureFixture[str]) -> None:
    path = CASES / "malformed.bpmn"
    where = line_of(path, "</bpmn:process>")
    check_text(
        capsys, path, exit_code=1, code="XML-SYNTAX", line=where, element=None, words=("XML 格式不正确",)
    )
    check_json(capsys, path, exit_code=1, code="XML-SYNTAX", line=where, element=None)


def _utf16(source: Path, target: Path, *, drop: str = "") -> Path:
    text = source.read_text(encoding="utf-8").replace('"UTF-8"', '"UTF-16"')
    target.write_bytes(text.replace(drop, "").encode("utf-16"))
    return target


@pytest.mark.parametrize("variant", ["utf-8", "utf-16", "utf-16-content-only"])
def test_xxe_is_refused_and_never_read(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], variant: str
) -> None:
    path = CASES / "xxe.bpmn"
    if variant != "utf-8":  # the declaration is not ASCII on disk: a byte-level scan cannot see it
        drop = 'name="&e;" ' if variant.endswith("content-only") else ""
        path = _utf16(path, tmp_path / "xxe16.bpmn", drop=drop)
    passwd = (
        Path("/etc/passwd").read_text(encoding="utf-8", errors="replace")
        if Path("/etc/passwd").exists()
        else ""
    )
    secret = next((ln for ln in passwd.splitlines() if ln.strip()), "root:x:0:0")
    for argv in (["validate", path], ["validate", path, "--format", "json"]):
        rc, out, err = run(capsys, *argv)
        assert rc == 1, out + err
        assert secret not in out + err and "root:" not in out + err
        assert "内部错误" not in err
    check_text(
        capsys,
        path,
        exit_code=1,
        code="XML-UNSAFE",
        line=2,
        element=None,
        words=("不接受文档类型声明和实体",),
    )
    check_json(capsys, path, exit_code=1, code="XML-UNSAFE", line=2, element=None, global_format=True)


@pytest.mark.parametrize("encoding", ["utf-8", "utf-16"])
def test_billion_laughs_is_refused_without_expanding_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, encoding: str
) -> None:
    """Refused by the scan for declarations before any XML parser sees it (how fast: bench/safety.py)."""

    def never(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("the file reached the XML parser")

    monkeypatch.setattr(xmlsafe.etree, "fromstring", never)
    path = CASES / "billion_laughs.bpmn"
    if encoding == "utf-16":
        path = _utf16(path, tmp_path / "lolz16.bpmn")
    rc, out, err = run(capsys, "--format", "json", "validate", path)
    assert err == ""
    assert rc == 1
    [result] = json_report(out)["files"]
    assert [p["code"] for p in result["problems"]] == ["XML-UNSAFE"]
    assert "lollol" not in out
    check_text(capsys, path, exit_code=1, code="XML-UNSAFE", line=2, element=None)


@pytest.mark.parametrize("encoding", ["utf-8", "utf-16"])
def test_parser_refuses_a_doctype_even_if_the_scan_misses_it(
    monkeypatch: pytest.MonkeyPatch, encoding: str
) -> None:
    """Defence in depth: the parsed tree is checked for a DTD too, whatever the byte scan saw."""
    monkeypatch.setattr("hennan_flow.bpmn.xmlsafe._declaration_line", lambda data: None)
    text = (CASES / "xxe.bpmn").read_text(encoding="utf-8").replace('name="&e;" ', "")
    data = text.replace('"UTF-8"', f'"{encoding.upper()}"').encode(encoding)
    with pytest.raises(BpmnError, match="不接受文档类型声明和实体"):
        parse_bytes(data, file="xxe.bpmn")


def test_syntax_errors_are_one_line() -> None:
    """libxml2 ends some messages with a newline; the error must still print as one line."""
    with pytest.raises(BpmnError) as caught:
        parse_bytes(b'<?xml version="1.0" encoding="UTF-8"?>\n<x>\n<y>\n', file="open.bpmn")
    assert "\n" not in str(caught.value)
    assert str(caught.value).startswith("open.bpmn:4: XML 格式不正确：")
    # EBCDIC: its declaration is not even readable as ASCII, so the bytes are not UTF-8 text
    data = '<?xml version="1.0" encoding="IBM037"?>\n<x/>\n'.encode("cp037")
    with pytest.raises(BpmnError) as caught:
        parse_bytes(data, file="ebcdic.bpmn")
    assert caught.value.code == "XML-ENCODING"
    assert "\n" not in str(caught.value)
    assert str(caught.value).startswith("ebcdic.bpmn:1: 字节 0xa7 不是 UTF-8 文本")


def test_huge_file_is_refused_by_size_without_reading(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "huge.bpmn"
    with path.open("wb") as f:  # sparse: 10 MB + 1 byte of nothing, costs no disk
        f.truncate(DEFAULT_MAX_BYTES + 1)
    read_bytes = Path.read_bytes

    def refuse_to_read(self: Path) -> bytes:
        assert self != path, "the huge file was read into memory"
        return read_bytes(self)

    monkeypatch.setattr(Path, "read_bytes", refuse_to_read)
    m = check_text(
        capsys, path, exit_code=1, code="XML-SIZE", line=None, element=None, words=("10,485,761 字节",)
    )
    assert "超过 10,485,760 字节的上限" in m["message"]
    check_json(capsys, path, exit_code=1, code="XML-SIZE", line=None, element=None)


def test_no_start_event(capsys: pytest.CaptureFixture[str]) -> None:
    path = CASES / "no_start_event.bpmn"
    where = line_of(path, '<bpmn:process id="no_start"')
    check_text(
        capsys,
        path,
        exit_code=1,
        code="SPIFF-BUILD",
        line=where,
        element="no_start",
        words=("No start event",),
    )
    check_json(capsys, path, exit_code=1, code="SPIFF-BUILD", line=where, element="no_start")


@pytest.mark.parametrize("reserved", ["Start", "End", "reserved.EndJoin"])
def test_reserved_ids(capsys: pytest.CaptureFixture[str], reserved: str) -> None:
    path = CASES / f"reserved_{reserved.rsplit('.', 1)[-1]}.bpmn"
    where = line_of(path, f'id="{reserved}"')
    m = check_text(capsys, path, exit_code=1, code="SPIFF-RESERVED-ID", line=where, element=reserved)
    assert (
        m["message"]
        == f'the id "{reserved}" is reserved by SpiffWorkflow for an internal task (case-sensitive)'
    )
    assert m["hint"] == f'rename it, e.g. "{reserved.lower().replace(".", "_")}"'
    check_json(capsys, path, exit_code=1, code="SPIFF-RESERVED-ID", line=where, element=reserved)


def test_lowercase_start_end_and_endjoin_are_fine(capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, _ = run(capsys, "validate", CASES / "lowercase_start_end.bpmn")
    assert rc == 0
    assert [m["code"] for m in problem_lines(out)] == ["HF-NONE"]  # plain BPMN with user tasks: a warning


@pytest.mark.parametrize(
    ("case", "attr", "kind", "element"),
    [
        ("message", "messageRef", "message", "throw_it"),
        ("error", "errorRef", "error", "throw_it"),
        ("signal", "signalRef", "signal", "throw_it"),
        ("escalation", "escalationRef", "escalation", "throw_it"),
        ("receive_task", "messageRef", "message", "wait_for_reply"),
    ],
)
def test_dangling_references(
    capsys: pytest.CaptureFixture[str], case: str, attr: str, kind: str, element: str
) -> None:
    path = CASES / f"dangling_{case}.bpmn"
    where = line_of(path, f'{attr}="no_such_{kind}"')
    m = check_text(capsys, path, exit_code=1, code="SPIFF-DANGLING-REF", line=where, element=element)
    assert m["message"] == f'{attr}="no_such_{kind}" points at no bpmn:{kind} of this file'
    check_json(capsys, path, exit_code=1, code="SPIFF-DANGLING-REF", line=where, element=element)


BOUNDARY_BUNDLE = """\
<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="defs" targetNamespace="t">
  <bpmn:process id="guarded" isExecutable="true">
    <bpmn:startEvent id="start"/>
    <bpmn:sequenceFlow id="to_review" sourceRef="start" targetRef="review"/>
    <bpmn:userTask id="review"/>
    <bpmn:sequenceFlow id="to_inner" sourceRef="review" targetRef="inner"/>
    <bpmn:subProcess id="inner">
      <bpmn:startEvent id="inner_start"/>
      <bpmn:sequenceFlow id="to_check" sourceRef="inner_start" targetRef="check"/>
      <bpmn:userTask id="check"/>
      <bpmn:sequenceFlow id="to_inner_end" sourceRef="check" targetRef="inner_end"/>
      <bpmn:endEvent id="inner_end"/>
    </bpmn:subProcess>
    <bpmn:sequenceFlow id="to_done" sourceRef="inner" targetRef="done"/>
    <bpmn:endEvent id="done"/>
    <bpmn:boundaryEvent id="too_late" attachedToRef="HOST">
      <bpmn:timerEventDefinition><bpmn:timeDuration>"P5D"</bpmn:timeDuration></bpmn:timerEventDefinition>
    </bpmn:boundaryEvent>
    <bpmn:sequenceFlow id="to_escalate" sourceRef="too_late" targetRef="escalate"/>
    <bpmn:userTask id="escalate"/>
    <bpmn:sequenceFlow id="to_late_end" sourceRef="escalate" targetRef="late_end"/>
    <bpmn:endEvent id="late_end"/>
  </bpmn:process>
</bpmn:definitions>
"""


@pytest.mark.parametrize(
    ("host", "words"),
    [
        ("reveiw", ('attachedToRef="reveiw" names no activity of this process', 'did you mean "review"?')),
        ("start", ('attachedToRef="start" names a startEvent, not an activity',)),
        ("to_review", ('attachedToRef="to_review" names no activity of this process',)),
        ("check", ('attachedToRef="check" names an element of another process level',)),
    ],
)
def test_a_boundary_event_on_no_activity_is_one_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], host: str, words: tuple[str, ...]
) -> None:
    path = tmp_path / "guarded.bpmn"
    path.write_text(BOUNDARY_BUNDLE.replace("HOST", host), encoding="utf-8")
    where = line_of(path, '<bpmn:boundaryEvent id="too_late"')
    m = check_text(
        capsys, path, exit_code=1, code="BPMN-BOUNDARY-HOST", line=where, element="too_late", words=words
    )
    assert "it never fires" in m["message"] and "attachedToRef" in m["hint"]
    found = check_json(capsys, path, exit_code=1, code="BPMN-BOUNDARY-HOST", line=where, element="too_late")
    doc = validate_file(path)
    # one message: not the unreachable escalation path behind it, nor a SpiffWorkflow build error
    assert [p.code for p in doc.problems if p.severity == "error"] == ["BPMN-BOUNDARY-HOST"], found
    # attached to the task, the same file is clean
    path.write_text(BOUNDARY_BUNDLE.replace("HOST", "review"), encoding="utf-8")
    assert [p.code for p in validate_file(path).problems if p.severity == "error"] == []


@pytest.mark.parametrize("case", ["message", "signal", "escalation", "receive_task"])
def test_dangling_reference_crash_is_mapped_at_the_seam(case: str) -> None:
    """SpiffWorkflow 3.2.0 crashes with a TypeError here (notes §10.9); the seam turns it into a BpmnError."""
    path = CASES / f"dangling_{case}.bpmn"
    with pytest.raises(BpmnError) as caught:
        build_specs(parse_file(path), str(path), "dangling")
    loc = caught.value.location
    assert loc is not None and loc.file == str(path) and loc.line is not None and loc.element
    assert caught.value.hint


def test_hf_attribute_outside_its_enumeration(capsys: pytest.CaptureFixture[str]) -> None:
    path = CASES / "hf_enum.bpmn"
    where = line_of(path, 'lifecycle="company"')
    m = check_text(capsys, path, exit_code=1, code="HF-XSD", line=where, element="hf_case")
    assert "'company'" in m["message"] and "'enterprise', 'person', 'project', 'other'" in m["message"]
    check_json(capsys, path, exit_code=1, code="HF-XSD", line=where, element="hf_case")


def test_unknown_hf_attribute(capsys: pytest.CaptureFixture[str]) -> None:
    path = CASES / "hf_unknown_attribute.bpmn"
    where = line_of(path, "elicense=")
    check_text(
        capsys, path, exit_code=1, code="HF-XSD", line=where, element="register", words=("'elicense'",)
    )
    check_json(capsys, path, exit_code=1, code="HF-XSD", line=where, element="register")


def test_unknown_hf_element(capsys: pytest.CaptureFixture[str]) -> None:
    path = CASES / "hf_unknown_element.bpmn"
    where = line_of(path, "<hf:deadline")
    m = check_text(capsys, path, exit_code=1, code="HF-XSD", line=where, element="register")
    assert m["message"] == "unknown hf: element <hf:deadline>"
    check_json(capsys, path, exit_code=1, code="HF-XSD", line=where, element="register")


def test_missing_path(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "no_such_bundle.bpmn"
    rc, out, err = run(capsys, "validate", CLEAN, path)
    assert rc == 2
    only_summary(err)
    [m] = problem_lines(out)
    assert m.group(0) == f"{path}: [IO-READ] no such file or folder. hint: check the path"
    check_json(capsys, path, exit_code=2, code="IO-READ", line=None, element=None)
    # the other files are still checked and reported
    rc, out, _ = run(capsys, "--format", "json", "validate", CLEAN, path)
    assert rc == 2
    assert [(f["file"], f["ok"]) for f in json_report(out)["files"]] == [
        (str(CLEAN), True),
        (str(path), False),
    ]


def test_directory_is_searched_recursively(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "a" / "deeper").mkdir(parents=True)
    shutil.copy(CLEAN, tmp_path / "top.bpmn")
    shutil.copy(CASES / "reserved_Start.bpmn", tmp_path / "a" / "reserved.BPMN")
    shutil.copy(CASES / "lowercase_start_end.bpmn", tmp_path / "a" / "deeper" / "plain.bpmn20.xml")
    (tmp_path / "a" / "notes.txt").write_text("not a bundle", encoding="utf-8")
    (tmp_path / "a" / "other.xml").write_text("<x/>", encoding="utf-8")
    rc, out, _ = run(capsys, "validate", "--format", "json", tmp_path)
    assert rc == 1
    files = {Path(f["file"]).relative_to(tmp_path).as_posix(): f["ok"] for f in json_report(out)["files"]}
    # top.bpmn has a form ref whose forms/ is not beside tmp_path, so only the HF-FORM error
    assert files == {"top.bpmn": False, "a/reserved.BPMN": False, "a/deeper/plain.bpmn20.xml": True}
    rc, out, _ = run(capsys, "validate", tmp_path, "--forms", FORMS)
    assert rc == 1
    assert [(Path(m["file"]).name, m["code"]) for m in problem_lines(out)] == [
        ("plain.bpmn20.xml", "HF-NONE"),
        ("reserved.BPMN", "SPIFF-RESERVED-ID"),
    ]


def test_directory_with_the_fixture_bundles(capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, _ = run(capsys, "--format", "json", "validate", FIXTURES / "bundles")
    assert rc == 0
    assert [f["file"] for f in json_report(out)["files"]] == [str(CLEAN)]


def test_long_chain_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_chain(tmp_path, 500)
    where = line_of(path, '<bpmn:process id="chain"')
    m = check_text(capsys, path, exit_code=1, code="SPIFF-DEPTH", line=where, element="chain")
    assert m["message"].startswith("a path of 502 elements")
    check_json(capsys, path, exit_code=1, code="SPIFF-DEPTH", line=where, element="chain")


def test_chain_at_the_limit_is_accepted(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_chain(tmp_path, MAX_PATH_ELEMENTS - 2)  # + start and end events
    rc, out, _ = run(capsys, "validate", path)
    assert rc == 0
    assert {m["code"] for m in problem_lines(out)} == {"HF-NONE", "BPMN-NO-DIAGRAM"}  # warnings only


@pytest.mark.parametrize("n", [450, 1200])
def test_long_chains_parse_without_touching_the_recursion_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, n: int
) -> None:
    """The parser seam feeds SpiffWorkflow successors first, so it never recurses along the chain."""
    path = write_chain(tmp_path, n)
    limit = sys.getrecursionlimit()

    def forbidden(_: int) -> None:
        raise AssertionError("sys.setrecursionlimit called: the portal's process-wide limit is not ours")

    monkeypatch.setattr(sys, "setrecursionlimit", forbidden)
    specs = build_specs(parse_file(path), str(path), "chain")
    assert {f"t{i}" for i in range(n)} <= set(specs.spec.task_specs)
    assert sys.getrecursionlimit() == limit


def test_stock_spiffworkflow_parser_does_recurse(tmp_path: Path) -> None:
    """The control for the test above: SpiffWorkflow's own parser fails on the 1200-task chain."""
    from SpiffWorkflow.bpmn.parser.BpmnParser import BpmnParser
    from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException

    path = write_chain(tmp_path, 1200)
    parser = BpmnParser()
    parser.add_bpmn_xml(parse_file(path), filename=str(path))
    with pytest.raises(ValidationException, match="RecursionError"):
        parser.get_spec("chain")


def test_script_task_refused_unless_allowed(capsys: pytest.CaptureFixture[str]) -> None:
    path = CASES / "script_task.bpmn"
    where = line_of(path, "<bpmn:scriptTask")
    check_text(
        capsys,
        path,
        exit_code=1,
        code="SANDBOX-CODE-TASK",
        line=where,
        element="compute_fee",
        words=("script tasks",),
    )
    check_json(capsys, path, exit_code=1, code="SANDBOX-CODE-TASK", line=where, element="compute_fee")
    rc, out, _ = run(capsys, "validate", path, "--allow-code-tasks")
    assert (rc, out) == (0, "")


def test_allowed_script_is_still_sandboxed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "import.bpmn"
    text = (CASES / "script_task.bpmn").read_text(encoding="utf-8")
    path.write_text(text.replace("fee = 100", "import os"), encoding="utf-8")
    m = check_text(
        capsys,
        path,
        exit_code=1,
        code="SANDBOX-EXPRESSION",
        line=line_of(path, "<bpmn:scriptTask"),
        element="compute_fee",
        extra=("--allow-code-tasks",),
    )
    assert "import is not allowed" in m["message"]


def test_condition_the_sandbox_refuses(capsys: pytest.CaptureFixture[str]) -> None:
    path = CASES / "condition_import.bpmn"
    where = line_of(path, "__import__")
    m = check_text(capsys, path, exit_code=1, code="SANDBOX-EXPRESSION", line=where, element="to_fast")
    assert m["message"].startswith("expression refused: calling '__import__('os').system' is not allowed")
    check_json(capsys, path, exit_code=1, code="SANDBOX-EXPRESSION", line=where, element="to_fast")


def test_warnings_only_exit_zero(capsys: pytest.CaptureFixture[str]) -> None:
    path = CASES / "immediate_with_limit.bpmn"
    where = line_of(path, "<hf:timeLimit")
    check_text(capsys, path, exit_code=0, code="HF-IMMEDIATE-LIMIT", line=where, element="register")
    problem = check_json(capsys, path, exit_code=0, code="HF-IMMEDIATE-LIMIT", line=where, element="register")
    assert problem["severity"] == "warning"


# -- every case, through the API: a verdict, never an exception -------------------------------

EXPECTED_CODES = {
    "billion_laughs.bpmn": {"XML-UNSAFE"},
    "condition_import.bpmn": {"SANDBOX-EXPRESSION", "HF-NONE"},
    "dangling_error.bpmn": {"SPIFF-DANGLING-REF", "SPIFF-EVENT-IGNORED"},  # an error is never thrown mid-flow
    "dangling_escalation.bpmn": {"SPIFF-DANGLING-REF"},
    "dangling_message.bpmn": {"SPIFF-DANGLING-REF"},
    "dangling_receive_task.bpmn": {"SPIFF-DANGLING-REF"},
    "dangling_signal.bpmn": {"SPIFF-DANGLING-REF"},
    "hf_enum.bpmn": {"HF-XSD", "HF-NO-FORM"},
    "hf_unknown_attribute.bpmn": {"HF-XSD", "HF-NO-FORM"},
    "hf_unknown_element.bpmn": {"HF-XSD", "HF-NO-FORM"},
    "immediate_with_limit.bpmn": {"HF-IMMEDIATE-LIMIT", "HF-NO-FORM"},
    "lowercase_start_end.bpmn": {"HF-NONE"},
    "malformed.bpmn": {"XML-SYNTAX"},
    "no_start_event.bpmn": {"SPIFF-BUILD", "HF-NONE"},
    "reserved_End.bpmn": {"SPIFF-RESERVED-ID"},
    "reserved_EndJoin.bpmn": {"SPIFF-RESERVED-ID", "HF-NONE"},
    "reserved_Start.bpmn": {"SPIFF-RESERVED-ID"},
    "script_task.bpmn": {"SANDBOX-CODE-TASK"},
    "xxe.bpmn": {"XML-UNSAFE"},
}


def test_every_case_fixture_is_listed() -> None:
    assert sorted(p.name for p in CASES.glob("*.bpmn")) == sorted(EXPECTED_CODES)


@pytest.mark.parametrize("name", sorted(EXPECTED_CODES))
def test_validate_file_gives_exactly_the_expected_codes(name: str) -> None:
    result = validate_file(CASES / name)
    assert {p.code for p in result.problems} == EXPECTED_CODES[name]
    assert not result.unusable
    for p in result.problems:
        assert LINE_SHAPE.match(p.line_text()), p.line_text()


# -- the error boundary -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("error", "exit_code"),
    [
        (BpmnError("bad file", hint="fix it"), 2),
        (ConfigError("bad option"), 2),
        (NotFoundError("no such case"), 2),
        (ConflictError("lost the race"), 1),
        (FindingsError("refused"), 1),
        (HennanFlowError("oops"), 3),
    ],
    ids=lambda v: type(v).__name__ if isinstance(v, Exception) else str(v),
)
def test_cli_boundary_turns_errors_into_one_line(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    error: HennanFlowError,
    exit_code: int,
) -> None:
    def fail(*_: object, **__: object) -> None:
        raise error

    monkeypatch.setattr("hennan_flow.cli.validate.validate_paths", fail)
    rc, out, err = run(capsys, "validate", CLEAN)
    assert (rc, out) == (exit_code, "")
    assert err == f"错误：{error}\n"


def test_cli_boundary_reports_a_bug_as_exit_3(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def crash(*_: object, **__: object) -> None:
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr("hennan_flow.cli.validate.validate_paths", crash)
    rc, out, err = run(capsys, "validate", CLEAN)
    assert (rc, out) == (3, "")
    [line] = err.splitlines()
    assert line.startswith(
        "内部错误：ZeroDivisionError: division by zero（这是 hennan_flow 的缺陷；加 --debug 重新运行"
    )
    assert "Traceback" not in err


def test_usage_error_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, err = run(capsys, "validate")
    assert (rc, out) == (2, "")
    assert "缺少参数 PATHS（" in err
    rc, _, err = run(capsys, "validate", CLEAN, "--format", "yaml")
    assert rc == 2 and "参数 --format 的值无效（收到 'yaml'）：可选值为 " in err
