"""live signal index: hf_signal's (state, due_at) index holds pending and claimed rows only

ix_hf_signal_due indexed every signal ever stored. A step's end moves its four cancelled signals
from the pending to the cancelled part of that index (several index pages rewritten per step), and
the index grew with the history instead of with the open work. ix_hf_signal_live is the same index
restricted to `state IN ('pending', 'claimed')`, the only states the sweeper looks for; its queries
carry that condition (`db.models.live_signal`) so SQLite and PostgreSQL may use it.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LIVE = "state IN ('pending', 'claimed')"


def upgrade() -> None:
    with op.batch_alter_table("hf_signal", schema=None) as batch_op:
        batch_op.drop_index("ix_hf_signal_due")
        batch_op.create_index(
            "ix_hf_signal_live",
            ["state", "due_at"],
            unique=False,
            sqlite_where=sa.text(LIVE),
            postgresql_where=sa.text(LIVE),
        )


def downgrade() -> None:
    with op.batch_alter_table("hf_signal", schema=None) as batch_op:
        batch_op.drop_index("ix_hf_signal_live")
        batch_op.create_index("ix_hf_signal_due", ["state", "due_at"], unique=False)
