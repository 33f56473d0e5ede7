"""The hennan_flow schema as typed SQLAlchemy 2.x models.

The schema is created only by the Alembic migrations shipped in the wheel; these models are what the
migrations must match (`alembic check` in the tests). Every case-owned table carries `case_id` and
every hot-path query is keyed by it, so the schema can be distributed by case id later.
Instants are stored in UTC. JSON is stored as TEXT, never JSONB (JSONB reorders keys, which loses
SpiffWorkflow task data: spiffworkflow-notes §5).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

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
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

__all__ = ["Base", "CaseRow", "DefinitionRow", "EventRow", "MetaRow", "TaskRow"]

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
        Index("ix_hf_case_state", "state"),
        Index("ix_hf_case_next_timer_at", "next_timer_at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    definition_id: Mapped[int] = mapped_column(ForeignKey("hf_definition.id"))
    key: Mapped[str] = mapped_column(String(255))
    state: Mapped[str] = mapped_column(String(16))  # open | completed | terminated
    applicant: Mapped[str] = mapped_column(Text)  # JSON; personal data, never logged
    started_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]
    started_by: Mapped[str | None] = mapped_column(String(255))
    rev: Mapped[int] = mapped_column(Integer)  # optimistic version of the whole case
    spiff_version: Mapped[str] = mapped_column(String(32))
    wf_state: Mapped[str] = mapped_column(Text)  # SpiffWorkflow state (spec kept out), TEXT never JSONB
    next_timer_at: Mapped[datetime | None]
    error: Mapped[str | None] = mapped_column(Text)

    __mapper_args__ = {"version_id_col": rev}  # noqa: RUF012  (SQLAlchemy reads it per class)


class TaskRow(Base):
    """A user step instance (work item) of a case, as department work queues see it."""

    __tablename__ = "hf_task"
    __table_args__ = (
        Index("ix_hf_task_case_id", "case_id", "state"),
        Index("ix_hf_task_department", "department", "state"),
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
    detail: Mapped[str] = mapped_column(Text, default="{}")  # JSON


# -- the statutory clock (migration 0002) ---------------------------------------------------


class CalendarRow(Base):
    """A county calendar override file as loaded (`hennan-flow calendar load`), in load order."""

    __tablename__ = "hf_calendar"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    version: Mapped[str] = mapped_column(String(128), unique=True)
    source: Mapped[str] = mapped_column(Text)
    text: Mapped[str] = mapped_column(Text)
    loaded_at: Mapped[datetime]
    loaded_by: Mapped[str | None] = mapped_column(String(255))


class DeadlineRow(Base):
    """The limits of one step instance (scope step, id = task id) or of a case (scope case, id = case id).

    The limits are copied from the bundle when the clock starts, so recomputing (after a pause, an
    extension or a new calendar) needs nothing but this row, its pauses and its extensions.
    """

    __tablename__ = "hf_deadline"
    __table_args__ = (
        Index("ix_hf_deadline_case_id", "case_id"),
        Index("ix_hf_deadline_open", "closed_at", "pending"),
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


class SignalRow(Base):
    """A due instant of a signal (notice, yellow_light) or a card (yellow, red), claimed by the sweeper.

    state: pending → (claimed →) fired, or paused (while its step is paused) or cancelled (its step
    ended before it was due). `rev` versions the row for claims without SKIP LOCKED.
    """

    __tablename__ = "hf_signal"
    __table_args__ = (
        Index("ix_hf_signal_due", "state", "due_at"),
        Index("ix_hf_signal_case_id", "case_id"),
        Index("ix_hf_signal_deadline_id", "deadline_id"),
        UniqueConstraint("deadline_id", "name", name="uq_hf_signal_deadline_name"),
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


class ExtensionRow(Base):
    """An extension (延长审批) of a step's limits by N working days, with its approver and reason."""

    __tablename__ = "hf_extension"
    __table_args__ = (Index("ix_hf_extension_task_id", "task_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    case_id: Mapped[str] = mapped_column(String(36))
    task_id: Mapped[str] = mapped_column(String(36))
    days: Mapped[int] = mapped_column(Integer)
    approver: Mapped[str] = mapped_column(String(255))
    reason: Mapped[str] = mapped_column(Text)
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
    note: Mapped[str | None] = mapped_column(Text)
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


# The sweeper's BPMN timer queries (`state = 'open' AND next_timer_at <= now ORDER BY next_timer_at`, and the
# lag's oldest timer) read this index instead of every open case; declared here so CaseRow stays as it was.
Index("ix_hf_case_open_timer", CaseRow.state, CaseRow.next_timer_at)
