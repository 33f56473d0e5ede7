"""supervision: cards (红黄牌) with their supervision records, and the outbox

hf_card holds one row per (case, step instance, colour) with the record's state; hf_card_transition
keeps every step of the record (never deleted); hf_outbox is what consumers read with a cursor.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29 16:20:12.780604
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("hf_case", schema=None) as batch_op:
        batch_op.create_index("ix_hf_case_open_timer", ["state", "next_timer_at"], unique=False)

    op.create_table(
        "hf_card",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("signal_id", sa.Integer(), nullable=False),
        sa.Column("deadline_id", sa.String(length=36), nullable=False),
        sa.Column("case_id", sa.String(length=36), nullable=False),
        sa.Column("task_id", sa.String(length=36), nullable=True),
        sa.Column("scope", sa.String(length=8), nullable=False),
        sa.Column("step", sa.String(length=255), nullable=True),
        sa.Column("color", sa.String(length=8), nullable=False),
        sa.Column("trigger", sa.String(length=32), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("handler", sa.String(length=32), nullable=False),
        sa.Column("department", sa.String(length=64), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("conclusion", sa.String(length=16), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("rev", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hf_card")),
        sa.UniqueConstraint("deadline_id", "color", name="uq_hf_card_deadline_color"),
        sa.UniqueConstraint("signal_id", name="uq_hf_card_signal_id"),
    )
    with op.batch_alter_table("hf_card", schema=None) as batch_op:
        batch_op.create_index("ix_hf_card_case_id", ["case_id", "issued_at"], unique=False)
        batch_op.create_index("ix_hf_card_state", ["state", "issued_at"], unique=False)

    op.create_table(
        "hf_card_transition",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("card_id", sa.String(length=36), nullable=False),
        sa.Column("case_id", sa.String(length=36), nullable=False),
        sa.Column("from_state", sa.String(length=16), nullable=True),
        sa.Column("to_state", sa.String(length=16), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("conclusion", sa.String(length=16), nullable=True),
        sa.Column("actor", sa.String(length=255), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hf_card_transition")),
    )
    with op.batch_alter_table("hf_card_transition", schema=None) as batch_op:
        batch_op.create_index("ix_hf_card_transition_card_id", ["card_id", "id"], unique=False)
        batch_op.create_index("ix_hf_card_transition_case_id", ["case_id"], unique=False)

    op.create_table(
        "hf_outbox",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("type", sa.String(length=32), nullable=False),
        sa.Column("case_id", sa.String(length=36), nullable=True),
        sa.Column("ref", sa.String(length=64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hf_outbox")),
    )
    with op.batch_alter_table("hf_outbox", schema=None) as batch_op:
        batch_op.create_index("ix_hf_outbox_case_id", ["case_id", "id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("hf_outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_hf_outbox_case_id")

    op.drop_table("hf_outbox")
    with op.batch_alter_table("hf_card_transition", schema=None) as batch_op:
        batch_op.drop_index("ix_hf_card_transition_case_id")
        batch_op.drop_index("ix_hf_card_transition_card_id")

    op.drop_table("hf_card_transition")
    with op.batch_alter_table("hf_card", schema=None) as batch_op:
        batch_op.drop_index("ix_hf_card_state")
        batch_op.drop_index("ix_hf_card_case_id")

    op.drop_table("hf_card")
    with op.batch_alter_table("hf_case", schema=None) as batch_op:
        batch_op.drop_index("ix_hf_case_open_timer")
