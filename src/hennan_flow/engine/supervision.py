"""Supervision through the engine: the sweeper's port, card records, the outbox and the report.

`SweepPort` is the engine as the sweeper sees it (`supervision.sweeper.SweptEngine`): transactions,
the stored signals of armed deadlines, firing claimed signals (cards and records, or a service
deadline's action on its case), and the BPMN timers of due cases. The sweeper needs nothing else,
and never an engine's own members.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from ..clock.workdays import WorkCalendar
from ..db.models import CardRow, DeadlineRow, SignalRow
from ..db.transaction import Tx
from ..entities import Issued
from ..errors import ConflictError
from ..identity.permissions import SYSTEM
from ..supervision import cards as card_records
from ..supervision import hotline
from ..supervision.cards import Card, issue
from ..supervision.facts import Scope, read_facts
from ..supervision.figures import SupervisionReport, build_report
from ..supervision.review_figures import summary
from . import calendars, cases, pauses
from .context import EngineContext
from .lifecycle import resume_case_clock
from .pauses import OVERRUN_TRIGGERS
from .services import fire_service_signals

__all__ = ["SweepPort", "advance_card", "card_operation", "report"]


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
        rest = [r for r in signals if r.kind != "action"] if actions else list(signals)
        years = self._ctx.calendar(tx).provisional_years
        issued = issue(
            tx,
            rest,
            now,
            claimer=claimer,
            lead_of=self._ctx.lead_of,
            accountable_of=self._ctx.accountable_of,
            provisional_years=years,
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
    """Move a card's record one step (supervision.cards), its case locked."""
    try:
        with ctx.write() as tx:
            row = tx.session.get(CardRow, card_id)
            if row is not None:
                ctx.authority.check(
                    tx, actor, card_operation(row.color, row.state, to, conclusion), department=row.department
                )
            card_records.advance(
                tx, card_id, to=to, note=note, conclusion=conclusion, actor=actor, now=ctx.now()
            )
            return card_records.get_card(tx.session, card_id)
    except StaleDataError as exc:
        raise ConflictError(f"card {card_id} was changed meanwhile", hint="show it again and retry") from exc


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
