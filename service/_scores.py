"""Stored scores and their audit entries: validation, writing in one transaction, household history.

With every score, the same transaction brings the narrow tables region reports read up to date: the household's
latest score per village (`latest_scores`) and its scoring run (`household_runs`).
"""

from __future__ import annotations

import json
import math
import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import lru_cache
from typing import Any, Final, cast

from sqlalchemy import Connection, Table, insert, literal, select, tuple_
from sqlalchemy.orm import Session

from features.contract import codes
from features.contract.id_numbers import contains_id_number
from features.profiles.status import NEWLY_IDENTIFIABLE, UNKNOWN, StatusValueError, status_of
from service.db import insert_for
from service.errors import InvalidFieldError, OutOfScopeError
from service.keys import Caller, Permission
from service.scope import Scope, check_region_code
from service.tables import AuditEntry, HouseholdRun, LatestScore, RiskLevel, ScoreRecord, utcnow

# Pseudonyms are HMAC digests or source-system household ids: short, plain ASCII.
PSEUDONYM_PATTERN: Final = re.compile(r"[0-9A-Za-z][0-9A-Za-z_.:-]{0,63}")
TOKEN_PATTERN: Final = re.compile(r"[!-~]+")  # printable ASCII without spaces: versions, hashes, request ids
MAX_HISTORY: Final = 1000
SCORES: Final = cast(Table, ScoreRecord.__table__)
AUDIT: Final = cast(Table, AuditEntry.__table__)
LATEST: Final = cast(Table, LatestScore.__table__)
RUNS: Final = cast(Table, HouseholdRun.__table__)


@dataclass(frozen=True)
class ScoreInput:
    """One decision to store: what the scorer produced for one household as of a date.

    `reasons` are the top reasons as JSON objects, each with at least a string `key` (a risk-type code such as
    "01" or a group such as "income", as `models.reasons` names them); `measures` and `rule_flags` are stored as
    given. All three must be JSON-serialisable (plain Python numbers, not NumPy scalars). `status` holds the
    household's monitoring status fields (`models.record.STATUS_FIELDS`, nested form); none: `unknown`.
    `expected_type` is the code of the monitoring type the household would enter as
    (`features.profiles.monitoring_type`), or None; `readiness` a monitoring object's nested elimination
    readiness (`models.record`), or None.
    """

    household_pseudonym: str
    region_code: str
    as_of: date
    model_version: str
    probability: float
    level: RiskLevel | str
    input_hash: str
    # The model's identification companion's probability (the second output); None without a companion.
    identification_probability: float | None = None
    reasons: list[dict[str, Any]] = field(default_factory=list)
    measures: list[dict[str, Any]] = field(default_factory=list)
    rule_flags: dict[str, Any] = field(default_factory=dict)
    synthetic: bool = False
    context_version: str | None = None  # the villages reference the profile was built with
    status: Mapping[str, Any] | None = None
    expected_type: str | None = None
    readiness: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class ScoreView:
    """A stored score, as reads return it."""

    id: int
    household_pseudonym: str
    region_code: str
    as_of: date
    scored_at: datetime
    model_version: str
    probability: float
    level: RiskLevel
    reasons: list[dict[str, Any]]
    measures: list[dict[str, Any]]
    rule_flags: dict[str, Any]
    synthetic: bool
    job_id: uuid.UUID | None
    context_version: str | None = None
    # The household's monitoring status as of `as_of` (`features.profiles.status`), and its details.
    monitoring_status: str = "unknown"
    monitoring_type: str | None = None
    monitoring_risk_types: tuple[str, ...] = ()
    identified_date: date | None = None
    elimination_date: date | None = None
    elimination_way: str | None = None
    # The monitoring type the household would enter as (features.profiles.monitoring_type); None where unknown.
    expected_monitoring_type: str | None = None
    # A current monitoring object's elimination readiness (features.profiles.readiness); None for the others.
    elimination_readiness: dict[str, Any] | None = None
    # The probability of identification within 12 months (the second output); None without it.
    identification_probability: float | None = None

    @property
    def newly_identifiable(self) -> bool:
        """Whether the household can be newly identified (it is not a current monitoring object)."""
        return self.monitoring_status in NEWLY_IDENTIFIABLE

    def status_fields(self) -> dict[str, Any]:
        """The status fields in the record's nested form (`models.record.STATUS_FIELDS`)."""
        return {
            "monitoring_status": self.monitoring_status,
            "monitoring_type": self.monitoring_type,
            "monitoring_risk_types": list(self.monitoring_risk_types),
            "identified_date": self.identified_date,
            "elimination_date": self.elimination_date,
            "elimination_way": self.elimination_way,
        }

    @classmethod
    def of(cls, row: ScoreRecord) -> ScoreView:
        return cls(
            row.id,
            row.household_pseudonym,
            row.region_code,
            row.as_of,
            row.scored_at,
            row.model_version,
            row.probability,
            row.level,
            row.reasons,
            row.measures,
            row.rule_flags,
            row.synthetic,
            row.job_id,
            row.context_version,
            row.monitoring_status or UNKNOWN,
            row.monitoring_type,
            tuple(row.monitoring_risk_types or ()),
            row.identified_date,
            row.elimination_date,
            row.elimination_way,
            row.expected_monitoring_type,
            row.elimination_readiness,
            row.identification_probability,
        )


def check_pseudonym(value: object, field: str = "household_pseudonym", row: int | None = None) -> str:
    if not isinstance(value, str) or not PSEUDONYM_PATTERN.fullmatch(value):
        raise InvalidFieldError(field, "must be 1-64 characters of letters, digits, '_', '.', ':' or '-'", row)
    if contains_id_number(value):  # never stored in clear (docs/architecture.md, non-negotiable 5)
        raise InvalidFieldError(field, "holds a national ID number; pass its pseudonym", row)
    return value


def _token(value: object, field: str, max_chars: int, row: int | None) -> str:
    if not isinstance(value, str) or len(value) > max_chars or not TOKEN_PATTERN.fullmatch(value):
        raise InvalidFieldError(field, f"must be 1-{max_chars} printable ASCII characters without spaces", row)
    return value


def _level(value: str, row: int | None) -> RiskLevel:
    try:
        return RiskLevel(value)
    except ValueError:
        raise InvalidFieldError("level", f"must be one of {', '.join(v.value for v in RiskLevel)}", row) from None


def _probability(value: object, row: int | None, field: str = "probability") -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidFieldError(field, "must be a finite number", row)
    if not 0.0 <= value <= 1.0:
        raise InvalidFieldError(field, "must lie between 0 and 1", row)
    return float(value)


def _reasons(value: object, row: int | None) -> list[dict[str, Any]]:
    if not isinstance(value, list):
        raise InvalidFieldError("reasons", "must be a list of objects", row)
    for item in value:
        if not isinstance(item, dict) or not isinstance(item.get("key"), str) or not item["key"]:
            raise InvalidFieldError("reasons", "every reason must be an object with a non-empty string 'key'", row)
    return value


def _status(value: Mapping[str, Any] | None, row: int | None) -> dict[str, Any]:
    """The status columns of a score from its nested status fields (checked against the code lists)."""
    fields = dict(value or {})
    risks = fields.get("monitoring_risk_types")
    if risks is not None and not isinstance(risks, list | tuple):
        raise InvalidFieldError("monitoring_risk_types", "must be a list of risk-type codes", row)
    fields["monitoring_risk_types"] = ",".join(risks or ())
    try:
        status = status_of(fields)
    except StatusValueError as error:
        raise InvalidFieldError(error.field, error.message, row) from None
    return {
        "monitoring_status": status.status,
        "monitoring_type": status.monitoring_type,
        "monitoring_risk_types": list(status.risk_types) or None,
        "identified_date": status.identified_date,
        "elimination_date": status.elimination_date,
        "elimination_way": status.elimination_way,
    }


def _expected_type(value: object, row: int | None) -> str | None:
    if value is not None and value not in codes.MONITORING_TYPES:
        raise InvalidFieldError("expected_monitoring_type", f"must be one of {', '.join(codes.MONITORING_TYPES)}", row)
    return value if value is None else str(value)


def _readiness(value: Mapping[str, Any] | None, row: int | None) -> dict[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, Mapping) or not isinstance(value.get("conditions"), list):
        raise InvalidFieldError("elimination_readiness", "must be an object with a list of conditions", row)
    return dict(value)


def prepare_rows(scope: Scope, rows: Sequence[ScoreInput]) -> list[dict[str, Any]]:
    """Checked column values of every row, or the first problem as a typed error naming the row and field.

    Nothing is written here; a batch with one bad row is refused whole, so no partial batch is ever stored.
    """
    prepared = []
    for i, row in enumerate(rows):
        region_code = check_region_code(row.region_code, row=i)
        scope.require(region_code, row=i)
        if not isinstance(row.as_of, date) or isinstance(row.as_of, datetime):
            raise InvalidFieldError("as_of", "must be a date (no time of day)", i)
        if not isinstance(row.measures, list):
            raise InvalidFieldError("measures", "must be a list of objects", i)
        if not isinstance(row.rule_flags, dict):
            raise InvalidFieldError("rule_flags", "must be an object", i)
        prepared.append(
            {
                "household_pseudonym": check_pseudonym(row.household_pseudonym, row=i),
                "region_code": region_code,
                "as_of": row.as_of,
                "model_version": _token(row.model_version, "model_version", 64, i),
                "probability": _probability(row.probability, i),
                "identification_probability": None
                if row.identification_probability is None
                else _probability(row.identification_probability, i, "identification_probability"),
                "level": _level(row.level, i),
                "input_hash": _token(row.input_hash, "input_hash", 128, i),
                "reasons": _reasons(row.reasons, i),
                "measures": row.measures,
                "rule_flags": row.rule_flags,
                "synthetic": bool(row.synthetic),
                "context_version": None
                if row.context_version is None
                else _token(row.context_version, "context_version", 32, i),
                "expected_monitoring_type": _expected_type(row.expected_type, i),
                "elimination_readiness": _readiness(row.readiness, i),
            }
            | _status(row.status, i)
        )
    return prepared


def require_within(caller: Caller, scope: Scope) -> None:
    if not caller.scope.covers(scope):
        raise OutOfScopeError("region_prefix", "lies outside the caller's region scope")


def record_scores(
    session: Session | Connection,
    scope: Scope,
    caller: Caller,
    rows: Sequence[ScoreInput],
    *,
    request_id: str | None = None,
    job_id: uuid.UUID | None = None,
) -> int:
    """Store the scores and their audit entries in the session's transaction; the number of rows written.

    Scores and audit entries are written together or not at all (docs/architecture.md, non-negotiable 4): the caller
    commits both with `session_scope` (or `Database.transaction`, a Core connection in one transaction), and if
    the database fails, neither exists. Rows outside `scope`, or a
    `scope` outside the caller's, are refused with `OutOfScopeError`; bad values with `InvalidFieldError`.
    """
    decisions = check_decisions(scope, caller, rows, request_id=request_id)
    write_decisions(session, [decisions], job_id=job_id)
    return len(decisions.prepared)


@dataclass(frozen=True)
class Decisions:
    """One caller's checked rows (`prepare_rows`), ready to be stored, and the request they answer."""

    caller: Caller
    prepared: list[dict[str, Any]]
    request_id: str | None = None


def check_decisions(
    scope: Scope, caller: Caller, rows: Sequence[ScoreInput], *, request_id: str | None = None
) -> Decisions:
    """`record_scores`' checks, without writing: the first problem raised as a typed error."""
    caller.require(Permission.SCORE)
    require_within(caller, scope)
    if request_id is not None:
        _token(request_id, "request_id", 64, None)
    return Decisions(caller, prepare_rows(scope, rows), request_id)


def write_prepared(
    session: Session | Connection,
    caller: Caller,
    prepared: list[dict[str, Any]],
    *,
    request_id: str | None,
    job_id: uuid.UUID | None,
) -> None:
    write_decisions(session, [Decisions(caller, prepared, request_id)], job_id=job_id)


def write_decisions(
    session: Session | Connection, parts: Sequence[Decisions], *, job_id: uuid.UUID | None = None
) -> None:
    """Store the scores of every part with their audit entries (each naming its own caller and request), in
    the session's transaction: one statement per table for all parts."""
    prepared = [row for part in parts for row in part.prepared]
    if not prepared:
        return
    now = utcnow()
    # Core inserts on the tables (executemany / insertmanyvalues): no ORM bookkeeping per row.
    connection = session if isinstance(session, Connection) else session.connection()
    ids = connection.scalars(
        insert(SCORES).returning(SCORES.c.id, sort_by_parameter_order=True),
        [
            {key: value for key, value in row.items() if key != "input_hash"} | {"scored_at": now, "job_id": job_id}
            for row in prepared
        ],
    ).all()
    write_summaries(connection, prepared, ids, now)
    connection.execute(
        insert(AUDIT),
        [
            {
                "at": now,
                "key_id": part.caller.key_id,
                "role": part.caller.role,
                "region_code": row["region_code"],
                "household_pseudonym": row["household_pseudonym"],
                "input_hash": row["input_hash"],
                "model_version": row["model_version"],
                "probability": row["probability"],
                "level": row["level"],
                "reasons": row["reasons"],
                "request_id": part.request_id,
                "job_id": job_id,
            }
            for part in parts
            for row in part.prepared
        ],
    )


def reason_keys_text(reasons: list[Any]) -> str:
    """The distinct reason keys of a score in their order, as the compact JSON list `latest_scores` keeps."""
    keys = dict.fromkeys(str(reason["key"]) for reason in reasons if isinstance(reason, dict) and "key" in reason)
    return json.dumps(list(keys), ensure_ascii=False, separators=(",", ":"))


def any_rule_flag(rule_flags: dict[str, Any]) -> bool:
    """Whether any official-rule flag is raised: the flags are a JSON object of booleans."""
    return any(value is True for value in rule_flags.values())


@lru_cache(maxsize=4)
def _summary_statements(dialect: str) -> tuple[Any, Any]:
    """The `latest_scores` upsert and the `household_runs` insert for a dialect, built once per process (every
    scoring request writes them). ON CONFLICT is spelled alike by SQLite and PostgreSQL, but SQLAlchemy builds
    it per dialect (`insert_for`)."""
    insert_into = insert_for(dialect)
    upsert = insert_into(LATEST)
    newer = tuple_(upsert.excluded.as_of, upsert.excluded.scored_at, upsert.excluded.score_id) > tuple_(
        LATEST.c.as_of, LATEST.c.scored_at, LATEST.c.score_id
    )
    upsert = upsert.on_conflict_do_update(
        index_elements=[LATEST.c.region_code, LATEST.c.household_pseudonym],
        set_={column.name: upsert.excluded[column.name] for column in LATEST.columns if not column.primary_key},
        where=newer,
    )
    return upsert, insert_into(RUNS).on_conflict_do_nothing()


def write_summaries(connection: Connection, prepared: list[dict[str, Any]], ids: Sequence[int], now: datetime) -> None:
    """Bring `latest_scores` and `household_runs` up to date with the scores just inserted (ids in row order).

    A household's row in `latest_scores` is replaced only by a score with a larger (as_of, scored_at, id), in
    SQL, so concurrent writers of the same household end with the same row whatever order they commit in. Rows
    are sorted by key, so concurrent batches take their row locks in the same order (no deadlocks).
    """
    latest: dict[tuple[str, str], dict[str, Any]] = {}
    runs: set[tuple[Any, RiskLevel, str, str, str]] = set()
    for row, score_id in zip(prepared, ids, strict=True):
        key = (row["region_code"], row["household_pseudonym"])
        runs.add((row["as_of"], row["level"], row["household_pseudonym"], row["region_code"], row["monitoring_status"]))
        seen = latest.get(key)
        # One batch shares its scored_at: among its rows, the later as_of wins, then the later id.
        if seen is not None and (seen["as_of"], seen["score_id"]) > (row["as_of"], score_id):
            continue
        latest[key] = {
            "region_code": row["region_code"],
            "household_pseudonym": row["household_pseudonym"],
            "score_id": score_id,
            "as_of": row["as_of"],
            "scored_at": now,
            "probability": row["probability"],
            "level": row["level"],
            "synthetic": row["synthetic"],
            "any_rule_flag": any_rule_flag(row["rule_flags"]),
            "reason_keys": reason_keys_text(row["reasons"]),
            "monitoring_status": row["monitoring_status"],
            "identified_date": row["identified_date"],
        }
    upsert, insert_runs = _summary_statements(connection.dialect.name)
    connection.execute(upsert, [latest[key] for key in sorted(latest)])
    connection.execute(
        insert_runs,
        [
            {
                "region_code": region,
                "as_of": as_of,
                "level": level,
                "household_pseudonym": pseudonym,
                "monitoring_status": status,
            }
            for as_of, level, pseudonym, region, status in sorted(runs)
        ],
    )


def household_history(
    session: Session,
    scope: Scope,
    pseudonym: str,
    *,
    limit: int = 100,
    after: tuple[date, datetime, int] | None = None,
) -> list[ScoreView]:
    """The household's stored scores inside `scope`, newest first; empty both when it has none and when it lies
    outside the scope, so the answer never reveals a household in another region. `after` (as_of, scored_at, id)
    starts after that score in this order (cursor paging)."""
    check_pseudonym(pseudonym)
    if not 1 <= limit <= MAX_HISTORY + 1:
        raise InvalidFieldError("limit", f"must lie between 1 and {MAX_HISTORY}")
    query = (
        select(ScoreRecord)
        .where(ScoreRecord.household_pseudonym == pseudonym, scope.filter(ScoreRecord.region_code))
        .order_by(ScoreRecord.as_of.desc(), ScoreRecord.scored_at.desc(), ScoreRecord.id.desc())
        .limit(limit)
    )
    if after is not None:
        columns = (ScoreRecord.as_of, ScoreRecord.scored_at, ScoreRecord.id)
        # Each value bound with its column's type, so that timestamps compare as the column stores them.
        values = [literal(value, column.type) for value, column in zip(after, columns, strict=True)]
        query = query.where(tuple_(*columns) < tuple_(*values))
    return [ScoreView.of(row) for row in session.scalars(query)]
