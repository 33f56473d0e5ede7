"""Outbox events → GB/T 39046 §6 records (docs/exchange.md has the mapping, field by field).

Each outbox event of a kind the standard reports gives one record of one data set; the record's id
(`row_guid`) is derived from the event (`datasets.record_id`), so exporting or pushing the same
events again gives the same records. Events of other kinds (signals, commitments, calendar notices,
claims…) give none. Records are built from the event's payload (ids and codes) and the rows it
refers to (the case, its bundle, the step, the pause, the extension, the review, the card), read in
the caller's one read session. A field hennan_flow cannot fill is left out of the record, never sent
empty.

Personal data: only 受理 carries any (applicant name and ID number, `applyer_name`,
`applyer_page_code`), and only when the caller asks for it (`applicant=True`): the sealed applicant
value is opened with the engine's key, so without the key that export is refused (exit 2, naming the
key to set). Free texts staff write (reasons, notes, review texts) are never exported.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..bpmn.bundle import PROCEDURE_NAMES
from ..clock.instants import SHANGHAI, as_utc
from ..db.models import (
    CardRow,
    CaseRow,
    DeadlineRow,
    DefinitionRow,
    ExtensionRow,
    OutboxRow,
    PauseRow,
    TaskRow,
)
from ..db.service_rows import ReviewRow
from .datasets import (
    ACCEPT,
    ACTION,
    EVALUATION,
    PROCESS,
    RESULT,
    RESULT_TYPE,
    SPECIAL,
    SUPERVISION,
    DataSet,
    record_id,
)

__all__ = ["KINDS", "Record", "records_of", "stamp"]

# 特别程序种类: the bundle's procedure kinds by their Chinese names, and 延长审批 (an extension)
NAMES: dict[str, str] = {**PROCEDURE_NAMES, "other": "其他特别程序", "extension": "延长审批"}
CARD_COLORS = {"yellow": "黄牌", "red": "红牌"}

# the outbox kinds that give a record, and the data set each goes to
KINDS: dict[str, DataSet] = {
    "case.started": ACCEPT,
    "task.completed": PROCESS,
    "task.returned": PROCESS,
    "task.cancelled": PROCESS,
    "task.resumed": SPECIAL,
    "task.extended": SPECIAL,
    "case.completed": RESULT,
    "case.refused": RESULT,
    "case.withdrawn": RESULT,
    "case.terminated": RESULT,
    "review.added": EVALUATION,
    "card.issued": SUPERVISION,
    "card.advanced": SUPERVISION,
}


@dataclass(frozen=True)
class Record:
    """One record of one data set, from the outbox event `outbox_id`."""

    data_set: DataSet
    outbox_id: int
    fields: dict[str, Any]

    @property
    def id(self) -> str:
        return str(self.fields["row_guid"])

    def as_dict(self) -> dict[str, Any]:
        """The record as the receiver gets it: its fields in the set's order, only those filled."""
        return {name: self.fields[name] for name in self.data_set.fields if self.fields.get(name) is not None}


def stamp(instant: datetime | None) -> str | None:
    """The standard's date-time form: `YYYY-MM-DD HH:MM:SS`, Asia/Shanghai."""
    if instant is None:
        return None
    return as_utc(instant).astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M:%S")


def records_of(session: Session, events: Sequence[OutboxRow], *, applicant: bool = False) -> list[Record]:
    """The records these outbox rows give, in outbox order (rows read in `session`)."""
    wanted = [e for e in events if e.type in KINDS]
    if not wanted:
        return []
    rows = _Rows(session, wanted, applicant=applicant)
    out: list[Record] = []
    for event in wanted:
        payload = json.loads(event.payload)
        fields = _BUILDERS[event.type](rows, event, payload)
        if fields is None:
            continue
        data_set = KINDS[event.type]
        fields["row_guid"] = record_id(data_set, event.id, event.ref)
        fields["project_no"] = event.case_id
        out.append(Record(data_set, event.id, fields))
    return out


class _Rows:
    """The rows the events refer to, read once per batch."""

    def __init__(self, session: Session, events: Iterable[OutboxRow], *, applicant: bool) -> None:
        events = list(events)
        self.session = session
        self.applicant = applicant
        case_ids = {e.case_id for e in events if e.case_id}
        task_ids = {_task_of(e) for e in events} - {None}
        # columns, not whole rows: a sealed column (the applicant, the workflow state) is opened
        # (and needs the key) only when asked for
        case_columns = [CaseRow.id, CaseRow.definition_id, CaseRow.started_at, CaseRow.started_by]
        if applicant:
            case_columns.append(CaseRow.applicant)
        self.cases = {c.id: c for c in _by_ids(session, case_columns, CaseRow.id, case_ids)}
        self.tasks = {t.id: t for t in _by_ids(session, [TaskRow], TaskRow.id, task_ids)}
        definition_ids = {c.definition_id for c in self.cases.values()}
        self.definitions = {
            d.id: d
            for d in _by_ids(
                session,
                [DefinitionRow.id, DefinitionRow.key, DefinitionRow.version, DefinitionRow.name],
                DefinitionRow.id,
                definition_ids,
            )
        }

    def first_department(self, case_id: str) -> str | None:
        """The department of a case's first step (the acceptance window)."""
        stmt = (
            select(TaskRow.department)
            .where(TaskRow.case_id == case_id)
            .order_by(TaskRow.ready_at, TaskRow.doc_order)
            .limit(1)
        )
        return self.session.execute(stmt).scalar_one_or_none()


def _by_ids(session: Session, columns: Sequence[Any], key: Any, ids: set[Any]) -> list[Any]:
    """`columns` (or one entity) of the rows whose `key` is in `ids`, 500 ids a query."""
    out: list[Any] = []
    items = sorted(ids)
    for start in range(0, len(items), 500):
        stmt = select(*columns).where(key.in_(items[start : start + 500]))
        out.extend(session.scalars(stmt) if len(columns) == 1 else session.execute(stmt))
    return out


def _task_of(event: OutboxRow) -> str | None:
    if event.type.startswith("task."):
        return event.ref
    payload = json.loads(event.payload)
    task = payload.get("task")
    return str(task) if task else None


def _accept(rows: _Rows, event: OutboxRow, payload: dict[str, Any]) -> dict[str, Any] | None:
    case = rows.cases.get(event.case_id or "")
    if case is None:
        return None
    definition = rows.definitions[case.definition_id]
    deadline = rows.session.get(DeadlineRow, case.id)
    fields: dict[str, Any] = {
        "task_code": definition.key,
        "task_name": definition.name,
        "task_version": definition.version,
        "project_name": definition.name,
        "apply_date": stamp(case.started_at),
        "accept_date": stamp(case.started_at),
        "org_code": rows.first_department(case.id),
        "handle_user_name": payload.get("actor") or case.started_by,
        "promise_date": stamp(deadline.promised_due) if deadline is not None else None,
    }
    if rows.applicant:
        person = json.loads(case.applicant or "{}")  # opened with the engine's key (sealing.py)
        if isinstance(person, dict):
            fields["applyer_name"] = person.get("name")
            fields["applyer_page_code"] = person.get("id_number")
    return fields


def _process(rows: _Rows, event: OutboxRow, payload: dict[str, Any]) -> dict[str, Any] | None:
    task = rows.tasks.get(event.ref)
    action = {"task.returned": "returned", "task.cancelled": "other"}.get(event.type, "completed")
    return {
        "process_name": task.name if task is not None else payload.get("step"),
        "event_name": ACTION[action],
        "event_start_time": stamp(task.ready_at) if task is not None else None,
        "event_end_time": stamp(event.at),
        "handle_user_name": payload.get("actor") or (task.actor if task is not None else None),
        "org_code": payload.get("department") or (task.department if task is not None else None),
    }


def _special(rows: _Rows, event: OutboxRow, payload: dict[str, Any]) -> dict[str, Any] | None:
    if event.type == "task.extended":
        stmt = (
            select(ExtensionRow.days, ExtensionRow.approver, ExtensionRow.at, ExtensionRow.actor)
            .where(ExtensionRow.task_id == event.ref, ExtensionRow.at <= event.at)
            .order_by(ExtensionRow.at.desc(), ExtensionRow.id.desc())
            .limit(1)
        )
        ext = rows.session.execute(stmt).first()
        if ext is None:
            return None
        return {
            "special_type": "extension",
            "special_name": NAMES["extension"],
            "special_reason": f"延长审批 {ext.days} 个工作日，批准人 {ext.approver}",
            "special_time": stamp(ext.at),
            "end_time": stamp(ext.at),
            "handle_user": ext.actor,
            "result": f"延长 {ext.days} 个工作日",
        }
    paused = (
        select(PauseRow)
        .where(
            PauseRow.task_id == event.ref,
            PauseRow.reason == "special_procedure",
            PauseRow.ended_at.is_not(None),
            PauseRow.ended_at <= event.at,
        )
        .order_by(PauseRow.ended_at.desc(), PauseRow.id.desc())
        .limit(1)
    )
    pause = rows.session.scalars(paused).first()
    if pause is None:  # a 补正 or 挂起 pause ended: not a special procedure
        return None
    kind = pause.kind or "other"
    return {
        "special_type": kind,
        "special_name": NAMES.get(kind, NAMES["other"]),
        "special_reason": f"启动{NAMES.get(kind, NAMES['other'])}程序",
        "special_time": stamp(pause.started_at),
        "end_time": stamp(pause.ended_at),
        "handle_user": pause.ended_by or pause.started_by,
        "result": "特别程序结束，恢复计时",
    }


def _result(rows: _Rows, event: OutboxRow, payload: dict[str, Any]) -> dict[str, Any] | None:
    outcome = event.type.removeprefix("case.")
    if outcome == "refused":
        stage = payload.get("stage") or "decision"
        outcome = f"refused.{stage}"
    elif outcome == "terminated" and payload.get("reason") == "supplement_missed":
        outcome = "lapsed"
    code = RESULT_TYPE.get(outcome)
    if code is None:
        return None
    explain = {
        "0": "办结",
        "1": "不予许可（申请人可依法申请行政复议或者提起行政诉讼）",
        "2": "作废办结",
        "5": "退件",
        "6": "不予受理",
    }[code]
    return {
        "result_type": code,
        "result_explain": explain,
        "result_date": stamp(event.at),
        "handle_user_name": payload.get("actor"),
    }


def _evaluation(rows: _Rows, event: OutboxRow, payload: dict[str, Any]) -> dict[str, Any] | None:
    stmt = select(ReviewRow.level, ReviewRow.channel, ReviewRow.at, ReviewRow.step, ReviewRow.department)
    review = rows.session.execute(stmt.where(ReviewRow.id == event.ref)).first()
    if review is None:
        return None
    return {
        "evaluate_level": str(review.level),
        "evaluate_channel": review.channel,
        "evaluate_time": stamp(review.at),
        "process_name": review.step,
        "org_code": review.department,
    }


def _supervision(rows: _Rows, event: OutboxRow, payload: dict[str, Any]) -> dict[str, Any] | None:
    card = rows.session.get(CardRow, event.ref)
    if card is None:
        return None
    state = payload.get("to") if event.type == "card.advanced" else "open"
    return {
        "card_no": card.id,
        "card_color": CARD_COLORS.get(card.color, card.color),
        "card_trigger": card.trigger,
        "card_state": state,
        "card_conclusion": payload.get("conclusion") if event.type == "card.advanced" else None,
        "occur_time": stamp(event.at),
        "process_name": card.step,
        "org_code": card.department,
    }


_BUILDERS = {
    "case.started": _accept,
    "task.completed": _process,
    "task.returned": _process,
    "task.cancelled": _process,
    "task.resumed": _special,
    "task.extended": _special,
    "case.completed": _result,
    "case.refused": _result,
    "case.withdrawn": _result,
    "case.terminated": _result,
    "review.added": _evaluation,
    "card.issued": _supervision,
    "card.advanced": _supervision,
}
