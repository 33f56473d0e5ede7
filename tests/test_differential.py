"""The differential test of issue 29: every BPMN file of the shared corpora runs through plain
SpiffWorkflow 3.2.0 and through hennan_flow with the same inputs (`differential.py`: no start data,
each ready step completed with empty data, the first in document order), and every difference falls in
a documented class (docs/bundles.md, "Fidelity to SpiffWorkflow"). The counts per class are printed
(`pytest -rA -s`) and attached with `record_property`; a difference in no class is listed by file.
Without the corpora (`../shared/corpora`, or env HENNAN_FLOW_CORPORA) the test skips.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from differential import compare, folder_index, load_model
from helpers import CORPORA, START
from hennan_flow.bpmn.validate import BPMN_SUFFIXES
from hennan_flow.engine import Engine, SimulatedClock

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not CORPORA.is_dir(), reason=f"no corpora at {CORPORA} (set HENNAN_FLOW_CORPORA)"),
]


def test_every_difference_from_plain_spiffworkflow_is_a_documented_class(
    tmp_path: Path, record_property: Callable[[str, object], None]
) -> None:
    files = sorted(p for p in CORPORA.rglob("*") if p.is_file() and p.name.lower().endswith(BPMN_SUFFIXES))
    index = folder_index(files)
    models = [m for f in files if (m := load_model(f, index)) is not None]
    url = f"sqlite:///{tmp_path / 'differential.db'}"
    Engine(url).upgrade(simulation=True)
    result = compare(models, lambda: Engine(url, clock=SimulatedClock(START)))
    counts = dict(sorted(result["counts"].items()))
    print("differential counts:", counts)
    record_property("differential", counts)
    assert counts["processes"] > 0
    unclassified = result["unclassified"]
    assert not unclassified, f"{len(unclassified)} difference(s) in no documented class:\n" + "\n".join(
        u[:400] for u in unclassified
    )
