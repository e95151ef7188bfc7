"""Identification probability: each stored score keeps the second output beside the probability of need.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07

Frozen like 0001: nothing from `service` is imported. Scores stored before this revision read NULL (no second
output was given then). One nullable column: a plain ALTER TABLE on both backends, no copy of the scores.
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
    op.add_column("score_records", sa.Column("identification_probability", sa.Float(), nullable=True))


def downgrade() -> None:
    # SQLite (3.35+) drops a plain column in place; batch mode would copy the table, which the foreign keys
    # pointing at score_records refuse.
    op.execute("ALTER TABLE score_records DROP COLUMN identification_probability")
