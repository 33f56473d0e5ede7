"""JUEL, the expression language of Flowable/Activiti/Camunda models, translated at deploy (issue 29).

The subset (`${…}`/`#{…}`, names and dotted lookups, literals, comparisons with JUEL's coercions,
and/or/not, empty) runs in the sandbox; anything else is refused at validate with a message that
names JUEL and the part it cannot translate.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fidelity_models import chain, flow, process, user, write
from helpers import START, simulation
from hennan_flow.bpmn.validate import validate_file
from hennan_flow.errors import ExpressionError
from hennan_flow.runtime.juel import juel_compare, original, translate
from hennan_flow.runtime.sandbox import Sandbox

SANDBOX = Sandbox()


def run(text: str, data: dict[str, Any], *, condition: bool = True) -> Any:
    return SANDBOX.evaluate(translate(text, condition=condition), data)


@pytest.mark.parametrize(
    ("text", "data", "expected"),
    [
        ("${day>3}", {"day": 5}, True),
        ("${day > 3}", {"day": 3}, False),
        ("${day>3}", {"day": "5"}, True),  # a numeric string compares as a number
        ("${day<=3}", {"day": 3}, True),
        ("${deptLeaderApproved == 'true'}", {"deptLeaderApproved": True}, True),
        ("${deptLeaderApproved == 'true'}", {"deptLeaderApproved": "true"}, True),
        ("${deptLeaderApproved == 'true'}", {"deptLeaderApproved": False}, False),
        ('${approved eq "false"}', {"approved": False}, True),
        ("${approved}", {"approved": "false"}, False),  # a string is true only when it says true
        ("${approved}", {"approved": True}, True),
        ("${!approved}", {"approved": False}, True),
        ("${not approved}", {"approved": "true"}, False),
        ("#{a && b}", {"a": True, "b": "true"}, True),
        ("${a and b}", {"a": True, "b": None}, False),
        ("${a || b}", {"a": False, "b": True}, True),
        ("${a or b}", {"a": None, "b": ""}, False),
        ("${empty list}", {"list": []}, True),
        ("${empty name}", {"name": ""}, True),
        ("${!empty name}", {"name": "张三"}, True),
        ("${empty missing.key}", {"missing": {}}, True),
        ("${applicant.age ge 18}", {"applicant": {"age": 18}}, True),
        ("${applicant.address.city == '衡南'}", {"applicant": {"address": {"city": "衡南"}}}, True),
        ("${applicant.age lt 18}", {"applicant": None}, False),  # null never orders
        ("${x == null}", {"x": None}, True),
        ("${x != null}", {"x": 0}, True),
        ("${amount gt 1.5}", {"amount": 2}, True),
        ("${amount == 2}", {"amount": 2.0}, True),
        ("${-1 < y}", {"y": 0}, True),
        ("${(a || b) && c}", {"a": False, "b": True, "c": True}, True),
        ("${name == 'it\\'s'}", {"name": "it's"}, True),
        ("${ kind ne 'A' }", {"kind": "B"}, True),
        ("${a < b}", {"a": "abc", "b": "abd"}, True),  # two strings compare as text
    ],
)
def test_the_subset_evaluates_as_a_juel_engine_does(text: str, data: dict[str, Any], expected: bool) -> None:
    assert run(text, data) is expected


def test_a_value_expression_keeps_its_value_and_the_translation_remembers_the_juel() -> None:
    translated = translate("${reviewDays}")
    assert SANDBOX.evaluate(translated, {"reviewDays": "P5D"}) == "P5D"
    assert original(translated) == "${reviewDays}"
    assert original("day > 3") is None


@pytest.mark.parametrize(
    ("text", "part"),
    [
        ("${day + 1 > 3}", "arithmetic (+)"),
        ("${a * 2}", "arithmetic (*)"),
        ("${a div 2}", "arithmetic (div)"),
        ("${a ? b : c}", "the conditional operator ?:"),
        ("${list[0]}", "indexing with […]"),
        ("${execution.getVariable('approved')}", "calling execution.getVariable(…)"),
        ("${fn:contains(a, 'x')}", "the function fn:contains(…)"),
        ("${a} and ${b}", "composite expressions"),
        ("${a", "the closing } is missing"),
        ("${}", "ends too early"),
        ("${x instanceof y}", "instanceof"),
        ("${class == 1}", "the name 'class'"),
        ("${'open}", "not closed"),
    ],
)
def test_anything_outside_the_subset_is_refused_naming_juel_and_the_part(text: str, part: str) -> None:
    with pytest.raises(ExpressionError) as info:
        translate(text)
    assert "JUEL" in info.value.message and part in info.value.message
    assert "docs/bundles.md" in (info.value.hint or "")


@given(st.integers(-(10**6), 10**6), st.integers(-(10**6), 10**6))
def test_numbers_compare_as_numbers_whatever_side_is_text(a: int, b: int) -> None:
    for op, expected in (("<", a < b), (">", a > b), ("<=", a <= b), (">=", a >= b), ("==", a == b)):
        assert juel_compare(op, a, b) is expected
        assert juel_compare(op, str(a), b) is expected
        assert juel_compare(op, a, str(b)) is expected


def test_juel_comparisons_refuse_what_juel_refuses() -> None:
    with pytest.raises(TypeError):
        juel_compare("<", True, 1)
    with pytest.raises(TypeError):
        juel_compare(">", "3.5", 3)  # JUEL reads a string beside an integer as a Long
    with pytest.raises(ExpressionError, match="as a boolean"):
        run("${count}", {"count": 3})


# -- in a bundle -----------------------------------------------------------------------------------


def approval(condition_yes: str, condition_no: str) -> str:
    body = [
        '    <bpmn:startEvent id="start"/>',
        user("apply", "archive", "notify"),
        '    <bpmn:exclusiveGateway id="decide"/>',
        '    <bpmn:endEvent id="end"/>',
        chain("start", "apply", "decide"),
        flow("decide", "archive", condition_yes),
        flow("decide", "notify", condition_no),
        chain("archive", "end", prefix="a"),
        chain("notify", "end", prefix="n"),
    ]
    return process("juel_leave", "\n".join(body), name="请假审批")


def test_a_bundle_with_juel_conditions_deploys_and_takes_each_branch(sqlite_url: str, tmp_path: Path) -> None:
    bundle = write(
        tmp_path / "p",
        "leave.bpmn",
        approval("${days > 3 && approved == 'true'}", "${!(days > 3) || !approved}"),
    )
    with simulation(sqlite_url, bundle, START) as (engine, _clock):
        for data, expected in (
            ({"days": 5, "approved": True}, "archive"),
            ({"days": 2, "approved": True}, "notify"),
        ):
            case = engine.start_case("juel_leave")
            later = engine.complete_task(case.ready[0].id, data=data)
            assert [t.step for t in later.ready] == [expected]


def test_a_run_time_failure_quotes_the_juel_the_designer_wrote(sqlite_url: str, tmp_path: Path) -> None:
    bundle = write(tmp_path / "p", "leave.bpmn", approval("${days > 3}", "${days <= 3}"))
    with simulation(sqlite_url, bundle, START) as (engine, _clock):
        case = engine.start_case("juel_leave")
        with pytest.raises(ExpressionError) as info:
            engine.complete_task(case.ready[0].id, data={})
    assert "name 'days' is not in the case data" in info.value.message
    assert "JUEL '${days > 3}'" in info.value.message and "juel_compare" not in info.value.message
    assert info.value.location is not None and info.value.location.element == "decide"


def test_validate_refuses_juel_outside_the_subset_naming_the_element(tmp_path: Path) -> None:
    path = write(
        tmp_path / "p", "leave.bpmn", approval("${execution.getVariable('days') > 3}", "${days <= 3}")
    )
    result = validate_file(path)
    [problem] = [p for p in result.problems if p.severity == "error"]
    assert problem.code == "JUEL-UNSUPPORTED"
    assert problem.location.element == "f_decide_archive"
    assert "calling execution.getVariable(…)" in problem.message and "JUEL" in problem.message
