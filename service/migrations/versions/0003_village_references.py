"""The villages reference: versions of the villages table the service profiles documents with, and the version
each stored score was computed with; report sessions ended by logout; the readiness check's write probe.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-06

Frozen like 0001: nothing from `service` is imported. Scores stored before this revision keep a NULL
`context_version` (their context came from the request, as the service computed it then).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "village_references",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("digest", sa.String(80), nullable=False),
        sa.Column("origin", sa.String(200), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_village_references")),
    )
    op.create_table(
        "health_probe",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("written_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_health_probe")),
    )
    op.create_table(
        "ended_sessions",
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("digest", name=op.f("pk_ended_sessions")),
    )
    op.create_index(op.f("ix_ended_sessions_expires_at"), "ended_sessions", ["expires_at"])
    # A nullable column without a default: a plain ALTER TABLE on both backends, no copy of the scores.
    op.add_column("score_records", sa.Column("context_version", sa.String(32), nullable=True))


def downgrade() -> None:
    # SQLite (3.35+) drops a plain column in place; Alembic's batch mode would copy the table, which the
    # foreign keys pointing at score_records refuse.
    op.execute("ALTER TABLE score_records DROP COLUMN context_version")
    op.drop_table("village_references")
    op.drop_table("ended_sessions")  # its index goes with it
    op.drop_table("health_probe")
