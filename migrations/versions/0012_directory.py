"""directory: the county's departments, users and roles (DESIGN §8)

hf_directory stores each loaded directory file (`hennan-flow directory load`) like hf_calendar does
calendar files: the newest row is the directory in force. hf_event gets `role`, the role the actor
acted in; hf_task gets `claimed_by`, the user who claimed the step (NULL: in the department queue).
The downgrade drops them: the loaded directories, event roles and claims are lost.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "hf_directory",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("version", sa.String(128), nullable=False, unique=True),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("loaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("loaded_by", sa.String(255), nullable=True),
    )
    op.add_column("hf_event", sa.Column("role", sa.String(32), nullable=True))
    op.add_column("hf_task", sa.Column("claimed_by", sa.String(255), nullable=True))


def downgrade() -> None:
    op.drop_column("hf_task", "claimed_by")
    op.drop_column("hf_event", "role")
    op.drop_table("hf_directory")
