"""task document order: steps that become ready together are listed in document order

hf_task gets `doc_order`, the place of the step's element in its BPMN document
(runtime.workflow.UserTask.order), stored when the step becomes ready; work queues are ordered by
(ready_at, doc_order, id), so parallel steps come out in one order every run (issue 29). Rows made
before this revision keep NULL (listed after placed rows of the same instant, then by id). The
downgrade drops the column: only that ordering is lost, no record.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("hf_task", sa.Column("doc_order", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    op.drop_column("hf_task", "doc_order")
