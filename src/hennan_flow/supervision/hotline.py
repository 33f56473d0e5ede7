"""The 12345 hotline's 三率 and counts per 承办单位 (issue 26), a section of the supervision report.

Orders are the cases of the hotline bundle (`hotline_work_order`) started in the report's period
(by the local day the order was accepted). Within them, per 承办单位 (the department of the step
instance) — docs/supervision-report.md has the same definitions for county users:

- 响应率 (response rate): sign-in instances (`sign`, `power_sign`) done by their promised deadline,
  over the sign-in instances judged: completed ones, and open ones whose promised deadline passed. An
  open sign-in not yet due, or one whose deadline waits for calendar data, is not judged. A 退单 is a
  response too (the unit answered the order, in time or not).
- 退单 (returns): sign-in instances whose completion made a `return_review` ready (the unit sent the
  order back as wrongly routed).
- 重办 (reworks): handling instances (`handle`, `power_handle`) that a dissatisfied 回访 made ready.
- 解决率 / 满意率: over the completed 回访 (`revisit`) instances attributed to the unit (the unit
  whose step completion made the 回访 ready): those with `resolved` true / those with `satisfaction`
  满意 or 基本满意. The 回访's answers are read from its form data.

Rates are fractions 0..1 with four decimals (half up), null when nothing was judged.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..clock.instants import as_utc
from ..db.models import CaseRow, DeadlineRow, TaskRow
from .facts import Scope
from .figures import HotlineFigures, UnitFigures, ratio

__all__ = ["HOTLINE_KEY", "Instance", "hotline_figures", "read_orders", "revisit_ids"]

HOTLINE_KEY = "hotline_work_order"
SIGN_STEPS = frozenset({"sign", "power_sign"})
HANDLE_STEPS = frozenset({"handle", "power_handle"})
REVISIT = "revisit"
RETURN_REVIEW = "return_review"
SATISFIED = frozenset({"satisfied", "basically"})


@dataclass(frozen=True)
class Instance:
    """One step instance of an order, as the figures need it."""

    task: str
    case: str
    step: str
    department: str | None
    state: str
    ready_at: datetime
    ended_at: datetime | None
    promised_due: datetime | None


def read_orders(session: Session, scope: Scope) -> list[Instance]:
    """The step instances of the hotline orders accepted in `scope`'s period (every department)."""
    lo, hi = scope.bounds()
    where = [CaseRow.key == HOTLINE_KEY]
    if lo is not None:
        where.append(CaseRow.started_at >= lo)
    if hi is not None:
        where.append(CaseRow.started_at < hi)
    rows = session.execute(
        select(TaskRow, DeadlineRow.promised_due)
        .join(CaseRow, CaseRow.id == TaskRow.case_id)
        .outerjoin(DeadlineRow, DeadlineRow.id == TaskRow.id)
        .where(*where)
        .order_by(TaskRow.case_id, TaskRow.ready_at, TaskRow.id)
    ).all()
    return [
        Instance(
            task=t.id,
            case=t.case_id,
            step=t.step,
            department=t.department,
            state=t.state,
            ready_at=as_utc(t.ready_at),
            ended_at=as_utc(t.ended_at) if t.ended_at is not None else None,
            promised_due=as_utc(due) if due is not None else None,
        )
        for t, due in rows
    ]


def revisit_ids(instances: list[Instance]) -> list[tuple[str, str]]:
    """(case, task) of the completed 回访 instances: whose form data the figures read."""
    return [(i.case, i.task) for i in instances if i.step == REVISIT and i.state == "completed"]


def hotline_figures(
    instances: list[Instance],
    *,
    now: datetime,
    answers: Mapping[str, Mapping[str, Any]],
    names: Mapping[str, str | None],
    department: str | None = None,
) -> HotlineFigures | None:
    """The hotline section from the orders' instances; `answers` are the 回访 form data by task id.

    None when no order was accepted in the period (the report then has no hotline section).
    """
    if not instances:
        return None
    now = as_utc(now)
    by_case: dict[str, list[Instance]] = {}
    for i in instances:
        by_case.setdefault(i.case, []).append(i)
    counts: dict[str | None, dict[str, Any]] = {}

    def unit(code: str | None) -> dict[str, Any]:
        return counts.setdefault(code, {"orders": set(), **dict.fromkeys(_COUNTERS, 0)})

    for case_id, steps in by_case.items():
        made_by = _made_by(steps)
        for i in steps:
            if i.step in SIGN_STEPS or i.step in HANDLE_STEPS:
                unit(i.department)["orders"].add(case_id)
            if i.step in SIGN_STEPS:
                judged = _on_time(i, now)
                if judged is not None:
                    unit(i.department)["sign_ins"] += 1
                    unit(i.department)["signed_on_time"] += judged
                if any(o.step == RETURN_REVIEW and made_by.get(o.task) is i for o in steps):
                    unit(i.department)["returns"] += 1
            if (
                i.step in HANDLE_STEPS
                and (maker := made_by.get(i.task)) is not None
                and maker.step == REVISIT
            ):
                unit(i.department)["reworks"] += 1
            if i.step == REVISIT and i.state == "completed":
                maker = made_by.get(i.task)
                u = unit(maker.department if maker is not None else None)
                answer = answers.get(i.task, {})
                u["revisits"] += 1
                u["resolved"] += answer.get("resolved") is True
                u["satisfied"] += answer.get("satisfaction") in SATISFIED
    units = [
        _unit_figures(code, names.get(code) if code else None, c)
        for code, c in sorted(counts.items(), key=lambda kv: (kv[0] is None, kv[0] or ""))
        if code is not None and (department is None or code == department)
    ]
    total: dict[str, Any] = {"orders": set(), **dict.fromkeys(_COUNTERS, 0)}
    for code, c in counts.items():
        if code is None or department is None or code == department:
            total["orders"] |= c["orders"]
            for k in _COUNTERS:
                total[k] += c[k]
    return {
        "bundle": HOTLINE_KEY,
        "orders": len(by_case),
        "totals": _unit_figures(None, None, total),
        "units": units,
    }


_COUNTERS = ("sign_ins", "signed_on_time", "revisits", "resolved", "satisfied", "returns", "reworks")


def _made_by(steps: list[Instance]) -> dict[str, Instance]:
    """task id → the instance of the same order whose completion made it ready (same instant)."""
    ended: dict[datetime, Instance] = {}
    for i in steps:
        if i.ended_at is not None and i.state == "completed":
            ended[i.ended_at] = i
    return {i.task: maker for i in steps if (maker := ended.get(i.ready_at)) is not None and maker is not i}


def _on_time(i: Instance, now: datetime) -> int | None:
    """1 on time, 0 late, None not judged (open and not due, or no deadline)."""
    if i.promised_due is None or i.state == "cancelled":
        return None
    if i.state == "completed" and i.ended_at is not None:
        return int(i.ended_at <= i.promised_due)
    return 0 if now > i.promised_due else None


def _rate(part: int, whole: int) -> float | None:
    return ratio(part, whole, 4) if whole else None


def _unit_figures(code: str | None, name: str | None, c: Mapping[str, Any]) -> UnitFigures:
    return {
        "code": code,
        "name": name,
        "orders": len(c["orders"]),
        "sign_ins": c["sign_ins"],
        "signed_on_time": c["signed_on_time"],
        "response_rate": _rate(c["signed_on_time"], c["sign_ins"]),
        "revisits": c["revisits"],
        "resolved": c["resolved"],
        "resolution_rate": _rate(c["resolved"], c["revisits"]),
        "satisfied": c["satisfied"],
        "satisfaction_rate": _rate(c["satisfied"], c["revisits"]),
        "returns": c["returns"],
        "reworks": c["reworks"],
    }
