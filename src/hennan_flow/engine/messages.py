"""Delivering a BPMN message to a waiting case (`Engine.deliver_message`, `hennan-flow case message`).

The remote authority's result of a 跨省通办 case, a third party's opinion of an 依申请公开 request:
what arrives from outside while the case waits at a message catch event (or a receive task, a
message boundary event, an event-based gateway's message branch) of that message's name. One
transaction: the case is locked, the waiting element found (none → InputError, exit 2, nothing
changed), the actor checked against §8 (`message.deliver`: the portal's service account, or a
handler of the waiting element's department), the data checked like form data against the
element's `hf:form` when it has one (bounded like all case data otherwise), the payload merged into
the case, the case run to its next wait state, and the delivery told to the audit log and the outbox
(`message.delivered`: ids and codes, never the data).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .. import limits
from ..db import hotpath
from ..entities import Task
from ..errors import InputError, NotFoundError, StateError
from ..runtime.messages import deliver as deliver_in_workflow
from ..runtime.messages import waiting_messages
from .context import EngineContext
from .lifecycle import sync_steps
from .views import ready_entries
from .workflows import load_workflow, persist_case

__all__ = ["deliver"]

OPERATION = "message.deliver"


def deliver(
    ctx: EngineContext, case_id: str, name: str, data: Mapping[str, Any], actor: str | None
) -> tuple[Task, ...]:
    """Deliver message `name` with `data` to case `case_id`; the steps it made ready."""
    limits.check_id(case_id, "办件编号")
    limits.check_id(name, "消息名称")
    limits.check_data(data, "消息数据")
    with ctx.workflows.changing(case_id) as change, ctx.write() as tx:
        now = ctx.now()
        case = hotpath.read_case(tx.raw, case_id, lock=True)
        if case is None:
            raise NotFoundError(f"没有办件 {case_id!r}", hint="查看办件：hennan-flow case list")
        if case.state != "open":
            raise StateError(f"办件 {case_id} 的状态为 {case.state}，不能再向其投递消息")
        definition = ctx.definition_in(tx, case.definition_id)
        workflow = load_workflow(ctx, tx.raw, case, definition)
        waiting = waiting_messages(workflow)
        match = next((w for w in waiting if w.message == name), None)
        if match is None:
            names = sorted({w.message for w in waiting})
            raise InputError(
                f"办件 {case_id} 中没有等待消息 {name!r} 的环节",
                hint=f"它在等待：{'、'.join(names)}" if names else "该办件现在不等待任何消息",
            )
        node = definition.bundle.node(match.element)
        department = node.department if node is not None else None
        ctx.authority.check(tx, actor, OPERATION, department=department)
        definition.check_data(match.element, data)
        deliver_in_workflow(workflow, name, data)
        detail = {"message": name, "element": match.element, "fields": sorted(data)}
        tx.journal.announce(
            "message.delivered",
            case=case_id,
            ref=match.element,
            at=now,
            step=match.element,
            actor=actor,
            detail=detail,
            payload={**detail, "case": case_id, "key": case.key, "department": department},
        )
        added = sync_steps(ctx, tx, case, definition, workflow, now, actor)
        change.keep(persist_case(ctx, tx.raw, case, workflow), workflow, case)
        ready = ready_entries(ctx, tx, added, now)
    return ready
