"""open-deadline index drift: drop ix_hf_deadline_open where an early 0005 left it

Revision 0005 was changed after it shipped: the shipped version kept ix_hf_deadline_open (closed_at,
pending), the changed one drops it. A database upgraded with the shipped 0005 still has the index,
so `alembic check` wanted to drop it and `downgrade 0004` failed (0005's downgrade creates it again).
This revision drops it where it exists and leaves 0005 as it is now (shipped revisions are never
edited again: tests/test_migrations.py checks each against migrations/shipped.sha256). After it,
both histories have the same schema; its downgrade changes nothing, so 0005's downgrade finds no
index and creates it.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("DROP INDEX IF EXISTS ix_hf_deadline_open")


def downgrade() -> None:
    pass  # both histories stand at 0007 without the index, as the current 0005 leaves them
