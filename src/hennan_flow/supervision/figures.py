"""The 红黄牌 supervision figures (issue 8): efficiency per department and per bundle, cards, records.

`facts.read_facts` reads, in one read transaction, the rows a report needs (steps, their deadlines,
pauses and extensions, cases, cards, the deployed bundles' names); `build_report` is a pure function of
those facts, the scope, the instant and the working-day calendar, and returns the one record shape
(`SupervisionReport`, builtins only) that every renderer reads and that `--format json` prints
(schema: `hennan_flow/schemas/supervision-report.schema.json`, documented in docs/supervision-report.md).

Definitions (DESIGN §4; all dates are Asia/Shanghai):

- **Period membership.** A step instance belongs to the period by its acceptance (受理: the instant it
  became ready), when the local date of that instant lies in [from, to] (either end may be open). A case
  belongs by its start. A card belongs by the day it was issued for: its `issued_at` is a deadline, and
  an instant at local midnight is the end (24:00) of the day before, as the clock reads deadlines.
- **On time.** Against each of the step's deadlines (promised, legal) as stored, i.e. moved by its
  pauses and extensions: a completed step is on time when it ended at or before the deadline, late
  otherwise. A step still open is late (`overdue_open`) when the deadline has passed at the instant
  its clock stands at: now, or the start of its current pause (a paused clock does not run). An open
  step whose deadline has not passed is `open_not_due` and is left out of the rate, as are steps
  without such a deadline or whose deadline waits for calendar data (`not_judged`) and cancelled
  steps. rate = on_time / (on_time + late + overdue_open), null when that is 0.
- **Working days used** by a completed step: the working days after its acceptance day up to and
  including the day it ended (the acceptance day is not counted, as for limits; an end at local
  midnight belongs to the day before), minus the working days it was paused (the same count that moved
  its deadlines: working days in [date(pause start), date(pause end))). A case subtracts the union of
  its supplement and special-procedure pauses (the case clock's stops). Measured only for completed
  steps with a promise in working days (unit workday, or an immediate step: a promise of 0 days); the
  promised figure is the limit as written, extensions are reported apart. p90 is the nearest rank:
  the smallest value at least 90 % of the measured values do not exceed. Means (two decimals)
  and rates (four) are rounded half up.
- **Record age**: in working days, counted like a limit from the day the card was issued for (not
  counted) up to today (counted); null when the calendar data does not reach.
- **Paused time**: the pauses of the steps in scope, by reason, in working days as above; a pause
  still running counts up to today.
- **Department**: a step's department is its lane's code; a card's is its accountable department (the
  step's, or the bundle's lead department for a case-level card). `department=CODE` keeps the steps
  and cards of that department; bundles then show only those, and no case-level figures.

Figures that need calendar data that does not exist are left out (DESIGN §4: never a guess).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Literal, TypedDict

from ..clock.arithmetic import paused_workdays, paused_workdays_union
from ..clock.deadlines import PAUSE_REASONS
from ..clock.instants import as_utc, local_date, local_day_ended, local_iso
from ..clock.workdays import WorkCalendar
from ..errors import CalendarRangeError, NotFoundError
from .cards import CARD_STATES
from .facts import BundleInfo, CardFact, CaseFact, DeadlineFact, Facts, PauseFact, Scope, StepFact

__all__ = [
    "REPORT_VERSION",
    "BadReviewDoc",
    "BundleFigures",
    "CardCounts",
    "CaseCounts",
    "CaseFigures",
    "DepartmentFigures",
    "Extensions",
    "Figures",
    "HotlineFigures",
    "MonthCards",
    "OpenRecord",
    "Outcome",
    "PausedTime",
    "Rate",
    "Records",
    "RectificationFigures",
    "ReviewPeriod",
    "ReviewSummary",
    "StepCounts",
    "SupervisionReport",
    "Timeline",
    "TimelinePause",
    "TimelineStep",
    "UnitFigures",
    "Workdays",
    "build_report",
    "judge",
    "ratio",
    "workdays_used",
]

REPORT_VERSION = 1
_DAY = timedelta(days=1)

Outcome = Literal["on_time", "late", "overdue_open", "open_not_due", "not_judged", "cancelled"]


# -- the record shape (builtins only; the JSON output is this) ---------------------------------------


class Rate(TypedDict):
    """Steps (or cases) judged against one kind of deadline; `rate` = on_time / (on_time + late + overdue_open)."""

    on_time: int
    late: int  # completed after the deadline
    overdue_open: int  # still open, the deadline passed
    open_not_due: int  # still open, the deadline not passed: not in the rate
    not_judged: int  # no deadline of this kind, or it waits for calendar data: not in the rate
    rate: float | None  # 0..1, four decimals; null when nothing was judged


class Workdays(TypedDict):
    """Working days used by completed steps vs their promised limit (mean: two decimals; p90: nearest rank)."""

    measured: int
    used_mean: float | None
    used_p90: int | None
    promised_mean: float | None
    promised_p90: int | None


class StepCounts(TypedDict):
    accepted: int  # step instances accepted in the period: completed + open + cancelled
    completed: int
    open: int  # ready or paused
    cancelled: int


class CardCounts(TypedDict):
    yellow: int
    red: int
    dismissed: int  # closed as 不属实 or 系统误报 (not the department's fault)


class Records(TypedDict):
    """The cards' supervision records; `open` means not closed (as `card list --state open`)."""

    open: int
    closed: int
    oldest_open_age: int | None  # working days
    states: dict[str, int]  # open, verifying, rectifying, closed


class PausedTime(TypedDict):
    pauses: int
    workdays: int


class Extensions(TypedDict):
    count: int
    workdays: int


class Figures(TypedDict):
    """The figures of one group of steps and cards (all, a department, a bundle)."""

    steps: StepCounts
    promised: Rate
    legal: Rate
    workdays: Workdays
    cards: CardCounts
    records: Records
    paused: dict[str, PausedTime]  # supplement, special_procedure, suspended
    extensions: Extensions


class DepartmentFigures(TypedDict):
    code: str | None  # null: steps outside any lane
    name: str | None  # the lane's name in the most recently deployed bundle that has it
    # false: a lane no supervisor holds to account (a bank): its figures are the service
    # environment's, listed after the departments', and it never has cards
    accountable: bool
    figures: Figures


class CaseCounts(TypedDict):
    started: int
    completed: int
    open: int
    terminated: int
    refused: int  # 不予受理 / 不予许可 (DESIGN §10)
    withdrawn: int  # 撤回


class CaseFigures(TypedDict):
    """Whole cases (一件事) of a bundle against the bundle's own limit."""

    cases: CaseCounts
    promised: Rate
    legal: Rate
    workdays: Workdays


class BundleFigures(TypedDict):
    key: str
    name: str | None
    code: str | None  # hf:bundle code
    lead: str | None  # lead department code
    figures: Figures
    cases: CaseFigures | None  # null with a department filter


class MonthCards(TypedDict):
    month: str  # YYYY-MM
    yellow: int
    red: int


class OpenRecord(TypedDict):
    card: str
    case: str
    bundle: str | None
    scope: str  # step | case
    step: str | None
    task: str | None
    department: str | None
    color: str
    trigger: str
    handler: str
    state: str  # open | verifying | rectifying
    issued_at: str | None  # local ISO
    age_workdays: int | None


class TimelinePause(TypedDict):
    reason: str
    start: str | None
    end: str | None  # null: still paused


class TimelineStep(TypedDict):
    task: str
    step: str
    name: str
    department: str | None
    state: str
    accepted_at: str | None
    ended_at: str | None
    promised_due: str | None
    legal_due: str | None
    promised: Outcome
    legal: Outcome
    pauses: list[TimelinePause]


class Timeline(TypedDict):
    """One case's steps against their deadlines (the Gantt chart)."""

    case: str
    bundle: str
    bundle_name: str | None
    state: str
    started_at: str | None
    ended_at: str | None
    promised_due: str | None  # the case's own deadlines
    legal_due: str | None
    steps: list[TimelineStep]


# from/to: YYYY-MM-DD, inclusive, null where open; by: "acceptance" (steps by acceptance, cases by
# their start, cards by the day they were issued for); timezone: Asia/Shanghai
Period = TypedDict("Period", {"from": str | None, "to": str | None, "by": str, "timezone": str})


class RectificationFigures(TypedDict):
    opened: int
    closed: int
    on_time: int
    late: int
    open: int
    overdue_open: int


class BadReviewDoc(TypedDict):
    review: str
    case: str
    step: str | None
    department: str | None
    level: int
    channel: str
    real_name: bool
    at: str | None
    rectification: str | None
    state: str | None
    on_time: bool | None
    due: str | None  # the deadline of the current phase (null when closed)


ReviewPeriod = TypedDict("ReviewPeriod", {"from": str | None, "to": str | None, "by": str, "timezone": str})


class ReviewSummary(TypedDict):
    """The 好差评 section of the supervision report (see `summary`)."""

    period: ReviewPeriod
    department: str | None
    reviews: int
    by_level: dict[str, int]
    satisfaction_rate: float | None
    bad: int
    rectifications: RectificationFigures
    rectified_on_time_rate: float | None
    bad_reviews: list[BadReviewDoc]


class UnitFigures(TypedDict):
    """One 承办单位's 三率 and counts (or the totals, `code` null)."""

    code: str | None  # null: the totals
    name: str | None
    orders: int  # orders dispatched to the unit (with a sign-in or handling instance of it)
    sign_ins: int  # sign-in instances judged
    signed_on_time: int
    response_rate: float | None  # 响应率
    revisits: int  # completed 回访 attributed to the unit
    resolved: int
    resolution_rate: float | None  # 解决率
    satisfied: int  # 满意 or 基本满意
    satisfaction_rate: float | None  # 满意率
    returns: int  # 退单
    reworks: int  # 重办


class HotlineFigures(TypedDict):
    """The 12345 section (supervision/hotline.py has the definitions)."""

    bundle: str
    orders: int  # orders accepted in the period
    totals: UnitFigures
    units: list[UnitFigures]


class SupervisionReport(TypedDict):
    """The supervision report, version 1 (see the module docstring for every definition).

    `reviews` is the 好差评 section (`reviews.summary` of the same period and department), or null
    where the caller gave none (a report built from facts alone).
    """

    version: int
    generated_at: str | None  # the instant the figures stand at (local ISO)
    calendar: str  # working-day calendar version
    provisional_years: list[int]  # years of that calendar built from the statutory list (DESIGN §7)
    provisional: bool  # figures computed with a provisional year
    period: Period
    department: str | None  # the filter
    empty: bool  # no step was accepted in the period (in the department)
    totals: Figures
    departments: list[DepartmentFigures]
    bundles: list[BundleFigures]
    cards_by_month: list[MonthCards]
    open_records: list[OpenRecord]
    timeline: Timeline | None
    reviews: ReviewSummary | None
    hotline: HotlineFigures | None  # the 12345 section; null without hotline orders in the period


# -- days -----------------------------------------------------------------------------------------------


def workdays_used(
    accepted_at: datetime,
    ended_at: datetime,
    pauses: Iterable[tuple[datetime, datetime]],
    calendar: WorkCalendar,
    *,
    union: bool = False,
) -> int | None:
    """Working days after the acceptance day up to the end's day, minus the paused working days.

    `union`: count the pauses' days once even where they overlap (a case's stops). None when the
    calendar data does not reach.
    """
    start, end = local_date(accepted_at), local_day_ended(ended_at)
    spans = list(pauses)
    try:
        gross = calendar.workdays_in(start + _DAY, end + _DAY) if end > start else 0
        if union:
            paused = paused_workdays_union(spans, calendar)
        else:
            paused = sum(paused_workdays(a, b, calendar) for a, b in spans)
    except CalendarRangeError:
        return None
    return max(0, gross - paused)


def _age(issued_at: datetime, now: datetime, calendar: WorkCalendar) -> int | None:
    start, today = local_day_ended(issued_at), local_day_ended(now)
    try:
        return calendar.workdays_in(start + _DAY, today + _DAY) if today > start else 0
    except CalendarRangeError:
        return None


def _paused_days(pause: PauseFact, now: datetime, calendar: WorkCalendar) -> int | None:
    try:
        return paused_workdays(pause.started_at, pause.ended_at or now, calendar)
    except CalendarRangeError:
        return None


# -- judging --------------------------------------------------------------------------------------------


def judge(
    state: str,
    ended_at: datetime | None,
    deadline: DeadlineFact | None,
    which: Literal["promised", "legal"],
    now: datetime,
) -> Outcome:
    """A step's (or a case's) outcome against its promised or legal deadline (module docstring)."""
    if state in {"cancelled", "terminated", "refused", "withdrawn"}:  # ended without a result: never late
        return "cancelled"
    due = None if deadline is None else (deadline.promised_due if which == "promised" else deadline.legal_due)
    if deadline is None or deadline.pending or due is None:
        return "not_judged"
    if state == "completed":
        end = ended_at if ended_at is not None else now
        return "on_time" if end <= due else "late"
    clock_at = deadline.paused_since or now  # a paused clock stands at its pause
    return "overdue_open" if clock_at > due else "open_not_due"


def _promise_days(deadline: DeadlineFact | None) -> int | None:
    """The promise in working days: the limit as written (unit workday), 0 for an immediate step."""
    if deadline is None:
        return None
    if deadline.kind == "immediate":
        return 0
    if deadline.unit == "workday" and deadline.promised is not None:
        return deadline.promised
    return None


def _rate(outcomes: Sequence[Outcome]) -> Rate:
    counts = {k: 0 for k in ("on_time", "late", "overdue_open", "open_not_due", "not_judged")}
    for o in outcomes:
        if o != "cancelled":
            counts[o] += 1
    judged = counts["on_time"] + counts["late"] + counts["overdue_open"]
    return {
        "on_time": counts["on_time"],
        "late": counts["late"],
        "overdue_open": counts["overdue_open"],
        "open_not_due": counts["open_not_due"],
        "not_judged": counts["not_judged"],
        "rate": ratio(counts["on_time"], judged, 4) if judged else None,
    }


def ratio(numerator: int, denominator: int, places: int) -> float:
    """numerator / denominator rounded half up (as people round by hand: 2.125 → 2.13)."""
    exact = Decimal(numerator) / Decimal(denominator)
    return float(exact.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP))


def _mean(values: Sequence[int]) -> float | None:
    return ratio(sum(values), len(values), 2) if values else None


def _p90(values: Sequence[int]) -> int | None:
    """Nearest rank: the smallest value that at least 90 % of the values do not exceed."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[math.ceil(0.9 * len(ordered)) - 1]


def _workdays(pairs: Sequence[tuple[int, int]]) -> Workdays:
    used = [u for u, _ in pairs]
    promised = [p for _, p in pairs]
    return {
        "measured": len(pairs),
        "used_mean": _mean(used),
        "used_p90": _p90(used),
        "promised_mean": _mean(promised),
        "promised_p90": _p90(promised),
    }


# -- building ---------------------------------------------------------------------------------------


@dataclass
class _Step:
    """A step in scope with what the report says about it."""

    fact: StepFact
    promised: Outcome
    legal: Outcome
    measured: tuple[int, int] | None  # (used, promised) working days
    paused: list[tuple[str, int | None]]  # (reason, working days)


@dataclass
class _Card:
    fact: CardFact
    day: date
    age: int | None


def _figures(steps: Sequence[_Step], cards: Sequence[_Card]) -> Figures:
    states = [s.fact.state for s in steps]
    paused: dict[str, PausedTime] = {r: {"pauses": 0, "workdays": 0} for r in PAUSE_REASONS}
    for s in steps:
        for reason, days in s.paused:
            slot = paused.setdefault(reason, {"pauses": 0, "workdays": 0})
            slot["pauses"] += 1
            slot["workdays"] += days or 0
    record_states = {state: 0 for state in CARD_STATES}
    for c in cards:
        record_states[c.fact.state] = record_states.get(c.fact.state, 0) + 1
    open_ages = [c.age for c in cards if c.fact.state != "closed" and c.age is not None]
    return {
        "steps": {
            "accepted": len(steps),
            "completed": states.count("completed"),
            "open": states.count("ready") + states.count("paused"),
            "cancelled": states.count("cancelled"),
        },
        "promised": _rate([s.promised for s in steps]),
        "legal": _rate([s.legal for s in steps]),
        "workdays": _workdays([s.measured for s in steps if s.measured is not None]),
        "cards": {
            "yellow": sum(c.fact.color == "yellow" for c in cards),
            "red": sum(c.fact.color == "red" for c in cards),
            "dismissed": sum(c.fact.conclusion in {"不属实", "系统误报"} for c in cards),
        },
        "records": {
            "open": sum(c.fact.state != "closed" for c in cards),
            "closed": sum(c.fact.state == "closed" for c in cards),
            "oldest_open_age": max(open_ages) if open_ages else None,
            "states": record_states,
        },
        "paused": paused,
        "extensions": {
            "count": sum(len(s.fact.extensions) for s in steps),
            "workdays": sum(sum(s.fact.extensions) for s in steps),
        },
    }


def _case_figures(cases: Sequence[CaseFact], now: datetime, calendar: WorkCalendar) -> CaseFigures:
    measured: list[tuple[int, int]] = []
    for c in cases:
        promise = _promise_days(c.deadline)
        if c.state != "completed" or c.ended_at is None or promise is None:
            continue
        spans = [(p.started_at, p.ended_at) for p in c.stops if p.ended_at is not None]
        used = workdays_used(c.started_at, c.ended_at, spans, calendar, union=True)
        if used is not None:
            measured.append((used, promise))
    states = [c.state for c in cases]
    return {
        "cases": {
            "started": len(cases),
            "completed": states.count("completed"),
            "open": states.count("open"),
            "terminated": states.count("terminated"),
            "refused": states.count("refused"),
            "withdrawn": states.count("withdrawn"),
        },
        "promised": _rate([judge(c.state, c.ended_at, c.deadline, "promised", now) for c in cases]),
        "legal": _rate([judge(c.state, c.ended_at, c.deadline, "legal", now) for c in cases]),
        "workdays": _workdays(measured),
    }


def _step_of(fact: StepFact, now: datetime, calendar: WorkCalendar) -> _Step:
    measured = None
    promise = _promise_days(fact.deadline)
    if fact.state == "completed" and fact.ended_at is not None and promise is not None:
        spans = [(p.started_at, p.ended_at) for p in fact.pauses if p.ended_at is not None]
        used = workdays_used(fact.accepted_at, fact.ended_at, spans, calendar)
        if used is not None:
            measured = (used, promise)
    return _Step(
        fact=fact,
        promised=judge(fact.state, fact.ended_at, fact.deadline, "promised", now),
        legal=judge(fact.state, fact.ended_at, fact.deadline, "legal", now),
        measured=measured,
        paused=[(p.reason, _paused_days(p, now, calendar)) for p in fact.pauses],
    )


def _months(cards: Sequence[_Card]) -> list[MonthCards]:
    if not cards:
        return []
    first = min(c.day for c in cards).replace(day=1)
    last = max(c.day for c in cards).replace(day=1)
    out: list[MonthCards] = []
    month = first
    while month <= last:
        inside = [c for c in cards if c.day.replace(day=1) == month]
        out.append(
            {
                "month": f"{month.year:04d}-{month.month:02d}",
                "yellow": sum(c.fact.color == "yellow" for c in inside),
                "red": sum(c.fact.color == "red" for c in inside),
            }
        )
        month = (month + timedelta(days=32)).replace(day=1)
    return out


def _timeline(steps: Sequence[_Step], facts: Facts) -> Timeline | None:
    """The case whose steps ran late most often (then: most steps, earliest, by id)."""
    by_case: dict[str, list[_Step]] = {}
    for s in steps:
        by_case.setdefault(s.fact.case, []).append(s)
    if not by_case:
        return None

    def rank(item: tuple[str, list[_Step]]) -> tuple[int, int, datetime, str]:
        case_id, members = item
        late = sum(s.promised in {"late", "overdue_open"} for s in members)
        return (-late, -len(members), min(s.fact.accepted_at for s in members), case_id)

    case_id, members = min(by_case.items(), key=rank)
    case = next((c for c in facts.cases if c.id == case_id), None)
    bundle = members[0].fact.bundle
    info = facts.bundles.get(bundle)
    members = sorted(members, key=lambda s: (s.fact.accepted_at, s.fact.step, s.fact.task))
    return {
        "case": case_id,
        "bundle": bundle,
        "bundle_name": info.name if info else None,
        "state": case.state if case else "open",
        "started_at": local_iso(case.started_at) if case else None,
        "ended_at": local_iso(case.ended_at) if case else None,
        "promised_due": local_iso(case.deadline.promised_due) if case and case.deadline else None,
        "legal_due": local_iso(case.deadline.legal_due) if case and case.deadline else None,
        "steps": [
            {
                "task": s.fact.task,
                "step": s.fact.step,
                "name": s.fact.name,
                "department": s.fact.department,
                "state": s.fact.state,
                "accepted_at": local_iso(s.fact.accepted_at),
                "ended_at": local_iso(s.fact.ended_at),
                "promised_due": local_iso(s.fact.deadline.promised_due) if s.fact.deadline else None,
                "legal_due": local_iso(s.fact.deadline.legal_due) if s.fact.deadline else None,
                "promised": s.promised,
                "legal": s.legal,
                "pauses": [
                    {"reason": p.reason, "start": local_iso(p.started_at), "end": local_iso(p.ended_at)}
                    for p in s.fact.pauses
                ],
            }
            for s in members
        ],
    }


def build_report(
    facts: Facts,
    scope: Scope,
    *,
    now: datetime,
    calendar: WorkCalendar,
    reviews: ReviewSummary | None = None,
    hotline: HotlineFigures | None = None,
) -> SupervisionReport:
    """The supervision report of `scope` as of `now`: a pure function of the facts (module docstring).

    Raises NotFoundError for a department code that no deployed bundle and no step or card knows.
    """
    if scope.department is not None and scope.department not in facts.departments:
        known = "、".join(sorted(facts.departments)) or "暂无"
        raise NotFoundError(f"没有部门 {scope.department!r}", hint=f"已有的部门代码：{known}")
    now = as_utc(now)
    wanted = scope.department

    steps = [
        _step_of(s, now, calendar)
        for s in sorted(facts.steps, key=lambda s: (s.accepted_at, s.task))
        if scope.has(local_date(s.accepted_at)) and (wanted is None or s.department == wanted)
    ]
    cards = [
        _Card(
            fact=c,
            day=local_day_ended(c.issued_at),
            age=None if c.state == "closed" else _age(c.issued_at, now, calendar),
        )
        for c in sorted(facts.cards, key=lambda c: (c.issued_at, c.id))
        if scope.has(local_day_ended(c.issued_at)) and (wanted is None or c.department == wanted)
    ]
    cases = [c for c in facts.cases if scope.has(local_date(c.started_at))]

    departments: list[DepartmentFigures] = []
    codes = {s.fact.department for s in steps} | {c.fact.department for c in cards}
    apart = facts.unaccountable
    for code in sorted(codes, key=lambda c: (c in apart, c is None, c or "")):
        departments.append(
            {
                "code": code,
                "name": facts.departments.get(code) if code is not None else None,
                "accountable": code not in apart,
                "figures": _figures(
                    [s for s in steps if s.fact.department == code],
                    [c for c in cards if c.fact.department == code],
                ),
            }
        )

    bundles: list[BundleFigures] = []
    keys = {s.fact.bundle for s in steps} | {c.fact.bundle for c in cards if c.fact.bundle is not None}
    if wanted is None:
        keys |= {c.bundle for c in cases}
    for key in sorted(keys):
        info = facts.bundles.get(key, BundleInfo(key=key))
        bundles.append(
            {
                "key": key,
                "name": info.name,
                "code": info.code,
                "lead": info.lead,
                "figures": _figures(
                    [s for s in steps if s.fact.bundle == key],
                    [c for c in cards if c.fact.bundle == key],
                ),
                "cases": None
                if wanted is not None
                else _case_figures([c for c in cases if c.bundle == key], now, calendar),
            }
        )

    open_records: list[OpenRecord] = [
        {
            "card": c.fact.id,
            "case": c.fact.case,
            "bundle": c.fact.bundle,
            "scope": c.fact.scope,
            "step": c.fact.step,
            "task": c.fact.task,
            "department": c.fact.department,
            "color": c.fact.color,
            "trigger": c.fact.trigger,
            "handler": c.fact.handler,
            "state": c.fact.state,
            "issued_at": local_iso(c.fact.issued_at),
            "age_workdays": c.age,
        }
        for c in cards
        if c.fact.state != "closed"
    ]

    return {
        "version": REPORT_VERSION,
        "generated_at": local_iso(now),
        "calendar": calendar.version,
        "provisional_years": sorted(calendar.provisional_years),
        "provisional": bool(calendar.provisional_years),
        "period": {
            "from": scope.start.isoformat() if scope.start else None,
            "to": scope.end.isoformat() if scope.end else None,
            "by": "acceptance",
            "timezone": "Asia/Shanghai",
        },
        "department": wanted,
        "empty": not steps,
        "totals": _figures(steps, cards),
        "departments": departments,
        "bundles": bundles,
        "cards_by_month": _months(cards),
        "open_records": open_records,
        "timeline": _timeline(steps, facts),
        "reviews": reviews,
        "hotline": hotline,
    }
