"""The 政务服务 desk's tables (migration 0004 and later): 告知承诺 commitments and credit records,
容缺 tolerated materials, e-licence checks, 好差评 reviews and their rectification records.

Kept beside `models` (same `Base`, same metadata) so neither module outgrows one concept; importing
`hennan_flow.db` loads both, so `Base.metadata` always holds every table.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ..sealing import SealedText
from .models import Base

__all__ = [
    "CommitmentRow",
    "CreditRow",
    "LicenceCheckRow",
    "RectificationRow",
    "ReviewRow",
    "SupplementExtensionRow",
    "ToleranceRow",
]


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
