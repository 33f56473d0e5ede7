"""The RuoYi/yudao leave-approval models (`../shared/corpora/zh-approval/ruoyi-vue-pro`, exported from
an Activiti-based designer, JUEL conditions) deploy and run to their end with form data that takes
each branch (issue 29). The models are read where they lie, never copied into the repository; without
the corpora the test skips.
"""

from __future__ import annotations

from typing import Any

import pytest

from helpers import CORPORA, START, simulation
from hennan_flow.engine import Engine

LEAVE = (
    CORPORA
    / "zh-approval"
    / "ruoyi-vue-pro"
    / "yudao-admin-server"
    / "src"
    / "main"
    / "resources"
    / "processes"
)

pytestmark = pytest.mark.skipif(not LEAVE.is_dir(), reason=f"no zh-approval corpus at {LEAVE}")

YES, NO = {"approved": True}, {"approved": False}
Answers = dict[str, Any]  # step → its form data, or a list of it for a step that comes round again
# (process, start data, answers, the steps in the order they come)
BRANCHES: list[tuple[str, dict[str, Any], Answers, list[str]]] = [
    (
        "leave",
        {},
        {"deptLeaderVerify": {"deptLeaderApproved": True}, "hrVerify": {"hrApproved": True}},
        ["deptLeaderVerify", "hrVerify", "reportBack"],
    ),
    ("leave", {}, {"deptLeaderVerify": {"deptLeaderApproved": False}}, ["deptLeaderVerify"]),
    (
        "leave",
        {},
        {"deptLeaderVerify": {"deptLeaderApproved": "true"}, "hrVerify": {"hrApproved": "false"}},
        ["deptLeaderVerify", "hrVerify"],
    ),
    (
        "leave-formkey",
        {},
        {"deptLeaderVerify": {"deptLeaderApproved": True}, "hrVerify": {"hrApproved": True}},
        ["deptLeaderVerify", "hrVerify", "reportBack"],
    ),
    (
        "leave-formkey",
        {},
        {
            "deptLeaderVerify": [{"deptLeaderApproved": False}, {"deptLeaderApproved": True}],
            "modifyApply": [{"reApply": True}, {"reApply": False}],
            "hrVerify": {"hrApproved": "false"},
        },
        # the leader rejects, the applicant re-applies, the leader approves, HR rejects, the applicant gives up
        ["deptLeaderVerify", "modifyApply", "deptLeaderVerify", "hrVerify", "modifyApply"],
    ),
    (
        "leave-formkey",
        {},
        {"deptLeaderVerify": {"deptLeaderApproved": "false"}, "modifyApply": {"reApply": "false"}},
        ["deptLeaderVerify", "modifyApply"],
    ),
    ("leave-update", {"day": 2}, {"pmVerify": YES, "hrVerify": YES}, ["pmVerify", "hrVerify"]),
    ("leave-update", {"day": 3}, {"pmVerify": NO}, ["pmVerify"]),
    ("leave-update", {"day": 5}, {"bmVerify": YES, "hrVerify": NO}, ["bmVerify", "hrVerify"]),
    ("leave-update", {"day": "10"}, {"bmVerify": {"approved": "false"}}, ["bmVerify"]),
]


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Any:
    url = f"sqlite:///{tmp_path_factory.mktemp('zh') / 'hf.db'}"
    with simulation(url, LEAVE, START) as (eng, _clock):
        yield eng


def test_the_three_leave_models_deploy(engine: Engine) -> None:
    assert sorted(d.key for d in engine.definitions()) == ["leave", "leave-formkey", "leave-update"]


@pytest.mark.parametrize(("key", "start", "answers", "expected"), BRANCHES)
def test_each_branch_runs_to_its_end(
    engine: Engine, key: str, start: dict[str, Any], answers: Answers, expected: list[str]
) -> None:
    case = engine.start_case(key, data=start)
    steps: list[str] = []
    while ready := engine.tasks(case=case.id):
        [task] = ready
        answer = answers.get(task.step, {})
        data = answer[steps.count(task.step)] if isinstance(answer, list) else answer
        steps.append(task.step)
        engine.complete_task(task.id, data=dict(data))
    assert steps == expected
    assert engine.case(case.id).state == "completed"
