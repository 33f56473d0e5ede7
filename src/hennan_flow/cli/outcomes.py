"""`case refuse`, `case withdraw`, `task return` (DESIGN §10) and how `case show` tells an outcome.

The commands are attached to the `case` and `task` groups by cli/engine.py.
"""

from __future__ import annotations

from typing import Any

import click

from ..entities import Case
from ._context import CliContext, format_option, pass_cli

__all__ = ["case_refuse", "case_withdraw", "outcome_lines", "task_return"]

_STAGES = {"acceptance": "不予受理", "decision": "不予许可"}


@click.command("refuse")
@click.argument("case_id")
@click.option(
    "--stage",
    type=click.Choice(["acceptance", "decision"]),
    required=True,
    help="acceptance: 不予受理 (while the first step is open); decision: 不予许可 (needs --basis).",
)
@click.option("--reason", required=True, help="Why (told to the applicant; sealed at rest).")
@click.option("--basis", default=None, help="The legal basis (依据) of a 不予许可 decision.")
@click.option("--actor", default=None, envvar="HENNAN_FLOW_ACTOR", help="The lead department's head.")
@format_option()
@pass_cli
def case_refuse(
    obj: CliContext, case_id: str, stage: str, reason: str, basis: str | None, actor: str | None
) -> None:
    """不予受理 / 不予许可: the case ends refused; its open steps close, their deadlines stop."""
    shown = obj.engine().refuse_case(case_id, stage=stage, reason=reason, basis=basis, actor=actor)
    obj.emit(shown.as_dict(), lambda: "\n".join([f"案件 {shown.id} {_STAGES[stage]}", *outcome_lines(shown)]))


@click.command("withdraw")
@click.argument("case_id")
@click.option("--reason", required=True, help="Why the applicant withdraws (sealed at rest).")
@click.option("--actor", default=None, envvar="HENNAN_FLOW_ACTOR", help="The window clerk or the portal.")
@format_option()
@pass_cli
def case_withdraw(obj: CliContext, case_id: str, reason: str, actor: str | None) -> None:
    """撤回: the applicant withdraws the application; its open steps close, their deadlines stop."""
    shown = obj.engine().withdraw_case(case_id, reason=reason, actor=actor)
    obj.emit(shown.as_dict(), lambda: "\n".join([f"案件 {shown.id} 已撤回", *outcome_lines(shown)]))


@click.command("return")
@click.argument("task_id")
@click.option("--to", "to", required=True, help="The step (element id) that ran before, to go back to.")
@click.option("--reason", required=True, help="Why (退回理由; sealed at rest).")
@click.option("--actor", default=None, envvar="HENNAN_FLOW_ACTOR", help="A handler of the step's department.")
@format_option()
@pass_cli
def task_return(obj: CliContext, task_id: str, to: str, reason: str, actor: str | None) -> None:
    """退回: send a running step back to a step that ran before it; that step runs again (new deadlines)."""
    again = obj.engine().return_task(task_id, to=to, reason=reason, actor=actor)
    due = (again.deadlines or {}).get("promised_due")
    obj.emit(
        again.as_dict(),
        f"已退回至步骤 {again.step}（新任务 {again.id}）" + (f"，承诺期限 {due}" if due else ""),
    )


def outcome_lines(shown: Case) -> list[str]:
    """What `case show` says of a refusal, a withdrawal and the returns, in Chinese."""
    lines = []
    outcome = shown.outcome
    if outcome is not None:
        lines.append(_line(outcome))
        if outcome.get("basis"):
            lines.append(f"  依据：{outcome['basis']}")
        if outcome.get("remedy"):
            lines.append(f"  救济途径：{outcome['remedy']}")
    lines.extend(_line(o) for o in shown.outcomes if o["kind"] == "returned")
    return lines


def _line(o: dict[str, Any]) -> str:
    by = f"（{o['actor']}）" if o.get("actor") else ""
    if o["kind"] == "refused":
        what = _STAGES.get(o.get("stage") or "", "不予办理")
    elif o["kind"] == "withdrawn":
        what = "撤回申请"
    else:
        what = f"退回：{o.get('step')} → {o.get('to')}"
    return f"{what} {o['at'].replace('T', ' ')[:16]}{by} 原因：{o['reason']}"
