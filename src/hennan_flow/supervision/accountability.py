"""责任追究: accountability entries of a card found true, and referrals to 纪检监察机关 (DESIGN §9).

An entry names the person held to account, the measure and why (`card account CARD_ID --person NAME
--measure M --note TEXT`). It is recorded on a record verification found true — in `rectifying`,
`reviewing` or `revisiting` — and a red record concluded 属实 closes only with at least one
(`records.advance`). The measure 移送纪检监察机关 opens a referral: `discipline` users list the
referrals (nobody else sees them) and close each with its outcome. The person, the note and the
outcome are sealed at rest like other notes (`db.sealing.SealedText`); the outbox and the audit log
carry the measure and ids, never the texts.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..clock.instants import as_utc, local_iso
from ..db.models import CardAccountRow, CardRow, ReferralRow
from ..db.transaction import Tx
from ..errors import InputError, NotFoundError, StateError
from .cards import announce_card

__all__ = [
    "MEASURES",
    "REFERRAL",
    "AccountEntry",
    "Referral",
    "add_entry",
    "close_referral",
    "entries_of",
    "list_referrals",
]

log = logging.getLogger(__name__)

MEASURES: Final = ("批评教育", "责令书面检查", "通报批评", "诫勉谈话", "移送纪检监察机关")
REFERRAL: Final = "移送纪检监察机关"
_FOUND_TRUE: Final = ("rectifying", "reviewing", "revisiting")  # verification found the card true


@dataclass(frozen=True)
class AccountEntry:
    id: str
    card: str
    person: str
    measure: str
    note: str
    actor: str | None
    at: datetime

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "card": self.card,
            "person": self.person,
            "measure": self.measure,
            "note": self.note,
            "actor": self.actor,
            "at": local_iso(self.at),
        }


@dataclass(frozen=True)
class Referral:
    id: str
    card: str
    case: str
    entry: str
    department: str | None
    person: str
    note: str
    state: str  # open | closed
    opened_at: datetime
    outcome: str | None
    closed_at: datetime | None
    closed_by: str | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "card": self.card,
            "case": self.case,
            "entry": self.entry,
            "department": self.department,
            "person": self.person,
            "note": self.note,
            "state": self.state,
            "opened_at": local_iso(self.opened_at),
            "outcome": self.outcome,
            "closed_at": local_iso(self.closed_at),
            "closed_by": self.closed_by,
        }


def _text(value: str, what: str, option: str) -> str:
    value = (value or "").strip()
    if not value:
        raise InputError(f"责任追究记录须写明{what}", hint=f"加 {option} TEXT")
    return value


def add_entry(
    tx: Tx, row: CardRow, *, person: str, measure: str, note: str, actor: str | None, now: datetime
) -> CardAccountRow:
    """Record an accountability entry on a card found true; 移送纪检监察机关 opens a referral."""
    if measure not in MEASURES:
        raise InputError(f"未知的处理方式 {measure!r}", hint="可选：" + "、".join(MEASURES))
    person = _text(person, "被追责人", "--person")
    note = _text(note, "说明（事实与处理决定）", "--note")
    if row.state not in _FOUND_TRUE:
        raise StateError(
            f"红黄牌 {row.id} 当前为 {row.state}；核查属实后（rectifying、reviewing 或 revisiting）才能记录责任追究",
            hint=f"先核查：hennan-flow card advance {row.id} --to rectifying --note TEXT",
        )
    entry = CardAccountRow(
        id=str(uuid.uuid4()),
        card_id=row.id,
        case_id=row.case_id,
        person=person,
        measure=measure,
        note=note,
        actor=actor,
        at=now,
    )
    session = tx.session
    session.add(entry)
    referral_id: str | None = None
    if measure == REFERRAL:
        referral_id = str(uuid.uuid4())
        session.add(
            ReferralRow(
                id=referral_id,
                account_id=entry.id,
                card_id=row.id,
                case_id=row.case_id,
                department=row.department,
                state="open",
                opened_at=now,
                outcome=None,
                closed_at=None,
                closed_by=None,
                rev=1,
            )
        )
    detail = {"card": row.id, "entry": entry.id, "measure": measure, "referral": referral_id}
    announce_card(
        tx,
        "card.accountability",
        row,
        actor=actor,
        at=now,
        detail=detail,
        payload={**detail, "color": row.color, "department": row.department, "at": local_iso(now)},
    )
    session.flush()
    log.info("card.accountability card=%s measure=%s", row.id, measure)
    return entry


def entries_of(session: Session, card_ids: Sequence[str]) -> dict[str, list[AccountEntry]]:
    """card id → its accountability entries, oldest first."""
    out: dict[str, list[AccountEntry]] = {i: [] for i in card_ids}
    for start in range(0, len(card_ids), 500):
        chunk = list(card_ids[start : start + 500])
        for r in session.scalars(
            select(CardAccountRow)
            .where(CardAccountRow.card_id.in_(chunk))
            .order_by(CardAccountRow.at, CardAccountRow.id)
        ):
            out[r.card_id].append(
                AccountEntry(r.id, r.card_id, r.person, r.measure, r.note, r.actor, as_utc(r.at))
            )
    return out


def _referral_of(row: ReferralRow, entry: CardAccountRow | None) -> Referral:
    return Referral(
        id=row.id,
        card=row.card_id,
        case=row.case_id,
        entry=row.account_id,
        department=row.department,
        person=entry.person if entry is not None else "",
        note=entry.note if entry is not None else "",
        state=row.state,
        opened_at=as_utc(row.opened_at),
        outcome=row.outcome,
        closed_at=as_utc(row.closed_at),
        closed_by=row.closed_by,
    )


def list_referrals(session: Session, *, state: str | None = None) -> list[Referral]:
    """Referrals oldest first (`state` open or closed, or both)."""
    if state not in (None, "open", "closed"):
        raise InputError(f"未知的移送状态 {state!r}", hint="可选 open 或 closed")
    query = select(ReferralRow, CardAccountRow).join(
        CardAccountRow, CardAccountRow.id == ReferralRow.account_id
    )
    if state is not None:
        query = query.where(ReferralRow.state == state)
    rows = session.execute(query.order_by(ReferralRow.opened_at, ReferralRow.id)).all()
    return [_referral_of(r, e) for r, e in rows]


def get_referral(session: Session, referral_id: str) -> ReferralRow:
    row = session.get(ReferralRow, referral_id)
    if row is None:
        raise NotFoundError(f"没有移送记录 {referral_id!r}", hint="查看移送记录：hennan-flow card referrals")
    return row


def close_referral(tx: Tx, row: ReferralRow, *, outcome: str, actor: str | None, now: datetime) -> Referral:
    """Record a referral's outcome (纪检监察机关's decision): it closes, once."""
    outcome = (outcome or "").strip()
    if not outcome:
        raise InputError("办结移送须写明处理结果", hint="加 --outcome TEXT")
    if row.state == "closed":
        raise StateError(f"移送记录 {row.id} 已于 {local_iso(as_utc(row.closed_at))} 办结")
    row.state, row.outcome, row.closed_at, row.closed_by = "closed", outcome, now, actor
    detail = {"referral": row.id, "card": row.card_id}
    tx.journal.announce(
        "referral.closed",
        case=row.case_id,
        actor=actor,
        at=now,
        ref=row.id,
        detail=detail,
        payload={**detail, "at": local_iso(now)},
    )
    tx.session.flush()
    entry = tx.session.get(CardAccountRow, row.account_id)
    return _referral_of(row, entry)
