"""What SpiffWorkflow 3.2.0 would skip or drop silently is a validate error (issue 29), and the
`spiffworkflow:` extensions a designer can write are run (pre-/post-scripts, under the code-task
rule), kept with a warning (spiff-arena's data) or refused — never dropped.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from fidelity_models import chain, flow, process, user, write
from helpers import START, simulation
from hennan_flow.bpmn.diagnostics import Problem
from hennan_flow.bpmn.validate import validate_file
from hennan_flow.engine import Engine, SimulatedClock
from hennan_flow.engine.definitions import load_definition
from hennan_flow.errors import ExpressionError, FindingsError

START_END = '    <bpmn:startEvent id="start"/>\n    <bpmn:endEvent id="end"/>'


def problems(tmp_path: Path, text: str, *, allow_scripts: bool = False) -> list[Problem]:
    return validate_file(write(tmp_path / "p", "m.bpmn", text), allow_scripts=allow_scripts).problems


def only(found: list[Problem], code: str) -> Problem:
    matching = [p for p in found if p.code == code]
    assert len(matching) == 1, found
    return matching[0]


# -- structures SpiffWorkflow skips ----------------------------------------------------------------


def test_a_sequence_flow_without_an_id_is_an_error_and_deploy_refuses_it(
    tmp_path: Path, sqlite_url: str
) -> None:
    body = f'{START_END}\n{user("review")}\n    <bpmn:sequenceFlow sourceRef="start" targetRef="review"/>\n'
    body += flow("review", "end")
    path = write(tmp_path / "p", "noid.bpmn", process("noid", body))
    problem = only(validate_file(path).problems, "SPIFF-FLOW-ID")
    assert problem.severity == "error" and "start → review" in problem.message
    assert problem.location.line is not None and problem.location.element == "noid"
    engine = Engine(sqlite_url)
    engine.upgrade()
    with pytest.raises(FindingsError, match="SPIFF-FLOW-ID"):
        engine.deploy(str(path), allow_findings=True)
    engine.close()


def test_an_element_no_start_event_leads_to_is_an_error(tmp_path: Path) -> None:
    body = (
        f"{START_END}\n{user('review', 'orphan')}\n{chain('start', 'review', 'end')}\n{flow('orphan', 'end')}"
    )
    problem = only(problems(tmp_path, process("orphan", body)), "SPIFF-UNREACHABLE")
    assert problem.location.element == "orphan" and "userTask" in problem.message


def test_what_a_boundary_event_or_an_event_subprocess_starts_is_reachable(tmp_path: Path) -> None:
    body = f"""{START_END}
{user("review", "escalate")}
    <bpmn:boundaryEvent id="late" attachedToRef="review"><bpmn:timerEventDefinition>
      <bpmn:timeDuration>P1D</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:boundaryEvent>
    <bpmn:endEvent id="end2"/>
{chain("start", "review", "end")}
{chain("late", "escalate", "end2")}
    <bpmn:subProcess id="on_signal" triggeredByEvent="true">
      <bpmn:startEvent id="sig_start"><bpmn:signalEventDefinition signalRef="sig"/></bpmn:startEvent>
      <bpmn:userTask id="handle"/><bpmn:endEvent id="sig_end"/>
{chain("sig_start", "handle", "sig_end", prefix="s")}
    </bpmn:subProcess>"""
    found = problems(tmp_path, process("reach", body, roots='  <bpmn:signal id="sig" name="撤回"/>\n'))
    assert [p for p in found if p.severity == "error"] == []


def test_a_flow_to_an_element_of_another_scope_is_an_error(tmp_path: Path) -> None:
    body = f"""{START_END}
{user("review")}
    <bpmn:subProcess id="sub"><bpmn:startEvent id="s2"/><bpmn:userTask id="inner"/><bpmn:endEvent id="e2"/>
{chain("s2", "inner", "e2", prefix="i")}
    </bpmn:subProcess>
{chain("start", "sub", "review", "end")}
    <bpmn:sequenceFlow id="jump" sourceRef="inner" targetRef="review"/>"""
    found = problems(tmp_path, process("scopes", body))
    problem = only(found, "SPIFF-FLOW-REF")
    assert problem.location.element == "jump" and 'sourceRef="inner"' in problem.message


def test_a_condition_no_gateway_evaluates_is_an_error_and_on_the_default_flow_a_warning(
    tmp_path: Path,
) -> None:
    body = f"""{START_END}
{user("apply", "approve", "reject")}
    <bpmn:exclusiveGateway id="decide" default="f_default"/>
{flow("start", "apply")}
{flow("apply", "decide", "amount > 0", fid="f_task_cond")}
{flow("decide", "approve", "amount > 100")}
{flow("decide", "reject", "amount <= 100", fid="f_default")}
{chain("approve", "end", prefix="a")}
{chain("reject", "end", prefix="r")}"""
    found = problems(tmp_path, process("conds", body))
    ignored = [p for p in found if p.code == "SPIFF-CONDITION-IGNORED"]
    assert [(p.location.element, p.severity) for p in ignored] == [
        ("f_task_cond", "error"),
        ("f_default", "warning"),
    ]
    assert "leaving a userTask" in ignored[0].message


def test_a_default_naming_no_outgoing_flow_is_an_error(tmp_path: Path) -> None:
    body = f"""{START_END}
{user("a", "b")}
    <bpmn:exclusiveGateway id="decide" default="f_nowhere"/>
{flow("start", "decide")}
{flow("decide", "a", "x == 1")}
{flow("decide", "b", "x == 2")}
{chain("a", "end", prefix="a")}
{chain("b", "end", prefix="b")}"""
    problem = only(problems(tmp_path, process("dflt", body)), "SPIFF-DEFAULT-FLOW")
    assert problem.location.element == "decide" and 'default="f_nowhere"' in problem.message


@pytest.mark.parametrize(
    ("event", "says"),
    [
        (
            '<bpmn:endEvent id="end"><bpmn:signalEventDefinition signalRef="sig"/></bpmn:endEvent>',
            "an endEvent with a signalEventDefinition",
        ),
        (
            '<bpmn:endEvent id="end"><bpmn:compensateEventDefinition/></bpmn:endEvent>',
            "does not support compensation",
        ),
        (
            '<bpmn:endEvent id="end"><bpmn:eventDefinitionRef>shared</bpmn:eventDefinitionRef></bpmn:endEvent>',
            "eventDefinitionRef",
        ),
    ],
)
def test_an_event_definition_the_parser_does_not_read_is_an_error(
    tmp_path: Path, event: str, says: str
) -> None:
    body = f'    <bpmn:startEvent id="start"/>\n{user("t")}\n    {event}\n{chain("start", "t", "end")}'
    problem = only(
        problems(tmp_path, process("ev", body, roots='  <bpmn:signal id="sig" name="完成"/>\n')),
        "SPIFF-EVENT-IGNORED",
    )
    assert problem.location.element == "end" and says in problem.message


def test_an_error_start_event_of_an_event_subprocess_is_an_error(tmp_path: Path) -> None:
    """SpiffWorkflow reads it as a plain start, so the handler would run as the process starts."""
    body = f"""{START_END}
{user("t")}
{chain("start", "t", "end")}
    <bpmn:subProcess id="on_error" triggeredByEvent="true">
      <bpmn:startEvent id="err_start"><bpmn:errorEventDefinition/></bpmn:startEvent>
      <bpmn:userTask id="handle"/><bpmn:endEvent id="err_end"/>
{chain("err_start", "handle", "err_end", prefix="e")}
    </bpmn:subProcess>"""
    problem = only(problems(tmp_path, process("esp", body)), "SPIFF-EVENT-IGNORED")
    assert problem.location.element == "err_start" and "errorEventDefinition" in problem.message


def test_link_events_are_an_error(tmp_path: Path) -> None:
    body = f"""{START_END}
{user("a", "b")}
    <bpmn:intermediateThrowEvent id="go"><bpmn:linkEventDefinition name="L"/></bpmn:intermediateThrowEvent>
    <bpmn:intermediateCatchEvent id="land"><bpmn:linkEventDefinition name="L"/></bpmn:intermediateCatchEvent>
{chain("start", "a", "go")}
{chain("land", "b", "end", prefix="l")}"""
    found = problems(tmp_path, process("links", body))
    assert {p.location.element for p in found if p.code == "SPIFF-EVENT-IGNORED"} == {"go", "land"}
    assert all("link events" in p.message for p in found if p.code == "SPIFF-EVENT-IGNORED")
    assert {p.location.element for p in found if p.code == "SPIFF-UNREACHABLE"} == {"land", "b", "end"}


def test_a_timer_with_two_values_is_an_error(tmp_path: Path) -> None:
    event = (
        '    <bpmn:intermediateCatchEvent id="wait"><bpmn:timerEventDefinition>'
        "<bpmn:timeDate>2026-12-01T00:00:00</bpmn:timeDate><bpmn:timeDuration>P1D</bpmn:timeDuration>"
        "</bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>"
    )
    body = f"{START_END}\n{event}\n{chain('start', 'wait', 'end')}"
    problem = only(problems(tmp_path, process("twice", body)), "SPIFF-EVENT-IGNORED")
    assert problem.location.element == "wait" and "reads only the timeDate" in problem.message


# -- spiffworkflow: extensions ---------------------------------------------------------------------


def scripted_model(extensions: str, *, mi: str = "") -> str:
    apply = (
        f'    <bpmn:userTask id="apply" name="申请"><bpmn:extensionElements>{extensions}'
        f"</bpmn:extensionElements>{mi}</bpmn:userTask>"
    )
    body = f"""{START_END}
{apply}
{user("big", "small")}
    <bpmn:exclusiveGateway id="decide" default="f_small"/>
{chain("start", "apply", "decide")}
{flow("decide", "big", "large")}
{flow("decide", "small", fid="f_small")}
{chain("big", "end", prefix="b")}
{chain("small", "end", prefix="s")}"""
    return process("scripted", body)


SCRIPTS = (
    "<spiffworkflow:preScript>fee = 10</spiffworkflow:preScript>"
    "<spiffworkflow:postScript>large = days * fee &gt; 30</spiffworkflow:postScript>"
)


def test_pre_and_post_scripts_are_refused_unless_code_tasks_are_enabled(tmp_path: Path) -> None:
    found = problems(tmp_path, scripted_model(SCRIPTS))
    refused = [p for p in found if p.code == "SANDBOX-CODE-TASK"]
    assert [(p.location.element, p.severity) for p in refused] == [("apply", "error")] * 2
    assert (
        "spiffworkflow:preScript" in refused[0].message and "spiffworkflow:postScript" in refused[1].message
    )
    assert not [
        p for p in problems(tmp_path, scripted_model(SCRIPTS), allow_scripts=True) if p.severity == "error"
    ]


def test_a_script_the_sandbox_refuses_is_an_error_when_code_tasks_are_enabled(tmp_path: Path) -> None:
    bad = "<spiffworkflow:preScript>import os</spiffworkflow:preScript>"
    problem = only(problems(tmp_path, scripted_model(bad), allow_scripts=True), "SANDBOX-EXPRESSION")
    assert problem.location.element == "apply" and "import is not allowed" in problem.message


def code_engine(url: str, bundle: Path) -> Engine:
    Engine(url).upgrade(simulation=True)
    engine = Engine(url, clock=SimulatedClock(START), allow_code_tasks=True)
    engine.deploy(str(bundle))
    return engine


def test_pre_and_post_scripts_run_in_the_sandbox_when_code_tasks_are_enabled(
    tmp_path: Path, sqlite_url: str
) -> None:
    engine = code_engine(sqlite_url, write(tmp_path / "p", "s.bpmn", scripted_model(SCRIPTS)))
    case = engine.start_case("scripted")
    assert engine.case_data(case.id) == {"fee": 10}  # the pre-script ran as apply became ready
    later = engine.complete_task(case.ready[0].id, data={"days": 5})
    assert [t.step for t in later.ready] == ["big"]  # the post-script set what the gateway reads
    assert engine.case_data(case.id)["large"] is True
    other = engine.start_case("scripted")
    assert [t.step for t in engine.complete_task(other.ready[0].id, data={"days": 1}).ready] == ["small"]
    engine.close()


def test_a_failing_post_script_names_its_step_and_changes_nothing(tmp_path: Path, sqlite_url: str) -> None:
    engine = code_engine(sqlite_url, write(tmp_path / "p", "s.bpmn", scripted_model(SCRIPTS)))
    case = engine.start_case("scripted")
    with pytest.raises(ExpressionError) as info:
        engine.complete_task(case.ready[0].id, data={})
    assert "name 'days' is not in the case data" in info.value.message
    assert info.value.location is not None and info.value.location.element == "apply"
    assert [t.step for t in engine.tasks(case=case.id)] == ["apply"]
    engine.close()


def mi_model(scripts: str, *, on_instances: bool) -> str:
    attr = ' spiffworkflow:scriptsOnInstances="true"' if on_instances else ""
    mi = (
        f"<bpmn:multiInstanceLoopCharacteristics{attr}><bpmn:loopCardinality>3</bpmn:loopCardinality>"
        "<bpmn:loopDataOutputRef>results</bpmn:loopDataOutputRef><bpmn:inputDataItem id='i' name='i'/>"
        "<bpmn:outputDataItem id='r' name='r'/></bpmn:multiInstanceLoopCharacteristics>"
    )
    return scripted_model(scripts, mi=mi)


def test_a_multi_instance_step_runs_its_scripts_once_around_all_instances(
    tmp_path: Path, sqlite_url: str
) -> None:
    scripts = (
        "<spiffworkflow:preScript>base = 100</spiffworkflow:preScript>"
        "<spiffworkflow:postScript>large = sum(results) &gt; 300</spiffworkflow:postScript>"
    )
    engine = code_engine(sqlite_url, write(tmp_path / "p", "mi.bpmn", mi_model(scripts, on_instances=False)))
    case = engine.start_case("scripted")
    assert engine.case_data(case.id)["base"] == 100  # run before the instances: they inherit it
    for n, task in enumerate(engine.tasks(case=case.id)):
        engine.complete_task(task.id, data={"r": 100 + n})
    assert [t.step for t in engine.tasks(case=case.id)] == ["big"]  # 303 > 300, decided after all three
    engine.close()


def test_a_multi_instance_step_runs_its_scripts_on_each_instance_when_asked(
    tmp_path: Path, sqlite_url: str
) -> None:
    scripts = "<spiffworkflow:preScript>r = i * 10</spiffworkflow:preScript>"
    engine = code_engine(sqlite_url, write(tmp_path / "p", "mi.bpmn", mi_model(scripts, on_instances=True)))
    case = engine.start_case("scripted", data={"large": False})
    for task in engine.tasks(case=case.id):
        engine.complete_task(task.id)
    assert sorted(engine.case_data(case.id)["results"]) == [0, 10, 20]  # each instance's own i
    engine.close()


def test_spiff_arena_data_is_kept_with_a_warning(tmp_path: Path, sqlite_url: str) -> None:
    props = (
        '<spiffworkflow:properties><spiffworkflow:property name="dept" value="民政局"/></spiffworkflow:properties>'
        "<spiffworkflow:instructionsForEndUser>请核对</spiffworkflow:instructionsForEndUser>"
    )
    path = write(tmp_path / "p", "props.bpmn", scripted_model(props))
    found = validate_file(path).problems
    kept = [p for p in found if p.code == "SPIFF-EXTENSION-IGNORED"]
    assert [(p.severity, p.location.element) for p in kept] == [("warning", "apply")] * 2
    with simulation(sqlite_url, path, START) as (engine, _clock):
        case = engine.start_case("scripted")
        assert [t.step for t in case.ready] == ["apply"]
    # what the engine rebuilds from the stored text keeps the extensions on the spec
    loaded = load_definition(1, "scripted", 1, str(path), path.read_text(encoding="utf-8"), "{}")
    assert loaded.specs.spec.task_specs["apply"].extensions["properties"] == {"dept": "民政局"}


@pytest.mark.parametrize(
    ("extension", "says"),
    [
        ("<spiffworkflow:messagePayload>{'a': 1}</spiffworkflow:messagePayload>", "a message payload"),
        ("<spiffworkflow:calledDecisionId>fee</spiffworkflow:calledDecisionId>", "a DMN decision"),
        (
            "<spiffworkflow:somethingNew>x</spiffworkflow:somethingNew>",
            "not a SpiffWorkflow extension hennan_flow knows",
        ),
    ],
)
def test_extensions_that_change_what_spiff_arena_builds_are_refused(
    tmp_path: Path, extension: str, says: str
) -> None:
    problem = only(problems(tmp_path, scripted_model(extension)), "SPIFF-EXTENSION")
    assert problem.severity == "error" and problem.location.element == "apply" and says in problem.message
