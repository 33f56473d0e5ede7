"""红牌通报: the publishable bulletin of a period's red cards (DESIGN §9).

One entry per red card issued for a day of the period (a card due at 00:00 counts for the day before,
as in the supervision report): the department, the bundle, the step and its item code (事项编码), the
working days it ran over its promised limit, the state of its record, its conclusion and the
accountability measures, each with the person the entry names. Nothing else about a case: no case
id, no applicant, no form data, no notes; the only people named are the ones accountability
entries name (what a county publishes in a 通报). Schema: schemas/bulletin.schema.json.

Working days over the limit: the working days from the promised deadline's day up to the day the
step (or case) ended, both counted, or up to today while it is open; null where there is no promised
deadline (a repeated-supplement card) or the calendar does not reach it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date, datetime, timedelta
from typing import Any, TypedDict

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..bpmn.bundle import Bundle
from ..clock.instants import as_utc, local_date, local_iso
from ..clock.workdays import WorkCalendar
from ..db.models import CardRow, CaseRow, DeadlineRow
from ..errors import CalendarRangeError
from .accountability import entries_of
from .facts import Scope

__all__ = ["BULLETIN_VERSION", "Bulletin", "BulletinEntry", "build_bulletin"]

BULLETIN_VERSION = 1


class Measure(TypedDict):
    measure: str
    person: str


class BulletinEntry(TypedDict):
    issued_for: str  # the day the card counts for (YYYY-MM-DD)
    department: str | None
    department_name: str | None
    bundle: str | None
    bundle_name: str | None
    scope: str
    step: str | None
    step_name: str | None
    item: str | None
    trigger: str
    workdays_over: int | None
    state: str
    conclusion: str | None
    measures: list[Measure]


class Bulletin(TypedDict):
    version: int
    generated_at: str
    period: dict[str, str | None]
    count: int
    departments: list[dict[str, Any]]
    entries: list[BulletinEntry]


def _issued_for(issued_at: datetime) -> date:
    return local_date(issued_at - timedelta(microseconds=1))


def _over(calendar: WorkCalendar, due: datetime | None, ended: datetime | None, now: datetime) -> int | None:
    if due is None:
        return None
    end = ended or now
    if end <= due:
        return 0
    try:
        return calendar.workdays_in(local_date(due), local_date(end) + timedelta(days=1))
    except CalendarRangeError:
        return None


def build_bulletin(
    session: Session,
    scope: Scope,
    *,
    now: datetime,
    calendar: WorkCalendar,
    bundle_of: Callable[[int], Bundle],
    department_names: Mapping[str, str],
) -> Bulletin:
    """The bulletin of `scope` (period; department optional) from one read session."""
    lo, hi = scope.bounds()
    query = (
        select(CardRow, CaseRow.definition_id)
        .join(CaseRow, CaseRow.id == CardRow.case_id)
        .where(CardRow.color == "red")
    )
    if lo is not None:
        query = query.where(CardRow.issued_at > lo)
    if hi is not None:
        query = query.where(CardRow.issued_at <= hi)
    if scope.department is not None:
        query = query.where(CardRow.department == scope.department)
    rows = session.execute(query.order_by(CardRow.issued_at, CardRow.id)).all()
    deadlines = {
        d.id: d
        for d in session.scalars(
            select(DeadlineRow).where(DeadlineRow.id.in_({c.deadline_id for c, _ in rows}))
        )
    }
    accounts = entries_of(session, [c.id for c, _ in rows])
    entries: list[BulletinEntry] = []
    for card, definition_id in rows:
        bundle = bundle_of(definition_id) if definition_id is not None else None
        step = bundle.step(card.step) if bundle is not None and card.step else None
        lane = bundle.department(card.department) if bundle is not None and card.department else None
        deadline = deadlines.get(card.deadline_id)
        entries.append(
            {
                "issued_for": _issued_for(as_utc(card.issued_at)).isoformat(),
                "department": card.department,
                "department_name": department_names.get(card.department or "")
                or (lane.name if lane is not None else None),
                "bundle": bundle.key if bundle is not None else None,
                "bundle_name": bundle.name if bundle is not None else None,
                "scope": card.scope,
                "step": card.step,
                "step_name": step.name if step is not None else None,
                "item": step.item if step is not None else None,
                "trigger": card.trigger,
                "workdays_over": _over(
                    calendar,
                    as_utc(deadline.promised_due) if deadline is not None else None,
                    as_utc(deadline.closed_at) if deadline is not None else None,
                    now,
                ),
                "state": card.state,
                "conclusion": card.conclusion,
                "measures": [{"measure": a.measure, "person": a.person} for a in accounts[card.id]],
            }
        )
    by_department: dict[str | None, dict[str, Any]] = {}
    for e in entries:
        slot = by_department.setdefault(
            e["department"],
            {
                "department": e["department"],
                "department_name": e["department_name"],
                "red": 0,
                "closed": 0,
                "founded": 0,
                "measures": 0,
            },
        )
        slot["red"] += 1
        slot["closed"] += e["state"] == "closed"
        slot["founded"] += e["conclusion"] == "属实"
        slot["measures"] += len(e["measures"])
    return {
        "version": BULLETIN_VERSION,
        "generated_at": local_iso(now) or "",
        "period": {
            "from": scope.start.isoformat() if scope.start else None,
            "to": scope.end.isoformat() if scope.end else None,
        },
        "count": len(entries),
        "departments": sorted(by_department.values(), key=lambda d: (-d["red"], d["department"] or "")),
        "entries": entries,
    }
