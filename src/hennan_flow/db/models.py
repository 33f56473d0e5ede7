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
        Index("ix_hf_task_case_id", "case_id", "state"),
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


class OutboxRow(Base):
    """The outbox: every signal, card and record transition, written in the transaction that made it.

    Consumers (a portal, the provincial supervision platform, a broker relay) read it by `id` with a
    cursor (`Engine.events(after=…)`); ids become visible in increasing order (see supervision.py).
    """

    __tablename__ = "hf_outbox"
    __table_args__ = (Index("ix_hf_outbox_case_id", "case_id", "id"),)

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True
    )
    type: Mapped[str] = mapped_column(String(32))  # signal.fired | card.issued | card.advanced
    case_id: Mapped[str | None] = mapped_column(String(36))
    ref: Mapped[str] = mapped_column(String(64))  # signal id or card id
    at: Mapped[datetime]  # the due instant (issuance) or the transition instant
    recorded_at: Mapped[datetime]
    payload: Mapped[str] = mapped_column(Text)  # JSON


# -- services (migration 0004) ----------------------------------------------------------------
# 告知承诺 commitments and credit records, 容缺 tolerated materials, e-licence checks, 好差评 reviews
# and their rectification records. Personal data stays in hf_case.applicant; these tables hold an
# applicant *key* (a keyed hash, commitments.applicant_key), never a name or an ID number.


class CommitmentRow(Base):
    """A 告知承诺 that stands in for one material of one step instance (commitments.py).

    state: signed → verified | false (post-verification), signed → declined (the applicant hands in
    the material instead) | void (the step ended without a decision); refused when the applicant may
    not commit (an unrepaired false commitment): the material must then be supplied.
    """

    __tablename__ = "hf_commitment"
    __table_args__ = (
        UniqueConstraint("task_id", "material", name="uq_hf_commitment_task_material"),
        Index("ix_hf_commitment_case_id", "case_id"),
        Index("ix_hf_commitment_applicant_key", "applicant_key"),
        Index("ix_hf_commitment_state", "state", "verify_due"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    case_id: Mapped[str] = mapped_column(String(36))
    task_id: Mapped[str] = mapped_column(String(36))
    step: Mapped[str] = mapped_column(String(255))
    material: Mapped[str] = mapped_column(String(255))
    material_name: Mapped[str] = mapped_column(Text)
    department: Mapped[str | None] = mapped_column(String(64))
    text: Mapped[str] = mapped_column(Text)  # the commitment as the applicant was told it
    text_version: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16))  # signed | declined | refused | verified | false | void
    applicant_key: Mapped[str | None] = mapped_column(String(64))
    signed_by: Mapped[str | None] = mapped_column(String(255))  # "applicant"
    signed_at: Mapped[datetime | None]
    decided_at: Mapped[datetime | None]  # the step's decision: the verification clock starts
    verify_within: Mapped[int] = mapped_column(Integer, default=20)  # working days after the decision
    verify_due: Mapped[datetime | None]
    method: Mapped[str | None] = mapped_column(String(16))  # written | online | on_site | publicity
    result: Mapped[bool | None]
    verified_at: Mapped[datetime | None]
    verified_by: Mapped[str | None] = mapped_column(String(255))
    note: Mapped[str | None] = mapped_column(SealedText("hf_commitment.note"))
    declined_at: Mapped[datetime | None]
    declined_by: Mapped[str | None] = mapped_column(String(255))
    supplied_at: Mapped[datetime | None]  # the material itself, when declined or refused
    supplied_by: Mapped[str | None] = mapped_column(String(255))
    credit_id: Mapped[int | None] = mapped_column(Integer)  # the credit record a false one made
    rev: Mapped[int] = mapped_column(Integer)

    __mapper_args__ = {"version_id_col": rev}  # noqa: RUF012  (SQLAlchemy reads it per class)


class CreditRow(Base):
    """A credit record (信用记录) against an applicant key: a false commitment, until repaired (信用修复)."""

    __tablename__ = "hf_credit"
    __table_args__ = (
        Index("ix_hf_credit_applicant_key", "applicant_key", "repaired_at"),
        Index("ix_hf_credit_case_id", "case_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    applicant_key: Mapped[str | None] = mapped_column(String(64))  # null: the applicant gave no identity
    case_id: Mapped[str] = mapped_column(String(36))
    commitment_id: Mapped[str] = mapped_column(String(36))
    kind: Mapped[str] = mapped_column(String(32))  # false_commitment
    department: Mapped[str | None] = mapped_column(String(64))  # the supervising department told
    recorded_at: Mapped[datetime]
    repaired_at: Mapped[datetime | None]
    repaired_by: Mapped[str | None] = mapped_column(String(255))
    repair_note: Mapped[str | None] = mapped_column(SealedText("hf_credit.repair_note"))


class ToleranceRow(Base):
    """A tolerable material (容缺后补) a step was accepted without, and its supplement deadline (tolerance.py).

    state: missing → supplied | lapsed (the deadline passed: the case was terminated) | void (the step
    ended otherwise). The deadline fires as a `hf_signal` row (kind action, name supplement).
    """

    __tablename__ = "hf_tolerance"
    __table_args__ = (
        UniqueConstraint("task_id", "material", name="uq_hf_tolerance_task_material"),
        Index("ix_hf_tolerance_case_id", "case_id"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    case_id: Mapped[str] = mapped_column(String(36))
    task_id: Mapped[str] = mapped_column(String(36))
    step: Mapped[str] = mapped_column(String(255))
    material: Mapped[str] = mapped_column(String(255))
    material_name: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(16))  # missing | supplied | lapsed | void
    within: Mapped[int] = mapped_column(Integer)  # supplementWithin, working days after acceptance
    accepted_at: Mapped[datetime]
    due_at: Mapped[datetime | None]  # null while the calendar data does not reach
    extended_days: Mapped[int] = mapped_column(Integer, default=0)
    supplied_at: Mapped[datetime | None]
    supplied_by: Mapped[str | None] = mapped_column(String(255))
    ended_at: Mapped[datetime | None]  # lapsed or void
    rev: Mapped[int] = mapped_column(Integer)

    __mapper_args__ = {"version_id_col": rev}  # noqa: RUF012  (SQLAlchemy reads it per class)


class SupplementExtensionRow(Base):
    """An approver's extension of a supplement deadline by N working days, with the reason."""

    __tablename__ = "hf_supplement_extension"
    __table_args__ = (
        Index("ix_hf_supplement_extension_tolerance_id", "tolerance_id"),
        Index("ix_hf_supplement_extension_case_id", "case_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    case_id: Mapped[str] = mapped_column(String(36))
    tolerance_id: Mapped[str] = mapped_column(String(36))
    days: Mapped[int] = mapped_column(Integer)
    approver: Mapped[str] = mapped_column(String(255))
    reason: Mapped[str] = mapped_column(SealedText("hf_supplement_extension.reason"))
    at: Mapped[datetime]
    actor: Mapped[str | None] = mapped_column(String(255))


class LicenceCheckRow(Base):
    """The e-licence / shared-data verification of one exempted material of one step (licences.py).

    state: verified | unverified (no provider configured) | failed (retryable) | not_found | invalid
    (found, but revoked or expired) | supplied (the material was handed in instead).
    """

    __tablename__ = "hf_licence_check"
    __table_args__ = (
        UniqueConstraint("task_id", "material", name="uq_hf_licence_check_task_material"),
        Index("ix_hf_licence_check_case_id", "case_id"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    case_id: Mapped[str] = mapped_column(String(36))
    task_id: Mapped[str] = mapped_column(String(36))
    step: Mapped[str] = mapped_column(String(255))
    material: Mapped[str] = mapped_column(String(255))
    material_name: Mapped[str] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(16))  # e_license | online_check
    licence_type: Mapped[str] = mapped_column(Text)  # the eLicense type or onlineCheck source
    state: Mapped[str] = mapped_column(String(16))
    provider: Mapped[str] = mapped_column(String(64))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error_code: Mapped[str | None] = mapped_column(String(32))
    error: Mapped[str | None] = mapped_column(Text)
    licence_id: Mapped[str | None] = mapped_column(
        SealedText("hf_licence_check.licence_id")
    )  # may be a personal number
    issuer: Mapped[str | None] = mapped_column(Text)
    valid_until: Mapped[str | None] = mapped_column(String(32))
    licence_status: Mapped[str | None] = mapped_column(String(16))
    checked_at: Mapped[datetime]
    supplied_at: Mapped[datetime | None]
    supplied_by: Mapped[str | None] = mapped_column(String(255))
    rev: Mapped[int] = mapped_column(Integer)

    __mapper_args__ = {"version_id_col": rev}  # noqa: RUF012  (SQLAlchemy reads it per class)


class ReviewRow(Base):
    """A 好差评 review of a case (一事一评) or of one step (一次一评), GB/T 39046 A.8 levels 1–5."""

    __tablename__ = "hf_review"
    __table_args__ = (
        UniqueConstraint("case_id", "target", name="uq_hf_review_case_target"),
        Index("ix_hf_review_at", "at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    case_id: Mapped[str] = mapped_column(String(36))
    target: Mapped[str] = mapped_column(String(36))  # the task id, or "case"
    task_id: Mapped[str | None] = mapped_column(String(36))
    step: Mapped[str | None] = mapped_column(String(255))
    department: Mapped[str | None] = mapped_column(String(64))
    level: Mapped[int] = mapped_column(Integer)  # 1 非常满意 … 5 非常不满意
    channel: Mapped[str] = mapped_column(String(16))
    real_name: Mapped[bool]
    text: Mapped[str | None] = mapped_column(
        SealedText("hf_review.text")
    )  # may hold personal data: never logged
    reviewer_key: Mapped[str | None] = mapped_column(String(64))  # real-name reviews: the applicant key
    at: Mapped[datetime]
    recorded_by: Mapped[str | None] = mapped_column(String(255))


class RectificationRow(Base):
    """The record a bad review (4 or 5) opens: 核实 → 整改 → 反馈, each phase on the statutory clock.

    state: verifying → rectifying → feedback → closed, or verifying → feedback → closed when the
    review is found unfounded (explained instead). Each phase has its own deadline row (scope review).
    """

    __tablename__ = "hf_rectification"
    __table_args__ = (
        UniqueConstraint("review_id", name="uq_hf_rectification_review_id"),
        Index("ix_hf_rectification_case_id", "case_id"),
        Index("ix_hf_rectification_state", "state"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    review_id: Mapped[str] = mapped_column(String(36))
    case_id: Mapped[str] = mapped_column(String(36))
    department: Mapped[str | None] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16))  # verifying | rectifying | feedback | closed
    finding: Mapped[str | None] = mapped_column(String(16))  # founded | unfounded
    complexity: Mapped[str | None] = mapped_column(String(16))  # simple | complex
    opened_at: Mapped[datetime]
    verify_deadline: Mapped[str] = mapped_column(String(36))
    rectify_deadline: Mapped[str | None] = mapped_column(String(36))
    feedback_deadline: Mapped[str | None] = mapped_column(String(36))
    verified_at: Mapped[datetime | None]
    verified_by: Mapped[str | None] = mapped_column(String(255))
    verify_note: Mapped[str | None] = mapped_column(SealedText("hf_rectification.verify_note"))
    rectified_at: Mapped[datetime | None]
    rectified_by: Mapped[str | None] = mapped_column(String(255))
    rectify_note: Mapped[str | None] = mapped_column(SealedText("hf_rectification.rectify_note"))
    fed_back_at: Mapped[datetime | None]
    fed_back_by: Mapped[str | None] = mapped_column(String(255))
    feedback_note: Mapped[str | None] = mapped_column(SealedText("hf_rectification.feedback_note"))
    closed_at: Mapped[datetime | None]
    on_time: Mapped[bool | None]  # set when closed: every phase ended by its promised deadline
    rev: Mapped[int] = mapped_column(Integer)

    __mapper_args__ = {"version_id_col": rev}  # noqa: RUF012  (SQLAlchemy reads it per class)


def live_signal() -> ColumnElement[bool]:
    """`state IN ('pending', 'claimed')` spelled with literals, as the partial index `ix_hf_signal_live`
    is: SQLite (and PostgreSQL with bound values) use a partial index only when the query's own
    condition contains its predicate, so every query that reads signals by state adds this."""
    return SignalRow.state.in_([literal_column("'pending'"), literal_column("'claimed'")])
