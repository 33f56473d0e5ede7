"""好差评: reviews of a case or a step, and the record every bad review opens (domain.md §5).

A review rates a whole case (一事一评, after it ended) or one step (一次一评, after it completed) on the
national five levels of GB/T 39046 A.8 — 1 非常满意, 2 满意, 3 基本满意, 4 不满意, 5 非常不满意 — with
its channel (window 窗口, web 网上, mobile 移动端, hotline 12345热线, sms 短信, kiosk 自助终端,
other 其他), whether it was given under the reviewer's real name (实名), and its text. One review per
case and per step instance. Levels 4 and 5 are bad reviews (差评).

A bad review opens a rectification record ("核实到位、整改到位、反馈到位"), handled by the step's
department (the bundle's lead department for a case review)::

    verifying ──verify, founded (simple|complex)──▶ rectifying ──rectify──▶ feedback ──answer──▶ closed
        └──────verify, unfounded (explained)─────────────────────────────▶ feedback

Each phase has its own deadline on the statutory clock, counted from the end of the phase before:
核实 (verify) 1 working day after the review; 整改 (rectify) 5 working days for a simple case, 15 for
a complex one (立行立改 / 限期整改, kept on the record as its 台账) after the verification; 反馈
(feedback to the reviewer, 回访) 1 working day after the rectification, or after the verification
when there was nothing to rectify. They are deadline rows of scope `review` (step and task of the
reviewed step, none for a case review): the sweeper issues their signals and cards like any other,
and the cards say `scope: "review"`. A phase ended late gets its cards in the same transaction. A
record closes with `on_time` true when every phase ended by its promised deadline.

Events: audit `review.added`, `review.verified`, `review.rectified`, `review.answered`; outbox
`review.added` (the level and channel, never the text) and `review.rectification` (each move).
The supervision report's 好差评 section is `supervision.review_figures.summary`.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final, TypedDict

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..bpmn.bundle import TimeLimit
from ..clock.deadlines import Deadlines
from ..clock.instants import as_utc, local_iso
from ..db.models import CardRow, DeadlineRow
from ..db.service_rows import RectificationRow, ReviewRow
from ..db.transaction import Tx
from ..errors import InputError, NotFoundError, StateError

__all__ = [
    "BAD_LEVELS",
    "CHANNELS",
    "COMPLEXITIES",
    "FINDINGS",
    "LEVELS",
    "RECTIFICATION_STATES",
    "Phase",
    "Rectification",
    "RectificationDoc",
    "Review",
    "ReviewDoc",
    "find",
    "listed",
    "review_of",
    "reviews_of",
]

log = logging.getLogger(__name__)

LEVELS: Final[Mapping[int, str]] = {1: "非常满意", 2: "满意", 3: "基本满意", 4: "不满意", 5: "非常不满意"}
BAD_LEVELS: Final = (4, 5)
CHANNELS: Final[Mapping[str, str]] = {
    "window": "窗口",
    "web": "网上（PC端）",
    "mobile": "移动端",
    "hotline": "12345热线",
    "sms": "短信",
    "kiosk": "自助终端",
    "other": "其他",
}
RECTIFICATION_STATES: Final = ("verifying", "rectifying", "feedback", "closed")
FINDINGS: Final[Mapping[str, str]] = {"founded": "属实", "unfounded": "不属实"}
COMPLEXITIES: Final[Mapping[str, int]] = {"simple": 5, "complex": 15}  # 整改 working days
VERIFY_WITHIN: Final = 1  # 核实, working days after the review
FEEDBACK_WITHIN: Final = 1  # 反馈, working days after the rectification (or the verification)
_PHASE_OF: Final[Mapping[str, str]] = {"verifying": "verify", "rectifying": "rectify", "feedback": "feedback"}


# -- adding -------------------------------------------------------------------------------------


def check_input(level: object, channel: object) -> tuple[int, str]:
    if isinstance(level, bool) or not isinstance(level, int) or level not in LEVELS:
        raise InputError(
            f"a review level is 1–5 (GB/T 39046 A.8), not {level!r}",
            hint="1 非常满意, 2 满意, 3 基本满意, 4 不满意, 5 非常不满意",
        )
    if channel not in CHANNELS:
        raise InputError(f"unknown review channel {channel!r}", hint="use one of: " + ", ".join(CHANNELS))
    return level, str(channel)


def _phase(tx: Tx, deadlines: Deadlines, review: ReviewRow, *, days: int, now: datetime) -> str:
    """Start one phase's deadline (scope review) and return its id."""
    owner = str(uuid.uuid4())
    deadlines.start(
        tx,
        owner=owner,
        case_id=review.case_id,
        task_id=review.task_id,
        scope="review",
        step=review.step,
        kind="promised",
        limit=TimeLimit(unit="workday", promised=days),
        accepted_at=now,
    )
    return owner


def add(
    tx: Tx,
    deadlines: Deadlines,
    *,
    case_id: str,
    task_id: str | None,
    step: str | None,
    department: str | None,
    level: int,
    channel: str,
    real_name: bool,
    text: str | None,
    reviewer: str | None,
    now: datetime,
    actor: str | None,
) -> ReviewRow:
    """Store a review; a bad one opens its rectification record with the verification deadline."""
    session = tx.session
    target = task_id or "case"
    if session.scalar(select(ReviewRow.id).where(ReviewRow.case_id == case_id, ReviewRow.target == target)):
        raise StateError(
            f"{'step ' + repr(step) if task_id else 'case ' + case_id} already has its review",
            hint="one review per case (一事一评) and per step (一次一评)",
        )
    review = ReviewRow(
        id=str(uuid.uuid4()),
        case_id=case_id,
        target=target,
        task_id=task_id,
        step=step,
        department=department,
        level=level,
        channel=channel,
        real_name=bool(real_name),
        text=(text or "").strip() or None,
        reviewer_key=reviewer if real_name else None,
        at=now,
        recorded_by=actor,
    )
    session.add(review)
    bad = level in BAD_LEVELS
    detail = {
        "review": review.id,
        "level": level,
        "channel": channel,
        "real_name": review.real_name,
        "bad": bad,
    }
    tx.journal.announce(
        "review.added",
        case=case_id,
        task=task_id,
        step=step,
        actor=actor,
        at=now,
        ref=review.id,
        detail=detail,
        payload={
            **detail,
            "case": case_id,
            "task": task_id,
            "step": step,
            "department": department,
            "at": local_iso(now),
        },
    )
    if bad:
        session.flush()
        rect = RectificationRow(
            id=str(uuid.uuid4()),
            review_id=review.id,
            case_id=case_id,
            department=department,
            state="verifying",
            opened_at=now,
            verify_deadline=_phase(tx, deadlines, review, days=VERIFY_WITHIN, now=now),
        )
        session.add(rect)
        _moved(tx, rect, review, None, now=now, actor=actor)
    return review


# -- the record ---------------------------------------------------------------------------------


def _moved(
    tx: Tx,
    rect: RectificationRow,
    review: ReviewRow,
    before: str | None,
    *,
    now: datetime,
    actor: str | None,
) -> None:
    """Audit event (review.verified | review.rectified | review.answered; none for the opening) and
    outbox `review.rectification` (codes only: the note stays in the record, sealed)."""
    if before is not None:
        kind = {"verifying": "verified", "rectifying": "rectified", "feedback": "answered"}[before]
        tx.journal.record(
            f"review.{kind}",
            case=rect.case_id,
            task=review.task_id,
            step=review.step,
            actor=actor,
            at=now,
            detail={"review": review.id, "rectification": rect.id, "from": before, "to": rect.state},
        )
    tx.journal.publish(
        "review.rectification",
        case=rect.case_id,
        ref=rect.id,
        at=now,
        payload={
            "rectification": rect.id,
            "review": review.id,
            "case": rect.case_id,
            "step": review.step,
            "department": rect.department,
            "from": before,
            "to": rect.state,
            "finding": rect.finding,
            "complexity": rect.complexity,
            "on_time": rect.on_time,
            "actor": actor,
            "at": local_iso(now),
        },
    )


def listed(
    session: Session, *, case: str | None = None, bad: bool | None = None, open_only: bool = False
) -> list[Review]:
    """Reviews oldest first; `bad` filters levels 4–5 (or 1–3); `open_only`: records not closed yet."""
    query = select(ReviewRow)
    if case is not None:
        query = query.where(ReviewRow.case_id == case)
    if bad is not None:
        level = ReviewRow.level.in_(BAD_LEVELS)
        query = query.where(level if bad else ~level)
    if open_only:
        query = query.where(
            ReviewRow.id.in_(select(RectificationRow.review_id).where(RectificationRow.state != "closed"))
        )
    return reviews_of(session, list(session.scalars(query.order_by(ReviewRow.at, ReviewRow.id))))


def find(session: Session, review_id: str) -> tuple[ReviewRow, RectificationRow | None]:
    review = session.get(ReviewRow, review_id)
    if review is None:
        raise NotFoundError(f"no review {review_id!r}", hint="list reviews with: hennan-flow review list")
    rect = session.scalar(select(RectificationRow).where(RectificationRow.review_id == review_id))
    return review, rect


def _need(rect: RectificationRow | None, review: ReviewRow, state: str, what: str) -> RectificationRow:
    if rect is None:
        raise StateError(
            f"review {review.id} is level {review.level} ({LEVELS[review.level]}); only a bad review (4 or 5) "
            "has a rectification record"
        )
    if rect.state != state:
        raise StateError(
            f"the rectification of review {review.id} is {rect.state}; {what} needs it {state}",
            hint="核实 (verify) → 整改 (rectify) → 反馈 (answer)",
        )
    return rect


def _note(note: str) -> str:
    text = (note or "").strip()
    if not text:
        raise InputError("every step of a rectification record needs a note", hint="pass --note TEXT")
    return text


def _end_phase(
    tx: Tx,
    deadlines: Deadlines,
    review: ReviewRow,
    rect: RectificationRow | None,
    *,
    state: str,
    what: str,
    note: str,
    now: datetime,
) -> tuple[RectificationRow, str]:
    """The record must be in `state`: its phase's deadline closes now; returns the record and the note."""
    text = _note(note)
    rect = _need(rect, review, state, what)
    deadline = _deadline_of(rect, _PHASE_OF[state])
    assert deadline is not None
    deadlines.close(tx, deadline, now)
    return rect, text


def verify(
    tx: Tx,
    deadlines: Deadlines,
    review: ReviewRow,
    rect: RectificationRow | None,
    *,
    finding: str,
    complexity: str | None,
    note: str,
    now: datetime,
    actor: str | None,
) -> RectificationRow:
    """核实: founded → rectify (simple 5 / complex 15 working days); unfounded → feedback (explain)."""
    if finding not in FINDINGS:
        raise InputError(f"unknown finding {finding!r}", hint="use founded (属实) or unfounded (不属实)")
    if finding == "founded" and complexity not in COMPLEXITIES:
        raise InputError(
            "a founded bad review needs its complexity: simple (立行立改, 5 working days) or complex "
            "(限期整改, 15 working days)",
            hint="pass --complexity simple|complex",
        )
    if finding == "unfounded" and complexity is not None:
        raise InputError("an unfounded review has nothing to rectify: drop --complexity")
    rect, text = _end_phase(tx, deadlines, review, rect, state="verifying", what="verify", note=note, now=now)
    rect.finding, rect.complexity = finding, complexity
    rect.verified_at, rect.verified_by, rect.verify_note = now, actor, text
    if finding == "founded":
        assert complexity is not None
        rect.rectify_deadline = _phase(tx, deadlines, review, days=COMPLEXITIES[complexity], now=now)
        rect.state = "rectifying"
    else:
        rect.feedback_deadline = _phase(tx, deadlines, review, days=FEEDBACK_WITHIN, now=now)
        rect.state = "feedback"
    _moved(tx, rect, review, "verifying", now=now, actor=actor)
    return rect


def rectify(
    tx: Tx,
    deadlines: Deadlines,
    review: ReviewRow,
    rect: RectificationRow | None,
    *,
    note: str,
    now: datetime,
    actor: str | None,
) -> RectificationRow:
    """整改 done: the feedback phase starts."""
    rect, text = _end_phase(
        tx, deadlines, review, rect, state="rectifying", what="rectify", note=note, now=now
    )
    rect.rectified_at, rect.rectified_by, rect.rectify_note = now, actor, text
    rect.feedback_deadline = _phase(tx, deadlines, review, days=FEEDBACK_WITHIN, now=now)
    rect.state = "feedback"
    _moved(tx, rect, review, "rectifying", now=now, actor=actor)
    return rect


def answer(
    tx: Tx,
    deadlines: Deadlines,
    review: ReviewRow,
    rect: RectificationRow | None,
    *,
    note: str,
    now: datetime,
    actor: str | None,
) -> RectificationRow:
    """反馈 given to the reviewer (回访): the record closes, with `on_time`."""
    rect, text = _end_phase(tx, deadlines, review, rect, state="feedback", what="answer", note=note, now=now)
    rect.fed_back_at, rect.fed_back_by, rect.feedback_note = now, actor, text
    rect.state, rect.closed_at = "closed", now
    dues = _dues(tx.session, [rect])
    rect.on_time = all(
        (due := dues.get(_deadline_of(rect, phase) or "")) is None or end <= due
        for phase, end in _phase_ends(rect).items()
    )
    _moved(tx, rect, review, "feedback", now=now, actor=actor)
    return rect


def _deadline_of(rect: RectificationRow, phase: str) -> str | None:
    return {
        "verify": rect.verify_deadline,
        "rectify": rect.rectify_deadline,
        "feedback": rect.feedback_deadline,
    }[phase]


def _phase_ends(rect: RectificationRow) -> dict[str, datetime]:
    out = {}
    for phase, end in (
        ("verify", rect.verified_at),
        ("rectify", rect.rectified_at),
        ("feedback", rect.fed_back_at),
    ):
        if end is not None:
            out[phase] = as_utc(end)
    return out


def _dues(session: Session, rects: Sequence[RectificationRow]) -> dict[str, datetime | None]:
    """Deadline id → its promised deadline (as moved by nothing: review phases are never paused)."""
    ids = [i for r in rects for i in (r.verify_deadline, r.rectify_deadline, r.feedback_deadline) if i]
    out: dict[str, datetime | None] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        for owner, due in session.execute(
            select(DeadlineRow.id, DeadlineRow.promised_due).where(DeadlineRow.id.in_(chunk))
        ):
            out[owner] = as_utc(due)
    return out


# -- what portals see ----------------------------------------------------------------------------


class PhaseDoc(TypedDict):
    due: str | None
    done_at: str | None
    by: str | None
    note: str | None


class CardRefDoc(TypedDict):
    id: str
    phase: str
    color: str
    state: str


class RectificationDoc(TypedDict):
    id: str
    state: str
    department: str | None
    finding: str | None
    complexity: str | None
    opened_at: str | None
    verify: PhaseDoc
    rectify: PhaseDoc | None
    feedback: PhaseDoc | None
    closed_at: str | None
    on_time: bool | None
    cards: list[CardRefDoc]


class ReviewDoc(TypedDict):
    id: str
    case: str
    task: str | None
    step: str | None
    department: str | None
    level: int
    label: str
    bad: bool
    channel: str
    real_name: bool
    text: str | None
    reviewer: str | None
    at: str | None
    recorded_by: str | None
    rectification: RectificationDoc | None


@dataclass(frozen=True)
class Phase:
    """One phase of a rectification record: its deadline and when, by whom and how it was done."""

    due: datetime | None
    done_at: datetime | None = None
    by: str | None = None
    note: str | None = None

    def as_dict(self) -> PhaseDoc:
        return {
            "due": local_iso(self.due),
            "done_at": local_iso(self.done_at),
            "by": self.by,
            "note": self.note,
        }


@dataclass(frozen=True)
class Rectification:
    """The record a bad review opened: 核实 → 整改 → 反馈 with their deadlines, and the cards they got."""

    id: str
    state: str
    department: str | None
    opened_at: datetime
    verify: Phase
    finding: str | None = None
    complexity: str | None = None
    rectify: Phase | None = None
    feedback: Phase | None = None
    closed_at: datetime | None = None
    on_time: bool | None = None
    cards: tuple[tuple[str, str, str, str], ...] = ()  # (card id, phase, colour, state)

    def as_dict(self) -> RectificationDoc:
        return {
            "id": self.id,
            "state": self.state,
            "department": self.department,
            "finding": self.finding,
            "complexity": self.complexity,
            "opened_at": local_iso(self.opened_at),
            "verify": self.verify.as_dict(),
            "rectify": self.rectify.as_dict() if self.rectify else None,
            "feedback": self.feedback.as_dict() if self.feedback else None,
            "closed_at": local_iso(self.closed_at),
            "on_time": self.on_time,
            "cards": [{"id": c, "phase": p, "color": col, "state": s} for c, p, col, s in self.cards],
        }


@dataclass(frozen=True)
class Review:
    """A 好差评 review (level 1–5, GB/T 39046 A.8) with the rectification record of a bad one.

    `reviewer` is the applicant key of a real-name review, never a name or an ID number.
    """

    id: str
    case: str
    task: str | None
    step: str | None
    department: str | None
    level: int
    channel: str
    real_name: bool
    at: datetime
    text: str | None = None
    reviewer: str | None = None
    recorded_by: str | None = None
    rectification: Rectification | None = None

    @property
    def bad(self) -> bool:
        return self.level in BAD_LEVELS

    def as_dict(self) -> ReviewDoc:
        return {
            "id": self.id,
            "case": self.case,
            "task": self.task,
            "step": self.step,
            "department": self.department,
            "level": self.level,
            "label": LEVELS[self.level],
            "bad": self.bad,
            "channel": self.channel,
            "real_name": self.real_name,
            "text": self.text,
            "reviewer": self.reviewer,
            "at": local_iso(self.at),
            "recorded_by": self.recorded_by,
            "rectification": self.rectification.as_dict() if self.rectification else None,
        }


def reviews_of(session: Session, rows: Sequence[ReviewRow]) -> list[Review]:
    """Reviews with their records and cards (three queries whatever their number)."""
    ids = [r.id for r in rows]
    rects: dict[str, RectificationRow] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        rects.update(
            (r.review_id, r)
            for r in session.scalars(select(RectificationRow).where(RectificationRow.review_id.in_(chunk)))
        )
    dues = _dues(session, list(rects.values()))
    phase_of = {
        i: (rect.review_id, phase)
        for rect in rects.values()
        for phase in ("verify", "rectify", "feedback")
        for i in [_deadline_of(rect, phase)]
        if i
    }
    cards: dict[str, list[tuple[str, str, str, str]]] = {}
    owners = list(phase_of)
    for start in range(0, len(owners), 500):
        chunk = owners[start : start + 500]
        for card in session.scalars(
            select(CardRow).where(CardRow.deadline_id.in_(chunk)).order_by(CardRow.issued_at)
        ):
            review_id, phase = phase_of[card.deadline_id]
            cards.setdefault(review_id, []).append((card.id, phase, card.color, card.state))
    return [review_of(r, rects.get(r.id), dues, tuple(cards.get(r.id, ()))) for r in rows]


def review_of(
    row: ReviewRow,
    rect: RectificationRow | None,
    dues: Mapping[str, datetime | None],
    cards: tuple[tuple[str, str, str, str], ...] = (),
) -> Review:
    record = None
    if rect is not None:

        def phase(owner: str | None, done: datetime | None, by: str | None, note: str | None) -> Phase | None:
            if owner is None:
                return None
            return Phase(due=dues.get(owner), done_at=as_utc(done), by=by, note=note)

        verify_phase = phase(rect.verify_deadline, rect.verified_at, rect.verified_by, rect.verify_note)
        assert verify_phase is not None
        record = Rectification(
            id=rect.id,
            state=rect.state,
            department=rect.department,
            opened_at=as_utc(rect.opened_at),
            verify=verify_phase,
            finding=rect.finding,
            complexity=rect.complexity,
            rectify=phase(rect.rectify_deadline, rect.rectified_at, rect.rectified_by, rect.rectify_note),
            feedback=phase(rect.feedback_deadline, rect.fed_back_at, rect.fed_back_by, rect.feedback_note),
            closed_at=as_utc(rect.closed_at),
            on_time=rect.on_time,
            cards=cards,
        )
    return Review(
        id=row.id,
        case=row.case_id,
        task=row.task_id,
        step=row.step,
        department=row.department,
        level=row.level,
        channel=row.channel,
        real_name=row.real_name,
        at=as_utc(row.at),
        text=row.text,
        reviewer=row.reviewer_key,
        recorded_by=row.recorded_by,
        rectification=record,
    )
