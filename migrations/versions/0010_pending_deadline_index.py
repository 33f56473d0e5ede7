"""pending-deadline index: the sweep's calendar block reads open pending deadlines only

Every sweep reports how many open deadlines wait for calendar data and which years they need
(DESIGN §7). A partial index over open pending rows (few, and only near the end of the data) lets it
read just those; a step whose deadlines are all computed, the hot path, never enters it.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_hf_deadline_pending",
        "hf_deadline",
        ["accepted_at"],
        sqlite_where=sa.text("pending = 1 AND closed_at IS NULL"),
        postgresql_where=sa.text("pending AND closed_at IS NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_hf_deadline_pending", table_name="hf_deadline")
