"""One bound on the instances of every multi-instance step (issue 28, item 2): a collection named by
`loopDataInputRef` is held to `MAX_INSTANCES` as `loopCardinality` is, parallel and sequential, checked
as the step makes its instances; a collection that is missing or not a list is the same clear input
error (exit 2) naming the element, never SpiffWorkflow's TypeError.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fidelity_models import chain, process, write
from helpers import run_cli
from hennan_flow.engine import Engine
from hennan_flow.errors import ExpressionError
from hennan_flow.runtime.workflow import MAX_INSTANCES

NOW = "2026-03-02T09:00:00+08:00"


def each_reviewer(pid: str, *, sequential: bool) -> str:
    """One review task per item of `reviewers`, then the end."""
    flag = ' isSequential="true"' if sequential else ""
    review = (
        '    <bpmn:userTask id="review" name="会签">'
        f"<bpmn:multiInstanceLoopCharacteristics{flag}>"
        "<bpmn:loopDataInputRef>reviewers</bpmn:loopDataInputRef>"
        '<bpmn:inputDataItem id="reviewer" name="reviewer"/>'
        "</bpmn:multiInstanceLoopCharacteristics></bpmn:userTask>"
    )
    body = ['    <bpmn:startEvent id="start"/>', review, '    <bpmn:endEvent id="end"/>']
    return process(pid, "\n".join([*body, chain("start", "review", "end")]))


@pytest.fixture(params=[False, True], ids=["parallel", "sequential"])
def model(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, Path]:
    pid = "countersign_seq" if request.param else "countersign"
    return pid, write(tmp_path / "bundles", f"{pid}.bpmn", each_reviewer(pid, sequential=request.param))


def test_a_collection_past_the_bound_is_refused_naming_the_element_and_the_bound(
    sqlite_url: str, model: tuple[str, Path]
) -> None:
    """Before the bound a 20,000-item list made 20,000 ready tasks (20 s a completion, 3.2 GB)."""
    pid, file = model
    with Engine(sqlite_url) as engine:
        engine.upgrade()
        engine.deploy(str(file))
        with pytest.raises(ExpressionError) as info:
            engine.start_case(pid, data={"reviewers": [f"r{i}" for i in range(20_000)]})
        assert info.value.location is not None and info.value.location.element == "review"
        assert "'reviewers' 有 20000 项" in info.value.message
        assert f"最多生成 {MAX_INSTANCES} 个实例" in info.value.message
        assert engine.cases() == []  # nothing half-started


def test_the_bound_itself_runs(sqlite_url: str, model: tuple[str, Path]) -> None:
    pid, file = model
    with Engine(sqlite_url) as engine:
        engine.upgrade()
        engine.deploy(str(file))
        case = engine.start_case(pid, data={"reviewers": [f"r{i}" for i in range(MAX_INSTANCES)]})
        ready = engine.tasks(case=case.id)
        assert len(ready) == (1 if pid.endswith("_seq") else MAX_INSTANCES)


@pytest.mark.parametrize(
    ("data", "why"),
    [
        ({}, "'reviewers' 不在办件数据中"),
        ({"reviewers": None}, "须为列表，不能是 NoneType"),
        ({"reviewers": "张三"}, "须为列表，不能是 str"),
        ({"reviewers": 3}, "须为列表，不能是 int"),
    ],
)
def test_a_missing_or_scalar_collection_is_an_input_error(
    sqlite_url: str, model: tuple[str, Path], data: dict[str, object], why: str
) -> None:
    """SpiffWorkflow's parallel form raised TypeError ('NoneType' object is not iterable): exit 3."""
    pid, file = model
    with Engine(sqlite_url) as engine:
        engine.upgrade()
        engine.deploy(str(file))
        with pytest.raises(ExpressionError) as info:
            engine.start_case(pid, data=data)
        assert why in info.value.message and info.value.location is not None
        assert info.value.location.element == "review"


def test_the_cli_answers_a_flood_with_exit_2_and_one_line(
    sqlite_url: str, model: tuple[str, Path], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    pid, file = model
    Engine(sqlite_url).upgrade(simulation=True)  # a simulation database: the CLI's --now applies
    assert run_cli(sqlite_url, capsys, "deploy", str(file), now=NOW)[0] == 0
    data = tmp_path / "flood.json"
    data.write_text(json.dumps({"reviewers": list(range(20_000))}), encoding="utf-8")
    code, _out, err = run_cli(sqlite_url, capsys, "case", "start", pid, "--data", f"@{data}", now=NOW)
    assert code == 2 and err.startswith("错误：") and err.count("\n") == 1, err
    assert "review" in err and "20000 项" in err and str(MAX_INSTANCES) in err
