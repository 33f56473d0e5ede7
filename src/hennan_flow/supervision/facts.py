"""What the supervision report is computed from: its scope and the facts read in one read transaction.

`read_facts` reads the rows a report needs (steps, their deadlines, pauses and extensions, cases,
cards, the deployed bundles' names) as plain frozen values, so `figures.build_report` is a pure
function testable without a database. `Scope` is the period (local dates) and the department; the
好差评 section (`review_figures`) uses its bounds too.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from ..bpmn.bundle import Bundle
from ..clock.deadlines import CASE_STOPPING_REASONS
from ..clock.instants import as_utc, local_midnight
from ..db.models import CardRow, CaseRow, DeadlineRow, DefinitionRow, ExtensionRow, PauseRow, TaskRow
from ..errors import InputError

__all__ = [
    "BundleInfo",
    "CardFact",
    "CaseFact",
    "DeadlineFact",
    "Facts",
    "PauseFact",
    "Scope",
    "StepFact",
    "read_facts",
]

_DAY = timedelta(days=1)


@dataclass(frozen=True)
class Scope:
    """What a report covers: local dates [start, end] (either may be open) and maybe one department."""

    start: date | None = None
    end: date | None = None
    department: str | None = None

    def __post_init__(self) -> None:
        if self.start is not None and self.end is not None and self.start > self.end:
            raise InputError(
                f"统计期颠倒：起 {self.start.isoformat()} 晚于止 {self.end.isoformat()}",
                hint="--from 须不晚于 --to",
            )
        if self.department is not None and not self.department.strip():
            raise InputError("部门代码为空", hint="请给出部门代码，如 --department amr")

    def has(self, day: date) -> bool:
        return (self.start is None or day >= self.start) and (self.end is None or day <= self.end)

    def bounds(self) -> tuple[datetime | None, datetime | None]:
        """UTC instants [start 00:00, (end + 1) 00:00) local of the period, None where open."""
        lo = None if self.start is None else local_midnight(self.start)
        hi = None if self.end is None else local_midnight(self.end + _DAY)
        return lo, hi


@dataclass(frozen=True)
class DeadlineFact:
    kind: str  # promised | immediate
    unit: str | None
    promised: int | None
    legal: int | None
    pending: bool
    promised_due: datetime | None
    legal_due: datetime | None
    paused_since: datetime | None = None


@dataclass(frozen=True)
class PauseFact:
    reason: str
    started_at: datetime
    ended_at: datetime | None = None


@dataclass(frozen=True)
class StepFact:
    task: str
    case: str
    bundle: str
    step: str
    name: str
    department: str | None
    state: str  # ready | paused | completed | cancelled
    accepted_at: datetime
    ended_at: datetime | None = None
    deadline: DeadlineFact | None = None
    pauses: tuple[PauseFact, ...] = ()
    extensions: tuple[int, ...] = ()  # days of each extension


@dataclass(frozen=True)
class CaseFact:
    id: str
    bundle: str
    state: str  # open | completed | terminated
    started_at: datetime
    ended_at: datetime | None = None
    deadline: DeadlineFact | None = None
    stops: tuple[PauseFact, ...] = ()  # the supplement/special-procedure pauses of its steps


@dataclass(frozen=True)
class CardFact:
    id: str
    case: str
    bundle: str | None
    scope: str
    step: str | None
    task: str | None
    department: str | None
    color: str
    trigger: str
    handler: str
    issued_at: datetime
    state: str
    conclusion: str | None = None


@dataclass(frozen=True)
class BundleInfo:
    key: str
    name: str | None = None
    code: str | None = None
    lead: str | None = None


@dataclass(frozen=True)
class Facts:
    """Everything a report is computed from, read in one transaction."""

    steps: tuple[StepFact, ...] = ()
    cases: tuple[CaseFact, ...] = ()
    cards: tuple[CardFact, ...] = ()
    bundles: Mapping[str, BundleInfo] = field(default_factory=dict)
    departments: Mapping[str, str | None] = field(default_factory=dict)  # every known code → name
    # lanes no supervisor holds to account (hf:department accountable="false", a bank), as the most
    # recently deployed bundle that has them says: shown apart as service-environment figures
    unaccountable: frozenset[str] = frozenset()


# -- reading ------------------------------------------------------------------------------------------


def read_facts(session: Session, scope: Scope, *, bundle_of: Callable[[int], Bundle]) -> Facts:
    """The rows a report of `scope` needs, as facts; call it first in a fresh read session.

    On PostgreSQL the transaction is made REPEATABLE READ (read only), so every query sees one
    snapshot; SQLite's deferred read transaction does that by itself. `bundle_of` gives the bundle
    model of a definition id (the engine's cache), for the names of bundles and departments.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.connection(
            execution_options={"isolation_level": "REPEATABLE READ", "postgresql_readonly": True}
        )
    lo, hi = scope.bounds()

    def since(
        column: InstrumentedAttribute[datetime], upper_inclusive: bool = False
    ) -> list[ColumnElement[bool]]:
        out: list[ColumnElement[bool]] = []
        if lo is not None:
            out.append(column > lo if upper_inclusive else column >= lo)
        if hi is not None:
            out.append(column <= hi if upper_inclusive else column < hi)
        return out

    step_filter = since(TaskRow.ready_at)
    if scope.department is not None:
        step_filter.append(TaskRow.department == scope.department)

    tasks = session.execute(
        select(TaskRow, CaseRow.key).join(CaseRow, CaseRow.id == TaskRow.case_id).where(*step_filter)
    ).all()
    deadlines = {
        d.id: _deadline_fact(d)
        for d in session.scalars(
            select(DeadlineRow).join(TaskRow, TaskRow.id == DeadlineRow.id).where(*step_filter)
        )
    }
    pauses: dict[str, list[PauseFact]] = {}
    for p in session.scalars(
        select(PauseRow)
        .join(TaskRow, TaskRow.id == PauseRow.task_id)
        .where(*step_filter)
        .order_by(PauseRow.started_at, PauseRow.id)
    ):
        pauses.setdefault(p.task_id, []).append(_pause_fact(p))
    extensions: dict[str, list[int]] = {}
    for task_id, days in session.execute(
        select(ExtensionRow.task_id, ExtensionRow.days)
        .join(TaskRow, TaskRow.id == ExtensionRow.task_id)
        .where(*step_filter)
        .order_by(ExtensionRow.at, ExtensionRow.id)
    ):
        extensions.setdefault(task_id, []).append(days)
    steps = tuple(
        StepFact(
            task=t.id,
            case=t.case_id,
            bundle=key,
            step=t.step,
            name=t.name,
            department=t.department,
            state=t.state,
            accepted_at=as_utc(t.ready_at),
            ended_at=as_utc(t.ended_at),
            deadline=deadlines.get(t.id),
            pauses=tuple(pauses.get(t.id, ())),
            extensions=tuple(extensions.get(t.id, ())),
        )
        for t, key in tasks
    )

    # cases started in the period, and the cases of the steps in scope (for the timeline)
    case_rows = {c.id: c for c in session.scalars(select(CaseRow).where(*since(CaseRow.started_at)))}
    missing = sorted({s.case for s in steps} - set(case_rows))
    for chunk in _chunks(missing):
        case_rows.update((c.id, c) for c in session.scalars(select(CaseRow).where(CaseRow.id.in_(chunk))))
    case_deadlines: dict[str, DeadlineFact] = {}
    stops: dict[str, list[PauseFact]] = {}
    ids = sorted(case_rows)
    for chunk in _chunks(ids):
        for d in session.scalars(select(DeadlineRow).where(DeadlineRow.id.in_(chunk))):
            if d.scope == "case":
                case_deadlines[d.id] = _deadline_fact(d)
        for p in session.scalars(
            select(PauseRow)
            .where(PauseRow.case_id.in_(chunk), PauseRow.reason.in_(CASE_STOPPING_REASONS))
            .order_by(PauseRow.started_at, PauseRow.id)
        ):
            stops.setdefault(p.case_id, []).append(_pause_fact(p))
    cases = tuple(
        CaseFact(
            id=c.id,
            bundle=c.key,
            state=c.state,
            started_at=as_utc(c.started_at),
            ended_at=as_utc(c.ended_at),
            deadline=case_deadlines.get(c.id),
            stops=tuple(stops.get(c.id, ())),
        )
        for c in (case_rows[i] for i in ids)
    )

    card_filter = since(CardRow.issued_at, upper_inclusive=True)  # an issue at 00:00 ends the day before
    if scope.department is not None:
        card_filter.append(CardRow.department == scope.department)
    cards = tuple(
        CardFact(
            id=c.id,
            case=c.case_id,
            bundle=key,
            scope=c.scope,
            step=c.step,
            task=c.task_id,
            department=c.department,
            color=c.color,
            trigger=c.trigger,
            handler=c.handler,
            issued_at=as_utc(c.issued_at),
            state=c.state,
            conclusion=c.conclusion,
        )
        for c, key in session.execute(
            select(CardRow, CaseRow.key).outerjoin(CaseRow, CaseRow.id == CardRow.case_id).where(*card_filter)
        )
    )

    # names: the latest version of each bundle; a department's name from the latest deployment naming it
    latest: dict[str, int] = {}
    for def_id, key in session.execute(
        select(DefinitionRow.id, DefinitionRow.key).order_by(DefinitionRow.key, DefinitionRow.version)
    ):
        latest[key] = def_id
    bundles: dict[str, BundleInfo] = {}
    departments: dict[str, str | None] = {}
    accountable: dict[str, bool] = {}
    for key, def_id in sorted(latest.items(), key=lambda item: item[1]):
        model = bundle_of(def_id)
        bundles[key] = BundleInfo(key=key, name=model.name, code=model.code, lead=model.lead)
        for lane in model.departments:
            departments[lane.code] = lane.name
            accountable[lane.code] = lane.accountable
    for column in (TaskRow.department, CardRow.department):
        for (code,) in session.execute(select(column).distinct()):
            if code is not None:
                departments.setdefault(code, None)
    return Facts(
        steps=steps,
        cases=cases,
        cards=cards,
        bundles=bundles,
        departments=departments,
        unaccountable=frozenset(code for code, held in accountable.items() if not held),
    )


def _chunks(ids: Sequence[str], size: int = 500) -> Iterable[Sequence[str]]:
    for i in range(0, len(ids), size):
        yield ids[i : i + size]


def _deadline_fact(d: DeadlineRow) -> DeadlineFact:
    return DeadlineFact(
        kind=d.kind,
        unit=d.unit,
        promised=d.promised,
        legal=d.legal,
        pending=d.pending,
        promised_due=as_utc(d.promised_due),
        legal_due=as_utc(d.legal_due),
        paused_since=as_utc(d.paused_since),
    )


def _pause_fact(p: PauseRow) -> PauseFact:
    return PauseFact(
        reason=p.reason,
        started_at=as_utc(p.started_at),
        ended_at=as_utc(p.ended_at),
    )
