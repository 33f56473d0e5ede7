"""supervision records: phase deadlines, accountability entries and referrals (DESIGN §9)

hf_card_phase holds each phase of a card's record (核查 verify, 整改 rectify, 上级复核 review, 回访
revisit) with its deadline in working days from its start; its `record_overdue` signal is an
hf_signal row (kind `record`, deadline_id the phase id) the sweeper fires like any other.
hf_card_account holds the accountability entries (责任追究) of a card, hf_referral the referrals to
纪检监察机关 an entry 移送纪检监察机关 opens, closed with their outcome. The downgrade drops them:
the phases, entries and referrals are lost.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "hf_card_phase",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("card_id", sa.String(36), nullable=False),
        sa.Column("case_id", sa.String(36), nullable=False),
        sa.Column("phase", sa.String(16), nullable=False),
        sa.Column("within", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("overdue_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_hf_card_phase_card_id", "hf_card_phase", ["card_id", "started_at"])
    op.create_table(
        "hf_card_account",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("card_id", sa.String(36), nullable=False),
        sa.Column("case_id", sa.String(36), nullable=False),
        sa.Column("person", sa.Text(), nullable=False),
        sa.Column("measure", sa.String(16), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("actor", sa.String(255), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_hf_card_account_card_id", "hf_card_account", ["card_id", "at"])
    op.create_table(
        "hf_referral",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("account_id", sa.String(36), nullable=False),
        sa.Column("card_id", sa.String(36), nullable=False),
        sa.Column("case_id", sa.String(36), nullable=False),
        sa.Column("department", sa.String(64), nullable=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("outcome", sa.Text(), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_by", sa.String(255), nullable=True),
        sa.Column("rev", sa.Integer(), nullable=False),
        sa.UniqueConstraint("account_id", name="uq_hf_referral_account_id"),
    )
    op.create_index("ix_hf_referral_state", "hf_referral", ["state", "opened_at"])


def downgrade() -> None:
    op.drop_index("ix_hf_referral_state", table_name="hf_referral")
    op.drop_table("hf_referral")
    op.drop_index("ix_hf_card_account_card_id", table_name="hf_card_account")
    op.drop_table("hf_card_account")
    op.drop_index("ix_hf_card_phase_card_id", table_name="hf_card_phase")
    op.drop_table("hf_card_phase")
