"""Call activities across files (issue 29): deployed together, the caller is built with the process
it calls from the other file; a callee in none of the files checked together is a validate error
naming them.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from fidelity_models import chain, process, user, write
from hennan_flow.bpmn.validate import validate_paths
from hennan_flow.engine import Engine
from hennan_flow.errors import FindingsError

CALLER = process(
    "apply_licence",
    "\n".join(
        [
            '    <bpmn:startEvent id="start"/>',
            user("accept"),
            '    <bpmn:callActivity id="pay" name="缴费" calledElement="handle_payment"/>',
            user("issue"),
            '    <bpmn:endEvent id="end"/>',
            chain("start", "accept", "pay", "issue", "end"),
        ]
    ),
    name="申领许可证",
)


def callee(step: str = "cashier") -> str:
    """The payment process; its signal is defined in its own file and must travel with it."""
    body = [
        '    <bpmn:startEvent id="p_start"/>',
        user(step),
        '    <bpmn:intermediateThrowEvent id="paid"><bpmn:signalEventDefinition signalRef="sig_paid"/>'
        "</bpmn:intermediateThrowEvent>",
        '    <bpmn:endEvent id="p_end"/>',
        chain("p_start", step, "paid", "p_end"),
    ]
    roots = '  <bpmn:signal id="sig_paid" name="已缴费"/>\n'
    return process("handle_payment", "\n".join(body), roots=roots, name="缴费")


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    folder = tmp_path / "bundles"
    return write(folder, "licence.bpmn", CALLER), write(folder, "payment.bpmn", callee())


def test_deployed_together_the_caller_runs_the_process_of_the_other_file(
    db_url: str, files: tuple[Path, Path]
) -> None:
    caller, payment = files
    with Engine(db_url) as engine:
        engine.upgrade()
        deployed = engine.deploy(str(caller), str(payment), allow_findings=True)
        assert sorted(d.key for d in deployed) == ["apply_licence", "handle_payment"]
        case = engine.start_case("apply_licence")
        steps = []
        while ready := engine.tasks(case=case.id):
            steps.append(ready[0].step)
            engine.complete_task(ready[0].id)
        assert steps == ["accept", "cashier", "issue"]
        assert engine.case(case.id).state == "completed"


def test_a_changed_callee_is_a_new_version_of_its_caller_and_a_running_case_keeps_its_own(
    sqlite_url: str, files: tuple[Path, Path]
) -> None:
    caller, payment = files
    with Engine(sqlite_url) as engine:
        engine.upgrade()
        engine.deploy(str(caller.parent), allow_findings=True)
        running = engine.start_case("apply_licence")
        engine.complete_task(running.ready[0].id)
        payment.write_text(callee("finance_office"), encoding="utf-8")
        again = {d.key: d for d in engine.deploy(str(caller.parent), allow_findings=True)}
        assert again["apply_licence"].created and again["apply_licence"].version == 2
        assert [t.step for t in engine.tasks(case=running.id)] == ["cashier"]
        fresh = engine.start_case("apply_licence")
        engine.complete_task(fresh.ready[0].id)
        assert [t.step for t in engine.tasks(case=fresh.id)] == ["finance_office"]


def test_a_callee_in_none_of_the_files_is_a_validate_error_naming_the_files(files: tuple[Path, Path]) -> None:
    caller, payment = files
    report = validate_paths([str(caller)])
    [problem] = [p for f in report.files for p in f.problems if p.severity == "error"]
    assert problem.code == "SPIFF-CALLED-PROCESS" and problem.location.element == "pay"
    assert 'calledElement="handle_payment"' in problem.message and "(licence.bpmn)" in problem.message
    assert "deploy the file that defines it together with this one" in (problem.hint or "")
    assert validate_paths([str(caller), str(payment)]).exit_code == 0
    assert validate_paths([str(caller.parent)]).exit_code == 0


def test_deploying_the_caller_alone_is_refused_before_anything_is_stored(
    sqlite_url: str, files: tuple[Path, Path]
) -> None:
    caller, _payment = files
    with Engine(sqlite_url) as engine:
        engine.upgrade()
        with pytest.raises(FindingsError, match="SPIFF-CALLED-PROCESS") as info:
            engine.deploy(str(caller), allow_findings=True)
        assert "licence.bpmn" in info.value.message
        assert engine.definitions() == []


def _calls(pid: str, called: str) -> str:
    body = [
        '    <bpmn:startEvent id="s"/>',
        f'    <bpmn:callActivity id="call_{called}" calledElement="{called}"/>',
        '    <bpmn:endEvent id="e"/>',
        chain("s", f"call_{called}", "e"),
    ]
    return process(pid, "\n".join(body))


def test_a_call_activity_that_calls_back_into_its_own_process_is_refused(
    sqlite_url: str, tmp_path: Path
) -> None:
    """A process calling itself (or A → B → A) made subprocesses until the step bound, each slower
    than the last: `case start` ran for minutes. Now validate and deploy refuse it, naming the element."""
    itself = write(tmp_path / "self", "self.bpmn", _calls("renew", "renew"))
    [problem] = [p for p in validate_paths([str(itself)]).files[0].problems if p.severity == "error"]
    assert problem.code == "CALL-RECURSION" and problem.location.element == "call_renew"
    assert 'calls back into process "renew" itself' in problem.message
    a = write(tmp_path / "pair", "a.bpmn", _calls("proc_a", "proc_b"))
    b = write(tmp_path / "pair", "b.bpmn", _calls("proc_b", "proc_a"))
    report = validate_paths([str(a.parent)])
    found = {
        (f.file, p.code, p.location.element)
        for f in report.files
        for p in f.problems
        if p.severity == "error"
    }
    assert found == {(str(a), "CALL-RECURSION", "call_proc_b"), (str(b), "CALL-RECURSION", "call_proc_a")}
    with Engine(sqlite_url) as engine:
        engine.upgrade()
        with pytest.raises(FindingsError, match="CALL-RECURSION"):
            engine.deploy(str(a), str(b), allow_findings=True)
        assert engine.definitions() == []
