"""`hennan-flow audit`: formats, --output, --fail-on, --list-rules, exit codes 0/1/2, clear bad input."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from hennan_flow.cli import main

FIXTURES = Path(__file__).parent / "fixtures" / "audit"
REPO = Path(__file__).resolve().parents[1]
VIOLATIONS = str(FIXTURES / "violations.bpmn")
CLEAN = str(FIXTURES / "clean.bpmn")


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exited:
        main(list(args))
    out, err = capsys.readouterr()
    code = exited.value.code
    return (code if isinstance(code, int) else 0), out, err


def test_clean_bundle_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "audit", CLEAN)
    assert code == 0, err
    assert "1 个文件，1 个事项：审查通过 — 错误 0 项" in out and "材料 14 → 7 件" in out


def test_findings_exit_1(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "audit", VIOLATIONS)
    assert code == 1
    assert ": 错误 R4 材料 r4_articles_again：材料“公司章程”重复收取" in out


@pytest.mark.parametrize(
    ("fail_on", "target", "expected"),
    [
        ("never", VIOLATIONS, 0),
        ("error", VIOLATIONS, 1),
        ("warning", VIOLATIONS, 1),
        ("warning", CLEAN, 0),  # notes never fail
    ],
)
def test_fail_on(capsys: pytest.CaptureFixture[str], fail_on: str, target: str, expected: int) -> None:
    code, _, _ = run(capsys, "audit", target, "--fail-on", fail_on)
    assert code == expected


def test_json_is_exactly_one_document_on_stdout(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "audit", "--format", "json", VIOLATIONS, CLEAN)
    assert code == 1
    document = json.loads(out)
    assert document["version"] == 1 and len(document["bundles"]) == 2
    assert {f["file"] for f in document["findings"]} == {VIOLATIONS, CLEAN}
    assert err.startswith("材料审查：2 个文件，2 个事项：错误 8 项")


def test_global_format_json_and_subcommand_override(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--format", "json", "audit", CLEAN)
    assert code == 0 and json.loads(out)["summary"]["clean"] is True
    code, out, _ = run(capsys, "--format", "json", "audit", "--format", "sarif", CLEAN)
    assert code == 0 and json.loads(out)["version"] == "2.1.0"
    code, out, _ = run(capsys, "--format", "json", "audit", "--format", "text", CLEAN)
    assert code == 0 and out.startswith(f"{CLEAN}: ")


def test_html_to_output_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    target = tmp_path / "report.html"
    code, out, err = run(capsys, "audit", "--format", "html", "--output", str(target), VIOLATIONS)
    assert code == 1 and out == ""
    assert target.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert f"报告已写入 {target}" in err


def test_output_into_a_missing_folder_is_exit_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = run(capsys, "audit", "--output", str(tmp_path / "no" / "r.txt"), CLEAN)
    assert code == 2 and "无法写入报告" in err


def test_list_rules(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "audit", "--list-rules")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split()[:3] == ["R1", "legal_basis", "错误"]
    assert lines[1].strip().startswith("没有设定依据")  # the summary, in Chinese too
    assert "没有法律法规规定或开具单位无法调查核实证明的材料一律取消" in lines[0]
    assert any(
        line.startswith("R3 ") and "能够采取申请人书面承诺方式解决的材料一律免于提交" in line
        for line in lines
    )
    assert [line.split()[0] for line in lines if line.startswith("R")] == [
        "R1", "R2", "R3", "R4", "R5", "R6", "R7", "R8", "R10", "R11",
    ]  # fmt: skip
    code, out, _ = run(capsys, "audit", "--list-rules", "--format", "json")
    assert code == 0 and [r["id"] for r in json.loads(out)][-1] == "R11"


def test_no_path_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "audit")
    assert code == 2 and "请至少指定一个事项包文件或目录" in err


@pytest.mark.parametrize(
    ("fixture", "line"),
    [
        ("bad/not_xml.bpmn", "bad/not_xml.bpmn:5: XML 格式不正确：Opening and ending tag mismatch"),
        ("bad/not_bpmn.bpmn", "bad/not_bpmn.bpmn:2: 不是 BPMN 2.0 文件"),
        (
            "bad/material_no_id.bpmn",
            'bad/material_no_id.bpmn:9: element "register": [HF-MATERIAL] hf:material has no id',
        ),
        (
            "bad/material_no_name.bpmn",
            'bad/material_no_name.bpmn:9: element "register": [HF-MATERIAL] material "articles": '
            "hf:material has no name",
        ),
        (
            "bad/duplicate_material.bpmn",
            'bad/duplicate_material.bpmn:10: element "register": [HF-DUP-MATERIAL] material id "articles" is used twice',
        ),
        (
            "bad/unknown_covered_by.bpmn",
            'bad/unknown_covered_by.bpmn:9: element "register": [HF-UNKNOWN-REF] material "copy": coveredBy names "articles"',
        ),
        (
            "bad/unknown_produced_by.bpmn",
            'bad/unknown_produced_by.bpmn:9: element "register": [HF-UNKNOWN-REF] material "licence": producedBy="nowhere"',
        ),
    ],
)
def test_bad_bundle_is_one_clear_line_and_exit_2(
    capsys: pytest.CaptureFixture[str], fixture: str, line: str
) -> None:
    code, out, err = run(capsys, "audit", str(FIXTURES / fixture))
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith(f"错误：{FIXTURES}/{line}")
    assert "建议：" in err and "Traceback" not in err


def test_a_folder_with_an_unsound_file_is_audited_whole(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """As `validate` does: one broken file of a folder is reported as its error, the rest are audited."""
    (tmp_path / "a_broken.bpmn").write_text("<definitions", encoding="utf-8")
    shutil.copy(FIXTURES / "bad" / "duplicate_material.bpmn", tmp_path / "b_duplicate.bpmn")
    shutil.copy(CLEAN, tmp_path / "c_clean.bpmn")
    code, out, _ = run(capsys, "audit", str(tmp_path), "--format", "json")
    document = json.loads(out)
    assert code == 1
    assert [(p["file"].rsplit("/", 1)[-1], p["code"]) for p in document["validation"]] == [
        ("a_broken.bpmn", "XML-SYNTAX"),
        ("b_duplicate.bpmn", "HF-DUP-MATERIAL"),
    ]
    assert document["summary"]["files"] == 3 and len(document["bundles"]) == 1


def test_missing_file_exit_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    missing = tmp_path / "missing.bpmn"
    code, _, err = run(capsys, "audit", str(missing))
    assert code == 2 and err.startswith(f"错误：{missing}: 文件或目录不存在")
    assert "建议：检查路径" in err and err.count("\n") == 1


def test_unreadable_file_exit_2(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    locked = tmp_path / "locked.bpmn"
    locked.write_bytes(Path(CLEAN).read_bytes())
    if os.geteuid() == 0:  # root reads anything: refuse the read the way the OS would
        real = os.open

        def refuse(path: str | os.PathLike[str], flags: int, *args: int) -> int:
            if Path(path) == locked:
                raise PermissionError(13, "Permission denied", str(path))
            return real(path, flags, *args)

        monkeypatch.setattr(os, "open", refuse)
    else:
        locked.chmod(0)
    code, _, err = run(capsys, "audit", str(locked))
    assert code == 2 and err.startswith(f"错误：{locked}: 没有读取权限") and err.count("\n") == 1


@pytest.mark.parametrize(
    ("fixture", "line"),
    [
        ("catalog_malformed.toml", 5),
        ("catalog_unknown_key.toml", 6),
        ("catalog_bad_pattern.toml", 6),
    ],
)
def test_bad_catalogue_exit_2(capsys: pytest.CaptureFixture[str], fixture: str, line: int) -> None:
    path = FIXTURES / fixture
    code, out, err = run(capsys, "audit", CLEAN, "--catalog", str(path))
    assert code == 2 and out == ""
    assert err.startswith(f"错误：{path}:{line}: 审查目录：") and err.count("\n") == 1


def test_unknown_catalogue_exit_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = run(capsys, "audit", CLEAN, "--catalog", str(tmp_path / "county.toml"))
    assert code == 2 and "无法读取审查目录文件" in err


def test_county_catalogue_changes_the_verdicts(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    bundle = tmp_path / "disability.bpmn"
    bundle.write_text(
        Path(CLEAN).read_text(encoding="utf-8").replace("公司章程", "殘疾人證"), encoding="utf-8"
    )
    code, _, _ = run(capsys, "audit", str(bundle))
    assert code == 0
    code, out, _ = run(
        capsys, "audit", str(bundle), "--catalog", str(FIXTURES / "county.toml"), "--format", "json"
    )
    assert code == 1
    (finding,) = [f for f in json.loads(out)["findings"] if f["severity"] == "error"]
    assert (finding["rule"], finding["material"]) == ("R2", "articles")


def test_audit_modules_import_no_database_code() -> None:
    """The audit's own modules never import the engine, the database layer or SQLAlchemy."""
    import ast

    src = REPO / "src" / "hennan_flow"
    files = [*(src / "audit").rglob("*.py"), *(src / "report").rglob("*.py"), src / "cli" / "audit.py"]
    forbidden = (
        "sqlalchemy",
        "alembic",
        "hennan_flow.engine",
        "hennan_flow.db",
        "hennan_flow.runtime.workflow",
    )
    offenders = []
    for path in files:
        package = ".".join(path.relative_to(src.parent).with_suffix("").parts[:-1])
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = package.rsplit(".", node.level - 1)[0] if node.level else ""
                names = [f"{base}.{node.module}" if base and node.module else (node.module or base)]
            offenders += [f"{path.name}: {n}" for n in names if n.startswith(forbidden)]
    assert len(files) > 15 and offenders == []


def test_audit_never_imports_sqlalchemy() -> None:
    script = textwrap.dedent(
        f"""
        import sys
        from hennan_flow.cli import main
        try:
            main(["audit", {CLEAN!r}, "--format", "json"])
        except SystemExit as e:
            assert e.code == 0, e.code
        loaded = sorted(m for m in sys.modules if m.split(".")[0] in ("sqlalchemy", "alembic"))
        why = [m for m in ("hennan_flow.engine", "hennan_flow.db") if m in sys.modules]
        assert not loaded, (
            f"SQLAlchemy loaded ({{len(loaded)}} modules) by {{why}}: hennan_flow/__init__.py must import "
            "the engine lazily (PEP 562 __getattr__) so that the audit runs without it"
        )
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr


def test_county_bundles_audit_clean(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    processes = REPO / "processes"
    if not any(processes.glob("*.bpmn")):
        pytest.skip("no bundles in processes/ yet")
    monkeypatch.chdir(REPO)
    code, out, err = run(capsys, "audit", "processes", "--format", "json")
    assert code == 0, err
    document = json.loads(out)
    assert document["summary"]["errors"] == 0
    assert all(f["severity"] != "error" for f in document["findings"])
    for b in document["bundles"]:  # the report shows their reduction figures
        assert b["file"].startswith("processes/")
        # (a 12345 call brings no material: nothing to reduce)
        assert b["materials_before"] > b["materials_after"] >= 0 or b["materials_before"] == 0
        with capsys.disabled():
            print(
                f"\n  {b['file']}: {b['key']} materials {b['materials_before']} → {b['materials_after']} "
                f"(e-licence {b['exempt_e_license']}, commitment {b['exempt_commitment']}, "
                f"cancelled {b['cancelled']}, generated {b['generated']}, online forms {b['online_form']})",
                end="",
            )


@pytest.mark.parametrize("doc", ["README.md", "docs/audit.md"])
def test_the_quoted_audit_excerpt_is_what_the_audit_prints(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, doc: str
) -> None:
    """The Chinese excerpt the README and docs/audit.md quote: each of its lines is a line of the text
    report of processes/newborn.bpmn, in the same order."""
    text = (REPO / doc).read_text(encoding="utf-8")
    (block,) = [b for b in re.findall(r"```text\n(.*?)```", text, re.S) if "processes/newborn.bpmn:" in b]
    quoted = textwrap.dedent(block).splitlines()
    monkeypatch.chdir(REPO)
    code, out, _ = run(capsys, "audit", "processes/newborn.bpmn")
    assert code == 0
    lines = out.splitlines()
    at = [lines.index(line) for line in quoted]  # ValueError names a line the audit does not print
    assert at == sorted(at) and len(quoted) >= 6
