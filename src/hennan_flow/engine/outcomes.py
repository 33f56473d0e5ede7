"""Case outcomes (DESIGN §10): 不予受理, 不予许可, 撤回 and 退回, each one transaction through the step lifecycle.

- `refuse` (stage `acceptance`, 不予受理): only while the case's first step is still open;
  (stage `decision`, 不予许可): with its legal basis, and the applicant's remedy (行政复议 or 行政诉讼,
  行政许可法 §38) shown with the case. Who may (§8): the head of the case's lead department (the
  bundle's `hf:bundle lead`, else the department of its first step's lane), at either stage.
- `withdraw` (撤回, the applicant withdraws): the window (clerk) or the online channel (portal).
- `return_` (退回): the open step goes back to a step that ran before it in this case (an ancestor
  in the process), which runs again as a new instance with new deadlines; a step that did not run
  before is refused (InputError, exit 2). Who may: a handler of the returning step's department
  (a claimed step: its claimant).

Each closes the case's open steps (or, for a return, the returning step and what the return undoes)
through `lifecycle.end_step`: their deadlines stop (what was already due fires at its instant, issued
cards stand), open pauses close, and the events go to the audit log and the outbox. The reasons and
the basis are staff's free text: kept sealed in `hf_outcome` (sealing.py), never in an event.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from ..db import hotpath
from ..db.hotpath import CaseRecord, TaskRecord
from ..db.models import OutcomeRow
from ..db.transaction import Tx
from ..entities import Case, Task
from ..errors import InputError, NotFoundError, StateError
from ..runtime.workflow import return_to
from . import cases, tasks
from .context import EngineContext
from .lifecycle import CaseEnd, Ending, end_case, end_step, sync_steps
from .views import REMEDIES
from .workflows import load_workflow, persist_case

__all__ = ["STAGES", "refuse", "return_", "withdraw"]

STAGES = ("acceptance", "decision")
_CASE_HINT = "查看办件：hennan-flow case list"


def _text(value: str | None, what: str, option: str) -> str:
    text = (value or "").strip()
    if not text:
        raise InputError(f"须写明{what}", hint=f"传入 {option} TEXT")
    return text


def _open_case(tx: Tx, case_id: str) -> CaseRecord:
    case = hotpath.read_case(tx.raw, case_id, lock=True)
    if case is None:
        raise NotFoundError(f"没有办件 {case_id!r}", hint=_CASE_HINT)
    if case.state != "open":
        raise StateError(
            f"办件 {case_id} 的状态为 {case.state}；只有办理中（open）的办件才能不予受理、不予许可或撤回"
        )
    return case


def refuse(
    ctx: EngineContext,
    case_id: str,
    *,
    stage: str,
    reason: str,
    basis: str | None,
    actor: str | None,
) -> Case:
    """不予受理 (`acceptance`) or 不予许可 (`decision`, with its `basis`): the case ends refused."""
    if stage not in STAGES:
        raise InputError(f"未知的不予办理阶段 {stage!r}", hint="传入 --stage acceptance 或 --stage decision")
    reason = _text(reason, "不予办理的理由", "--reason")
    if stage == "decision":
        basis = _text(basis, "不予许可决定的法律依据", "--basis")
    else:
        basis = (basis or "").strip() or None
    with ctx.write() as tx:
        now = ctx.now()
        case = _open_case(tx, case_id)
        steps = hotpath.queue(tx.raw, case_id=case_id)
        open_steps = [t for t in steps if t.state in {"ready", "paused"}]
        first = steps[0] if steps else None
        definition = ctx.definition_in(tx, case.definition_id)
        model = definition.bundle.step(first.step) if first is not None else None
        # the lead department (hf:bundle lead), else the first step's lane (牵头部门 accepts the case)
        lead = definition.bundle.lead or (model.department if model is not None else None)
        ctx.authority.check(tx, actor, "case.refuse", department=lead)
        if stage == "acceptance" and (first is None or first.state not in {"ready", "paused"}):
            raise StateError(
                f"办件 {case_id} 已过第一个环节；不予受理须在第一个环节办理中时决定",
                hint="在决定阶段不予许可：--stage decision --basis TEXT",
            )
        at = open_steps[0] if open_steps else first
        outcome = _store(
            tx, case_id, "refused", now, actor, reason, task=at, stage=stage, basis=basis, to_step=None
        )
        public: dict[str, Any] = {"stage": stage}
        if at is not None:
            public.update({"task": at.id, "step": at.step, "department": at.department})
        if stage == "decision":
            public["remedies"] = list(REMEDIES)
        _end(ctx, tx, case, "refused", now, actor, open_steps, {"stage": stage, "outcome": outcome}, public)
    return cases.case(ctx, case_id)


def withdraw(ctx: EngineContext, case_id: str, *, reason: str, actor: str | None) -> Case:
    """撤回: the applicant withdraws the application; the case ends withdrawn."""
    reason = _text(reason, "撤回的理由", "--reason")
    with ctx.write() as tx:
        now = ctx.now()
        ctx.authority.check(tx, actor, "case.withdraw")
        case = _open_case(tx, case_id)
        open_steps = hotpath.open_tasks(tx.raw, case_id)
        outcome = _store(
            tx, case_id, "withdrawn", now, actor, reason, task=None, stage=None, basis=None, to_step=None
        )
        _end(ctx, tx, case, "withdrawn", now, actor, open_steps, {"outcome": outcome}, {})
    return cases.case(ctx, case_id)


def _end(
    ctx: EngineContext,
    tx: Tx,
    case: CaseRecord,
    state: Literal["refused", "withdrawn"],
    now: datetime,
    actor: str | None,
    open_steps: list[TaskRecord],
    detail: dict[str, Any],
    public: dict[str, Any],
) -> None:
    end_case(
        ctx, tx, case, CaseEnd(state, detail=detail, actor=actor, public=public), now, open_steps=open_steps
    )
    hotpath.end_case(tx.raw, case)
    ctx.workflows.forget(case.id)


def return_(ctx: EngineContext, task_id: str, *, to: str, reason: str, actor: str | None) -> Task:
    """退回: the open step `task_id` goes back to step `to`, which ran before it in this case; the
    new instance of `to` (with its deadlines)."""
    reason = _text(reason, "退回理由", "--reason")
    to = (to or "").strip()
    with ctx.reading() as raw:
        found = hotpath.task_of(raw, task_id)
    if found is None:
        raise NotFoundError(f"没有环节 {task_id!r}", hint="查看环节：hennan-flow task list")
    case_id = found.case_id
    with ctx.workflows.changing(case_id) as change, ctx.write() as tx:
        now = ctx.now()
        raw = tx.raw
        case = hotpath.read_case(raw, case_id, lock=True)
        task = hotpath.task_of(raw, task_id)
        assert case is not None and task is not None
        ctx.authority.check(tx, actor, "task.return", department=task.department, claimed_by=task.claimed_by)
        if task.state not in {"ready", "paused"}:
            raise StateError(f"环节 {task.step!r} 的状态为 {task.state}；只有办理中的环节才能退回")
        earlier = [
            t
            for t in hotpath.queue(raw, case_id=case_id, state="completed")
            if t.step == to and t.id != task.id
        ]
        definition = ctx.definition_in(tx, case.definition_id)
        workflow = load_workflow(ctx, raw, case, definition)
        target = earlier[-1] if earlier else None
        if target is None or not return_to(workflow, task.id, target.id):
            ran = sorted({t.step for t in hotpath.queue(raw, case_id=case_id, state="completed")})
            raise InputError(
                f"办件 {case_id} 中环节 {to!r} 没有在环节 {task.step!r} 之前办理过；"
                "只能退回到此前办理过的环节",
                hint=f"此前办理过的环节：{'、'.join(ran)}" if ran else "该办件还没有办理过的环节",
            )
        _store(tx, case_id, "returned", now, actor, reason, task=task, stage=None, basis=None, to_step=to)
        ending = Ending("cancelled", actor=actor, outcome="returned", detail={"to": to})
        end_step(ctx, tx, case, task, ending, now)
        added = sync_steps(ctx, tx, case, definition, workflow, now, actor)
        change.keep(persist_case(ctx, raw, case, workflow), workflow, case)
    again = [t for t in added if t.step == to]
    return tasks.one(ctx, (again or added)[0].id)


def _store(
    tx: Tx,
    case_id: str,
    kind: str,
    now: datetime,
    actor: str | None,
    reason: str,
    *,
    task: TaskRecord | None,
    stage: str | None,
    basis: str | None,
    to_step: str | None,
) -> int:
    row = OutcomeRow(
        case_id=case_id,
        task_id=task.id if task is not None else None,
        kind=kind,
        stage=stage,
        step=task.step if task is not None else None,
        to_step=to_step,
        reason=reason,
        basis=basis,
        at=now,
        actor=actor,
    )
    tx.session.add(row)
    tx.session.flush()
    return row.id
