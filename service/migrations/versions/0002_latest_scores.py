"""Narrow tables for region reports: each household's latest score per village, and the households of each run.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28

`latest_scores` holds, for every (village, household), the score with the largest (as_of, scored_at, id), with
the columns region summaries need (probability, level, synthetic, whether a rule flag is raised, the distinct
reason keys as a short JSON list); `household_runs` one row per (as_of, level, household, village) that has a
score. From this revision on the service writes both with every score (`service._scores.write_summaries`); the
upgrade fills them from the scores already stored. Frozen like 0001: nothing from `service` is imported, so
the two helpers below repeat what `service._scores` computes (a migration test checks they agree).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
LEVELS = "'high', 'medium', 'low'"
BATCH = 5000


def upgrade() -> None:
    op.create_table(
        "latest_scores",
        sa.Column("region_code", sa.String(12), nullable=False),
        sa.Column("household_pseudonym", sa.String(64), nullable=False),
        sa.Column("score_id", BIG_ID, nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("scored_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("probability", sa.Float(), nullable=False),
        sa.Column("level", sa.String(16), nullable=False),
        sa.Column("synthetic", sa.Boolean(), nullable=False),
        sa.Column("any_rule_flag", sa.Boolean(), nullable=False),
        sa.Column("reason_keys", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("region_code", "household_pseudonym", name=op.f("pk_latest_scores")),
        sa.ForeignKeyConstraint(
            ["score_id"],
            ["score_records.id"],
            name=op.f("fk_latest_scores_score_id_score_records"),
            ondelete="RESTRICT",
        ),
        sa.UniqueConstraint("score_id", name=op.f("uq_latest_scores_score_id")),
        sa.CheckConstraint(f"level IN ({LEVELS})", name=op.f("ck_latest_scores_level")),
    )
    op.create_index(
        "ix_latest_scores_region",
        "latest_scores",
        ["region_code"],
        postgresql_ops={"region_code": "varchar_pattern_ops"},
    )
    op.create_table(
        "household_runs",
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("level", sa.String(16), nullable=False),
        sa.Column("household_pseudonym", sa.String(64), nullable=False),
        sa.Column("region_code", sa.String(12), nullable=False),
        sa.PrimaryKeyConstraint("as_of", "level", "household_pseudonym", "region_code", name=op.f("pk_household_runs")),
        sa.CheckConstraint(f"level IN ({LEVELS})", name=op.f("ck_household_runs_level")),
    )
    op.create_index(
        "ix_household_runs_region",
        "household_runs",
        ["region_code"],
        postgresql_ops={"region_code": "varchar_pattern_ops"},
    )
    # The region index of the scores gains the id: the report cache's fingerprint, a region's (count, largest
    # id), is then answered from the index alone on PostgreSQL too (SQLite's indexes carry the rowid anyway).
    op.drop_index("ix_score_records_region", table_name="score_records")
    op.create_index(
        "ix_score_records_region",
        "score_records",
        ["region_code", "id"],
        postgresql_ops={"region_code": "varchar_pattern_ops"},
    )
    _backfill(op.get_bind())


def downgrade() -> None:
    op.drop_table("household_runs")  # their indexes go with them
    op.drop_table("latest_scores")
    op.drop_index("ix_score_records_region", table_name="score_records")
    op.create_index(
        "ix_score_records_region",
        "score_records",
        ["region_code"],
        postgresql_ops={"region_code": "varchar_pattern_ops"},
    )


def reason_keys_text(reasons: Any) -> str:
    """As `service._scores.reason_keys_text`: the distinct reason keys in order, as a compact JSON list."""
    keys = dict.fromkeys(str(reason["key"]) for reason in reasons or [] if isinstance(reason, dict) and "key" in reason)
    return json.dumps(list(keys), ensure_ascii=False, separators=(",", ":"))


def any_rule_flag(rule_flags: Any) -> bool:
    """As `service._scores.any_rule_flag`: whether any flag of the JSON object is `true`."""
    return isinstance(rule_flags, dict) and any(value is True for value in rule_flags.values())


def _backfill(connection: sa.Connection) -> None:
    scores = sa.table(
        "score_records",
        *(
            sa.column(name)
            for name in ("id", "household_pseudonym", "region_code", "as_of", "scored_at", "probability", "level")
        ),
        sa.column("synthetic", sa.Boolean()),
        sa.column("reasons", sa.JSON()),
        sa.column("rule_flags", sa.JSON()),
    )
    runs = sa.table("household_runs", *(sa.column(n) for n in ("region_code", "as_of", "level", "household_pseudonym")))
    connection.execute(
        runs.insert().from_select(
            ["region_code", "as_of", "level", "household_pseudonym"],
            sa.select(scores.c.region_code, scores.c.as_of, scores.c.level, scores.c.household_pseudonym).distinct(),
        )
    )

    # The latest score of every (village, household), ranked in SQL; reasons and flags are reduced in Python
    # (JSON functions differ between the backends), streamed a batch at a time so memory stays flat.
    rank = (
        sa.func.row_number()
        .over(
            partition_by=(scores.c.region_code, scores.c.household_pseudonym),
            order_by=(scores.c.as_of.desc(), scores.c.scored_at.desc(), scores.c.id.desc()),
        )
        .label("rank")
    )
    ranked = sa.select(scores.c.id, rank).subquery("ranked")
    latest = (
        sa.select(
            scores.c.region_code,
            scores.c.household_pseudonym,
            scores.c.id,
            scores.c.as_of,
            scores.c.scored_at,
            scores.c.probability,
            scores.c.level,
            scores.c.synthetic,
            scores.c.reasons,
            scores.c.rule_flags,
        )
        .join(ranked, ranked.c.id == scores.c.id)
        .where(ranked.c.rank == 1)
        .order_by(scores.c.id)
    )
    target = sa.table(
        "latest_scores",
        *(
            sa.column(name)
            for name in (
                "region_code",
                "household_pseudonym",
                "score_id",
                "as_of",
                "scored_at",
                "probability",
                "level",
                "synthetic",
                "any_rule_flag",
                "reason_keys",
            )
        ),
    )
    batch: list[dict[str, Any]] = []
    result = connection.execute(latest.execution_options(yield_per=BATCH))
    for region, pseudonym, score_id, as_of, scored_at, probability, level, synthetic, reasons, flags in result:
        batch.append(
            {
                "region_code": region,
                "household_pseudonym": pseudonym,
                "score_id": score_id,
                "as_of": as_of,
                "scored_at": scored_at,
                "probability": probability,
                "level": level,
                "synthetic": bool(synthetic),
                "any_rule_flag": any_rule_flag(flags),
                "reason_keys": reason_keys_text(reasons),
            }
        )
        if len(batch) == BATCH:
            connection.execute(target.insert(), batch)
            batch = []
    if batch:
        connection.execute(target.insert(), batch)
