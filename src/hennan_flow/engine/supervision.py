"""Supervision through the engine: the sweeper's port, card records, the outbox and the report.

`SweepPort` is the engine as the sweeper sees it (`supervision.sweeper.SweptEngine`): transactions,
the stored signals of armed deadlines, firing claimed signals (cards and records, or a service
deadline's action on its case), and the BPMN timers of due cases. The sweeper needs nothing else,
and never an engine's own members.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from ..clock.workdays import WorkCalendar
from ..db.models import CardRow, DeadlineRow, OutboxRow, SignalRow
from ..db.raw import Raw
from ..db.transaction import Tx
from ..entities import Issued
from ..errors import ConflictError, InputError, NotFoundError
from ..identity.permissions import SYSTEM
from ..supervision import accountability, hotline, records
from ..supervision import cards as card_records
from ..supervision.bulletin import Bulletin, build_bulletin
from ..supervision.cards import Card, OutboxEvent, issue
from ..supervision.facts import Scope, read_facts
from ..supervision.figures import SupervisionReport, build_report
from ..supervision.review_figures import summary
from . import calendars, cases, pauses, portal
from .context import EngineContext
from .lifecycle import resume_case_clock
from .pauses import OVERRUN_TRIGGERS
from .services import fire_service_signals

__all__ = [
    "SweepPort",
    "account",
    "advance_card",
    "bulletin",
    "card_operation",
    "close_referral",
    "list_cards",
    "referrals",
    "report",
    "show_card",
]


class SweepPort:
    """The engine's side of a sweep (implements `supervision.sweeper.SweptEngine`)."""

    def __init__(self, ctx: EngineContext) -> None:
        self._ctx = ctx

    @property
    def postgres(self) -> bool:
        return self._ctx.postgres

    def now(self) -> datetime:
        return self._ctx.now()

    @contextmanager
    def read(self) -> Iterator[Session]:
        with self._ctx.read() as session:
            yield session

    @contextmanager
    def write(self) -> Iterator[Tx]:
        with self._ctx.write() as tx:
            tx.journal.acting = SYSTEM  # the sweeper acts as the system (DESIGN §8)
            yield tx

    @contextmanager
    def connect(self) -> Iterator[Connection]:
        with self._ctx.connect() as conn:
            yield conn

    def calendar(self) -> WorkCalendar:
        return self._ctx.current_calendar()

    def calendar_report(self, now: datetime) -> tuple[dict[str, Any], bool]:
        return calendars.report(self._ctx, now)

    def store_signals(self, tx: Tx, rows: Sequence[DeadlineRow]) -> None:
        self._ctx.deadlines.store_signals(tx, *rows)

    def fire(self, tx: Tx, signals: Sequence[SignalRow], now: datetime, *, claimer: str) -> list[Issued]:
        # service deadlines (kind action: a 容缺 supplement deadline) act on their case instead
        actions = [r for r in signals if r.kind == "action"]
        acted = fire_service_signals(self._ctx, tx, actions, now, claimer=claimer) if actions else []
        overdue = [r for r in signals if r.kind == records.RECORD_KIND]
        acted += records.fire_overdue(tx, self._ctx.phases, overdue, now, claimer=claimer) if overdue else []
        rest = [r for r in signals if r.kind not in ("action", records.RECORD_KIND)]
        years = self._ctx.calendar(tx).provisional_years
        issued = issue(
            tx,
            rest,
            now,
            claimer=claimer,
            lead_of=self._ctx.lead_of,
            accountable_of=self._ctx.accountable_of,
            provisional_years=years,
            opened=self._ctx.phases.opened,
        )
        if any(r.trigger in OVERRUN_TRIGGERS.values() for r in rest):  # a pause past its limit
            pauses.on_fired(self._ctx, tx, rest, now, resume_case_clock=resume_case_clock)
        return acted + issued

    def due_timer_cases(self, limit: int) -> list[str]:
        return cases.due_timer_cases(self._ctx, limit)

    def fire_timers(self, case_id: str) -> list[Issued] | None:
        return cases.fire_timers(self._ctx, case_id)

    def mark_case_error(self, case_id: str, message: str) -> None:
        cases.mark_error(self._ctx, case_id, message)


def card_operation(color: str, state: str, to: str, conclusion: str | None) -> str:
    """The permission-table operation of a record move (DESIGN §8; §9's reviewing moves included)."""
    if conclusion == "系统误报":
        return "card.false_alarm"
    if color != "red":
        return "card.yellow.move"
    if to == "reviewing":
        return "card.red.handover"
    if state == "reviewing":
        return "card.red.review"
    if to == "closed" or state == "revisiting":
        return "card.red.close"
    return "card.red.verify"


def advance_card(
    ctx: EngineContext, card_id: str, *, to: str, note: str, conclusion: str | None, actor: str | None
) -> Card:
    """Move a card's record one step (supervision.records), its case locked."""
    try:
        with ctx.write() as tx:
            row = tx.session.get(CardRow, card_id)
            if row is not None:
                ctx.authority.check(
                    tx, actor, card_operation(row.color, row.state, to, conclusion), department=row.department
                )
            now = ctx.now()
            records.advance(
                tx, ctx.phases, card_id, to=to, note=note, conclusion=conclusion, actor=actor, now=now
            )
            return show_card(tx.session, card_id, now)
    except StaleDataError as exc:
        raise ConflictError(f"红黄牌 {card_id} 在此期间已被修改", hint="重新查看后重试") from exc


def show_card(session: Session, card_id: str, now: datetime, years: frozenset[int] = frozenset()) -> Card:
    """A card with its record, its phases and deadlines, and its accountability entries."""
    found = card_records.get_card(session, card_id, years)
    return replace(
        found,
        phases=tuple(records.phases_of(session, [card_id], now)[card_id]),
        accounts=tuple(accountability.entries_of(session, [card_id])[card_id]),
    )


def list_cards(
    ctx: EngineContext,
    *,
    state: str | None,
    case: str | None,
    color: str | None,
    department: str | None,
    overdue: str | None,
    actor: str | None = None,
) -> list[Card]:
    """Cards oldest first, filtered; `overdue` a phase (verify, rectify, review, revisit) or `any`;
    given `actor`, only the cards of cases that actor may read (DESIGN §8)."""
    if overdue not in (None, "any", *records.PHASE_NAMES):
        raise InputError(f"未知的阶段 {overdue!r}", hint="可选值：verify、rectify、review、revisit、any")
    with ctx.read() as session:
        reader = portal.readable(ctx, Raw(session.connection()), actor)
        years = ctx.calendar(session).provisional_years
        only = None
        if overdue is not None:
            only = records.overdue_cards(session, None if overdue == "any" else overdue, ctx.now())
        return card_records.list_cards(
            session,
            state=state,
            case=case,
            color=color,
            department=department,
            only=only,
            provisional_years=years,
            where=None if reader is None else reader.case(CardRow.case_id),
        )


def events(ctx: EngineContext, *, after: int, limit: int, actor: str | None) -> list[OutboxEvent]:
    """Outbox events after the cursor; given `actor`, those of the cases that actor may read."""
    with ctx.read() as session:
        reader = portal.readable(ctx, Raw(session.connection()), actor)
        where = None if reader is None else reader.case(OutboxRow.case_id)
        return card_records.read_events(session, after=after, limit=limit, where=where)


def account(
    ctx: EngineContext, card_id: str, *, person: str, measure: str, note: str, actor: str | None
) -> Card:
    """Record an accountability entry on a card (supervisor); 移送纪检监察机关 opens a referral."""
    try:
        with ctx.write() as tx:
            row = tx.session.get(CardRow, card_id)
            if row is None:
                raise NotFoundError(f"没有红黄牌 {card_id!r}", hint="查看红黄牌：hennan-flow card list")
            tx.lock_case(row.case_id)
            tx.session.refresh(row)
            ctx.authority.check(tx, actor, "card.account", department=row.department)
            now = ctx.now()
            accountability.add_entry(tx, row, person=person, measure=measure, note=note, actor=actor, now=now)
            return show_card(tx.session, card_id, now)
    except StaleDataError as exc:
        raise ConflictError(f"红黄牌 {card_id} 在此期间已被修改", hint="重新查看后重试") from exc


def referrals(ctx: EngineContext, *, state: str | None, actor: str | None) -> list[accountability.Referral]:
    """The referrals to 纪检监察机关: only `discipline` users may read them (DESIGN §9)."""
    with ctx.read() as session:
        ctx.authority.check(Raw(session.connection()), actor, "referral.read")
        return accountability.list_referrals(session, state=state)


def close_referral(
    ctx: EngineContext, referral_id: str, *, outcome: str, actor: str | None
) -> accountability.Referral:
    try:
        with ctx.write() as tx:
            row = accountability.get_referral(tx.session, referral_id)
            tx.lock_case(row.case_id)
            tx.session.refresh(row)
            ctx.authority.check(tx, actor, "referral.outcome", department=row.department)
            return accountability.close_referral(tx, row, outcome=outcome, actor=actor, now=ctx.now())
    except StaleDataError as exc:
        raise ConflictError(f"移送 {referral_id} 在此期间已被修改", hint="重新列出后重试") from exc


def bulletin(ctx: EngineContext, *, start: date | None, end: date | None, department: str | None) -> Bulletin:
    """The 红牌通报 of a period (supervision.bulletin), from one read transaction."""
    scope = Scope(start=start, end=end, department=department)
    ctx.check_schema()
    now = ctx.now()
    with ctx.read() as session:
        directory = ctx.authority.directory(Raw(session.connection()))
        names = {code: d.name for code, d in directory.departments.items()} if directory is not None else {}
        return build_bulletin(
            session,
            scope,
            now=now,
            calendar=ctx.calendar(session),
            bundle_of=lambda i: ctx.definition(session, i).bundle,
            department_names=names,
        )


def report(
    ctx: EngineContext, *, start: date | None, end: date | None, department: str | None
) -> SupervisionReport:
    """The 红黄牌 supervision report of a period and department, from rows read in one read transaction."""
    scope = Scope(start=start, end=end, department=department)
    ctx.check_schema()
    now = ctx.now()
    with ctx.read() as session:
        facts = read_facts(session, scope, bundle_of=lambda i: ctx.definition(session, i).bundle)
        calendar = ctx.calendar(session)
        reviews = summary(session, start=start, end=end, department=department, now=now)
        orders = hotline.read_orders(session, scope)
    # the 回访's answers are form data, kept in the cases' workflow state
    answers = {task: cases.step_data(ctx, case, task) for case, task in hotline.revisit_ids(orders)}
    section = hotline.hotline_figures(
        orders, now=now, answers=answers, names=facts.departments, department=department
    )
    return build_report(facts, scope, now=now, calendar=calendar, reviews=reviews, hotline=section)
