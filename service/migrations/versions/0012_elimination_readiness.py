"""Elimination readiness: each stored score of a current monitoring object says which elimination conditions it meets.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07

Frozen like 0001: nothing from `service` is imported. Scores stored before this revision read NULL (no readiness
was derived then). One nullable column: a plain ALTER TABLE on both backends, no copy of the scores.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.add_column("score_records", sa.Column("elimination_readiness", JSON, nullable=True))


def downgrade() -> None:
    # SQLite (3.35+) drops a plain column in place; batch mode would copy the table, which the foreign keys
    # pointing at score_records refuse.
    op.execute("ALTER TABLE score_records DROP COLUMN elimination_readiness")
