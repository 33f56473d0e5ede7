"""exchange cursor: how far each GB/T 39046 push target has been delivered (DESIGN §10)

hf_exchange_cursor holds, per target name (`hennan-flow exchange push --target NAME`), the id of the
last outbox event whose data-set records the target acknowledged with a 2xx answer. The downgrade
drops it: the next push after an upgrade starts again from the first outbox event (the receiver
deduplicates by record id, so nothing is counted twice).

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "hf_exchange_cursor",
        sa.Column("target", sa.String(255), primary_key=True),
        sa.Column("cursor", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("records", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("hf_exchange_cursor")
