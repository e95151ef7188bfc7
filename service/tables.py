"""The service database: API keys, the audit log, stored scores, their summaries and batch jobs (SQLAlchemy 2).

Schema changes go through Alembic (`service/migrations/versions/`); `tests/service/test_migrations.py` checks
that the migrations produce exactly these tables on SQLite and PostgreSQL.

Privacy (docs/architecture.md, non-negotiable 5): households appear only by pseudonym, keys only by salted hash.
Timestamps are stored in UTC and read back timezone-aware on every backend.
"""

from __future__ import annotations

import enum
import uuid
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy import Enum as SqlEnum
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# Stable constraint names, so that migrations can refer to them on every backend.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Role(enum.StrEnum):
    MONITOR = "monitor"
    OFFICIAL = "official"
    SCIENTIST = "scientist"
    ADMIN = "admin"


class RiskLevel(enum.StrEnum):
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


class JobStatus(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in and out; SQLite would otherwise hand back naive ones."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("timestamps must be timezone-aware")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# Scores and audit entries reach billions of rows at country scale; SQLite only auto-increments INTEGER keys.
BigId = BigInteger().with_variant(Integer(), "sqlite")

# JSONB on PostgreSQL (compact, indexable later); plain JSON text elsewhere.
JsonType = JSON().with_variant(JSONB(), "postgresql")


def _enum(kind: type[enum.StrEnum], name: str) -> SqlEnum:
    # VARCHAR + CHECK rather than a native PostgreSQL enum: adding a value later is a plain migration.
    return SqlEnum(
        kind,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=16,
        values_callable=lambda members: [m.value for m in members],
        validate_strings=True,
    )


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime, dict[str, Any]: JsonType, list[Any]: JsonType}


class ApiKey(Base):
    """An API key: looked up by its public prefix, checked against the salted hash of its secret."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key_prefix: Mapped[str] = mapped_column(String(16), unique=True)
    # "sha256$<salt hex>$<digest hex>" of the secret part; the secret itself is never stored.
    secret_hash: Mapped[str] = mapped_column(String(160))
    role: Mapped[Role] = mapped_column(_enum(Role, "role"))
    region_prefix: Mapped[str] = mapped_column(String(12))
    label: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)


class AuditEntry(Base):
    """One decision: who asked, when, for which household, and what the model answered (non-negotiable 4)."""

    __tablename__ = "audit_entries"
    __table_args__ = (Index("ix_audit_entries_region_at", "region_code", "at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    # NULL for the local operator (CLI batch runs), who holds no API key.
    key_id: Mapped[int | None] = mapped_column(ForeignKey("api_keys.id", ondelete="RESTRICT"), index=True)
    role: Mapped[Role] = mapped_column(_enum(Role, "role"))
    region_code: Mapped[str] = mapped_column(String(12))
    household_pseudonym: Mapped[str] = mapped_column(String(64), index=True)
    input_hash: Mapped[str] = mapped_column(String(128))
    model_version: Mapped[str] = mapped_column(String(64))
    probability: Mapped[float] = mapped_column(Float)
    level: Mapped[RiskLevel] = mapped_column(_enum(RiskLevel, "level"))
    reasons: Mapped[list[Any]] = mapped_column()
    request_id: Mapped[str | None] = mapped_column(String(64))
    job_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("jobs.id", ondelete="RESTRICT"), index=True)


class ScoreRecord(Base):
    """A stored score of one household as of a date: history, region summaries and batch results."""

    __tablename__ = "score_records"
    __table_args__ = (
        Index("ix_score_records_household", "household_pseudonym", "as_of", "scored_at"),
        # varchar_pattern_ops lets PostgreSQL use the index for `LIKE 'prefix%'` under any collation.
        # With the id, a region's (count, largest id) — the report cache's fingerprint — is read from the index.
        Index("ix_score_records_region", "region_code", "id", postgresql_ops={"region_code": "varchar_pattern_ops"}),
        CheckConstraint("probability >= 0 AND probability <= 1", name="probability_range"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    household_pseudonym: Mapped[str] = mapped_column(String(64))
    region_code: Mapped[str] = mapped_column(String(12))
    as_of: Mapped[date] = mapped_column(Date)
    scored_at: Mapped[datetime] = mapped_column(default=utcnow)
    model_version: Mapped[str] = mapped_column(String(64))
    probability: Mapped[float] = mapped_column(Float)
    level: Mapped[RiskLevel] = mapped_column(_enum(RiskLevel, "level"))
    reasons: Mapped[list[Any]] = mapped_column()
    measures: Mapped[list[Any]] = mapped_column()
    rule_flags: Mapped[dict[str, Any]] = mapped_column()
    synthetic: Mapped[bool] = mapped_column(Boolean, default=False)
    job_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("jobs.id", ondelete="RESTRICT"), index=True)
    # The villages reference the profile's county and village context came from ("villages-v3"); NULL where the
    # caller sent a built profile or the service held no reference.
    context_version: Mapped[str | None] = mapped_column(String(32), default=None)
    # The household's monitoring status as of `as_of` (features.profiles.status): "unknown" where the input
    # could not tell, and for scores stored before the service recorded it.
    monitoring_status: Mapped[str] = mapped_column(String(16), default="unknown", server_default="unknown")
    monitoring_type: Mapped[str | None] = mapped_column(String(16), default=None)
    monitoring_risk_types: Mapped[list[Any] | None] = mapped_column(default=None)  # risk-type codes
    identified_date: Mapped[date | None] = mapped_column(Date, default=None)
    elimination_date: Mapped[date | None] = mapped_column(Date, default=None)
    elimination_way: Mapped[str | None] = mapped_column(String(16), default=None)
    # The monitoring type the household would enter as (features.profiles.monitoring_type), or the recorded type
    # of a current monitoring object; NULL for scores stored before the service derived it.
    expected_monitoring_type: Mapped[str | None] = mapped_column(String(16), default=None)
    # A current monitoring object's elimination readiness (features.profiles.readiness), nested as the API gives
    # it; NULL for every other household and for scores stored before the service derived it.
    elimination_readiness: Mapped[dict[str, Any] | None] = mapped_column(default=None)
    # The probability of identification within 12 months (the need model's companion, the second output); NULL
    # where the model carried none and for scores stored before the service gave it.
    identification_probability: Mapped[float | None] = mapped_column(Float, default=None)


class HealthProbe(Base):
    """One row the readiness check rewrites: proof that the database takes writes, not only reads."""

    __tablename__ = "health_probe"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    written_at: Mapped[datetime] = mapped_column()


class EndedSession(Base):
    """A report session ended by logout, by the SHA-256 of its token, kept until the token would expire."""

    __tablename__ = "ended_sessions"

    digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(index=True)


class VillageReferenceRecord(Base):
    """One version of the villages table the service profiles household documents with (`service.references`)."""

    __tablename__ = "village_references"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    digest: Mapped[str] = mapped_column(String(80))
    origin: Mapped[str] = mapped_column(String(200))
    rows: Mapped[int] = mapped_column(Integer)
    data: Mapped[bytes] = mapped_column(LargeBinary)  # the table as Parquet


class LatestScore(Base):
    """Each household's latest stored score in a village: what region reports and summaries read.

    A narrow copy of the columns those need, so that a county's first report reads 50,000 short rows instead
    of 100,000 scores with their reasons JSON. `service._scores` writes it in the scores' own
    transaction, so it never disagrees with `score_records`. Keyed by village and household, not household
    alone: a household scored in two villages keeps its latest score in each, so a village's summary shows
    what it showed before. "Latest" is the largest (as_of, scored_at, score_id), as in `household_history`.
    """

    __tablename__ = "latest_scores"
    __table_args__ = (
        Index("ix_latest_scores_region", "region_code", postgresql_ops={"region_code": "varchar_pattern_ops"}),
    )

    region_code: Mapped[str] = mapped_column(String(12), primary_key=True)
    household_pseudonym: Mapped[str] = mapped_column(String(64), primary_key=True)
    score_id: Mapped[int] = mapped_column(BigId, ForeignKey("score_records.id", ondelete="RESTRICT"), unique=True)
    as_of: Mapped[date] = mapped_column(Date)
    scored_at: Mapped[datetime] = mapped_column()
    probability: Mapped[float] = mapped_column(Float)
    level: Mapped[RiskLevel] = mapped_column(_enum(RiskLevel, "level"))
    synthetic: Mapped[bool] = mapped_column(Boolean)
    # Whether any official-rule flag of the score is raised (a value `true` in its `rule_flags`).
    any_rule_flag: Mapped[bool] = mapped_column(Boolean)
    # The distinct reason keys of the score, in order, as a compact JSON list: '["01","income","04"]'.
    reason_keys: Mapped[str] = mapped_column(Text)
    # The score's monitoring status and latest identification date: who is already a monitoring object.
    monitoring_status: Mapped[str] = mapped_column(String(16), default="unknown", server_default="unknown")
    identified_date: Mapped[date | None] = mapped_column(Date, default=None)


class HouseholdRun(Base):
    """That a household was scored in a village with an `as_of` date (a scoring run) at a level.

    The region report's trend counts the households of each run by level over every stored score, not only the
    latest; this table answers that from short rows. Written with the scores (insert, duplicates ignored).
    """

    __tablename__ = "household_runs"
    __table_args__ = (
        Index("ix_household_runs_region", "region_code", postgresql_ops={"region_code": "varchar_pattern_ops"}),
    )

    # Key in this order: SQLite counts the households of each run and level along the key, without sorting.
    as_of: Mapped[date] = mapped_column(Date, primary_key=True)
    level: Mapped[RiskLevel] = mapped_column(_enum(RiskLevel, "level"), primary_key=True)
    household_pseudonym: Mapped[str] = mapped_column(String(64), primary_key=True)
    region_code: Mapped[str] = mapped_column(String(12), primary_key=True)
    # The status the household had in that run: the trend counts households that can be newly identified.
    monitoring_status: Mapped[str] = mapped_column(String(16), default="unknown", server_default="unknown")


class RegionIdentifications(Base):
    """Identifications of one village in one year, counted from a batch job's source data (`service._identifications`).

    Only identifications dated before the job's `as_of` count; a later job covering the village replaces its rows.
    """

    __tablename__ = "region_identifications"

    region_code: Mapped[str] = mapped_column(String(12), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    identifications: Mapped[int] = mapped_column(Integer)
    as_of: Mapped[date] = mapped_column(Date)
    job_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    counted_at: Mapped[datetime] = mapped_column()


class Job(Base):
    """A batch scoring job; it survives restarts and resumes after its last committed chunk."""

    __tablename__ = "jobs"
    __table_args__ = (Index("ix_jobs_status_created", "status", "created_at"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    status: Mapped[JobStatus] = mapped_column(_enum(JobStatus, "status"), default=JobStatus.QUEUED)
    caller_key_id: Mapped[int | None] = mapped_column(ForeignKey("api_keys.id", ondelete="RESTRICT"))
    region_prefix: Mapped[str] = mapped_column(String(12), index=True)  # the scope it was created under
    # Where the input came from, for people (an upload's file name, a path under the allowed root); no personal data.
    source: Mapped[str] = mapped_column(Text, default="")
    total_chunks: Mapped[int | None] = mapped_column(Integer)
    done_chunks: Mapped[int] = mapped_column(Integer, default=0)
    rows_done: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    options: Mapped[dict[str, Any]] = mapped_column(default=dict)


class JobChunk(Base):
    """A chunk of a job whose scores are committed; its row makes re-committing the chunk a no-op."""

    __tablename__ = "job_chunks"
    __table_args__ = (UniqueConstraint("job_id", "chunk_index", name="uq_job_chunks_job_chunk"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    job_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("jobs.id", ondelete="CASCADE"))
    chunk_index: Mapped[int] = mapped_column(Integer)
    rows: Mapped[int] = mapped_column(Integer)
    committed_at: Mapped[datetime] = mapped_column(default=utcnow)


class Visit(Base):
    """A home visit's outcome (service.visits): append-only; a correction is a new row naming the one it corrects."""

    __tablename__ = "visits"
    __table_args__ = (
        Index("ix_visits_household", "household_pseudonym", "visited_on"),
        Index("ix_visits_region", "region_code", "id", postgresql_ops={"region_code": "varchar_pattern_ops"}),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    household_pseudonym: Mapped[str] = mapped_column(String(64))
    region_code: Mapped[str] = mapped_column(String(12))
    visited_on: Mapped[date] = mapped_column(Date)
    visitor_role: Mapped[str] = mapped_column(String(24))
    visitor_grid: Mapped[str | None] = mapped_column(String(32))
    list_version: Mapped[str | None] = mapped_column(String(64))
    list_rank: Mapped[int | None] = mapped_column(Integer)
    outcome: Mapped[str] = mapped_column(String(24))
    monitoring_type: Mapped[str | None] = mapped_column(String(16))
    risk_types: Mapped[list[Any]] = mapped_column(default=list)
    measures_started: Mapped[list[Any]] = mapped_column(default=list)
    next_review_on: Mapped[date | None] = mapped_column(Date)
    note: Mapped[str | None] = mapped_column(Text)
    # NO ACTION, not RESTRICT: checked at the end of a statement, so a visit and its correction go together.
    corrects_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("visits.id"))
    # NULL for the local operator (`relapse visits import`), who holds no API key.
    key_id: Mapped[int | None] = mapped_column(ForeignKey("api_keys.id", ondelete="RESTRICT"), index=True)
    source: Mapped[str] = mapped_column(String(16))  # "api" or "import"
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)


class IssuedList(Base):
    """A work list as it was handed out (service.issued_lists): its design, so that each listed household's chance
    of being listed is known afterwards (training weights visit outcomes by it)."""

    __tablename__ = "issued_lists"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    list_version: Mapped[str] = mapped_column(String(64), unique=True)
    region_code: Mapped[str] = mapped_column(String(12), index=True)
    as_of: Mapped[date] = mapped_column(Date)  # the latest data date of the region's scores when issued
    per_village: Mapped[int] = mapped_column(Integer)
    exploration_share: Mapped[float] = mapped_column(Float)
    seed: Mapped[int] = mapped_column(BigInteger)
    key_id: Mapped[int | None] = mapped_column(ForeignKey("api_keys.id", ondelete="RESTRICT"), index=True)
    issued_at: Mapped[datetime] = mapped_column(default=utcnow)


class IssuedListRow(Base):
    """One household of an issued list: its rank in its village, score, and the probability the design gave it."""

    __tablename__ = "issued_list_rows"
    __table_args__ = (
        UniqueConstraint("list_id", "household_pseudonym"),
        Index("ix_issued_list_rows_household", "household_pseudonym"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    list_id: Mapped[int] = mapped_column(BigId, ForeignKey("issued_lists.id", ondelete="CASCADE"))
    household_pseudonym: Mapped[str] = mapped_column(String(64))
    region_code: Mapped[str] = mapped_column(String(12))
    rank: Mapped[int] = mapped_column(Integer)  # in its village, as printed
    score_id: Mapped[int] = mapped_column(BigId)
    model_version: Mapped[str] = mapped_column(String(64))
    probability: Mapped[float] = mapped_column(Float)
    selection_probability: Mapped[float] = mapped_column(Float)
    explored: Mapped[bool] = mapped_column(Boolean)  # drawn at random, not taken by rank


class Subscription(Base):
    """Where to send alerts (service.alerts): a URL, the events it wants, and the region it may hear about."""

    __tablename__ = "subscriptions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key_id: Mapped[int | None] = mapped_column(ForeignKey("api_keys.id", ondelete="RESTRICT"), index=True)
    region_prefix: Mapped[str] = mapped_column(String(12))
    url: Mapped[str] = mapped_column(Text)
    events: Mapped[list[Any]] = mapped_column()
    # Signs each delivery (HMAC-SHA256 of the body); given to the subscriber once, kept to sign.
    secret: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(default=None)


class Delivery(Base):
    """One alert to one subscription (the outbox): sent until the subscriber answers 2xx or the attempts run out."""

    __tablename__ = "deliveries"
    __table_args__ = (
        Index("ix_deliveries_due", "delivered_at", "next_attempt_at"),
        Index("ix_deliveries_subject", "subscription_id", "subject", "id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    subscription_id: Mapped[int] = mapped_column(ForeignKey("subscriptions.id", ondelete="CASCADE"), index=True)
    event: Mapped[str] = mapped_column(String(32))
    payload: Mapped[dict[str, Any]] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column(default=None)
    # Dead letter: the attempts ran out (or the subscription ended); an admin may replay it.
    gave_up_at: Mapped[datetime | None] = mapped_column(default=None)
    last_status: Mapped[int | None] = mapped_column(Integer, default=None)
    # What the alert is about (a household pseudonym, a job id): one subject's deliveries go out in order.
    subject: Mapped[str | None] = mapped_column(String(64), default=None)


class AlertCursor(Base):
    """How far the alert dispatcher has read: the last score id and the last job update it turned into alerts."""

    __tablename__ = "alert_cursor"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    score_id: Mapped[int] = mapped_column(BigId, default=0)
    jobs_after: Mapped[datetime | None] = mapped_column(default=None)


class IdempotencyRecord(Base):
    """A request made with an `Idempotency-Key` (service.idempotency): claimed when it starts, its answer stored
    when it succeeds, so that a repeat of it within the retention window gets that answer instead of a second run."""

    __tablename__ = "idempotency_keys"
    __table_args__ = (UniqueConstraint("key_id", "idempotency_key", name="uq_idempotency_keys_key"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    # Keys are scoped to the API key that sent them: two callers may pick the same value.
    key_id: Mapped[int] = mapped_column(ForeignKey("api_keys.id", ondelete="RESTRICT"))
    idempotency_key: Mapped[str] = mapped_column(String(128))
    # SHA-256 of method, path and body: a repeat must be the same request to get the stored answer.
    fingerprint: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    # NULL while the first request runs.
    completed_at: Mapped[datetime | None] = mapped_column(default=None)
    status: Mapped[int | None] = mapped_column(Integer, default=None)
    media_type: Mapped[str | None] = mapped_column(String(100), default=None)
    location: Mapped[str | None] = mapped_column(Text, default=None)
    body: Mapped[bytes | None] = mapped_column(LargeBinary, default=None)


class HouseholdEvent(Base):
    """A department event pushed for a household (service.events): one row of the contract's events table, kept
    as sent (after validation), keyed by the event's own id."""

    __tablename__ = "household_events"
    __table_args__ = (
        Index("ix_household_events_household", "household_pseudonym", "event_date"),
        Index("ix_household_events_region", "region_code", "id", postgresql_ops={"region_code": "varchar_pattern_ops"}),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    event_id: Mapped[str] = mapped_column(String(64), unique=True)
    household_pseudonym: Mapped[str] = mapped_column(String(64))
    # The village of the household's latest score in the sender's region when the event arrived.
    region_code: Mapped[str] = mapped_column(String(12))
    event_type: Mapped[str] = mapped_column(String(32))
    event_date: Mapped[date] = mapped_column(Date)
    row: Mapped[dict[str, Any]] = mapped_column()  # the contract row, typed, as plain JSON
    # SHA-256 of the row: the same event id pushed again must be the same event.
    digest: Mapped[str] = mapped_column(String(64))
    key_id: Mapped[int | None] = mapped_column(ForeignKey("api_keys.id", ondelete="RESTRICT"), index=True)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)


class HouseholdSources(Base):
    """A scored household's source rows (service.household_sources), as ingestion left them (no ID numbers, no
    names): the tables of its latest document, with the events pushed since appended, so an event re-scores it."""

    __tablename__ = "household_sources"

    region_code: Mapped[str] = mapped_column(String(12), primary_key=True)
    household_pseudonym: Mapped[str] = mapped_column(String(64), primary_key=True)
    as_of: Mapped[date] = mapped_column(Date)  # the reference date of the last score built from these rows
    # Table name -> rows of the contract (plain JSON, empty cells left out); holds health-related amounts.
    tables: Mapped[dict[str, Any]] = mapped_column()
    stored_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
