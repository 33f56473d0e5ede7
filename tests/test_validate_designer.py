"""What a designer writing a bundle by hand trips over (issue 18), and graphs that validate cleanly but
cannot run (issue 28 item 4): each answered by `validate` on the right element, with a fix.

Files are written into `tmp_path` from small templates, so each case shows the one thing it breaks.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from hennan_flow.bpmn.validate import validate_file
from test_validate import LINE_SHAPE, problem_lines, run

HEAD = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" '
    'xmlns:hf="{hf}" id="defs" targetNamespace="urn:tests">\n'
)
HF = "urn:hennan-flow:bpmn:1"


def write(tmp_path: Path, body: str, *, name: str = "bundle.bpmn", hf: str = HF) -> Path:
    path = tmp_path / name
    path.write_text(HEAD.format(hf=hf) + body + "\n</bpmn:definitions>\n", encoding="utf-8")
    return path


def flows(*pairs: str) -> str:
    """`a>b` pairs as sequence flows f1, f2, …"""
    out = []
    for i, pair in enumerate(pairs, start=1):
        a, b = pair.split(">")
        out.append(f'    <bpmn:sequenceFlow id="f{i}" sourceRef="{a}" targetRef="{b}"/>')
    return "\n".join(out)


def process(inner: str, *, pid: str = "p") -> str:
    return f'  <bpmn:process id="{pid}" isExecutable="true">\n{inner}\n  </bpmn:process>'


def problems(path: Path, code: str) -> list[dict[str, object]]:
    return [p.as_dict() for p in validate_file(path).problems if p.code == code]


def line_of(path: Path, needle: str) -> int:
    for number, text in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if needle in text:
            return number
    raise AssertionError(needle)


# -- lanes without a department -------------------------------------------------------------------

LANED = """    <bpmn:laneSet id="lanes">
      <bpmn:lane id="lane_amr" name="县市场监督管理局">
        <bpmn:extensionElements><hf:department code="amr"/></bpmn:extensionElements>
        <bpmn:flowNodeRef>start</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>register</bpmn:flowNodeRef>
      </bpmn:lane>
      <bpmn:lane id="lane_tax" name="县税务局">
        <bpmn:flowNodeRef>invoice</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>end</bpmn:flowNodeRef>
      </bpmn:lane>
    </bpmn:laneSet>
    <bpmn:startEvent id="start"/>
    <bpmn:userTask id="register" name="登记"/>
    <bpmn:userTask id="invoice" name="发票"/>
    <bpmn:endEvent id="end"/>
"""


def test_a_step_in_a_lane_without_a_department_is_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, process(LANED + flows("start>register", "register>invoice", "invoice>end")))
    rc, out, _ = run(capsys, "validate", path)
    assert rc == 1
    [m] = [m for m in problem_lines(out) if m["code"] == "HF-NO-DEPARTMENT"]
    assert (m["line"], m["element"]) == (str(line_of(path, 'id="lane_tax"')), "lane_tax")
    assert m["message"].startswith('lane "县税务局" holds step(s) "invoice" but has no hf:department')
    assert '<hf:department code="…"/>' in m["hint"]
    assert {p.severity for p in validate_file(path).problems if p.code == "HF-NO-DEPARTMENT"} == {"error"}


def test_the_department_of_an_enclosing_lane_counts(tmp_path: Path) -> None:
    nested = LANED.replace(
        '<bpmn:lane id="lane_tax" name="县税务局">',
        '<bpmn:lane id="lane_tax" name="县税务局">\n'
        '        <bpmn:extensionElements><hf:department code="tax"/></bpmn:extensionElements>\n'
        '        <bpmn:childLaneSet id="inner"><bpmn:lane id="desk" name="窗口">'
        "<bpmn:flowNodeRef>invoice</bpmn:flowNodeRef></bpmn:lane></bpmn:childLaneSet>",
    )
    path = write(tmp_path, process(nested + flows("start>register", "register>invoice", "invoice>end")))
    assert problems(path, "HF-NO-DEPARTMENT") == []


# -- namespaces -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "wrong",
    ["urn:hennan-flow:bpmn:2", "urn:hennan_flow:bpmn:1", "urn:hennanflow:bpmn:1", "urn:henan-flow:bpmn:1"],
)
def test_a_namespace_that_looks_like_ours_is_an_error_naming_the_right_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], wrong: str
) -> None:
    body = LANED.replace("lane_tax", "lane_tax").replace(
        '<bpmn:userTask id="invoice" name="发票"/>',
        '<bpmn:userTask id="invoice" name="发票"><bpmn:extensionElements><hf:step kind="immediate"/>'
        "</bpmn:extensionElements></bpmn:userTask>",
    )
    path = write(
        tmp_path, process(body + flows("start>register", "register>invoice", "invoice>end")), hf=wrong
    )
    rc, out, _ = run(capsys, "validate", path)
    assert rc == 1
    [m] = [m for m in problem_lines(out) if m["code"] == "HF-NAMESPACE"]
    assert f'the namespace "{wrong}" is not hennan_flow\'s' in m["message"]
    assert "urn:hennan-flow:bpmn:1" in m["message"]
    assert m["hint"].startswith('declare xmlns:hf="urn:hennan-flow:bpmn:1"')
    assert m["line"] == str(line_of(path, "<hf:department"))  # the first element in that namespace
    assert "HF-NONE" not in out  # one problem, not a second one about the same cause


def test_an_executable_process_with_user_tasks_and_no_hf_is_warned(tmp_path: Path) -> None:
    body = '    <bpmn:startEvent id="s"/>\n    <bpmn:userTask id="t"/>\n    <bpmn:endEvent id="e"/>\n'
    path = write(tmp_path, process(body + flows("s>t", "t>e")))
    result = validate_file(path)
    assert result.ok
    [p] = problems(path, "HF-NONE")
    assert (p["severity"], p["element"], p["line"]) == ("warning", "p", line_of(path, "<bpmn:process"))
    # without user tasks (a plain automatic process) nothing to say
    plain = write(
        tmp_path,
        process('    <bpmn:startEvent id="s"/>\n    <bpmn:endEvent id="e"/>\n' + flows("s>e")),
        name="plain.bpmn",
    )
    assert problems(plain, "HF-NONE") == []


# -- forms and diagrams ---------------------------------------------------------------------------


def test_a_user_task_without_a_form_and_a_file_without_a_diagram_are_warned(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    body = LANED.replace(
        '<bpmn:lane id="lane_tax" name="县税务局">',
        '<bpmn:lane id="lane_tax" name="县税务局">'
        '<bpmn:extensionElements><hf:department code="tax"/></bpmn:extensionElements>',
    )
    path = write(tmp_path, process(body + flows("start>register", "register>invoice", "invoice>end")))
    rc, out, _ = run(capsys, "validate", path)
    assert rc == 0  # warnings only
    found = {(m["code"], m["element"]) for m in problem_lines(out)}
    assert found == {("HF-NO-FORM", "register"), ("HF-NO-FORM", "invoice"), ("BPMN-NO-DIAGRAM", None)}
    no_form = next(m for m in problem_lines(out) if m["element"] == "register")
    assert "any data is accepted" in no_form["message"]
    assert no_form["hint"] == 'add <hf:form ref="p/register"/> and its schema forms/p/register.schema.json'
    diagram = next(m for m in problem_lines(out) if m["code"] == "BPMN-NO-DIAGRAM")
    assert "bpmn.io" in diagram["message"]


def test_the_shipped_bundles_have_forms_and_diagrams(capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, err = run(capsys, "validate", Path(__file__).parents[1] / "processes")
    assert (rc, out) == (0, ""), out
    assert "0 warning(s)" in err


# -- hints ----------------------------------------------------------------------------------------


def test_hints_name_files_the_user_has_and_suggest_the_near_miss(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    body = (
        '    <bpmn:startEvent id="s"/>\n'
        '    <bpmn:userTask id="t"><bpmn:extensionElements>\n'
        '      <hf:form rf="x/y"/>\n'
        '      <hf:materials><hf:material id="m" name="身份证" necessity="required" source="government" '
        'elicense="居民身份证"/></hf:materials>\n'
        '      <hf:timelimit legal="3" unit="workday"/>\n'
        "    </bpmn:extensionElements></bpmn:userTask>\n"
        '    <bpmn:endEvent id="e"/>\n'
    )
    path = write(tmp_path, process(body + flows("s>t", "t>e")))
    rc, out, _ = run(capsys, "validate", path)
    assert rc == 1
    messages = [m["message"] for m in problem_lines(out) if m["code"] == "HF-XSD"]
    assert any("'elicense' is not allowed (did you mean eLicense?)" in m for m in messages), messages
    assert any("'rf' is not allowed (did you mean ref?)" in m for m in messages), messages
    assert any("unknown hf: element <hf:timelimit> (did you mean <hf:timeLimit>?)" in m for m in messages), (
        messages
    )
    # every hint names something in the repository or the package, never a document outside it
    assert "DESIGN" not in out
    xsd = Path(__file__).parents[1] / "src" / "hennan_flow" / "schemas" / "hf.xsd"
    assert xsd.is_file() and "src/hennan_flow/schemas/hf.xsd" in out
    readme = (Path(__file__).parents[1] / "README.md").read_text(encoding="utf-8")
    assert (
        "## The hf: dialect in one screen" in readme
        and 'README section "The hf: dialect in one screen"' in out
    )


def test_no_hint_anywhere_points_outside_the_repository() -> None:
    """Every diagnostic text in the bundle checks: no DESIGN §n, no shared/ documents."""
    package = Path(__file__).parents[1] / "src" / "hennan_flow" / "bpmn"
    for module in package.glob("*.py"):
        code = "\n".join(
            line
            for line in module.read_text(encoding="utf-8").splitlines()
            if not line.lstrip().startswith("#")
        )
        strings = re.findall(r"(?:hint=|Problem\()[^\n]*DESIGN", code)
        assert strings == [], f"{module.name}: {strings}"


# -- dangling references --------------------------------------------------------------------------


def test_a_flow_naming_no_element_is_an_error_on_that_flow(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    body = '    <bpmn:startEvent id="start"/>\n    <bpmn:task id="check"/>\n    <bpmn:endEvent id="end"/>\n'
    path = write(tmp_path, process(body + flows("start>chekc", "check>end", "stat>end")))
    rc, out, _ = run(capsys, "validate", path)
    assert rc == 1
    found = [m for m in problem_lines(out) if m["code"] == "BPMN-DANGLING-FLOW"]
    assert [(m["line"], m["element"], m["message"]) for m in found] == [
        (
            str(line_of(path, 'id="f1"')),
            "f1",
            'targetRef="chekc" names no task, event or gateway of this process (did you mean "check"?)',
        ),
        (
            str(line_of(path, 'id="f3"')),
            "f3",
            'sourceRef="stat" names no task, event or gateway of this process (did you mean "start"?)',
        ),
    ]
    assert "SPIFF-BUILD" not in out  # not SpiffWorkflow's "we found two items" on another element


def test_a_flow_into_another_level_is_named_as_such(tmp_path: Path) -> None:
    body = (
        '    <bpmn:startEvent id="start"/>\n'
        '    <bpmn:subProcess id="sub"><bpmn:startEvent id="s2"/><bpmn:task id="inner"/>'
        '<bpmn:sequenceFlow id="g1" sourceRef="s2" targetRef="inner"/></bpmn:subProcess>\n'
        '    <bpmn:endEvent id="end"/>\n'
    )
    path = write(tmp_path, process(body + flows("start>inner", "sub>end")))
    [p] = problems(path, "BPMN-DANGLING-FLOW")
    assert p["element"] == "f1" and "another process level" in str(p["message"]).replace(
        "subprocess", "process"
    )


def test_a_lane_naming_no_node_is_an_error_on_the_lane(tmp_path: Path) -> None:
    body = LANED.replace(
        "<bpmn:flowNodeRef>invoice</bpmn:flowNodeRef>", "<bpmn:flowNodeRef>invioce</bpmn:flowNodeRef>"
    )
    path = write(tmp_path, process(body + flows("start>register", "register>invoice", "invoice>end")))
    [p] = problems(path, "BPMN-DANGLING-LANE-REF")
    assert (p["element"], p["line"]) == ("lane_tax", line_of(path, "invioce"))
    assert (
        p["message"] == 'flowNodeRef "invioce" names no flow node of this process (did you mean "invoice"?)'
    )


# -- cycles with no end (livelocks) -----------------------------------------------------------------

LIVELOCKS = {
    # an exclusive gateway looping on itself
    "gateway-self-loop": ('<bpmn:startEvent id="s"/><bpmn:exclusiveGateway id="g"/>', ("s>g", "g>g"), "g"),
    # two gateways sending the token back and forth
    "gateway-ping-pong": (
        '<bpmn:startEvent id="s"/><bpmn:exclusiveGateway id="g1"/><bpmn:exclusiveGateway id="g2"/>',
        ("s>g1", "g1>g2", "g2>g1"),
        "g1",
    ),
    # a parallel branch that loops for ever while the other one ends
    "parallel-branch-loop": (
        '<bpmn:startEvent id="s"/><bpmn:parallelGateway id="fork"/><bpmn:task id="a"/><bpmn:endEvent id="e"/>'
        '<bpmn:inclusiveGateway id="x"/><bpmn:intermediateThrowEvent id="y"/>',
        ("s>fork", "fork>a", "a>e", "fork>x", "x>y", "y>x"),
        "x",
    ),
    # a rework loop through a user step with no way out
    "rework-without-exit": (
        '<bpmn:startEvent id="s"/><bpmn:userTask id="review"/><bpmn:exclusiveGateway id="again"/>',
        ("s>review", "review>again", "again>review"),
        "review",
    ),
}


@pytest.mark.parametrize("shape", sorted(LIVELOCKS))
def test_a_cycle_with_no_end_is_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], shape: str
) -> None:
    nodes, pairs, entry = LIVELOCKS[shape]
    path = write(tmp_path, process("    " + nodes + "\n" + flows(*pairs)))
    rc, out, _ = run(capsys, "validate", path)
    assert rc == 1
    found = [m for m in problem_lines(out) if m["code"] == "BPMN-NO-END"]
    assert [m["element"] for m in found] == [entry], out
    assert "no path from here reaches an end event" in found[0]["message"]
    assert "exit" in found[0]["hint"]


@pytest.mark.parametrize(
    "pairs",
    [
        ("s>g", "g>g", "g>e"),  # a loop with an exit
        ("s>t", "t>b", "b>e2", "t>t2", "t2>t"),  # the boundary event leads out of the loop
        ("s>t",),  # an implicit end: a task with no outgoing flow
        ("s>throw", "catch>e"),  # a link event pair
    ],
    ids=["loop-with-exit", "boundary-exit", "implicit-end", "link-events"],
)
def test_cycles_and_ends_that_are_fine(tmp_path: Path, pairs: tuple[str, ...]) -> None:
    nodes = (
        '<bpmn:startEvent id="s"/><bpmn:exclusiveGateway id="g"/><bpmn:endEvent id="e"/><bpmn:endEvent id="e2"/>'
        '<bpmn:userTask id="t"/><bpmn:userTask id="t2"/>'
        '<bpmn:boundaryEvent id="b" attachedToRef="t"><bpmn:timerEventDefinition id="td">'
        '<bpmn:timeDuration>"PT1H"</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:boundaryEvent>'
        '<bpmn:intermediateThrowEvent id="throw"><bpmn:linkEventDefinition id="l1" name="jump"/></bpmn:intermediateThrowEvent>'
        '<bpmn:intermediateCatchEvent id="catch"><bpmn:linkEventDefinition id="l2" name="jump"/></bpmn:intermediateCatchEvent>'
    )
    path = write(tmp_path, process("    " + nodes + "\n" + flows(*pairs)))
    assert problems(path, "BPMN-NO-END") == []


# -- a large bundle -------------------------------------------------------------------------------


@pytest.mark.slow
def test_a_50000_flow_bundle_is_checked(tmp_path: Path) -> None:
    """25,000 user steps in one lane between a fork and a join: 50,002 flows, every check linear.

    How fast: bench/validate_large.py (the goal lives there, not in a unit test)."""
    n = 25_000
    refs = "".join(f"<bpmn:flowNodeRef>t{i}</bpmn:flowNodeRef>\n" for i in range(n))
    body = [
        f'<bpmn:laneSet id="ls"><bpmn:lane id="l" name="窗口"><bpmn:extensionElements><hf:department code="amr"/>'
        f"</bpmn:extensionElements>\n{refs}</bpmn:lane></bpmn:laneSet>",
        '<bpmn:startEvent id="s"/><bpmn:parallelGateway id="fork"/><bpmn:parallelGateway id="join"/><bpmn:endEvent id="e"/>',
        '<bpmn:sequenceFlow id="fs" sourceRef="s" targetRef="fork"/><bpmn:sequenceFlow id="fe" sourceRef="join" targetRef="e"/>',
    ]
    for i in range(n):
        body.append(
            f'<bpmn:userTask id="t{i}"/><bpmn:sequenceFlow id="a{i}" sourceRef="fork" targetRef="t{i}"/>'
            f'<bpmn:sequenceFlow id="b{i}" sourceRef="t{i}" targetRef="join"/>'
        )
    path = write(tmp_path, process("\n".join(body)))
    result = validate_file(path)
    assert result.ok
    assert {p.code for p in result.problems} == {"HF-NO-FORM", "BPMN-NO-DIAGRAM"}


def test_every_new_problem_prints_as_one_line(tmp_path: Path) -> None:
    nodes, pairs, _ = LIVELOCKS["gateway-self-loop"]
    path = write(tmp_path, process("    " + nodes + "\n" + flows(*pairs, "g>nowhere")))
    for p in validate_file(path).problems:
        assert LINE_SHAPE.match(p.line_text()), p.line_text()
