"""state fragments: a case's SpiffWorkflow tasks stored one row each; redundant indexes dropped

A step rewrites only the task fragments it changed (hf_case_task) instead of the whole state text.
Existing cases keep their whole state in hf_case.wf_state and are split on their next step.
The downgrade joins every case's fragments back into hf_case.wf_state before dropping the table.

Dropped, to write fewer index pages per step: ix_hf_case_state and ix_hf_case_next_timer_at
(ix_hf_case_open_timer (state, next_timer_at) serves both), ix_hf_signal_deadline_id (the unique
(deadline_id, name) constraint serves it), ix_hf_signal_case_id and ix_hf_deadline_case_id (no query
reads signals or deadlines by case; they are read by owner), ix_hf_deadline_open (only a new calendar,
once a year, looks for open deadlines; it reads the table). On SQLite hf_task and hf_deadline become
WITHOUT ROWID tables (one B-tree each instead of a table and its key index).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "hf_case_task",
        sa.Column("case_id", sa.String(length=36), nullable=False),
        sa.Column("task_id", sa.String(length=36), nullable=False),
        sa.Column("doc", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("case_id", "task_id", name=op.f("pk_hf_case_task")),
        sqlite_with_rowid=False,
    )
    with op.batch_alter_table("hf_case", schema=None) as batch_op:
        batch_op.drop_index("ix_hf_case_state")
        batch_op.drop_index("ix_hf_case_next_timer_at")
    with op.batch_alter_table("hf_signal", schema=None) as batch_op:
        batch_op.drop_index("ix_hf_signal_deadline_id")
        batch_op.drop_index("ix_hf_signal_case_id")
    with op.batch_alter_table("hf_deadline", schema=None) as batch_op:
        batch_op.drop_index("ix_hf_deadline_case_id")
        batch_op.drop_index("ix_hf_deadline_open")
    if op.get_bind().dialect.name == "sqlite":  # keyed by text ids: store them as their key's B-tree
        for table in ("hf_task", "hf_deadline"):
            with op.batch_alter_table(table, recreate="always", table_kwargs={"sqlite_with_rowid": False}):
                pass


def _whole(top: str, fragments: dict[str, str]) -> str:
    """The state document with its task map (parent-first, as SpiffWorkflow restores data)."""
    order, queue = [], [json.loads(top)["root"]]
    while queue:
        task_id = queue.pop(0)
        if task_id in fragments:
            order.append(task_id)
            queue.extend(json.loads(fragments[task_id])["children"])
    body = ", ".join(f"{json.dumps(t)}: {fragments[t]}" for t in order)
    return top[:-1] + ', "tasks": {' + body + "}}"


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        for table in ("hf_task", "hf_deadline"):
            with op.batch_alter_table(table, recreate="always", table_kwargs={"sqlite_with_rowid": True}):
                pass
    cases: dict[str, dict[str, str]] = {}
    for case_id, task_id, doc in bind.execute(sa.text("SELECT case_id, task_id, doc FROM hf_case_task")):
        cases.setdefault(case_id, {})[task_id] = doc
    for case_id, fragments in cases.items():
        top = bind.execute(
            sa.text("SELECT wf_state FROM hf_case WHERE id = :id"), {"id": case_id}
        ).scalar_one()
        bind.execute(
            sa.text("UPDATE hf_case SET wf_state = :state WHERE id = :id"),
            {"state": _whole(top, fragments), "id": case_id},
        )
    with op.batch_alter_table("hf_deadline", schema=None) as batch_op:
        batch_op.create_index("ix_hf_deadline_case_id", ["case_id"], unique=False)
        batch_op.create_index("ix_hf_deadline_open", ["closed_at", "pending"], unique=False)
    with op.batch_alter_table("hf_signal", schema=None) as batch_op:
        batch_op.create_index("ix_hf_signal_case_id", ["case_id"], unique=False)
        batch_op.create_index("ix_hf_signal_deadline_id", ["deadline_id"], unique=False)
    with op.batch_alter_table("hf_case", schema=None) as batch_op:
        batch_op.create_index("ix_hf_case_next_timer_at", ["next_timer_at"], unique=False)
        batch_op.create_index("ix_hf_case_state", ["state"], unique=False)
    op.drop_table("hf_case_task")
