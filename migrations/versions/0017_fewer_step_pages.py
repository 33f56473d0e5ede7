"""fewer pages a step writes: the outbox's case index and the work queue's case index slimmed

Every commit writes each page it changed to SQLite's log (and PostgreSQL's WAL), and every index a
row enters is at least one more page. Two indexes a step maintains served no read that needs them:

- `ix_hf_outbox_case_id` (case_id, id): the outbox is read by id (`Engine.events`, the exchange
  export; a reader's case filter looks each row's case up in hf_case and hf_task, not here). The one
  lookup by case is the calendar announcement's `case_id IS NULL` (once a year): it gets a partial
  index over the rows without a case, `ix_hf_outbox_unowned`, which a case's events never enter.
  1.46 pages of the 17.4 a 10-step case's transaction wrote.
- `ix_hf_task_case_id` (case_id, state) becomes (case_id): a case's steps are found by its id
  (a handful of rows, their state checked in the row), and a step's end no longer moves its entry.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-08
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UNOWNED = "case_id IS NULL"


def upgrade() -> None:
    op.drop_index("ix_hf_outbox_case_id", table_name="hf_outbox")
    op.create_index(
        "ix_hf_outbox_unowned",
        "hf_outbox",
        ["type", "ref"],
        sqlite_where=sa.text(UNOWNED),
        postgresql_where=sa.text(UNOWNED),
    )
    op.drop_index("ix_hf_task_case_id", table_name="hf_task")
    op.create_index("ix_hf_task_case_id", "hf_task", ["case_id"])


def downgrade() -> None:
    op.drop_index("ix_hf_task_case_id", table_name="hf_task")
    op.create_index("ix_hf_task_case_id", "hf_task", ["case_id", "state"])
    op.drop_index("ix_hf_outbox_unowned", table_name="hf_outbox")
    op.create_index("ix_hf_outbox_case_id", "hf_outbox", ["case_id", "id"])
