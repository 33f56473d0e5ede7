"""engine core: definitions, cases, tasks, audit log

Revision ID: 0001
Revises:
Create Date: 2026-11-29 15:56:09.605815
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "hf_definition",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("source_file", sa.Text(), nullable=False),
        sa.Column("bpmn", sa.Text(), nullable=False),
        sa.Column("forms", sa.Text(), nullable=False),
        sa.Column("deployed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deployed_by", sa.String(length=255), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hf_definition")),
        sa.UniqueConstraint("key", "version", name="uq_hf_definition_key_version"),
    )
    with op.batch_alter_table("hf_definition", schema=None) as batch_op:
        batch_op.create_index("ix_hf_definition_key_hash", ["key", "content_hash"], unique=False)

    op.create_table(
        "hf_event",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("case_id", sa.String(length=36), nullable=True),
        sa.Column("task_id", sa.String(length=36), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("type", sa.String(length=64), nullable=False),
        sa.Column("step", sa.String(length=255), nullable=True),
        sa.Column("actor", sa.String(length=255), nullable=True),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hf_event")),
    )
    with op.batch_alter_table("hf_event", schema=None) as batch_op:
        batch_op.create_index("ix_hf_event_case_id", ["case_id", "id"], unique=False)

    op.create_table(
        "hf_meta",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_hf_meta")),
    )
    op.create_table(
        "hf_case",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("definition_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("applicant", sa.Text(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("started_by", sa.String(length=255), nullable=True),
        sa.Column("rev", sa.Integer(), nullable=False),
        sa.Column("spiff_version", sa.String(length=32), nullable=False),
        sa.Column("wf_state", sa.Text(), nullable=False),
        sa.Column("next_timer_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["definition_id"], ["hf_definition.id"], name=op.f("fk_hf_case_definition_id_hf_definition")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hf_case")),
    )
    with op.batch_alter_table("hf_case", schema=None) as batch_op:
        batch_op.create_index("ix_hf_case_next_timer_at", ["next_timer_at"], unique=False)
        batch_op.create_index("ix_hf_case_state", ["state"], unique=False)

    op.create_table(
        "hf_task",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("case_id", sa.String(length=36), nullable=False),
        sa.Column("step", sa.String(length=255), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("department", sa.String(length=64), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("ready_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("actor", sa.String(length=255), nullable=True),
        sa.ForeignKeyConstraint(["case_id"], ["hf_case.id"], name=op.f("fk_hf_task_case_id_hf_case")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hf_task")),
    )
    with op.batch_alter_table("hf_task", schema=None) as batch_op:
        batch_op.create_index("ix_hf_task_case_id", ["case_id", "state"], unique=False)
        batch_op.create_index("ix_hf_task_department", ["department", "state"], unique=False)


def downgrade() -> None:

    with op.batch_alter_table("hf_task", schema=None) as batch_op:
        batch_op.drop_index("ix_hf_task_department")
        batch_op.drop_index("ix_hf_task_case_id")

    op.drop_table("hf_task")
    with op.batch_alter_table("hf_case", schema=None) as batch_op:
        batch_op.drop_index("ix_hf_case_state")
        batch_op.drop_index("ix_hf_case_next_timer_at")

    op.drop_table("hf_case")
    op.drop_table("hf_meta")
    with op.batch_alter_table("hf_event", schema=None) as batch_op:
        batch_op.drop_index("ix_hf_event_case_id")

    op.drop_table("hf_event")
    with op.batch_alter_table("hf_definition", schema=None) as batch_op:
        batch_op.drop_index("ix_hf_definition_key_hash")

    op.drop_table("hf_definition")
