"""The hennan_flow schema as typed SQLAlchemy 2.x models.

The schema is created only by the Alembic migrations shipped in the wheel; these models are what the
migrations must match (`alembic check` in the tests). Every case-owned table carries `case_id` and
every hot-path query is keyed by it, so the schema can be distributed by case id later.
Instants are stored in UTC. JSON is stored as TEXT, never JSONB (JSONB reorders keys, which loses
SpiffWorkflow task data: spiffworkflow-notes §5).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar, TypeVar

from sqlalchemy import (
    BigInteger,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    literal_column,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, configure_mappers, mapped_column
from sqlalchemy.sql.elements import ColumnElement

from ..sealing import SealedText

__all__ = [
    "ApiKeyRow",
    "Base",
    "CaseRow",
    "CaseTaskRow",
    "DefinitionRow",
    "EventRow",
    "IdempotencyRow",
    "MetaRow",
    "TaskRow",
    "live_signal",
    "snapshot",
]

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: DateTime(timezone=True)}


RowT = TypeVar("RowT", bound=Base)


def snapshot(model: type[RowT], **values: Any) -> RowT:
    """A detached row filled from values read on the driver cursor, for hooks that only read it.

    The declarative constructor fires an attribute event per column (~10 µs a row), which the hot
    path pays several times a step; this fills the instance dictionary at once. Attributes set
    later still work (the instance has its ORM state); it is never added to a session.
    """
    if not model.__mapper__.configured:  # the constructor would have configured the mappers
        configure_mappers()
    row: RowT = model._sa_class_manager.new_instance()  # type: ignore[attr-defined]
    row.__dict__.update(values)
    return row


class MetaRow(Base):
    """Database-wide settings, e.g. the simulation mark set when the database was created."""

    __tablename__ = "hf_meta"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class DefinitionRow(Base):
    """A deployed version of a bundle: the BPMN and the form schemas it references, by content hash."""

    __tablename__ = "hf_definition"
    __table_args__ = (
        UniqueConstraint("key", "version", name="uq_hf_definition_key_version"),
        Index("ix_hf_definition_key_hash", "key", "content_hash"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(255))
    version: Mapped[int] = mapped_column(Integer)
    content_hash: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(Text)
    source_file: Mapped[str] = mapped_column(Text)
    bpmn: Mapped[str] = mapped_column(Text)
    forms: Mapped[str] = mapped_column(Text)  # JSON: {ref: schema}
    deployed_at: Mapped[datetime]
    deployed_by: Mapped[str | None] = mapped_column(String(255))


class CaseRow(Base):
    """One case (办件) of a bundle, with its SpiffWorkflow state."""

    __tablename__ = "hf_case"
    __table_args__ = (
        # the sweeper's BPMN timer queries (state = 'open' AND next_timer_at <= now ORDER BY next_timer_at)
        # and case lists by state read this one index
        Index("ix_hf_case_open_timer", "state", "next_timer_at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    definition_id: Mapped[int] = mapped_column(ForeignKey("hf_definition.id"))
    key: Mapped[str] = mapped_column(String(255))
    state: Mapped[str] = mapped_column(String(16))  # open | completed | terminated
    applicant: Mapped[str] = mapped_column(
        SealedText("hf_case.applicant")
    )  # JSON; personal data, never logged
    started_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]
    started_by: Mapped[str | None] = mapped_column(String(255))
    rev: Mapped[int] = mapped_column(Integer)  # optimistic version of the whole case
    spiff_version: Mapped[str] = mapped_column(String(32))
    wf_state: Mapped[str] = mapped_column(
        SealedText("hf_case.wf_state")
    )  # SpiffWorkflow state (spec kept out), TEXT never JSONB
    next_timer_at: Mapped[datetime | None]
    error: Mapped[str | None] = mapped_column(Text)

    __mapper_args__ = {"version_id_col": rev}  # noqa: RUF012  (SQLAlchemy reads it per class)


class CaseTaskRow(Base):
    """One SpiffWorkflow task of a case's stored state (its JSON fragment); the rest is `hf_case.wf_state`.

    A step rewrites only the fragments it changed, so the cost of storing a step does not grow with
    the case. A case stored whole (one with subprocesses) has no rows here.
    """

    __tablename__ = "hf_case_task"
    __table_args__ = ({"sqlite_with_rowid": False},)  # one B-tree, not a table plus its key index

    case_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    task_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    doc: Mapped[str] = mapped_column(SealedText("hf_case_task.doc"))


class TaskRow(Base):
    """A user step instance (work item) of a case, as department work queues see it."""

    __tablename__ = "hf_task"
    __table_args__ = (
        # a case's steps by its id (a handful of rows; their state is checked in the row, so a step's
        # end does not move its entry: migration 0017)
        Index("ix_hf_task_case_id", "case_id"),
        Index("ix_hf_task_department", "department", "state"),
        {"sqlite_with_rowid": False},  # keyed by its id: one B-tree fewer to write per step
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)  # the SpiffWorkflow task id
    case_id: Mapped[str] = mapped_column(ForeignKey("hf_case.id"))
    step: Mapped[str] = mapped_column(String(255))
    name: Mapped[str] = mapped_column(Text)
    department: Mapped[str | None] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16))  # ready | paused | completed | cancelled
    ready_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]
    actor: Mapped[str | None] = mapped_column(String(255))
    # its element's place in the BPMN document (runtime.workflow.UserTask.order): steps ready at one
    # instant are listed in document order (migration 0009; NULL for rows made before it)
    doc_order: Mapped[int | None] = mapped_column(BigInteger)
    # the user who claimed the step (migration 0012); NULL: it waits in its department's queue
    claimed_by: Mapped[str | None] = mapped_column(String(255))


class EventRow(Base):
    """The audit log: who did what, when. Ids and codes only, never personal data."""

    __tablename__ = "hf_event"
    __table_args__ = (Index("ix_hf_event_case_id", "case_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    case_id: Mapped[str | None] = mapped_column(String(36))
    task_id: Mapped[str | None] = mapped_column(String(36))
    at: Mapped[datetime]
    type: Mapped[str] = mapped_column(String(64))
    step: Mapped[str | None] = mapped_column(String(255))
    actor: Mapped[str | None] = mapped_column(String(255))
    role: Mapped[str | None] = mapped_column(String(32))  # the role the actor acted in (migration 0012)
    detail: Mapped[str] = mapped_column(Text, default="{}")  # JSON


# -- the statutory clock (migration 0002) ---------------------------------------------------


class _StoredFile:
    """A county file as loaded, versioned and kept whole (calendar overrides, directories)."""

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    version: Mapped[str] = mapped_column(String(128), unique=True)
    source: Mapped[str] = mapped_column(Text)
    text: Mapped[str] = mapped_column(Text)
    loaded_at: Mapped[datetime]
    loaded_by: Mapped[str | None] = mapped_column(String(255))


class CalendarRow(_StoredFile, Base):
    """A county calendar override file as loaded (`hennan-flow calendar load`), in load order."""

    __tablename__ = "hf_calendar"


class DirectoryRow(_StoredFile, Base):
    """A county directory file as loaded (`hennan-flow directory load`); the newest is in force."""

    __tablename__ = "hf_directory"


class ApiKeyRow(Base):
    """An API key of a service account (`hennan-flow apikey create`): only its secret's SHA-256."""

    __tablename__ = "hf_api_key"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(255))
    secret_sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    created_by: Mapped[str | None] = mapped_column(String(255))
    revoked_at: Mapped[datetime | None]


class IdempotencyRow(Base):
    """The first response to a POST with an Idempotency-Key, per user and key (DESIGN §11)."""

    __tablename__ = "hf_idempotency"

    user_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    request_sha256: Mapped[str] = mapped_column(String(64))
    status: Mapped[int] = mapped_column(Integer)
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]


ARMED_DEADLINE_SQL = "arm_at IS NOT NULL"
# open deadlines some of whose instants wait for calendar data (the sweep's calendar block)
PENDING_DEADLINE_SQL = {
    "sqlite": "pending = 1 AND closed_at IS NULL",
    "postgresql": "pending AND closed_at IS NULL",
}


class DeadlineRow(Base):
    """The limits of one step instance (scope step, id = task id) or of a case (scope case, id = case id).

    The limits are copied from the bundle when the clock starts, so recomputing (after a pause, an
    extension or a new calendar) needs nothing but this row, its pauses and its extensions.
    """

    __tablename__ = "hf_deadline"
    # one secondary index, over armed deadlines only: the hot path reads deadlines by owner id, and
    # every index is one more page a step writes; recomputing open deadlines when a calendar arrives
    # (a yearly event) reads the table
    __table_args__ = (
        Index(
            "ix_hf_deadline_arm",
            "arm_at",
            sqlite_where=text(ARMED_DEADLINE_SQL),
            postgresql_where=text(ARMED_DEADLINE_SQL),
        ),
        Index(
            "ix_hf_deadline_pending",
            "accepted_at",
            sqlite_where=text(PENDING_DEADLINE_SQL["sqlite"]),
            postgresql_where=text(PENDING_DEADLINE_SQL["postgresql"]),
        ),
        {"sqlite_with_rowid": False},  # keyed by its owner's id: one B-tree, no key index
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    case_id: Mapped[str] = mapped_column(String(36))
    task_id: Mapped[str | None] = mapped_column(String(36))
    scope: Mapped[str] = mapped_column(String(8))  # step | case
    step: Mapped[str | None] = mapped_column(String(255))
    kind: Mapped[str] = mapped_column(String(16))  # promised | immediate
    unit: Mapped[str | None] = mapped_column(String(16))
    legal: Mapped[int | None] = mapped_column(Integer)
    promised: Mapped[int | None] = mapped_column(Integer)
    notice_before: Mapped[int] = mapped_column(Integer, default=1)
    yellow_light_at: Mapped[str] = mapped_column(String(16), default="0.8")  # the fraction as written
    red_after: Mapped[int] = mapped_column(Integer, default=3)
    accepted_at: Mapped[datetime]
    pending: Mapped[bool] = mapped_column(default=False)  # the calendar does not reach far enough yet
    calendar_version: Mapped[str | None] = mapped_column(String(255))
    shift_workdays: Mapped[int] = mapped_column(Integer, default=0)  # closed pauses + extensions
    paused_since: Mapped[datetime | None]
    promised_due: Mapped[datetime | None]
    legal_due: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    # armed: its signals ride on this row instead of being stored as hf_signal rows (most steps end
    # before any comes due): arm_at is the earliest of their instants, the *_due columns and
    # red_trigger are what `Clock.store_signals` stores; all NULL once stored, or closed
    arm_at: Mapped[datetime | None]
    notice_due: Mapped[datetime | None]
    yellow_light_due: Mapped[datetime | None]
    yellow_due: Mapped[datetime | None]
    red_due: Mapped[datetime | None]
    red_trigger: Mapped[str | None] = mapped_column(String(32))


LIVE_SIGNAL_SQL = "state IN ('pending', 'claimed')"


class SignalRow(Base):
    """A due instant of a signal (notice, yellow_light) or a card (yellow, red), claimed by the sweeper.

    state: pending → (claimed →) fired, or paused (while its step is paused) or cancelled (its step
    ended before it was due). `rev` versions the row for claims without SKIP LOCKED.
    """

    __tablename__ = "hf_signal"
    __table_args__ = (
        # live rows only: a fired or cancelled signal leaves the index (a step's end no longer
        # rewrites index pages for its cancelled signals, and the index stays the size of the
        # open work, not of the history); queries say `live_signal()` so the planner may use it
        Index(
            "ix_hf_signal_live",
            "state",
            "due_at",
            sqlite_where=text(LIVE_SIGNAL_SQL),
            postgresql_where=text(LIVE_SIGNAL_SQL),
        ),
        UniqueConstraint(
            "deadline_id", "name", name="uq_hf_signal_deadline_name"
        ),  # also the by-deadline index
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    deadline_id: Mapped[str] = mapped_column(String(36))
    case_id: Mapped[str] = mapped_column(String(36))
    task_id: Mapped[str | None] = mapped_column(String(36))
    scope: Mapped[str] = mapped_column(String(8))  # step | case
    step: Mapped[str | None] = mapped_column(String(255))
    name: Mapped[str] = mapped_column(String(16))  # notice | yellow_light | yellow | red
    kind: Mapped[str] = mapped_column(String(8))  # signal | card
    trigger: Mapped[str] = mapped_column(String(32))
    due_at: Mapped[datetime]
    state: Mapped[str] = mapped_column(String(16))
    claimed_by: Mapped[str | None] = mapped_column(String(255))
    lease_until: Mapped[datetime | None]
    fired_at: Mapped[datetime | None]
    rev: Mapped[int] = mapped_column(Integer, default=0)


class PauseRow(Base):
    """A pause of a step's clock (补正 supplement, 特别程序 special_procedure, 挂起 suspended)."""

    __tablename__ = "hf_pause"
    __table_args__ = (Index("ix_hf_pause_case_id", "case_id"), Index("ix_hf_pause_task_id", "task_id"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    case_id: Mapped[str] = mapped_column(String(36))
    task_id: Mapped[str] = mapped_column(String(36))
    reason: Mapped[str] = mapped_column(String(32))
    started_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]
    started_by: Mapped[str | None] = mapped_column(String(255))
    ended_by: Mapped[str | None] = mapped_column(String(255))
    # migration 0011: the declared special-procedure kind; a suspension's note; a supplement's
    # 一次性告知 (the text, and the material ids as a JSON list); when the declared or county limit
    # passes, the signal that fires then, and when a special procedure overran (its time counts again
    # from limit_at)
    kind: Mapped[str | None] = mapped_column(String(64))
    note: Mapped[str | None] = mapped_column(Text)
    notice: Mapped[str | None] = mapped_column(Text)
    materials: Mapped[str | None] = mapped_column(Text)
    limit_at: Mapped[datetime | None]
    overrun_signal_id: Mapped[int | None] = mapped_column(Integer)
    overrun_at: Mapped[datetime | None]


class ExtensionRow(Base):
    """An extension (延长审批) of a step's limits by N working days, with its approver and reason."""

    __tablename__ = "hf_extension"
    __table_args__ = (Index("ix_hf_extension_task_id", "task_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    case_id: Mapped[str] = mapped_column(String(36))
    task_id: Mapped[str] = mapped_column(String(36))
    days: Mapped[int] = mapped_column(Integer)
    approver: Mapped[str] = mapped_column(String(255))
    reason: Mapped[str] = mapped_column(SealedText("hf_extension.reason"))
    at: Mapped[datetime]
    actor: Mapped[str | None] = mapped_column(String(255))


class OutcomeRow(Base):
    """A case outcome (DESIGN §10, migration 0013): refused (不予受理 at stage acceptance, 不予许可 at
    stage decision, with its basis), withdrawn (撤回), or a step returned (退回) to an earlier step."""

    __tablename__ = "hf_outcome"
    __table_args__ = (Index("ix_hf_outcome_case_id", "case_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    case_id: Mapped[str] = mapped_column(String(36))
    task_id: Mapped[str | None] = mapped_column(String(36))  # the step instance refused at / returned
    kind: Mapped[str] = mapped_column(String(16))  # refused | withdrawn | returned
    stage: Mapped[str | None] = mapped_column(String(16))  # refused: acceptance | decision
    step: Mapped[str | None] = mapped_column(String(255))  # that step's element id
    to_step: Mapped[str | None] = mapped_column(String(255))  # returned: the step it went back to
    reason: Mapped[str] = mapped_column(SealedText("hf_outcome.reason"))
    basis: Mapped[str | None] = mapped_column(SealedText("hf_outcome.basis"))  # 不予许可: the legal basis
    at: Mapped[datetime]
    actor: Mapped[str | None] = mapped_column(String(255))


# -- supervision (migration 0003) -----------------------------------------------------------


class CardRow(Base):
    """A yellow or red card (红黄牌) and the state of its supervision record; closed, never deleted.

    One card per (case, step instance, colour): `deadline_id` is the step instance's task id, or the
    case id for a case-level card. `issued_at` is the due instant, `recorded_at` when it was written.
    state: open → verifying (核查) → rectifying (整改) → closed, with a conclusion when closed.
    """

    __tablename__ = "hf_card"
    __table_args__ = (
        UniqueConstraint("deadline_id", "color", name="uq_hf_card_deadline_color"),
        UniqueConstraint("signal_id", name="uq_hf_card_signal_id"),
        Index("ix_hf_card_case_id", "case_id", "issued_at"),
        Index("ix_hf_card_state", "state", "issued_at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    signal_id: Mapped[int] = mapped_column(Integer)
    deadline_id: Mapped[str] = mapped_column(String(36))
    case_id: Mapped[str] = mapped_column(String(36))
    task_id: Mapped[str | None] = mapped_column(String(36))
    scope: Mapped[str] = mapped_column(String(8))  # step | case
    step: Mapped[str | None] = mapped_column(String(255))
    color: Mapped[str] = mapped_column(String(8))  # yellow | red
    trigger: Mapped[str] = mapped_column(String(32))  # promised_passed | legal_passed | overdue_workdays
    issued_at: Mapped[datetime]
    recorded_at: Mapped[datetime]
    handler: Mapped[str] = mapped_column(String(32))  # department | superior_review (上级复核)
    department: Mapped[str | None] = mapped_column(String(64))  # the accountable department
    state: Mapped[str] = mapped_column(String(16))  # open | verifying | rectifying | closed
    conclusion: Mapped[str | None] = mapped_column(String(16))  # 属实 | 不属实 | 系统误报
    closed_at: Mapped[datetime | None]
    rev: Mapped[int] = mapped_column(Integer)

    __mapper_args__ = {"version_id_col": rev}  # noqa: RUF012  (SQLAlchemy reads it per class)


class CardTransitionRow(Base):
    """One step of a card's supervision record (the opening included): who moved it where, with a note."""

    __tablename__ = "hf_card_transition"
    __table_args__ = (
        Index("ix_hf_card_transition_card_id", "card_id", "id"),
        Index("ix_hf_card_transition_case_id", "case_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    card_id: Mapped[str] = mapped_column(String(36))
    case_id: Mapped[str] = mapped_column(String(36))
    from_state: Mapped[str | None] = mapped_column(String(16))  # null for the opening
    to_state: Mapped[str] = mapped_column(String(16))
    note: Mapped[str | None] = mapped_column(SealedText("hf_card_transition.note"))
    conclusion: Mapped[str | None] = mapped_column(String(16))
    actor: Mapped[str | None] = mapped_column(String(255))
    at: Mapped[datetime]


class CardPhaseRow(Base):
    """One phase of a card's record (verify 核查, rectify 整改, review 上级复核, revisit 回访) with its
    deadline: the end of the `within`-th working day after its start (DESIGN §9, migration 0015)."""

    __tablename__ = "hf_card_phase"
    __table_args__ = (Index("ix_hf_card_phase_card_id", "card_id", "started_at"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    card_id: Mapped[str] = mapped_column(String(36))
    case_id: Mapped[str] = mapped_column(String(36))
    phase: Mapped[str] = mapped_column(String(16))  # verify | rectify | review | revisit
    within: Mapped[int] = mapped_column(Integer)  # working days
    started_at: Mapped[datetime]
    due_at: Mapped[datetime | None]  # null: the calendar does not reach it yet
    ended_at: Mapped[datetime | None]
    overdue_at: Mapped[datetime | None]  # when its record_overdue signal fired (its due instant)


class CardAccountRow(Base):
    """An accountability entry (责任追究) of a card: who, which measure, why (DESIGN §9)."""

    __tablename__ = "hf_card_account"
    __table_args__ = (Index("ix_hf_card_account_card_id", "card_id", "at"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    card_id: Mapped[str] = mapped_column(String(36))
    case_id: Mapped[str] = mapped_column(String(36))
    person: Mapped[str] = mapped_column(SealedText("hf_card_account.person"))
    measure: Mapped[str] = mapped_column(String(16))
    note: Mapped[str] = mapped_column(SealedText("hf_card_account.note"))
    actor: Mapped[str | None] = mapped_column(String(255))
    at: Mapped[datetime]


class ReferralRow(Base):
    """A referral to 纪检监察机关 (an entry 移送纪检监察机关): open until `discipline` records its outcome."""

    __tablename__ = "hf_referral"
    __table_args__ = (
        UniqueConstraint("account_id", name="uq_hf_referral_account_id"),
        Index("ix_hf_referral_state", "state", "opened_at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    account_id: Mapped[str] = mapped_column(String(36))
    card_id: Mapped[str] = mapped_column(String(36))
    case_id: Mapped[str] = mapped_column(String(36))
    department: Mapped[str | None] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16))  # open | closed
    opened_at: Mapped[datetime]
    outcome: Mapped[str | None] = mapped_column(SealedText("hf_referral.outcome"))
    closed_at: Mapped[datetime | None]
    closed_by: Mapped[str | None] = mapped_column(String(255))
    rev: Mapped[int] = mapped_column(Integer)

    __mapper_args__ = {"version_id_col": rev}  # noqa: RUF012  (SQLAlchemy reads it per class)


UNOWNED_OUTBOX_SQL = "case_id IS NULL"


class OutboxRow(Base):
    """The outbox: every signal, card and record transition, written in the transaction that made it.

    Consumers (a portal, the provincial supervision platform, a broker relay) read it by `id` with a
    cursor (`Engine.events(after=…)`); ids become visible in increasing order (see supervision.py).
    """

    __tablename__ = "hf_outbox"
    # read by id; the only lookup by case is the calendar announcement's `case_id IS NULL`, so the one
    # secondary index holds the rows without a case and a case's events never write it (migration 0017)
    __table_args__ = (
        Index(
            "ix_hf_outbox_unowned",
            "type",
            "ref",
            sqlite_where=text(UNOWNED_OUTBOX_SQL),
            postgresql_where=text(UNOWNED_OUTBOX_SQL),
        ),
    )

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True
    )
    type: Mapped[str] = mapped_column(String(32))  # signal.fired | card.issued | card.advanced
    case_id: Mapped[str | None] = mapped_column(String(36))
    ref: Mapped[str] = mapped_column(String(64))  # signal id or card id
    at: Mapped[datetime]  # the due instant (issuance) or the transition instant
    recorded_at: Mapped[datetime]
    payload: Mapped[str] = mapped_column(Text)  # JSON


# -- the GB/T 39046 data exchange (migration 0014) ---------------------------------------------


class ExchangeCursorRow(Base):
    """How far one push target has been delivered: the last outbox id whose records it acknowledged."""

    __tablename__ = "hf_exchange_cursor"

    target: Mapped[str] = mapped_column(String(255), primary_key=True)
    cursor: Mapped[int] = mapped_column(BigInteger().with_variant(Integer(), "sqlite"))
    records: Mapped[int] = mapped_column(BigInteger().with_variant(Integer(), "sqlite"))  # delivered so far
    updated_at: Mapped[datetime]


def live_signal() -> ColumnElement[bool]:
    """`state IN ('pending', 'claimed')` spelled with literals, as the partial index `ix_hf_signal_live`
    is: SQLite (and PostgreSQL with bound values) use a partial index only when the query's own
    condition contains its predicate, so every query that reads signals by state adds this."""
    return SignalRow.state.in_([literal_column("'pending'"), literal_column("'claimed'")])
