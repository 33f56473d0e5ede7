"""statutory clock: calendars, deadlines, signals, pauses, extensions

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29 16:06:38.913205
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "hf_calendar",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("version", sa.String(length=128), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("loaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("loaded_by", sa.String(length=255), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hf_calendar")),
        sa.UniqueConstraint("version", name=op.f("uq_hf_calendar_version")),
    )
    op.create_table(
        "hf_deadline",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("case_id", sa.String(length=36), nullable=False),
        sa.Column("task_id", sa.String(length=36), nullable=True),
        sa.Column("scope", sa.String(length=8), nullable=False),
        sa.Column("step", sa.String(length=255), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("unit", sa.String(length=16), nullable=True),
        sa.Column("legal", sa.Integer(), nullable=True),
        sa.Column("promised", sa.Integer(), nullable=True),
        sa.Column("notice_before", sa.Integer(), nullable=False),
        sa.Column("yellow_light_at", sa.String(length=16), nullable=False),
        sa.Column("red_after", sa.Integer(), nullable=False),
        sa.Column("accepted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("pending", sa.Boolean(), nullable=False),
        sa.Column("calendar_version", sa.String(length=255), nullable=True),
        sa.Column("shift_workdays", sa.Integer(), nullable=False),
        sa.Column("paused_since", sa.DateTime(timezone=True), nullable=True),
        sa.Column("promised_due", sa.DateTime(timezone=True), nullable=True),
        sa.Column("legal_due", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hf_deadline")),
    )
    with op.batch_alter_table("hf_deadline", schema=None) as batch_op:
        batch_op.create_index("ix_hf_deadline_case_id", ["case_id"], unique=False)
        batch_op.create_index("ix_hf_deadline_open", ["closed_at", "pending"], unique=False)

    op.create_table(
        "hf_extension",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("case_id", sa.String(length=36), nullable=False),
        sa.Column("task_id", sa.String(length=36), nullable=False),
        sa.Column("days", sa.Integer(), nullable=False),
        sa.Column("approver", sa.String(length=255), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=255), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hf_extension")),
    )
    with op.batch_alter_table("hf_extension", schema=None) as batch_op:
        batch_op.create_index("ix_hf_extension_task_id", ["task_id"], unique=False)

    op.create_table(
        "hf_pause",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("case_id", sa.String(length=36), nullable=False),
        sa.Column("task_id", sa.String(length=36), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("started_by", sa.String(length=255), nullable=True),
        sa.Column("ended_by", sa.String(length=255), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hf_pause")),
    )
    with op.batch_alter_table("hf_pause", schema=None) as batch_op:
        batch_op.create_index("ix_hf_pause_case_id", ["case_id"], unique=False)
        batch_op.create_index("ix_hf_pause_task_id", ["task_id"], unique=False)

    op.create_table(
        "hf_signal",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("deadline_id", sa.String(length=36), nullable=False),
        sa.Column("case_id", sa.String(length=36), nullable=False),
        sa.Column("task_id", sa.String(length=36), nullable=True),
        sa.Column("scope", sa.String(length=8), nullable=False),
        sa.Column("step", sa.String(length=255), nullable=True),
        sa.Column("name", sa.String(length=16), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("trigger", sa.String(length=32), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("claimed_by", sa.String(length=255), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("fired_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("rev", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hf_signal")),
        sa.UniqueConstraint("deadline_id", "name", name="uq_hf_signal_deadline_name"),
    )
    with op.batch_alter_table("hf_signal", schema=None) as batch_op:
        batch_op.create_index("ix_hf_signal_case_id", ["case_id"], unique=False)
        batch_op.create_index("ix_hf_signal_deadline_id", ["deadline_id"], unique=False)
        batch_op.create_index("ix_hf_signal_due", ["state", "due_at"], unique=False)


def downgrade() -> None:

    with op.batch_alter_table("hf_signal", schema=None) as batch_op:
        batch_op.drop_index("ix_hf_signal_due")
        batch_op.drop_index("ix_hf_signal_deadline_id")
        batch_op.drop_index("ix_hf_signal_case_id")

    op.drop_table("hf_signal")
    with op.batch_alter_table("hf_pause", schema=None) as batch_op:
        batch_op.drop_index("ix_hf_pause_task_id")
        batch_op.drop_index("ix_hf_pause_case_id")

    op.drop_table("hf_pause")
    with op.batch_alter_table("hf_extension", schema=None) as batch_op:
        batch_op.drop_index("ix_hf_extension_task_id")

    op.drop_table("hf_extension")
    with op.batch_alter_table("hf_deadline", schema=None) as batch_op:
        batch_op.drop_index("ix_hf_deadline_open")
        batch_op.drop_index("ix_hf_deadline_case_id")

    op.drop_table("hf_deadline")
    op.drop_table("hf_calendar")
