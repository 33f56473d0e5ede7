"""`hennan-flow validate` over every BPMN file of the shared corpora (≈2,400 files from other projects).

Each file gets a verdict, clean or one-line diagnostics with a code; never a traceback, never exit 3.
The corpora live beside the repository (`../shared/corpora`, or env HENNAN_FLOW_CORPORA); without
them the test skips. The pass/fail counts are printed (see them with `pytest -rA` or `-s`) and
attached to the JUnit report with `record_property`.
"""

from __future__ import annotations

import json
import os
import re
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from hennan_flow.bpmn.validate import BPMN_SUFFIXES, validate_paths
from hennan_flow.cli import main

CORPORA = Path(
    os.environ.get("HENNAN_FLOW_CORPORA") or Path(__file__).resolve().parents[2] / "shared" / "corpora"
)
CODE = re.compile(r"^[A-Z][A-Z0-9]*(?:-[A-Z0-9]+)+$")
LINE_SHAPE = re.compile(
    r'^(?P<file>.+?):(?:(?P<line>\d+):)?(?: element "(?P<element>[^"]+)":)? '
    r"\[(?P<code>[A-Z][A-Z0-9]*(?:-[A-Z0-9]+)+)\] (?P<message>\S.*?)\.(?: hint: (?P<hint>\S.*))?$"
)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not CORPORA.is_dir(), reason=f"no corpora at {CORPORA} (set HENNAN_FLOW_CORPORA)"),
]


def corpus_files() -> list[str]:
    """Every BPMN file of the corpora, found independently of the CLI's own discovery."""
    return sorted(
        str(p) for p in CORPORA.rglob("*") if p.is_file() and p.name.lower().endswith(BPMN_SUFFIXES)
    )


def test_validate_every_corpus_file(
    capsys: pytest.CaptureFixture[str], record_property: Callable[[str, object], None]
) -> None:
    files = corpus_files()
    assert files, f"no BPMN files under {CORPORA}"

    # 1. the CLI, once, over the whole folder
    with pytest.raises(SystemExit) as exited:
        main(["--format", "json", "validate", str(CORPORA)])
    out, err = capsys.readouterr()
    assert exited.value.code in (0, 1), err[-2000:]
    assert "内部错误" not in err and "Traceback" not in err
    assert err == "", err[-2000:]
    document = json.loads(out)  # exactly one JSON document
    results = {f["file"]: f for f in document["files"]}
    assert len(results) == len(document["files"]), "a file was reported twice"
    assert sorted(results) == files

    # 2. the library over the same files (call activities are resolved across them): the same
    # verdict, each problem one line with a code
    codes: Counter[str] = Counter()
    disagree = []
    library = {r.file: r for r in validate_paths(files).files}
    for path in files:
        result = library[path]
        reported = results[path]
        if (result.ok, [p.code for p in result.problems]) != (
            reported["ok"],
            [p["code"] for p in reported["problems"]],
        ):
            disagree.append(path)
        assert not result.unusable, path
        assert result.ok is (not any(p.severity == "error" for p in result.problems)), path
        for problem in result.problems:
            codes[problem.code] += 1
            assert CODE.match(problem.code), (path, problem)
            assert problem.severity in ("error", "warning"), (path, problem)
            assert problem.message.strip(), (path, problem)
            assert "internal error" not in problem.message and "Traceback" not in problem.message
            line = problem.line_text()
            assert "\n" not in line and "\r" not in line, (path, line)
            assert LINE_SHAPE.match(line), (path, line)
            assert line.startswith(f"{path}:"), (path, line)
    assert disagree == [], f"the CLI and validate_paths disagree on {len(disagree)} file(s): {disagree[:5]}"

    passed = sum(f["ok"] for f in results.values())
    failed = len(results) - passed
    assert exited.value.code == (1 if failed else 0)
    record_property("corpus_files", len(results))
    record_property("corpus_passed", passed)
    record_property("corpus_failed", failed)
    record_property("corpus_problem_codes", dict(codes.most_common()))
    print(f"corpora {CORPORA}: {len(results)} files, {passed} pass, {failed} fail")
    print("problem codes: " + ", ".join(f"{code} {n}" for code, n in codes.most_common()))
