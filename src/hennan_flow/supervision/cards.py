"""红黄牌 electronic supervision: signals and cards as they fire, the cards' records, and the outbox.

DESIGN §4. A stored signal row (`hf_signal`, written by the clock) fires at most once:

    pending ──claim──▶ claimed ──fire──▶ fired          (the sweeper; the claim carries a lease)
       ▲                  │
       └────lease reaped──┘
    pending ──fire──▶ fired                              (a late step or case ends: same transaction)
    pending ◀──▶ paused, pending|paused ──▶ cancelled    (the clock: pause/resume, ended in time)

`fired` and `cancelled` are final. Firing is a fenced UPDATE (`state`, and for the sweeper
`claimed_by` too), so a worker whose lease ran out, or a completion that fired the row first, makes
a late attempt a no-op instead of a second card.

Notices and yellow lights are signals; yellow and red are cards. One card per (case, step
instance, colour) — the unique (deadline_id, color) of `hf_card`, where the deadline id is the step
instance (task) id or, for a case-level card, the case id. A step instance's second supplement (补正)
issues a yellow card of its own, with signal `repeated_supplement` (未一次告知): its deadline id is
derived from the task id (`engine.pauses`), so it stands beside the step's promised-deadline card. A
lane no supervisor holds to account (`hf:department accountable="false"`) gets signals, never cards.
A card's `issued_at` is its due instant.

Every card opens a supervision record (每牌必查、超时必究、出错必改): its states, phase deadlines,
the escalation of an overdue yellow record and the accountability entries are DESIGN §9
(`supervision.records`, `supervision.accountability`). Records are never deleted (there is no delete
path). Yellow cards are handled by the department of the step (the bundle's lead department for a
case-level card); red cards go to the superior review (上级复核). Every transition is an audit event
and an outbox event.

The outbox (`hf_outbox`) gets one row per signal fired, card issued and record transition, in the
same transaction, through the transaction's journal (`db.journal`: batched, ids visible in order).
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, Protocol, TypedDict, cast

from sqlalchemy import ColumnElement, Table, insert, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from ..clock.instants import as_utc, local_date, local_iso
from ..db.models import CardRow, CardTransitionRow, CaseRow, OutboxRow, SignalRow, TaskRow
from ..db.transaction import Tx
from ..entities import Issued
from ..errors import InputError, NotFoundError

__all__ = [
    "CARD_STATES",
    "CONCLUSIONS",
    "Card",
    "CardDoc",
    "CardTransition",
    "OutboxEvent",
    "announce_card",
    "get_card",
    "issue",
    "issued_of",
    "list_cards",
    "mark_fired",
    "read_events",
]

log = logging.getLogger(__name__)


def announce_card(
    tx: Tx,
    type_: str,
    row: CardRow,
    *,
    actor: str | None,
    at: datetime,
    detail: dict[str, Any],
    payload: dict[str, Any],
) -> None:
    """A change of a card's record told to the audit log and the outbox, about the card's case and step."""
    tx.journal.announce(
        type_,
        case=row.case_id,
        task=row.task_id,
        step=row.step,
        actor=actor,
        at=at,
        ref=row.id,
        detail=detail,
        payload=payload,
    )


CARD_STATES: Final = ("open", "verifying", "rectifying", "reviewing", "revisiting", "closed")
CONCLUSIONS: Final = ("属实", "不属实", "系统误报")
SUPERIOR_REVIEW: Final = "superior_review"  # 上级复核: who handles a red card

LeadOf = Callable[[Session, int], str | None]  # the lead department of a definition id
# whether a department (lane code) of a definition id is held to account (hf:department accountable)
AccountableOf = Callable[[Session, int, str], bool]
# records just opened (the card rows as inserted): their first phase starts (`records.PhaseClock`)
Opened = Callable[[Tx, Sequence[Mapping[str, Any]], datetime], None]


class Shown(Protocol):
    """What a card shows of its phases and entries."""

    def as_dict(self) -> dict[str, Any]: ...


class CardDoc(TypedDict):
    id: str
    case: str
    scope: str
    step: str | None
    task: str | None
    color: str
    signal: str
    issued_at: str | None
    state: str
    provisional: bool


def issued_of(sig: SignalRow, *, card: str | None = None) -> Issued:
    """What a fired signal row reports, stamped with its due instant."""
    return Issued(
        case=sig.case_id,
        scope=sig.scope,
        step=sig.step,
        task=sig.task_id,
        kind=sig.kind,
        name=sig.name,
        trigger=sig.trigger,
        at=as_utc(sig.due_at),
        signal_id=sig.id,
        card=card,
    )


@dataclass(frozen=True)
class CardTransition:
    """One entry of a card's supervision record: the opening (from_state None) or a move, with its note."""

    at: datetime
    from_state: str | None
    to_state: str
    note: str | None = None
    conclusion: str | None = None
    actor: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "at": local_iso(self.at),
            "from": self.from_state,
            "to": self.to_state,
            "note": self.note,
            "conclusion": self.conclusion,
            "actor": self.actor,
        }


@dataclass(frozen=True)
class Card:
    """A yellow or red card (红黄牌) with its supervision record.

    `signal` says what triggered it (promised_passed, legal_passed, overdue_workdays); `issued_at` is
    the due instant. `handler` is `department` (yellow) or `superior_review` (red, 上级复核);
    `department` is the accountable department. `record` is filled by `Engine.card`.
    """

    id: str
    case: str
    scope: str  # step | case
    step: str | None
    task: str | None
    color: str  # yellow | red
    signal: str
    issued_at: datetime
    state: str  # open | verifying | rectifying | reviewing | revisiting | closed
    handler: str
    department: str | None
    conclusion: str | None = None
    closed_at: datetime | None = None
    record: tuple[CardTransition, ...] = ()
    provisional: bool = False  # issued at an instant in a provisional calendar year (DESIGN §7)
    phases: tuple[Shown, ...] = ()  # the record's phases with their deadlines (`records.PhaseDeadline`)
    accounts: tuple[Shown, ...] = ()  # its accountability entries (`accountability.AccountEntry`)

    def as_dict(self) -> CardDoc:
        """The `card list` document."""
        return {
            "id": self.id,
            "case": self.case,
            "scope": self.scope,
            "step": self.step,
            "task": self.task,
            "color": self.color,
            "signal": self.signal,
            "issued_at": local_iso(self.issued_at),
            "state": self.state,
            "provisional": self.provisional,
        }

    def record_dict(self) -> dict[str, Any]:
        """The card with its record (`card show`, `card advance`)."""
        out: dict[str, Any] = dict(self.as_dict())
        out.update(
            handler=self.handler,
            department=self.department,
            conclusion=self.conclusion,
            closed_at=local_iso(self.closed_at),
            record=[t.as_dict() for t in self.record],
            phases=[p.as_dict() for p in self.phases],
            accountability=[a.as_dict() for a in self.accounts],
        )
        return out


@dataclass(frozen=True)
class OutboxEvent:
    """One outbox entry: a signal fired, a card issued or a record moved; read with a cursor on `id`."""

    id: int
    type: str  # signal.fired | card.issued | card.advanced
    case: str | None
    ref: str  # the signal id (signal.fired) or the card id
    at: datetime
    recorded_at: datetime
    payload: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "type": self.type,
            "case": self.case,
            "ref": self.ref,
            "at": local_iso(self.at),
            "recorded_at": local_iso(self.recorded_at),
            "payload": self.payload,
        }


# -- firing -------------------------------------------------------------------------------------


def mark_fired(
    session: Session, signals: Sequence[SignalRow], now: datetime, *, claimer: str | None
) -> dict[int, int]:
    """Set these signal rows fired, fenced: the new revision of each row this caller fired.

    `claimer` None: rows still pending or claimed (a step or case ends). Otherwise only the rows
    still claimed by `claimer`; the rest were fired elsewhere or reclaimed after their lease.
    """
    stmt = update(SignalRow).where(SignalRow.id.in_([s.id for s in signals]))
    if claimer is None:
        stmt = stmt.where(SignalRow.state.in_(("pending", "claimed")))
    else:
        stmt = stmt.where(SignalRow.state == "claimed", SignalRow.claimed_by == claimer)
    stmt = stmt.values(
        state="fired", fired_at=now, claimed_by=None, lease_until=None, rev=SignalRow.rev + 1
    ).returning(SignalRow.id, SignalRow.rev)
    return dict(session.execute(stmt, execution_options={"synchronize_session": False}).all())


def issue(
    tx: Tx,
    signals: Sequence[SignalRow],
    now: datetime,
    *,
    claimer: str | None,
    lead_of: LeadOf,
    provisional_years: frozenset[int] = frozenset(),
    accountable_of: AccountableOf | None = None,
    opened: Opened | None = None,
) -> list[Issued]:
    """Fire these signal rows (one transaction, the caller's): cards, records, audit and outbox rows.

    Fenced by `claimer` as in `mark_fired`; rows fired elsewhere are skipped. The caller holds the
    case rows' locks. A signal whose instant lies in one of `provisional_years` is published with
    `provisional: true`. A card signal of a lane `accountable_of` says no supervisor holds to account
    (`hf:department accountable="false"`, a bank) fires as a signal: no card, no record.
    """
    if not signals:
        return []
    session = tx.session
    journal = tx.journal
    fired_revs = mark_fired(session, signals, now, claimer=claimer)
    fired: list[SignalRow] = []
    for sig in signals:
        if sig.id in fired_revs:
            for attr, value in (
                ("state", "fired"),
                ("fired_at", now),
                ("claimed_by", None),
                ("lease_until", None),
                ("rev", fired_revs[sig.id]),
            ):
                set_committed_value(sig, attr, value)
            fired.append(sig)
        else:
            session.expire(sig)
            log.info("signal %s not fired here: fired or reclaimed elsewhere", sig.id)
    if not fired:
        return []
    fired.sort(key=lambda s: (as_utc(s.due_at), s.id))

    cards = [s for s in fired if s.kind == "card"]
    departments = _departments(session, cards, lead_of)
    existing = _existing_cards(session, cards)
    unaccountable = _unaccountable(session, cards, departments, accountable_of)
    out: list[Issued] = []
    card_rows: list[dict[str, Any]] = []
    transitions: list[dict[str, Any]] = []
    for sig in fired:
        card_id: str | None = None
        if sig.kind == "card" and sig.id in unaccountable:
            pass  # deadlines and signals, never cards
        elif sig.kind == "card":
            if (sig.deadline_id, sig.name) in existing:  # identity: one per step instance and colour
                log.warning("红黄牌 %s/%s 已存在；信号 %s 不再亮牌", sig.deadline_id, sig.name, sig.id)
            else:
                card_id = str(uuid.uuid4())
                existing.add((sig.deadline_id, sig.name))
        item = issued_of(sig, card=card_id)
        due = item.at
        out.append(item)
        detail: dict[str, Any] = {
            "name": sig.name,
            "scope": sig.scope,
            "trigger": sig.trigger,
            "signal": sig.id,
        }
        payload: dict[str, Any] = {**item.as_dict(), "signal": sig.id}
        if provisional_years and local_date(due).year in provisional_years:
            payload["provisional"] = True
        if card_id is not None:
            department = departments.get(sig.id)
            handler = SUPERIOR_REVIEW if sig.name == "red" else "department"
            card_rows.append(
                {
                    "id": card_id,
                    "signal_id": sig.id,
                    "deadline_id": sig.deadline_id,
                    "case_id": sig.case_id,
                    "task_id": sig.task_id,
                    "scope": sig.scope,
                    "step": sig.step,
                    "color": sig.name,
                    "trigger": sig.trigger,
                    "issued_at": due,
                    "recorded_at": now,
                    "handler": handler,
                    "department": department,
                    "state": "open",
                    "conclusion": None,
                    "closed_at": None,
                    "rev": 1,
                }
            )
            transitions.append(
                {
                    "card_id": card_id,
                    "case_id": sig.case_id,
                    "from_state": None,
                    "to_state": "open",
                    "note": None,
                    "conclusion": None,
                    "actor": None,
                    "at": now,
                }
            )
            detail.update(card=card_id, handler=handler, department=department)
            payload.update(card=card_id, color=sig.name, state="open", handler=handler, department=department)
        event_type = "card.issued" if card_id is not None else "signal.fired"
        journal.record(event_type, at=due, case=sig.case_id, task=sig.task_id, step=sig.step, detail=detail)
        journal.publish(
            event_type, case=sig.case_id, ref=card_id or str(sig.id), at=due, recorded_at=now, payload=payload
        )
    if card_rows:
        session.execute(insert(_table(CardRow)), card_rows)
        session.execute(insert(_table(CardTransitionRow)), transitions)
        if opened is not None:
            opened(tx, card_rows, now)
    return out


def _departments(session: Session, cards: Sequence[SignalRow], lead_of: LeadOf) -> dict[int, str | None]:
    """signal id → the accountable department: the step's lane, or the bundle's lead for a case card."""
    out: dict[int, str | None] = {}
    # service deadlines (scope verify/review) of a step go to its department, of a whole case to the lead
    task_ids = {s.task_id for s in cards if s.scope != "case" and s.task_id}
    step_departments: dict[str, str | None] = {}
    if task_ids:
        step_departments = dict(
            session.execute(select(TaskRow.id, TaskRow.department).where(TaskRow.id.in_(task_ids))).all()
        )
    case_ids = {s.case_id for s in cards if s.scope == "case" or not s.task_id}
    leads: dict[str, str | None] = {}
    if case_ids:
        for case_id, definition_id in session.execute(
            select(CaseRow.id, CaseRow.definition_id).where(CaseRow.id.in_(case_ids))
        ):
            leads[case_id] = lead_of(session, definition_id)
    for s in cards:
        if s.scope == "case" or not s.task_id:
            out[s.id] = leads.get(s.case_id)
        else:
            out[s.id] = step_departments.get(s.task_id or "")
    return out


def _unaccountable(
    session: Session,
    cards: Sequence[SignalRow],
    departments: dict[int, str | None],
    accountable_of: AccountableOf | None,
) -> set[int]:
    """The card signals of lanes no supervisor holds to account (none without `accountable_of`)."""
    if accountable_of is None or not cards:
        return set()
    case_ids = {s.case_id for s in cards if departments.get(s.id)}
    if not case_ids:
        return set()
    definition_of = dict(
        session.execute(select(CaseRow.id, CaseRow.definition_id).where(CaseRow.id.in_(case_ids))).all()
    )
    out = set()
    for s in cards:
        department = departments.get(s.id)
        definition = definition_of.get(s.case_id)
        if department and definition is not None and not accountable_of(session, definition, department):
            out.add(s.id)
    return out


def _existing_cards(session: Session, cards: Sequence[SignalRow]) -> set[tuple[str, str]]:
    if not cards:
        return set()
    rows = session.execute(
        select(CardRow.deadline_id, CardRow.color).where(
            CardRow.deadline_id.in_({s.deadline_id for s in cards})
        )
    )
    return set(rows)


# -- reading ------------------------------------------------------------------------------------


def card_of(
    row: CardRow, record: Iterable[CardTransitionRow] = (), provisional_years: frozenset[int] = frozenset()
) -> Card:
    return Card(
        provisional=local_date(as_utc(row.issued_at)).year in provisional_years,
        id=row.id,
        case=row.case_id,
        scope=row.scope,
        step=row.step,
        task=row.task_id,
        color=row.color,
        signal=row.trigger,
        issued_at=as_utc(row.issued_at),
        state=row.state,
        handler=row.handler,
        department=row.department,
        conclusion=row.conclusion,
        closed_at=as_utc(row.closed_at),
        record=tuple(
            CardTransition(
                at=as_utc(t.at),
                from_state=t.from_state,
                to_state=t.to_state,
                note=t.note,
                conclusion=t.conclusion,
                actor=t.actor,
            )
            for t in record
        ),
    )


def list_cards(
    session: Session,
    *,
    state: str | None = None,
    case: str | None = None,
    color: str | None = None,
    department: str | None = None,
    only: Collection[str] | None = None,
    provisional_years: frozenset[int] = frozenset(),
    where: ColumnElement[bool] | None = None,
) -> list[Card]:
    """Cards oldest first; `state="open"` means every card not closed yet; `only` keeps these ids,
    `where` the rows it holds (a reader's filter)."""
    if state not in {None, *CARD_STATES}:
        raise InputError(
            f"未知的红黄牌状态 {state!r}",
            hint="可选 open、verifying、rectifying、reviewing、revisiting 或 closed",
        )
    if color not in {None, "yellow", "red"}:
        raise InputError(f"未知的牌色 {color!r}", hint="可选 yellow 或 red")
    query = select(CardRow)
    if state == "open":
        query = query.where(CardRow.state != "closed")
    elif state is not None:
        query = query.where(CardRow.state == state)
    if case is not None:
        query = query.where(CardRow.case_id == case)
    if color is not None:
        query = query.where(CardRow.color == color)
    if department is not None:
        query = query.where(CardRow.department == department)
    if where is not None:
        query = query.where(where)
    rows = session.scalars(query.order_by(CardRow.issued_at, CardRow.id))
    return [card_of(r, provisional_years=provisional_years) for r in rows if only is None or r.id in only]


def get_card(session: Session, card_id: str, provisional_years: frozenset[int] = frozenset()) -> Card:
    row = session.get(CardRow, card_id)
    if row is None:
        raise NotFoundError(f"没有红黄牌 {card_id!r}", hint="查看红黄牌：hennan-flow card list")
    record = session.scalars(
        select(CardTransitionRow).where(CardTransitionRow.card_id == card_id).order_by(CardTransitionRow.id)
    ).all()
    return card_of(row, record, provisional_years)


def read_events(
    session: Session, *, after: int = 0, limit: int = 100, where: ColumnElement[bool] | None = None
) -> list[OutboxEvent]:
    """Outbox events with id > `after`, oldest first (of those `where` holds); save the last id as
    the next cursor."""
    if isinstance(after, bool) or not isinstance(after, int) or after < 0:
        raise InputError(f"游标须为不小于 0 的整数，收到 {after!r}")
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 10_000:
        raise InputError(f"limit 须在 1 到 10000 之间，收到 {limit!r}")
    query = select(OutboxRow).where(OutboxRow.id > after)
    if where is not None:
        query = query.where(where)
    rows = session.scalars(query.order_by(OutboxRow.id).limit(limit))
    return [
        OutboxEvent(
            id=r.id,
            type=r.type,
            case=r.case_id,
            ref=r.ref,
            at=as_utc(r.at),
            recorded_at=as_utc(r.recorded_at),
            payload=json.loads(r.payload),
        )
        for r in rows
    ]


# -- helpers ------------------------------------------------------------------------------------


def _table(model: type[CardRow] | type[CardTransitionRow]) -> Table:
    """The model's table, for Core executemany inserts (one round trip per batch, no ORM bookkeeping)."""
    return cast(Table, model.__table__)
