"""Department events pushed for households (service.events).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07

Frozen like 0001: nothing from `service` is imported.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "household_events",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("event_id", sa.String(64), nullable=False),
        sa.Column("household_pseudonym", sa.String(64), nullable=False),
        sa.Column("region_code", sa.String(12), nullable=False),
        sa.Column("event_type", sa.String(32), nullable=False),
        sa.Column("event_date", sa.Date(), nullable=False),
        sa.Column("row", JSON, nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("key_id", sa.Integer(), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["key_id"], ["api_keys.id"], name=op.f("fk_household_events_key_id_api_keys"), ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_household_events")),
        sa.UniqueConstraint("event_id", name=op.f("uq_household_events_event_id")),
    )
    op.create_index("ix_household_events_household", "household_events", ["household_pseudonym", "event_date"])
    op.create_index(
        "ix_household_events_region",
        "household_events",
        ["region_code", "id"],
        postgresql_ops={"region_code": "varchar_pattern_ops"},
    )
    op.create_index(op.f("ix_household_events_key_id"), "household_events", ["key_id"])


def downgrade() -> None:
    op.drop_table("household_events")
