"""容缺受理: a step accepted with tolerable materials missing, each with a supplement deadline.

A material with `necessity="tolerable"` and `supplementWithin="N"` (DESIGN §2; R7 keeps N within the
step's promised limit) may be missing when its step is accepted. The applicant JSON of the case says
which ones are (`intake.missing`, checked against the bundle when the case starts: each must be a
tolerable material the audit keeps). When such a step becomes ready (受理, instant A, local day D)::

    missing ──supply──────────────────────────▶ supplied
       │  └──extend (approver, reason, N days)─▶ missing, deadline moved N working days
       ├──deadline passes (the sweeper fires) ─▶ lapsed    the case is terminated (终止办理)
       └──the step ends otherwise (cancelled) ─▶ void

- The deadline is the end of the N-th working day after D (D not counted), like a workday limit, and
  is stored as a `hf_signal` row of kind `action`, name `supplement`, trigger `supplement_missed`,
  which the sweeper claims like any signal and fires at its instant through
  `Engine._fire_service_signals`: the case becomes `terminated`, its open steps are cancelled, its
  clocks stop, with the events `supplement.lapsed` and `case.terminated` (and outbox rows
  `supplement.lapsed`, `case.terminated`). The deadline does not move with pauses of the step: it is
  the applicant's, not the agency's; only an approver's extension moves it, and only before it passes.
- The step's result cannot be issued while a material is missing: `complete_task` raises
  `StateError` listing what is missing and by when (with refused commitments and blocking e-licence
  checks of the same step). A supply after the deadline passed (before a sweep got to it) terminates
  the case in that transaction, at the deadline instant, and raises `StateError`.
- Where the working-day calendar does not reach the deadline yet it is stored as null (pending) and
  nothing fires; supplying still works. Extending such a deadline is refused until data arrives.

The applicant is told through the outbox: `supplement.required` (the one-time list with deadlines,
容缺受理通知书), `supplement.extended`, `supplement.supplied`.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, time
from typing import Any, Final, TypedDict

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from ..bpmn.bundle import Bundle, Material
from ..clock.arithmetic import end_of_day, shift_instant
from ..clock.instants import as_utc, local_date, local_iso
from ..clock.workdays import WorkCalendar
from ..db.models import SignalRow
from ..db.service_rows import SupplementExtensionRow, ToleranceRow
from ..db.transaction import Tx
from ..errors import CalendarRangeError, InputError, StateError
from ..limits import printable
from .commitments import Commitment, CommitmentDoc
from .licences import LicenceCheck, LicenceCheckDoc

__all__ = [
    "ACTION",
    "SUPPLEMENT",
    "TOLERANCE_STATES",
    "TRIGGER",
    "CaseMaterials",
    "CaseMaterialsDoc",
    "Intake",
    "MaterialPlan",
    "Missing",
    "MissingDoc",
    "StepPlan",
    "Tolerance",
    "ToleranceDoc",
    "intake_of",
    "plan_of",
    "tolerance_of",
]

log = logging.getLogger(__name__)

TOLERANCE_STATES: Final = ("missing", "supplied", "lapsed", "void")
ACTION: Final = "action"  # hf_signal.kind of a service deadline that acts on the case
SUPPLEMENT: Final = "supplement"  # hf_signal.name of a supplement deadline
TRIGGER: Final = "supplement_missed"


# -- what the audit says each step's materials become -----------------------------------------------


@dataclass(frozen=True)
class StepPlan:
    """A step's materials the running case handles: exempt by commitment, by e-licence, and tolerable."""

    commitments: tuple[Material, ...] = ()
    licences: tuple[Material, ...] = ()
    tolerable: tuple[Material, ...] = ()


@dataclass(frozen=True)
class MaterialPlan:
    """Per step, what the audit's verdicts make of its materials (empty for a bundle without any)."""

    steps: Mapping[str, StepPlan] = field(default_factory=dict)

    def of(self, step: str) -> StepPlan | None:
        return self.steps.get(step)

    def materials(self, kind: str) -> dict[str, Material]:
        return {m.id: m for s in self.steps.values() for m in getattr(s, kind)}


def plan_of(bundle: Bundle) -> MaterialPlan:
    """The audit's verdicts (DESIGN §3) as the running case honours them.

    exempt by commitment → a commitment record; exempt by e-licence → a licence check; kept with
    necessity tolerable → may be tolerated (容缺). Cancelled and generated materials are not asked for.
    """
    if not any(
        m.commitment or m.e_license or m.online_check or m.necessity == "tolerable"
        for m in bundle.materials()
    ):
        return MaterialPlan()
    from ..audit import audit_bundle, default_rules, load_catalog

    audit = audit_bundle(bundle, catalog=load_catalog(), rules=default_rules())
    verdicts = {(v.step, v.material): v for v in audit.materials}
    steps: dict[str, StepPlan] = {}
    for step in bundle.steps:
        kinds: dict[str, list[Material]] = {"commitments": [], "licences": [], "tolerable": []}
        for m in step.materials:
            v = verdicts.get((step.id, m.id))
            if v is None:
                continue
            if v.verdict == "exempt" and v.exempt_by == "commitment":
                kinds["commitments"].append(m)
            elif v.verdict == "exempt" and v.exempt_by == "e_license":
                kinds["licences"].append(m)
            elif v.verdict == "keep" and m.necessity == "tolerable":
                kinds["tolerable"].append(m)
        if any(kinds.values()):
            steps[step.id] = StepPlan(**{k: tuple(v) for k, v in kinds.items()})
    return MaterialPlan(steps)


@dataclass(frozen=True)
class Intake:
    """What the applicant JSON's `intake` says: tolerable materials missing, commitments declined."""

    missing: frozenset[str] = frozenset()
    declined: frozenset[str] = frozenset()


def _listed(names: Iterable[str], most: int = 5) -> str:
    """Names an applicant gave, as an error may show them: a few, each cut short (limits.printable)."""
    ordered = sorted(names)
    shown = ", ".join(printable(n) for n in ordered[:most])
    return shown + (f" and {len(ordered) - most} more" if len(ordered) > most else "")


def intake_of(applicant: Mapping[str, Any], plan: MaterialPlan) -> Intake:
    """Read and check `intake` ({"missing": [...], "decline_commitments": [...], "holders": {...}})."""
    intake = applicant.get("intake")
    if intake is None:
        return Intake()
    if not isinstance(intake, Mapping):
        raise InputError('applicant "intake" must be a JSON object')
    unknown = set(intake) - {"missing", "decline_commitments", "holders"}
    if unknown:
        raise InputError(
            f"unknown intake field(s): {_listed(unknown)}",
            hint="intake takes missing, decline_commitments and holders",
        )

    def ids(name: str, allowed: Mapping[str, Material], what: str) -> frozenset[str]:
        value = intake.get(name, [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise InputError(f"intake.{name} must be a list of material ids")
        wrong = sorted(set(value) - set(allowed))
        if wrong:
            raise InputError(
                f"intake.{name} names {_listed(wrong)}, which {'is' if len(wrong) == 1 else 'are'} not {what} "
                "in this bundle",
                hint=f"{what}: {', '.join(sorted(allowed)) or 'none'}",
            )
        return frozenset(value)

    holders = intake.get("holders", {})
    if not isinstance(holders, Mapping) or not all(isinstance(v, str) for v in holders.values()):
        raise InputError("intake.holders must map material ids to holder identifiers")
    return Intake(
        missing=ids("missing", plan.materials("tolerable"), "a tolerable (容缺) material"),
        declined=ids(
            "decline_commitments", plan.materials("commitments"), "a material exempted by commitment"
        ),
    )


def due_of(accepted_at: datetime, within: int, calendar: WorkCalendar, close: time | None) -> datetime | None:
    """End of the `within`-th working day after the acceptance day; None outside the calendar data."""
    day = local_date(accepted_at)
    try:
        return end_of_day(calendar.add_workdays(day, within), close)
    except CalendarRangeError as exc:
        log.warning("容缺补正期限待定（工作日历数据不足）：须载入 %s 年日历", exc.year)
        return None


def open_for_step(
    tx: Tx,
    *,
    case_id: str,
    task_id: str,
    step: str,
    materials: Sequence[Material],
    calendar: WorkCalendar,
    close: time | None,
    now: datetime,
    actor: str | None,
) -> list[ToleranceRow]:
    """A step accepted with these tolerable materials missing: records and deadline signals."""
    session = tx.session
    rows = []
    for material in materials:
        within = material.supplement_within or 1
        due = due_of(now, within, calendar, close)
        row = ToleranceRow(
            id=str(uuid.uuid4()),
            case_id=case_id,
            task_id=task_id,
            step=step,
            material=material.id,
            material_name=material.name,
            state="missing",
            within=within,
            accepted_at=now,
            due_at=due,
            extended_days=0,
        )
        session.add(row)
        rows.append(row)
    if not rows:
        return rows
    signals = [
        {
            "deadline_id": r.id,
            "case_id": case_id,
            "task_id": task_id,
            "scope": "step",
            "step": step,
            "name": SUPPLEMENT,
            "kind": ACTION,
            "trigger": TRIGGER,
            "due_at": r.due_at,
            "state": "pending",
            "rev": 0,
        }
        for r in rows
        if r.due_at is not None
    ]
    if signals:
        session.execute(insert(SignalRow), signals)
    for r in rows:
        tx.journal.record(
            "supplement.required",
            case=case_id,
            task=task_id,
            step=step,
            actor=actor,
            at=now,
            detail={
                "tolerance": r.id,
                "material": r.material,
                "within": r.within,
                "due": local_iso(r.due_at),
            },
        )
    tx.journal.publish(
        "supplement.required",
        case=case_id,
        ref=task_id,
        at=now,
        payload={
            "case": case_id,
            "task": task_id,
            "step": step,
            "materials": [
                {
                    "tolerance": r.id,
                    "material": r.material,
                    "name": r.material_name,
                    "due": local_iso(r.due_at),
                }
                for r in rows
            ],
            "consequence": "the case is terminated (终止办理) if a material is not supplied by its deadline",
            "at": local_iso(now),
        },
    )
    return rows


def rows_of_task(session: Session, task_id: str) -> list[ToleranceRow]:
    return list(
        session.scalars(
            select(ToleranceRow).where(ToleranceRow.task_id == task_id).order_by(ToleranceRow.material)
        )
    )


def _move_signal(session: Session, row: ToleranceRow, **values: Any) -> None:
    """Set `values` on the supplement deadline's live signal; a claim in flight is fenced out by rev."""
    session.execute(
        update(SignalRow)
        .where(SignalRow.deadline_id == row.id, SignalRow.state.in_(("pending", "claimed", "paused")))
        .values(**values, claimed_by=None, lease_until=None, rev=SignalRow.rev + 1)
        .execution_options(synchronize_session=False)
    )


def _stop_signal(session: Session, row: ToleranceRow) -> None:
    """The supplement deadline will not fire: cancelled."""
    _move_signal(session, row, state="cancelled")


def passed(row: ToleranceRow, now: datetime) -> bool:
    return row.state == "missing" and row.due_at is not None and as_utc(row.due_at) <= now


def supply(tx: Tx, row: ToleranceRow, *, now: datetime, actor: str | None) -> None:
    """The material arrived in time."""
    row.state, row.supplied_at, row.supplied_by = "supplied", now, actor
    _stop_signal(tx.session, row)
    tx.journal.announce(
        "supplement.supplied",
        case=row.case_id,
        task=row.task_id,
        step=row.step,
        actor=actor,
        at=now,
        ref=row.id,
        detail={"tolerance": row.id, "material": row.material},
        payload={
            "tolerance": row.id,
            "case": row.case_id,
            "task": row.task_id,
            "material": row.material,
            "at": local_iso(now),
        },
    )


def extend(
    tx: Tx,
    row: ToleranceRow,
    *,
    days: int,
    approver: str,
    reason: str,
    calendar: WorkCalendar,
    now: datetime,
    actor: str | None,
) -> None:
    """An approver moves a supplement deadline by `days` working days, before it passes."""
    if isinstance(days, bool) or not isinstance(days, int) or days < 1:
        raise InputError(f"an extension needs a whole number of working days ≥ 1, not {days!r}")
    approver, reason = (approver or "").strip(), (reason or "").strip()
    if not approver:
        raise InputError("an extension needs its approver", hint="pass --approver NAME")
    if not reason:
        raise InputError("an extension needs its reason (the applicant is told)", hint="pass --reason TEXT")
    if row.state != "missing":
        raise StateError(f"material {row.material!r} of step {row.step!r} is {row.state}; nothing to extend")
    if row.due_at is None:
        raise StateError(
            f"the supplement deadline of {row.material!r} waits for calendar data; it cannot be extended yet",
            hint="hennan-flow calendar load FILE",
        )
    if passed(row, now):
        raise StateError(
            f"the supplement deadline of {row.material!r} passed at {local_iso(row.due_at)}; the case is "
            "terminated at that instant (the next sweep records it)",
            hint="an extension must be approved before the deadline",
        )
    due = shift_instant(as_utc(row.due_at), days, calendar)
    row.due_at, row.extended_days = due, row.extended_days + days
    tx.session.add(
        SupplementExtensionRow(
            case_id=row.case_id,
            tolerance_id=row.id,
            days=days,
            approver=approver,
            reason=reason,
            at=now,
            actor=actor,
        )
    )
    _move_signal(tx.session, row, due_at=due, state="pending")
    detail = {
        "tolerance": row.id,
        "material": row.material,
        "days": days,
        "approver": approver,
        "due": local_iso(due),
    }
    tx.journal.announce(
        "supplement.extended",
        case=row.case_id,
        task=row.task_id,
        step=row.step,
        actor=actor,
        at=now,
        ref=row.id,
        detail=detail,
        payload={  # no approver's name nor reason: free texts stay in the record
            "tolerance": row.id,
            "material": row.material,
            "days": days,
            "due": local_iso(due),
            "case": row.case_id,
            "task": row.task_id,
            "at": local_iso(now),
        },
    )


def lapse(tx: Tx, row: ToleranceRow, *, at: datetime) -> None:
    """The deadline passed with the material missing (the caller terminates the case)."""
    row.state, row.ended_at = "lapsed", at
    _stop_signal(tx.session, row)
    detail = {"tolerance": row.id, "material": row.material, "due": local_iso(at)}
    tx.journal.announce(
        "supplement.lapsed",
        case=row.case_id,
        task=row.task_id,
        step=row.step,
        at=at,
        ref=row.id,
        detail=detail,
        payload={**detail, "case": row.case_id, "task": row.task_id, "step": row.step},
    )


def void_for_task(tx: Tx, task_id: str, *, now: datetime) -> None:
    """The step ended otherwise: its missing materials are no longer awaited."""
    for row in rows_of_task(tx.session, task_id):
        if row.state == "missing":
            row.state, row.ended_at = "void", now
            _stop_signal(tx.session, row)
            tx.journal.record(
                "supplement.void",
                case=row.case_id,
                task=row.task_id,
                step=row.step,
                at=now,
                detail={"tolerance": row.id, "material": row.material},
            )


# -- what portals see ----------------------------------------------------------------------------


class ToleranceDoc(TypedDict):
    id: str
    case: str
    task: str
    step: str
    material: str
    name: str
    state: str
    blocking: bool
    within: int
    accepted_at: str | None
    due: str | None
    extended_days: int
    supplied_at: str | None
    supplied_by: str | None
    ended_at: str | None


@dataclass(frozen=True)
class Tolerance:
    """A material a step was accepted without (容缺), with its supplement deadline (`due`)."""

    id: str
    case: str
    task: str
    step: str
    material: str
    name: str
    state: str
    within: int
    accepted_at: datetime
    due: datetime | None
    extended_days: int = 0
    supplied_at: datetime | None = None
    supplied_by: str | None = None
    ended_at: datetime | None = None

    @property
    def blocking(self) -> bool:
        return self.state == "missing"

    def as_dict(self) -> ToleranceDoc:
        return {
            "id": self.id,
            "case": self.case,
            "task": self.task,
            "step": self.step,
            "material": self.material,
            "name": self.name,
            "state": self.state,
            "blocking": self.blocking,
            "within": self.within,
            "accepted_at": local_iso(self.accepted_at),
            "due": local_iso(self.due),
            "extended_days": self.extended_days,
            "supplied_at": local_iso(self.supplied_at),
            "supplied_by": self.supplied_by,
            "ended_at": local_iso(self.ended_at),
        }


def tolerance_of(row: ToleranceRow) -> Tolerance:
    return Tolerance(
        id=row.id,
        case=row.case_id,
        task=row.task_id,
        step=row.step,
        material=row.material,
        name=row.material_name,
        state=row.state,
        within=row.within,
        accepted_at=as_utc(row.accepted_at),
        due=as_utc(row.due_at),
        extended_days=row.extended_days,
        supplied_at=as_utc(row.supplied_at),
        supplied_by=row.supplied_by,
        ended_at=as_utc(row.ended_at),
    )


class MissingDoc(TypedDict):
    kind: str
    task: str
    step: str
    material: str
    name: str
    reason: str
    due: str | None


@dataclass(frozen=True)
class Missing:
    """One material a step's result waits for, and why (容缺, a refused commitment, an e-licence check)."""

    kind: str  # tolerance | commitment | licence
    task: str
    step: str
    material: str
    name: str
    reason: str
    due: datetime | None = None

    def as_dict(self) -> MissingDoc:
        return {
            "kind": self.kind,
            "task": self.task,
            "step": self.step,
            "material": self.material,
            "name": self.name,
            "reason": self.reason,
            "due": local_iso(self.due),
        }

    def line(self) -> str:
        due = f" by {local_iso(self.due)}" if self.due else ""
        return f"{self.material} ({self.name}): {self.reason}{due}"


class CaseMaterialsDoc(TypedDict):
    commitments: list[CommitmentDoc]
    tolerated: list[ToleranceDoc]
    licences: list[LicenceCheckDoc]
    missing: list[MissingDoc]


@dataclass(frozen=True)
class CaseMaterials:
    """The running case's materials beyond the checklist: commitments, tolerated materials, e-licences.

    `missing` lists what still holds back a step's result.
    """

    commitments: tuple[Commitment, ...] = ()
    tolerated: tuple[Tolerance, ...] = ()
    licences: tuple[LicenceCheck, ...] = ()
    missing: tuple[Missing, ...] = field(default=(), init=False)

    def __post_init__(self) -> None:
        out: list[Missing] = []
        for t in self.tolerated:
            if t.blocking:
                out.append(
                    Missing(
                        "tolerance", t.task, t.step, t.material, t.name, "容缺受理: to be supplied", t.due
                    )
                )
        for c in self.commitments:
            if c.blocking:
                out.append(
                    Missing(
                        "commitment",
                        c.task,
                        c.step,
                        c.material,
                        c.name,
                        "告知承诺 refused (an unrepaired false commitment): the material must be supplied",
                    )
                )
        for lc in self.licences:
            if lc.blocking:
                out.append(
                    Missing(
                        "licence",
                        lc.task,
                        lc.step,
                        lc.material,
                        lc.name,
                        f"e-licence {lc.state}"
                        + (f" ({lc.error_code})" if lc.error_code else "")
                        + ": retry the verification or supply the material",
                    )
                )
        object.__setattr__(self, "missing", tuple(out))

    def as_dict(self) -> CaseMaterialsDoc:
        return {
            "commitments": [c.as_dict() for c in self.commitments],
            "tolerated": [t.as_dict() for t in self.tolerated],
            "licences": [lc.as_dict() for lc in self.licences],
            "missing": [m.as_dict() for m in self.missing],
        }
