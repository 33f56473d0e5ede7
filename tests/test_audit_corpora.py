"""The audit over ≈2,400 public BPMN files (../shared/corpora, no hf: extensions): no traceback, and no
finding for a file that declares no materials. The flow-order reasoning is run on every process too,
since these files hold the loops, subprocesses, boundary events and gateways the county's bundles may
one day use. Skips where the folder is absent."""

from __future__ import annotations

import os
import time
from collections import Counter
from pathlib import Path

import pytest

from hennan_flow.audit import FlowGraph, audit_paths, default_rules, load_catalog
from hennan_flow.bpmn.validate import bundle_files
from hennan_flow.errors import HennanFlowError, InputError

SHARED = Path(os.environ.get("HENNAN_FLOW_SHARED", Path(__file__).resolve().parents[2] / "shared"))
CORPORA = SHARED / "corpora"


@pytest.mark.slow
def test_audit_over_the_corpora(capsys: pytest.CaptureFixture[str]) -> None:
    if not CORPORA.is_dir():
        pytest.skip(f"no corpora at {CORPORA}")
    catalog, rules = load_catalog(), default_rules()
    started = time.monotonic()
    counts: Counter[str] = Counter()
    refused: Counter[str] = Counter()
    offenders: list[str] = []
    for path, _exists in bundle_files([str(CORPORA)]):
        counts["files"] += 1
        try:
            report = audit_paths([path], catalog=catalog, rules=rules)
        except InputError as exc:  # a clear refusal (broken fixture files exist on purpose), not a crash
            assert isinstance(exc, HennanFlowError) and exc.location is not None
            refused[exc.message.split(":")[0][:40]] += 1
            counts["refused"] += 1
            continue
        counts["audited"] += 1
        counts["bundles"] += len(report.bundles)
        materials = sum(b.figures.before for b in report.bundles)
        counts["materials"] += materials
        counts["findings"] += len(report.findings)
        if materials == 0 and report.findings:
            offenders.append(f"{path}: {[f.line_text() for f in report.findings[:3]]}")
        for bundle in report.bundles:
            counts["steps"] += len(bundle.steps)
    # the graph reasoning on every process, queried for every pair of user steps
    graphs = 0
    for path, _exists in bundle_files([str(CORPORA)]):
        from hennan_flow.bpmn.dialect import load_document

        try:
            doc = load_document(path)
        except InputError:
            continue
        for b in doc.bundles:
            g = FlowGraph.of(b)
            graphs += 1
            steps = [s.id for s in b.steps][:40]
            for a in steps:
                g.always(a)
                assert not g.runs_before(a, a)
                for c in steps:
                    # "runs before" is a strict order: never both ways
                    assert not (g.runs_before(a, c) and g.runs_before(c, a)), (path, a, c)
                    if g.runs_before(a, c):
                        counts["ordered pairs"] += 1
                        assert g.accompanies(c, a)  # whatever runs before c runs whenever c runs
    elapsed = time.monotonic() - started
    with capsys.disabled():
        print(
            f"\n  corpora: {counts['files']} files, {counts['audited']} audited, {counts['refused']} refused as "
            f"input errors {dict(refused.most_common(6))}; {counts['bundles']} processes, {counts['steps']} "
            f"user steps, {counts['materials']} materials, {counts['findings']} findings; {graphs} flow graphs "
            f"({counts['ordered pairs']} ordered step pairs); "
            f"{elapsed:.1f}s"
        )
    assert counts["files"] > 2000
    assert offenders == []
    assert counts["findings"] == 0  # none of these files uses the hf: dialect
