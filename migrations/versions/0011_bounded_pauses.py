"""bounded pauses: a pause's kind, note, 一次性告知 and the instant its declared limit passes

hf_pause gets `kind` (the step's declared hf:specialProcedure kind of a special-procedure pause),
`note` (why a step was suspended), `notice` and `materials` (the 一次性告知 of a supplement pause:
what must be corrected, the material ids as a JSON list), `limit_at` (when the special procedure's
declared limit or the county's suspend limit passes), `overrun_signal_id` (the signal that fires
then) and `overrun_at` (a special procedure past its limit: from `limit_at` its step's time counts
again). Rows made before this revision keep NULL: unbounded, as they were. The downgrade drops the
columns: the notices and bounds are lost, no pause.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_COLUMNS = ("kind", "note", "notice", "materials", "limit_at", "overrun_signal_id", "overrun_at")


def upgrade() -> None:
    with op.batch_alter_table("hf_pause", schema=None) as batch_op:
        batch_op.add_column(sa.Column("kind", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("note", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("notice", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("materials", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("limit_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("overrun_signal_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("overrun_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("hf_pause", schema=None) as batch_op:
        for name in reversed(_COLUMNS):
            batch_op.drop_column(name)
