"""services: 告知承诺 commitments and credit records, 容缺 tolerated materials, e-licence checks, 好差评

hf_commitment (one per step instance and material exempted by commitment), hf_credit (false
commitments until repaired), hf_tolerance and hf_supplement_extension (materials a step was accepted
without, their supplement deadlines and extensions), hf_licence_check (e-licence / shared-data
verification of exempted materials), hf_review and hf_rectification (reviews, and the record a bad
review opens). hf_meta gets `applicant_salt`, the per-database secret of the applicant keys
(commitments.applicant_key): random, made once here, never logged.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29 17:03:47.269039
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "hf_commitment",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("case_id", sa.String(length=36), nullable=False),
        sa.Column("task_id", sa.String(length=36), nullable=False),
        sa.Column("step", sa.String(length=255), nullable=False),
        sa.Column("material", sa.String(length=255), nullable=False),
        sa.Column("material_name", sa.Text(), nullable=False),
        sa.Column("department", sa.String(length=64), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("text_version", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("applicant_key", sa.String(length=64), nullable=True),
        sa.Column("signed_by", sa.String(length=255), nullable=True),
        sa.Column("signed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("verify_within", sa.Integer(), nullable=False),
        sa.Column("verify_due", sa.DateTime(timezone=True), nullable=True),
        sa.Column("method", sa.String(length=16), nullable=True),
        sa.Column("result", sa.Boolean(), nullable=True),
        sa.Column("verified_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("verified_by", sa.String(length=255), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("declined_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("declined_by", sa.String(length=255), nullable=True),
        sa.Column("supplied_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("supplied_by", sa.String(length=255), nullable=True),
        sa.Column("credit_id", sa.Integer(), nullable=True),
        sa.Column("rev", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hf_commitment")),
        sa.UniqueConstraint("task_id", "material", name="uq_hf_commitment_task_material"),
    )
    with op.batch_alter_table("hf_commitment", schema=None) as batch_op:
        batch_op.create_index("ix_hf_commitment_applicant_key", ["applicant_key"], unique=False)
        batch_op.create_index("ix_hf_commitment_case_id", ["case_id"], unique=False)
        batch_op.create_index("ix_hf_commitment_state", ["state", "verify_due"], unique=False)

    op.create_table(
        "hf_credit",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("applicant_key", sa.String(length=64), nullable=True),
        sa.Column("case_id", sa.String(length=36), nullable=False),
        sa.Column("commitment_id", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("department", sa.String(length=64), nullable=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("repaired_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("repaired_by", sa.String(length=255), nullable=True),
        sa.Column("repair_note", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hf_credit")),
    )
    with op.batch_alter_table("hf_credit", schema=None) as batch_op:
        batch_op.create_index("ix_hf_credit_applicant_key", ["applicant_key", "repaired_at"], unique=False)
        batch_op.create_index("ix_hf_credit_case_id", ["case_id"], unique=False)

    op.create_table(
        "hf_licence_check",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("case_id", sa.String(length=36), nullable=False),
        sa.Column("task_id", sa.String(length=36), nullable=False),
        sa.Column("step", sa.String(length=255), nullable=False),
        sa.Column("material", sa.String(length=255), nullable=False),
        sa.Column("material_name", sa.Text(), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("licence_type", sa.Text(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("provider", sa.String(length=64), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("error_code", sa.String(length=32), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("licence_id", sa.Text(), nullable=True),
        sa.Column("issuer", sa.Text(), nullable=True),
        sa.Column("valid_until", sa.String(length=32), nullable=True),
        sa.Column("licence_status", sa.String(length=16), nullable=True),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("supplied_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("supplied_by", sa.String(length=255), nullable=True),
        sa.Column("rev", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hf_licence_check")),
        sa.UniqueConstraint("task_id", "material", name="uq_hf_licence_check_task_material"),
    )
    with op.batch_alter_table("hf_licence_check", schema=None) as batch_op:
        batch_op.create_index("ix_hf_licence_check_case_id", ["case_id"], unique=False)

    op.create_table(
        "hf_rectification",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("review_id", sa.String(length=36), nullable=False),
        sa.Column("case_id", sa.String(length=36), nullable=False),
        sa.Column("department", sa.String(length=64), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("finding", sa.String(length=16), nullable=True),
        sa.Column("complexity", sa.String(length=16), nullable=True),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("verify_deadline", sa.String(length=36), nullable=False),
        sa.Column("rectify_deadline", sa.String(length=36), nullable=True),
        sa.Column("feedback_deadline", sa.String(length=36), nullable=True),
        sa.Column("verified_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("verified_by", sa.String(length=255), nullable=True),
        sa.Column("verify_note", sa.Text(), nullable=True),
        sa.Column("rectified_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("rectified_by", sa.String(length=255), nullable=True),
        sa.Column("rectify_note", sa.Text(), nullable=True),
        sa.Column("fed_back_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("fed_back_by", sa.String(length=255), nullable=True),
        sa.Column("feedback_note", sa.Text(), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("on_time", sa.Boolean(), nullable=True),
        sa.Column("rev", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hf_rectification")),
        sa.UniqueConstraint("review_id", name="uq_hf_rectification_review_id"),
    )
    with op.batch_alter_table("hf_rectification", schema=None) as batch_op:
        batch_op.create_index("ix_hf_rectification_case_id", ["case_id"], unique=False)
        batch_op.create_index("ix_hf_rectification_state", ["state"], unique=False)

    op.create_table(
        "hf_review",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("case_id", sa.String(length=36), nullable=False),
        sa.Column("target", sa.String(length=36), nullable=False),
        sa.Column("task_id", sa.String(length=36), nullable=True),
        sa.Column("step", sa.String(length=255), nullable=True),
        sa.Column("department", sa.String(length=64), nullable=True),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("real_name", sa.Boolean(), nullable=False),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("reviewer_key", sa.String(length=64), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_by", sa.String(length=255), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hf_review")),
        sa.UniqueConstraint("case_id", "target", name="uq_hf_review_case_target"),
    )
    with op.batch_alter_table("hf_review", schema=None) as batch_op:
        batch_op.create_index("ix_hf_review_at", ["at"], unique=False)

    op.create_table(
        "hf_supplement_extension",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("case_id", sa.String(length=36), nullable=False),
        sa.Column("tolerance_id", sa.String(length=36), nullable=False),
        sa.Column("days", sa.Integer(), nullable=False),
        sa.Column("approver", sa.String(length=255), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=255), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hf_supplement_extension")),
    )
    with op.batch_alter_table("hf_supplement_extension", schema=None) as batch_op:
        batch_op.create_index("ix_hf_supplement_extension_case_id", ["case_id"], unique=False)
        batch_op.create_index("ix_hf_supplement_extension_tolerance_id", ["tolerance_id"], unique=False)

    op.create_table(
        "hf_tolerance",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("case_id", sa.String(length=36), nullable=False),
        sa.Column("task_id", sa.String(length=36), nullable=False),
        sa.Column("step", sa.String(length=255), nullable=False),
        sa.Column("material", sa.String(length=255), nullable=False),
        sa.Column("material_name", sa.Text(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("within", sa.Integer(), nullable=False),
        sa.Column("accepted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("extended_days", sa.Integer(), nullable=False),
        sa.Column("supplied_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("supplied_by", sa.String(length=255), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("rev", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hf_tolerance")),
        sa.UniqueConstraint("task_id", "material", name="uq_hf_tolerance_task_material"),
    )
    with op.batch_alter_table("hf_tolerance", schema=None) as batch_op:
        batch_op.create_index("ix_hf_tolerance_case_id", ["case_id"], unique=False)

    meta = sa.table("hf_meta", sa.column("key", sa.String), sa.column("value", sa.Text))
    op.bulk_insert(meta, [{"key": "applicant_salt", "value": secrets.token_hex(32)}])


def downgrade() -> None:
    op.execute("DELETE FROM hf_meta WHERE key = 'applicant_salt'")
    with op.batch_alter_table("hf_tolerance", schema=None) as batch_op:
        batch_op.drop_index("ix_hf_tolerance_case_id")

    op.drop_table("hf_tolerance")
    with op.batch_alter_table("hf_supplement_extension", schema=None) as batch_op:
        batch_op.drop_index("ix_hf_supplement_extension_tolerance_id")
        batch_op.drop_index("ix_hf_supplement_extension_case_id")

    op.drop_table("hf_supplement_extension")
    with op.batch_alter_table("hf_review", schema=None) as batch_op:
        batch_op.drop_index("ix_hf_review_at")

    op.drop_table("hf_review")
    with op.batch_alter_table("hf_rectification", schema=None) as batch_op:
        batch_op.drop_index("ix_hf_rectification_state")
        batch_op.drop_index("ix_hf_rectification_case_id")

    op.drop_table("hf_rectification")
    with op.batch_alter_table("hf_licence_check", schema=None) as batch_op:
        batch_op.drop_index("ix_hf_licence_check_case_id")

    op.drop_table("hf_licence_check")
    with op.batch_alter_table("hf_credit", schema=None) as batch_op:
        batch_op.drop_index("ix_hf_credit_case_id")
        batch_op.drop_index("ix_hf_credit_applicant_key")

    op.drop_table("hf_credit")
    with op.batch_alter_table("hf_commitment", schema=None) as batch_op:
        batch_op.drop_index("ix_hf_commitment_state")
        batch_op.drop_index("ix_hf_commitment_case_id")
        batch_op.drop_index("ix_hf_commitment_applicant_key")

    op.drop_table("hf_commitment")
