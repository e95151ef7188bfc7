"""Monitoring status: each stored score says whether the household was already a monitoring object on `as_of`.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-07

Frozen like 0001: nothing from `service` is imported. Scores, latest scores and runs stored before this revision
read `unknown` (the service did not record the status then); the other columns are NULL. Every column is added
with a constant default or none: a plain ALTER TABLE on both backends, no copy of the scores.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_STATUS_TABLES = ("score_records", "latest_scores", "household_runs")
_SCORE_DETAILS = ("monitoring_type", "monitoring_risk_types", "identified_date", "elimination_date", "elimination_way")


def _status() -> sa.Column:
    return sa.Column("monitoring_status", sa.String(16), nullable=False, server_default="unknown")


def upgrade() -> None:
    for table in _STATUS_TABLES:
        op.add_column(table, _status())
    op.add_column("score_records", sa.Column("monitoring_type", sa.String(16), nullable=True))
    json_type = sa.JSON().with_variant(JSONB(), "postgresql")
    op.add_column("score_records", sa.Column("monitoring_risk_types", json_type, nullable=True))
    op.add_column("score_records", sa.Column("identified_date", sa.Date(), nullable=True))
    op.add_column("score_records", sa.Column("elimination_date", sa.Date(), nullable=True))
    op.add_column("score_records", sa.Column("elimination_way", sa.String(16), nullable=True))
    op.add_column("latest_scores", sa.Column("identified_date", sa.Date(), nullable=True))


def downgrade() -> None:
    # SQLite (3.35+) drops a plain column in place; Alembic's batch mode would copy the table, which the
    # foreign keys pointing at score_records refuse.
    op.execute("ALTER TABLE latest_scores DROP COLUMN identified_date")
    for column in _SCORE_DETAILS:
        op.execute(f"ALTER TABLE score_records DROP COLUMN {column}")
    for table in _STATUS_TABLES:
        op.execute(f"ALTER TABLE {table} DROP COLUMN monitoring_status")
