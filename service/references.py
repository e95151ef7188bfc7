"""The villages reference: the county and village context every household is profiled with, held by the service.

A profile's place features (`village_type`, `county_former_poor_village_share`, …) are computed from the villages
table. In a batch that is the whole table; a household document carries at most its own village, and a county
figure computed from one village is another number. So the service keeps the villages table itself, versioned:
the latest batch job's table (a job whose folder has villages stores them as a new version when they differ), or
one an admin uploads. Every household a request sends is profiled with its county's villages from that
reference, and each stored score records the version it was computed with, so a household gets the same
probability through `households:score`, `profiles:score`, a batch job and `relapse score` (docs/architecture.md,
non-negotiable 2).

Versions are append-only rows of `village_references` holding the table as Parquet; the newest one is current.
Each worker process reads it at start and polls for a newer one with the model (`RELAPSE_MODEL_POLL_S`).
"""

from __future__ import annotations

import hashlib
import io
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Final

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from sqlalchemy import func, insert, select

from features.contract.dtypes import arrow_schema
from features.contract.tables import TABLES
from features.reading.sources import Sources, arrow_to_frame, coerce_sources
from features.validation.report import ValidationReport, validate_sources
from service.db import Database
from service.tables import VillageReferenceRecord, utcnow

VILLAGES: Final = TABLES["villages"]


@dataclass(frozen=True)
class VillageReference:
    """One version of the villages table, split by county for requests that need a few counties."""

    version: int
    digest: str
    villages: pd.DataFrame
    _by_county: dict[str, pd.DataFrame] = field(init=False, repr=False, compare=False)
    _codes: frozenset[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        counties = self.villages["county_code"].astype(object).where(self.villages["county_code"].notna(), "")
        object.__setattr__(
            self, "_by_county", {str(c): part for c, part in self.villages.groupby(counties, sort=False)}
        )
        object.__setattr__(self, "_codes", frozenset(self.villages["region_code"].dropna().astype(str)))

    @property
    def label(self) -> str:
        """How a score names the reference it was computed with."""
        return f"villages-v{self.version}"

    def knows(self, region_code: str) -> bool:
        return region_code in self._codes

    def with_villages(self, counties: Iterable[str], extra: pd.DataFrame | None) -> pd.DataFrame:
        """The reference's villages of `counties`, then the `extra` rows (villages it does not know)."""
        parts = [self._by_county[c] for c in sorted(counties) if c in self._by_county]
        if extra is not None and len(extra):
            parts.append(extra[list(VILLAGES.column_names)])
        if not parts:
            return self.villages.iloc[:0]
        return pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0].reset_index(drop=True)


class InvalidReferenceError(ValueError):
    """The villages table breaks the contract; `report` holds every violation."""

    def __init__(self, report: ValidationReport) -> None:
        super().__init__(f"the villages table breaks the source-data contract:\n{report}")
        self.report = report


def store_reference(database: Database, villages: pd.DataFrame, origin: str) -> tuple[int, bool]:
    """Store `villages` as the newest version unless it equals the current one: (version, whether stored).

    The table is validated first (every violation in one `InvalidReferenceError`): a reference that breaks
    the contract would give every household a wrong context."""
    report = validate_sources(Sources({"villages": villages}, {"origin": origin}))
    problems = [v for v in report.violations if v.table == "villages"]
    if problems:
        raise InvalidReferenceError(report)
    canonical = _canonical(coerce_sources(Sources({"villages": villages}, {})).tables["villages"])
    data = _parquet(canonical)
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    with database.transaction() as connection:
        latest = connection.execute(
            select(VillageReferenceRecord.id, VillageReferenceRecord.digest)
            .order_by(VillageReferenceRecord.id.desc())
            .limit(1)
        ).first()
        if latest is not None and latest.digest == digest:
            return int(latest.id), False
        inserted = connection.execute(
            insert(VillageReferenceRecord).values(
                created_at=utcnow(), digest=digest, origin=origin[:200], rows=len(canonical), data=data
            )
        )
        key = inserted.inserted_primary_key
        assert key is not None
        return int(key[0]), True


def latest_version(database: Database) -> int | None:
    with database.read_session() as session:
        return session.scalar(select(func.max(VillageReferenceRecord.id)))


def load_reference(database: Database, version: int | None = None) -> VillageReference | None:
    """The given version (default: the newest), or None when the service holds none."""
    with database.read_session() as session:
        query = select(VillageReferenceRecord)
        query = query.where(VillageReferenceRecord.id == version) if version is not None else query
        record = session.scalars(query.order_by(VillageReferenceRecord.id.desc()).limit(1)).first()
        if record is None:
            return None
        frame = arrow_to_frame(pq.read_table(io.BytesIO(record.data)))
        return VillageReference(int(record.id), record.digest, frame)


class ReferenceHolder:
    """The current villages reference of one process: read at start, re-read when a newer version exists."""

    def __init__(self, database: Database) -> None:
        self.database = database
        self._current: VillageReference | None = None
        self._lock = threading.Lock()

    @property
    def current(self) -> VillageReference | None:
        return self._current

    def refresh(self) -> bool:
        """Load the newest version if it is not the one held; whether it changed."""
        newest = latest_version(self.database)
        held = self._current.version if self._current is not None else None
        if newest == held:
            return False
        with self._lock:
            self._current = load_reference(self.database, newest) if newest is not None else None
        return True


def _canonical(villages: pd.DataFrame) -> pd.DataFrame:
    ordered = villages[list(VILLAGES.column_names)].sort_values("region_code", kind="stable")
    return ordered.reset_index(drop=True)


def _parquet(villages: pd.DataFrame) -> bytes:
    table = pa.Table.from_pandas(villages, schema=arrow_schema(VILLAGES), preserve_index=False)
    sink = io.BytesIO()
    pq.write_table(table, sink, compression="zstd")
    return sink.getvalue()
