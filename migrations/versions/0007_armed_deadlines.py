"""armed deadlines: a step's signals ride on its deadline row until they are needed

Every step stored four hf_signal rows when it became ready and cancelled them when it ended, most
of them long before any came due: about a third of a short case's write time. A deadline row now
carries its signals' instants (`notice_due`, `yellow_light_due`, `yellow_due`, `red_due`, and
`red_trigger`) and is *armed* with the earliest of them (`arm_at`, indexed over armed rows only);
the sweeper stores them as hf_signal rows when that instant comes, and anything else that needs the
rows (a pause, an extension, a new calendar, a late end) stores them first. A step that ends in
time leaves them on its row, cancelled. Existing deadlines keep their rows (arm_at NULL).

The downgrade stores every riding signal as the hf_signal row it stood for: pending while armed,
cancelled when its step ended before any came due.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-29
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ARMED = "arm_at IS NOT NULL"
DUE = ("notice_due", "yellow_light_due", "yellow_due", "red_due")
# column → (name, kind, trigger) of the signal it holds, in the order the engine stores them
SIGNALS = {
    "notice_due": ("notice", "signal", "'notice_before'"),
    "yellow_light_due": ("yellow_light", "signal", "'yellow_light_at'"),
    "yellow_due": ("yellow", "card", "'promised_passed'"),
    "red_due": ("red", "card", "COALESCE(red_trigger, 'overdue_workdays')"),
}


def upgrade() -> None:
    with op.batch_alter_table("hf_deadline", schema=None) as batch_op:
        batch_op.add_column(sa.Column("arm_at", sa.DateTime(timezone=True), nullable=True))
        for column in DUE:
            batch_op.add_column(sa.Column(column, sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("red_trigger", sa.String(length=32), nullable=True))
        batch_op.create_index(
            "ix_hf_deadline_arm",
            ["arm_at"],
            unique=False,
            sqlite_where=sa.text(ARMED),
            postgresql_where=sa.text(ARMED),
        )


def downgrade() -> None:
    for column, (name, kind, trigger) in SIGNALS.items():
        op.execute(
            "INSERT INTO hf_signal (deadline_id, case_id, task_id, scope, step, name, kind, trigger, due_at,"
            f" state, rev) SELECT id, case_id, task_id, scope, step, '{name}', '{kind}', {trigger}, {column},"
            f" CASE WHEN {ARMED} THEN 'pending' ELSE 'cancelled' END, CASE WHEN {ARMED} THEN 0 ELSE 1 END"
            f" FROM hf_deadline WHERE {column} IS NOT NULL ORDER BY id"
        )
    with op.batch_alter_table("hf_deadline", schema=None) as batch_op:
        batch_op.drop_index("ix_hf_deadline_arm")
        for column in ("arm_at", *DUE, "red_trigger"):
            batch_op.drop_column(column)
