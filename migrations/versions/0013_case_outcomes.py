"""case outcomes: 不予受理 / 不予许可, withdrawals and returns (退回), with their reasons (DESIGN §10)

hf_outcome keeps one row per outcome: a case refused (stage acceptance or decision, with its reason
and, for a decision, its legal basis), withdrawn (with its reason), or a step returned to an earlier
step (the step instance, the step it went back to, the reason). Reasons and bases are free text
written by staff: sealed at rest like the other notes (sealing.py). Case states gain `refused` and
`withdrawn` (hf_case.state is a plain string: no schema change). The downgrade drops the table:
the recorded reasons are lost (refused and withdrawn cases keep their state).

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "hf_outcome",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("case_id", sa.String(36), nullable=False),
        sa.Column("task_id", sa.String(36), nullable=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("stage", sa.String(16), nullable=True),
        sa.Column("step", sa.String(255), nullable=True),
        sa.Column("to_step", sa.String(255), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("basis", sa.Text(), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(255), nullable=True),
    )
    op.create_index("ix_hf_outcome_case_id", "hf_outcome", ["case_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_hf_outcome_case_id", table_name="hf_outcome")
    op.drop_table("hf_outcome")
