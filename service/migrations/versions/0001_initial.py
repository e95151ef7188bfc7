"""Initial schema: API keys, audit log, stored scores, batch jobs and their committed chunks.

Revision ID: 0001
Revises:
Create Date: 2026-11-28

Written by hand and frozen: it does not import `service.tables`, so later model changes cannot alter what this
revision creates. `tests/service/test_migrations.py` checks it matches the models.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
ROLES = "'monitor', 'official', 'scientist', 'admin'"
LEVELS = "'high', 'medium', 'low'"
STATUSES = "'queued', 'running', 'done', 'failed', 'cancelled'"


def _timestamp(name: str, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "api_keys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key_prefix", sa.String(16), nullable=False),
        sa.Column("secret_hash", sa.String(160), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("region_prefix", sa.String(12), nullable=False),
        sa.Column("label", sa.String(200), nullable=False),
        _timestamp("created_at"),
        _timestamp("revoked_at", nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_keys")),
        sa.UniqueConstraint("key_prefix", name=op.f("uq_api_keys_key_prefix")),
        sa.CheckConstraint(f"role IN ({ROLES})", name=op.f("ck_api_keys_role")),
    )
    op.create_table(
        "jobs",
        sa.Column("id", sa.Uuid(), nullable=False),
        _timestamp("created_at"),
        _timestamp("updated_at"),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("caller_key_id", sa.Integer(), nullable=True),
        sa.Column("region_prefix", sa.String(12), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("total_chunks", sa.Integer(), nullable=True),
        sa.Column("done_chunks", sa.Integer(), nullable=False),
        sa.Column("rows_done", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("options", JSON, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_jobs")),
        sa.ForeignKeyConstraint(
            ["caller_key_id"], ["api_keys.id"], name=op.f("fk_jobs_caller_key_id_api_keys"), ondelete="RESTRICT"
        ),
        sa.CheckConstraint(f"status IN ({STATUSES})", name=op.f("ck_jobs_status")),
    )
    op.create_index(op.f("ix_jobs_region_prefix"), "jobs", ["region_prefix"])
    op.create_index("ix_jobs_status_created", "jobs", ["status", "created_at"])

    op.create_table(
        "audit_entries",
        sa.Column("id", BIG_ID, nullable=False),
        _timestamp("at"),
        sa.Column("key_id", sa.Integer(), nullable=True),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("region_code", sa.String(12), nullable=False),
        sa.Column("household_pseudonym", sa.String(64), nullable=False),
        sa.Column("input_hash", sa.String(128), nullable=False),
        sa.Column("model_version", sa.String(64), nullable=False),
        sa.Column("probability", sa.Float(), nullable=False),
        sa.Column("level", sa.String(16), nullable=False),
        sa.Column("reasons", JSON, nullable=False),
        sa.Column("request_id", sa.String(64), nullable=True),
        sa.Column("job_id", sa.Uuid(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_entries")),
        sa.ForeignKeyConstraint(
            ["key_id"], ["api_keys.id"], name=op.f("fk_audit_entries_key_id_api_keys"), ondelete="RESTRICT"
        ),
        sa.ForeignKeyConstraint(
            ["job_id"], ["jobs.id"], name=op.f("fk_audit_entries_job_id_jobs"), ondelete="RESTRICT"
        ),
        sa.CheckConstraint(f"role IN ({ROLES})", name=op.f("ck_audit_entries_role")),
        sa.CheckConstraint(f"level IN ({LEVELS})", name=op.f("ck_audit_entries_level")),
    )
    op.create_index(op.f("ix_audit_entries_at"), "audit_entries", ["at"])
    op.create_index(op.f("ix_audit_entries_key_id"), "audit_entries", ["key_id"])
    op.create_index(op.f("ix_audit_entries_job_id"), "audit_entries", ["job_id"])
    op.create_index(op.f("ix_audit_entries_household_pseudonym"), "audit_entries", ["household_pseudonym"])
    op.create_index("ix_audit_entries_region_at", "audit_entries", ["region_code", "at"])

    op.create_table(
        "score_records",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("household_pseudonym", sa.String(64), nullable=False),
        sa.Column("region_code", sa.String(12), nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        _timestamp("scored_at"),
        sa.Column("model_version", sa.String(64), nullable=False),
        sa.Column("probability", sa.Float(), nullable=False),
        sa.Column("level", sa.String(16), nullable=False),
        sa.Column("reasons", JSON, nullable=False),
        sa.Column("measures", JSON, nullable=False),
        sa.Column("rule_flags", JSON, nullable=False),
        sa.Column("synthetic", sa.Boolean(), nullable=False),
        sa.Column("job_id", sa.Uuid(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_score_records")),
        sa.ForeignKeyConstraint(
            ["job_id"], ["jobs.id"], name=op.f("fk_score_records_job_id_jobs"), ondelete="RESTRICT"
        ),
        sa.CheckConstraint("probability >= 0 AND probability <= 1", name=op.f("ck_score_records_probability_range")),
        sa.CheckConstraint(f"level IN ({LEVELS})", name=op.f("ck_score_records_level")),
    )
    op.create_index("ix_score_records_household", "score_records", ["household_pseudonym", "as_of", "scored_at"])
    op.create_index(
        "ix_score_records_region",
        "score_records",
        ["region_code"],
        postgresql_ops={"region_code": "varchar_pattern_ops"},
    )
    op.create_index(op.f("ix_score_records_job_id"), "score_records", ["job_id"])

    op.create_table(
        "job_chunks",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("job_id", sa.Uuid(), nullable=False),
        sa.Column("chunk_index", sa.Integer(), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=False),
        _timestamp("committed_at"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_job_chunks")),
        sa.ForeignKeyConstraint(["job_id"], ["jobs.id"], name=op.f("fk_job_chunks_job_id_jobs"), ondelete="CASCADE"),
        sa.UniqueConstraint("job_id", "chunk_index", name="uq_job_chunks_job_chunk"),
    )


def downgrade() -> None:
    op.drop_table("job_chunks")
    op.drop_table("score_records")  # its indexes go with it
    op.drop_table("audit_entries")
    op.drop_table("jobs")
    op.drop_table("api_keys")
