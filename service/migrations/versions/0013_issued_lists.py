"""Issued work lists: each list as handed out, with the probability its design gave each listed household.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07

Frozen like 0001: nothing from `service` is imported. Two new tables; nothing existing changes.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "issued_lists",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("list_version", sa.String(64), nullable=False),
        sa.Column("region_code", sa.String(12), nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("per_village", sa.Integer(), nullable=False),
        sa.Column("exploration_share", sa.Float(), nullable=False),
        sa.Column("seed", sa.BigInteger(), nullable=False),
        sa.Column("key_id", sa.Integer(), nullable=True),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["key_id"], ["api_keys.id"], name=op.f("fk_issued_lists_key_id_api_keys"), ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_issued_lists")),
        sa.UniqueConstraint("list_version", name=op.f("uq_issued_lists_list_version")),
    )
    op.create_index(op.f("ix_issued_lists_region_code"), "issued_lists", ["region_code"])
    op.create_index(op.f("ix_issued_lists_key_id"), "issued_lists", ["key_id"])
    op.create_table(
        "issued_list_rows",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("list_id", BIG_ID, nullable=False),
        sa.Column("household_pseudonym", sa.String(64), nullable=False),
        sa.Column("region_code", sa.String(12), nullable=False),
        sa.Column("rank", sa.Integer(), nullable=False),
        sa.Column("score_id", BIG_ID, nullable=False),
        sa.Column("model_version", sa.String(64), nullable=False),
        sa.Column("probability", sa.Float(), nullable=False),
        sa.Column("selection_probability", sa.Float(), nullable=False),
        sa.Column("explored", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["list_id"], ["issued_lists.id"], name=op.f("fk_issued_list_rows_list_id_issued_lists"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_issued_list_rows")),
        sa.UniqueConstraint("list_id", "household_pseudonym", name=op.f("uq_issued_list_rows_list_id")),
    )
    op.create_index("ix_issued_list_rows_household", "issued_list_rows", ["household_pseudonym"])


def downgrade() -> None:
    op.drop_table("issued_list_rows")  # its indexes go with it
    op.drop_table("issued_lists")
