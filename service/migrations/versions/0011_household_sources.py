"""Household sources kept for re-scoring on events; deliveries ordered per household.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07

Frozen like 0001: nothing from `service` is imported. `household_sources` holds each scored household's ingested
contract rows (service.household_sources); `deliveries.subject` names what a delivery is about (a household
pseudonym, a job id), the key deliveries keep their order by. Deliveries queued before this revision have none
and are sent in id order as before.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "household_sources",
        sa.Column("region_code", sa.String(12), nullable=False),
        sa.Column("household_pseudonym", sa.String(64), nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("tables", JSON, nullable=False),
        sa.Column("stored_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("region_code", "household_pseudonym", name=op.f("pk_household_sources")),
    )
    op.create_index(op.f("ix_household_sources_stored_at"), "household_sources", ["stored_at"])
    op.add_column("deliveries", sa.Column("subject", sa.String(64), nullable=True))
    op.create_index("ix_deliveries_subject", "deliveries", ["subscription_id", "subject", "id"])


def downgrade() -> None:
    # SQLite (3.35+) drops a plain column in place; batch mode would copy the table.
    op.drop_index("ix_deliveries_subject", "deliveries")
    op.execute("ALTER TABLE deliveries DROP COLUMN subject")
    op.drop_table("household_sources")
