"""The supervision record of a card (DESIGN §9): its states, phase deadlines, overdue signals and the
one-time escalation of an overdue yellow record.

States (red adds 上级复核 and 回访 between 整改 and closing)::

    yellow: open ─▶ verifying (核查) ─▶ rectifying (整改) ─▶ closed                     属实
    red:    open ─▶ verifying ─▶ rectifying ─▶ reviewing (上级复核) ─▶ revisiting (回访) ─▶ closed  属实
                                     ▲──────────── back (复核不通过) ──┘
    both:   verifying ─▶ closed                                                 不属实 | 系统误报

Phases and their deadlines: verify (核查: from the record's opening, in `open` and `verifying`),
rectify (整改), review (上级复核), revisit (回访), each the end of the N-th working day after the day it
started, N from the directory's `[supervision]` settings (`verify_within`, `rectify_within`,
`review_within`, `revisit_within`). A phase's deadline is an `hf_signal` row (kind `record`, name
`record_overdue`, deadline_id the phase id) the sweeper claims and fires like any other signal: at
most once per phase, at its instant; a phase that ends after its deadline before a sweep got to it
fires it in the transaction that ends it; one that ends in time cancels it. A record sent back from
上级复核 starts a new rectify phase, with a deadline of its own.

With `escalate_yellow`, a yellow record overdue in verify or rectify escalates to a red card for the
same step instance (signal `escalated`), once: the red card is the step instance's one red card
(unique (deadline_id, color)), so neither a second phase nor a second sweeper nor the step's own red
card later makes another.

Closing a red record concluded 属实 needs at least one accountability entry
(`supervision.accountability`). Who may make each move is DESIGN §8 (`engine.supervision`).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, time
from typing import Any, Final

from sqlalchemy import func, insert, or_, select, update
from sqlalchemy.orm import Session

from ..clock.arithmetic import end_of_day
from ..clock.instants import as_utc, local_date, local_iso
from ..clock.workdays import WorkCalendar
from ..db.models import CardAccountRow, CardPhaseRow, CardRow, CardTransitionRow, SignalRow
from ..db.transaction import Tx
from ..entities import Issued
from ..errors import CalendarRangeError, InputError, NotFoundError, StateError
from ..identity.directory import SUPERVISION_DEFAULTS
from .cards import CONCLUSIONS, SUPERIOR_REVIEW, announce_card, mark_fired

__all__ = [
    "PHASES",
    "PHASE_NAMES",
    "RECORD_KIND",
    "RECORD_OVERDUE",
    "STATES",
    "PhaseClock",
    "PhaseDeadline",
    "advance",
    "allowed_moves",
    "overdue_cards",
    "phases_of",
    "recompute_phases",
]

log = logging.getLogger(__name__)

RECORD_KIND: Final = "record"  # hf_signal.kind of a phase deadline
RECORD_OVERDUE: Final = "record_overdue"  # its name
ESCALATED: Final = "escalated"  # the trigger (`signal`) of a red card an overdue yellow record got
STATES: Final = ("open", "verifying", "rectifying", "reviewing", "revisiting", "closed")
PHASES: Final[Mapping[str, str]] = {  # record state → the phase it is in
    "open": "verify",
    "verifying": "verify",
    "rectifying": "rectify",
    "reviewing": "review",
    "revisiting": "revisit",
}
PHASE_NAMES: Final[Mapping[str, str]] = {
    "verify": "核查",
    "rectify": "整改",
    "review": "上级复核",
    "revisit": "回访",
}
_ESCALATING: Final = ("verify", "rectify")
_MOVES: Final[Mapping[str, Mapping[str, tuple[str, ...]]]] = {
    "yellow": {
        "open": ("verifying",),
        "verifying": ("rectifying", "closed"),
        "rectifying": ("closed",),
    },
    "red": {
        "open": ("verifying",),
        "verifying": ("rectifying", "closed"),
        "rectifying": ("reviewing",),
        "reviewing": ("revisiting", "rectifying"),
        "revisiting": ("closed",),
    },
}
# which conclusions close a record from which state
_CLOSING: Final[Mapping[str, tuple[str, ...]]] = {
    "verifying": ("不属实", "系统误报"),
    "rectifying": ("属实",),
    "revisiting": ("属实",),
}


def allowed_moves(color: str, state: str) -> tuple[str, ...]:
    return _MOVES.get(color, _MOVES["yellow"]).get(state, ())


@dataclass(frozen=True)
class PhaseClock:
    """How phase deadlines are computed: the calendar, the `[supervision]` settings, close of business."""

    calendar: Callable[[Tx], WorkCalendar]
    settings: Callable[[Tx], Mapping[str, int | bool]] = lambda _tx: SUPERVISION_DEFAULTS
    close: time | None = None

    def within(self, tx: Tx, phase: str) -> int:
        return int(self.settings(tx)[f"{phase}_within"])

    def escalates(self, tx: Tx) -> bool:
        return bool(self.settings(tx)["escalate_yellow"])

    def opened(self, tx: Tx, cards: Sequence[Mapping[str, Any]], now: datetime) -> None:
        """Records just opened (rows as `cards.issue` inserted them): each starts its verify phase at
        the card's due instant, so a late sweep or completion never lengthens it."""
        for card in cards:
            start_phase(tx, self, card, "verify", as_utc(card["issued_at"]))


def start_phase(tx: Tx, clock: PhaseClock, card: Mapping[str, Any], phase: str, now: datetime) -> str:
    """Store a phase with its deadline and its pending `record_overdue` signal; its id."""
    within = clock.within(tx, phase)
    due = _phase_due(clock, clock.calendar(tx), now, within)
    if due is None:  # the calendar does not reach it yet: no signal (shown as pending)
        log.warning("督办记录阶段期限待定（工作日历数据不足）：红黄牌 %s，阶段 %s", card["id"], phase)
    phase_id = str(uuid.uuid4())
    session = tx.session
    session.execute(
        insert(CardPhaseRow),
        [
            {
                "id": phase_id,
                "card_id": card["id"],
                "case_id": card["case_id"],
                "phase": phase,
                "within": within,
                "started_at": now,
                "due_at": due,
                "ended_at": None,
                "overdue_at": None,
            }
        ],
    )
    if due is not None:
        _add_signal(session, card, phase_id, phase, due)
    return phase_id


def _phase_due(clock: PhaseClock, calendar: WorkCalendar, start: datetime, within: int) -> datetime | None:
    """The end of the `within`-th working day after `start`; None while the calendar does not reach it."""
    try:
        return end_of_day(calendar.add_workdays(local_date(start), within), clock.close)
    except CalendarRangeError:
        return None


def _add_signal(session: Session, card: Mapping[str, Any], phase_id: str, phase: str, due: datetime) -> None:
    """A phase's pending `record_overdue` signal, at its deadline."""
    session.execute(
        insert(SignalRow),
        [
            {
                "deadline_id": phase_id,
                "case_id": card["case_id"],
                "task_id": card["task_id"],
                "scope": card["scope"],
                "step": card["step"],
                "name": RECORD_OVERDUE,
                "kind": RECORD_KIND,
                "trigger": phase,
                "due_at": due,
                "state": "pending",
                "rev": 0,
            }
        ],
    )


def recompute_phases(tx: Tx, clock: PhaseClock, now: datetime) -> list[tuple[CardPhaseRow, CardRow]]:
    """A new working-day calendar (DESIGN §7): every open phase of an open record whose deadline is
    still ahead, or waited for calendar data, gets its deadline again from its start and its
    `within`, its pending `record_overdue` signal moved with it (added when it had none, cancelled
    when the data no longer reaches it). A deadline already past stays at its instant: the sweep
    fires it there. Returns the phases that changed, with their cards."""
    session = tx.session
    calendar = clock.calendar(tx)
    changed: list[tuple[CardPhaseRow, CardRow]] = []
    for phase in session.scalars(
        select(CardPhaseRow).where(CardPhaseRow.ended_at.is_(None), CardPhaseRow.overdue_at.is_(None))
    ):
        before = as_utc(phase.due_at)
        if before is not None and before <= now:
            continue
        due = _phase_due(clock, calendar, as_utc(phase.started_at), phase.within)
        if due == before:
            continue
        card = session.get(CardRow, phase.card_id)
        if card is None or card.state == "closed":  # pragma: no cover - a closed record's phase has ended
            continue
        phase.due_at = due
        signal = session.scalars(
            select(SignalRow).where(SignalRow.deadline_id == phase.id, SignalRow.state == "pending")
        ).first()
        if signal is None and due is not None:
            _add_signal(session, _card_values(card), phase.id, phase.phase, due)
        elif signal is not None:
            if due is None:
                signal.state = "cancelled"
            else:
                signal.due_at = due
            signal.rev += 1
        changed.append((phase, card))
    session.flush()
    return changed


def _card_values(row: CardRow) -> dict[str, Any]:
    return {
        "id": row.id,
        "case_id": row.case_id,
        "task_id": row.task_id,
        "scope": row.scope,
        "step": row.step,
    }


def end_phase(tx: Tx, clock: PhaseClock, row: CardRow, now: datetime) -> list[Issued]:
    """The record's open phase ends now: its overdue signal fires if its deadline passed, else is cancelled."""
    session = tx.session
    phase = session.scalars(
        select(CardPhaseRow)
        .where(CardPhaseRow.card_id == row.id, CardPhaseRow.ended_at.is_(None))
        .order_by(CardPhaseRow.started_at.desc())
    ).first()
    if phase is None:
        return []
    phase.ended_at = now
    session.flush()
    out: list[Issued] = []
    due = as_utc(phase.due_at)
    if due is not None and due < now:  # strictly before, as for cards: ending at the instant is in time
        late = session.scalars(
            select(SignalRow).where(
                SignalRow.deadline_id == phase.id, SignalRow.state.in_(("pending", "claimed"))
            )
        ).all()
        out = fire_overdue(tx, clock, late, now, claimer=None)
    session.execute(
        update(SignalRow)
        .where(SignalRow.deadline_id == phase.id, SignalRow.state.in_(("pending", "claimed")))
        .values(state="cancelled", claimed_by=None, lease_until=None, rev=SignalRow.rev + 1),
        execution_options={"synchronize_session": False},
    )
    return out


def fire_overdue(
    tx: Tx, clock: PhaseClock, signals: Sequence[SignalRow], now: datetime, *, claimer: str | None
) -> list[Issued]:
    """Fire `record_overdue` signals (fenced like cards), escalating overdue yellow records once."""
    if not signals:
        return []
    session = tx.session
    fired = mark_fired(session, signals, now, claimer=claimer)
    out: list[Issued] = []
    for sig in sorted(signals, key=lambda s: (as_utc(s.due_at), s.id)):
        if sig.id not in fired:
            continue
        session.expire(sig)
        phase = session.get(CardPhaseRow, sig.deadline_id)
        card = session.get(CardRow, phase.card_id) if phase is not None else None
        if phase is None or card is None:
            log.warning("督办记录信号 %s 已无对应阶段，跳过", sig.id)
            continue
        due = as_utc(sig.due_at)
        phase.overdue_at = due
        item = Issued(
            case=card.case_id,
            scope=card.scope,
            step=card.step,
            task=card.task_id,
            kind="signal",
            name=RECORD_OVERDUE,
            trigger=phase.phase,
            at=due,
            signal_id=sig.id,
            card=card.id,
        )
        out.append(item)
        detail = {
            "name": RECORD_OVERDUE,
            "card": card.id,
            "color": card.color,
            "phase": phase.phase,
            "state": card.state,
            "signal": sig.id,
        }
        payload = {
            **item.as_dict(),
            "signal": sig.id,
            "card": card.id,
            "phase": phase.phase,
            "color": card.color,
        }
        tx.journal.record(
            "signal.fired", at=due, case=card.case_id, task=card.task_id, step=card.step, detail=detail
        )
        tx.journal.publish(
            "signal.fired", case=card.case_id, ref=str(sig.id), at=due, recorded_at=now, payload=payload
        )
        log.info("record_overdue card=%s phase=%s", card.id, phase.phase)
        if card.color == "yellow" and phase.phase in _ESCALATING and clock.escalates(tx):
            escalated = _escalate(tx, clock, card, sig, due, now)
            if escalated is not None:
                out.append(escalated)
    session.flush()
    return out


def _escalate(
    tx: Tx, clock: PhaseClock, yellow: CardRow, sig: SignalRow, due: datetime, now: datetime
) -> Issued | None:
    """The red card of the yellow card's step instance (once: none if it has one already)."""
    session = tx.session
    exists = session.scalar(
        select(func.count())
        .select_from(CardRow)
        .where(CardRow.deadline_id == yellow.deadline_id, CardRow.color == "red")
    )
    if exists:
        return None
    card_id = str(uuid.uuid4())
    values: dict[str, Any] = {
        "id": card_id,
        "signal_id": sig.id,
        "deadline_id": yellow.deadline_id,
        "case_id": yellow.case_id,
        "task_id": yellow.task_id,
        "scope": yellow.scope,
        "step": yellow.step,
        "color": "red",
        "trigger": ESCALATED,
        "issued_at": due,
        "recorded_at": now,
        "handler": SUPERIOR_REVIEW,
        "department": yellow.department,
        "state": "open",
        "conclusion": None,
        "closed_at": None,
        "rev": 1,
    }
    session.execute(insert(CardRow), [values])
    session.add(
        CardTransitionRow(
            card_id=card_id,
            case_id=yellow.case_id,
            from_state=None,
            to_state="open",
            note=None,
            conclusion=None,
            actor=None,
            at=now,
        )
    )
    session.flush()
    clock.opened(tx, [values], now)
    item = Issued(
        case=yellow.case_id,
        scope=yellow.scope,
        step=yellow.step,
        task=yellow.task_id,
        kind="card",
        name="red",
        trigger=ESCALATED,
        at=due,
        signal_id=sig.id,
        card=card_id,
    )
    detail = {
        "name": "red",
        "scope": yellow.scope,
        "trigger": ESCALATED,
        "signal": sig.id,
        "card": card_id,
        "handler": SUPERIOR_REVIEW,
        "department": yellow.department,
        "escalated_from": yellow.id,
    }
    tx.journal.record(
        "card.issued", at=due, case=yellow.case_id, task=yellow.task_id, step=yellow.step, detail=detail
    )
    payload = {
        **item.as_dict(),
        "signal": sig.id,
        "color": "red",
        "state": "open",
        "handler": SUPERIOR_REVIEW,
        "department": yellow.department,
        "escalated_from": yellow.id,
    }
    tx.journal.publish(
        "card.issued", case=yellow.case_id, ref=card_id, at=due, recorded_at=now, payload=payload
    )
    log.info("card.escalated yellow=%s red=%s", yellow.id, card_id)
    return item


# -- moving a record ------------------------------------------------------------------------------


def advance(
    tx: Tx,
    clock: PhaseClock,
    card_id: str,
    *,
    to: str,
    note: str,
    conclusion: str | None,
    actor: str | None,
    now: datetime,
) -> CardRow:
    """Move a card's record one step (see the module docstring); StateError for an illegal move."""
    if to not in STATES or to == "open":
        raise InputError(
            f"红黄牌的办理记录不能转到 {to!r}",
            hint="可用 --to verifying、rectifying、reviewing、revisiting 或 closed",
        )
    note = (note or "").strip()
    if not note:
        raise InputError("红黄牌办理记录的每一步都须写说明（核查、整改情况）", hint="加 --note TEXT")
    if conclusion is not None and conclusion not in CONCLUSIONS:
        raise InputError(f"未知的结论 {conclusion!r}", hint="可选 属实、不属实 或 系统误报")
    if conclusion is not None and to != "closed":
        raise InputError(
            "只有办结（closed）红黄牌时才记录结论",
            hint="去掉 --conclusion，或用 --to closed",
        )
    session = tx.session
    row = session.get(CardRow, card_id)
    if row is None:
        raise NotFoundError(f"没有红黄牌 {card_id!r}", hint="查看红黄牌：hennan-flow card list")
    tx.lock_case(row.case_id)  # one writer per case
    session.refresh(row)
    current = row.state
    allowed = allowed_moves(row.color, current)
    if current == "closed":
        raise StateError(
            f"红黄牌 {card_id} 已办结（结论：{row.conclusion}）；办结的记录为最终记录，"
            "不会重新打开，也不会删除"
        )
    if to not in allowed:
        raise StateError(
            f"红黄牌 {card_id} 当前为 {current}，只能转到 {' 或 '.join(allowed)}，不能转到 {to}",
            hint="每张牌先核查；核查属实的先整改再办结；红牌办结前还须经上级复核和回访",
        )
    if to == "closed":
        _check_closing(session, row, current, conclusion)
        row.conclusion, row.closed_at = conclusion, now
    row.state = to
    session.add(
        CardTransitionRow(
            card_id=row.id,
            case_id=row.case_id,
            from_state=current,
            to_state=to,
            note=note,
            conclusion=conclusion,
            actor=actor,
            at=now,
        )
    )
    session.flush()
    if PHASES.get(current) != PHASES.get(to):
        tx.issued.extend(end_phase(tx, clock, row, now))
        if to in PHASES:
            start_phase(tx, clock, _card_values(row), PHASES[to], now)
    detail = {"card": row.id, "color": row.color, "from": current, "to": to, "conclusion": conclusion}
    payload = {
        "card": row.id,
        "case": row.case_id,
        "scope": row.scope,
        "step": row.step,
        "task": row.task_id,
        "color": row.color,
        "from": current,
        "to": to,
        "conclusion": conclusion,
        "actor": actor,
        "at": local_iso(now),
    }
    announce_card(tx, "card.advanced", row, actor=actor, at=now, detail=detail, payload=payload)
    session.flush()
    log.info("card.advanced card=%s case=%s %s→%s", row.id, row.case_id, current, to)
    return row


def _check_closing(session: Session, row: CardRow, current: str, conclusion: str | None) -> None:
    closing = _CLOSING[current]
    if conclusion is None:
        raise StateError(f"办结红黄牌 {row.id} 须给出结论", hint=f"加 --conclusion {' 或 '.join(closing)}")
    if conclusion not in closing:
        raise StateError(
            f"红黄牌 {row.id} 当前为 {current}，不能以 {conclusion} 办结",
            hint="核查属实的先整改（--to rectifying）；核查中（verifying）只能以 不属实 或 系统误报 办结"
            if current == "verifying"
            else "整改后的牌以 属实 办结",
        )
    if row.color == "red" and conclusion == "属实":
        entries = session.scalar(
            select(func.count()).select_from(CardAccountRow).where(CardAccountRow.card_id == row.id)
        )
        if not entries:
            raise StateError(
                f"红牌 {row.id} 核查属实，须先有责任追究记录才能办结",
                hint=f"先记录责任追究：hennan-flow card account {row.id} --person NAME --measure 批评教育 "
                "--note TEXT",
            )


# -- reading --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PhaseDeadline:
    """One phase of a record: when it started, its deadline, when it ended, whether it ran over."""

    phase: str
    within: int
    started_at: datetime
    due_at: datetime | None
    ended_at: datetime | None
    overdue: bool  # past its deadline: ended after it, or still open after it

    def as_dict(self) -> dict[str, Any]:
        return {
            "phase": self.phase,
            "name": PHASE_NAMES.get(self.phase, self.phase),
            "within_workdays": self.within,
            "started_at": local_iso(self.started_at),
            "due_at": local_iso(self.due_at),
            "ended_at": local_iso(self.ended_at),
            "overdue": self.overdue,
        }


def phases_of(session: Session, card_ids: Sequence[str], now: datetime) -> dict[str, list[PhaseDeadline]]:
    """card id → its phases, oldest first, overdue as of `now`."""
    out: dict[str, list[PhaseDeadline]] = {i: [] for i in card_ids}
    for start in range(0, len(card_ids), 500):
        chunk = list(card_ids[start : start + 500])
        rows = session.scalars(
            select(CardPhaseRow)
            .where(CardPhaseRow.card_id.in_(chunk))
            .order_by(CardPhaseRow.started_at, CardPhaseRow.id)
        )
        for r in rows:
            started, due, ended = as_utc(r.started_at), as_utc(r.due_at), as_utc(r.ended_at)
            assert started is not None
            overdue = r.overdue_at is not None or (due is not None and (ended or now) > due)
            out[r.card_id].append(PhaseDeadline(r.phase, r.within, started, due, ended, overdue))
    return out


def overdue_cards(session: Session, phase: str | None, now: datetime) -> set[str]:
    """Ids of the cards whose open phase (`phase`, or any) is past its deadline at `now`."""
    query = select(CardPhaseRow.card_id).where(
        CardPhaseRow.ended_at.is_(None),
        or_(CardPhaseRow.overdue_at.is_not(None), CardPhaseRow.due_at < now),
    )
    if phase is not None:
        query = query.where(CardPhaseRow.phase == phase)
    return set(session.scalars(query))
