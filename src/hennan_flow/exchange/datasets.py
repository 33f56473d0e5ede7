"""The GB/T 39046—2020 §6 data sets hennan_flow exports: names, fields and code lists.

Field names are those of the provincial exchange tables the standard's sets are delivered through
(`up_pro_accept` 受理, `up_pro_process` 办理过程, `up_pro_special_procedure` 特别程序, `up_pro_result`
办结); 评价 and 电子监察 follow the same naming (docs/exchange.md says which names are ours). Every
record carries `row_guid` (记录唯一标识), derived from the outbox event it comes from, and
`project_no` (办件编号, the case id).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

__all__ = [
    "ACCEPT",
    "ACTION",
    "EVALUATION",
    "PROCESS",
    "RESULT",
    "RESULT_TYPE",
    "SETS",
    "SPECIAL",
    "SUPERVISION",
    "DataSet",
    "record_id",
]

# the namespace of record ids: uuid5(namespace, "<table>:<outbox id>:<ref>")
_NAMESPACE = uuid.UUID("6f1d3c1e-9a55-5b7e-8f2a-39046d2020f6")


@dataclass(frozen=True)
class DataSet:
    """One §6 data set: its clause, the exchange table it goes to, the file it is written to."""

    clause: str  # GB/T 39046—2020 clause
    name: str  # the set's Chinese name
    table: str  # the exchange table (and the record's `set` in a push batch)
    fields: tuple[str, ...]  # every field a record may carry, in this order

    @property
    def file(self) -> str:
        return f"{self.table}.jsonl"


_COMMON = ("row_guid", "project_no")

ACCEPT = DataSet(
    "6.3",
    "受理",
    "up_pro_accept",
    (
        *_COMMON,
        "task_code",
        "task_name",
        "task_version",
        "project_name",
        "apply_date",
        "accept_date",
        "org_code",
        "handle_user_name",
        "promise_date",
        "applyer_name",
        "applyer_page_code",
    ),
)
PROCESS = DataSet(
    "6.4",
    "办理过程",
    "up_pro_process",
    (
        *_COMMON,
        "process_name",
        "event_name",
        "event_start_time",
        "event_end_time",
        "handle_user_name",
        "handle_explain",
        "org_code",
    ),
)
SPECIAL = DataSet(
    "6.5",
    "特别程序",
    "up_pro_special_procedure",
    (
        *_COMMON,
        "special_type",
        "special_name",
        "special_reason",
        "special_time",
        "end_time",
        "handle_user",
        "result",
    ),
)
RESULT = DataSet(
    "6.6",
    "办结",
    "up_pro_result",
    (*_COMMON, "result_type", "result_explain", "result_date", "handle_user_name"),
)
EVALUATION = DataSet(
    "6.7",
    "评价",
    "up_pro_evaluation",
    (*_COMMON, "evaluate_level", "evaluate_channel", "evaluate_time", "process_name", "org_code"),
)
SUPERVISION = DataSet(
    "6.8",
    "电子监察",
    "up_pro_supervision",
    (
        *_COMMON,
        "card_no",
        "card_color",
        "card_trigger",
        "card_state",
        "card_conclusion",
        "occur_time",
        "process_name",
        "org_code",
    ),
)

SETS: tuple[DataSet, ...] = (ACCEPT, PROCESS, SPECIAL, RESULT, EVALUATION, SUPERVISION)

# 办理过程 业务动作 (event_name): the action a step ended with
ACTION = {"completed": "通过", "returned": "退回", "other": "其他"}

# 办结 办结结果 (result_type): 0 出证办结, 1 不予许可, 2 作废办结, 5 退件, 6 不予受理
RESULT_TYPE = {
    "completed": "0",
    "refused.decision": "1",
    "terminated": "2",
    "withdrawn": "5",
    "lapsed": "5",
    "refused.acceptance": "6",
}


def record_id(data_set: DataSet, outbox_id: int, ref: str) -> str:
    """The record id (`row_guid`) of the record of `data_set` an outbox event gives: the same every
    time the event is exported, so a receiver deduplicates by it."""
    return str(uuid.uuid5(_NAMESPACE, f"{data_set.table}:{outbox_id}:{ref}"))
