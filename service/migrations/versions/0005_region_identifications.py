"""Identifications per village and year from batch jobs' source data: last years' actual counts for region pages.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07

Frozen like 0001: nothing from `service` is imported. Empty after the upgrade: the next job over a region fills it.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "region_identifications",
        sa.Column("region_code", sa.String(12), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("identifications", sa.Integer(), nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("job_id", sa.Uuid(), nullable=True),
        sa.Column("counted_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("region_code", "year", name=op.f("pk_region_identifications")),
    )


def downgrade() -> None:
    op.drop_table("region_identifications")
