"""Home visits: what a visitor found at a household, append-only (service.visits).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07

Frozen like 0001: nothing from `service` is imported.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "visits",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("household_pseudonym", sa.String(64), nullable=False),
        sa.Column("region_code", sa.String(12), nullable=False),
        sa.Column("visited_on", sa.Date(), nullable=False),
        sa.Column("visitor_role", sa.String(24), nullable=False),
        sa.Column("visitor_grid", sa.String(32), nullable=True),
        sa.Column("list_version", sa.String(64), nullable=True),
        sa.Column("list_rank", sa.Integer(), nullable=True),
        sa.Column("outcome", sa.String(24), nullable=False),
        sa.Column("monitoring_type", sa.String(16), nullable=True),
        sa.Column("risk_types", JSON, nullable=False),
        sa.Column("measures_started", JSON, nullable=False),
        sa.Column("next_review_on", sa.Date(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("corrects_id", BIG_ID, nullable=True),
        sa.Column("key_id", sa.Integer(), nullable=True),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["corrects_id"], ["visits.id"], name=op.f("fk_visits_corrects_id_visits")),
        sa.ForeignKeyConstraint(
            ["key_id"], ["api_keys.id"], name=op.f("fk_visits_key_id_api_keys"), ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_visits")),
    )
    op.create_index("ix_visits_household", "visits", ["household_pseudonym", "visited_on"])
    op.create_index(
        "ix_visits_region", "visits", ["region_code", "id"], postgresql_ops={"region_code": "varchar_pattern_ops"}
    )
    op.create_index(op.f("ix_visits_key_id"), "visits", ["key_id"])


def downgrade() -> None:
    op.drop_table("visits")  # its indexes go with it
