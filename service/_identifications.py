"""Identifications per village and year, as the source data of batch jobs recorded them: last years' actual counts.

A region page sets the expected number of new identifications next to the numbers of past years. The service keeps
scores, not source tables, so each batch job counts the identifications of its households dated before its
`as_of` by village and year, and these counts replace the ones an earlier job stored for the same villages (a
job carries every household's whole history, so its counts are the current ones). Villages no job has covered
have none: the region shows only the expectation there.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import date

import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session

from service.scope import Scope
from service.tables import RegionIdentifications, utcnow


def count_identifications(tables: Mapping[str, pa.Table], as_of: date) -> dict[str, dict[int, int]] | None:
    """Per village of the job's households, identifications by year dated before `as_of` (every village of the
    job, those without any included); None when the job's sources hold no identifications table."""
    identifications = tables.get("identifications")
    households = tables["households"]
    if identifications is None:
        return None
    villages = dict(
        zip(
            households.column("household_id").cast(pa.string()).to_pylist(),
            households.column("region_code").cast(pa.string()).to_pylist(),
            strict=True,
        )
    )
    out: dict[str, dict[int, int]] = {code: {} for code in set(villages.values()) if code}
    when = pc.cast(identifications.column("identified_date"), pa.date32())
    before = pc.fill_null(pc.less(when, pa.scalar(as_of, pa.date32())), False)
    rows = identifications.filter(before)
    years = pc.year(pc.cast(rows.column("identified_date"), pa.date32())).to_pylist()
    for household, year in zip(rows.column("household_id").cast(pa.string()).to_pylist(), years, strict=True):
        village = villages.get(household)
        if village:
            out[village][int(year)] = out[village].get(int(year), 0) + 1
    return out


def store_identification_counts(
    session: Session, counts: Mapping[str, Mapping[int, int]], as_of: date, job_id: uuid.UUID | None
) -> None:
    """Replace the stored counts of the villages in `counts` with these (in the session's transaction)."""
    villages = sorted(counts)
    for start in range(0, len(villages), 500):
        session.execute(
            delete(RegionIdentifications).where(RegionIdentifications.region_code.in_(villages[start : start + 500]))
        )
    now = utcnow()
    rows = [
        {
            "region_code": village,
            "year": year,
            "identifications": n,
            "as_of": as_of,
            "job_id": job_id,
            "counted_at": now,
        }
        for village in villages
        for year, n in sorted(counts[village].items())
    ]
    if rows:
        session.execute(insert(RegionIdentifications), rows)


def identifications_by_year(session: Session, scope: Scope) -> dict[int, int]:
    """Identifications per year in the scope's villages, as the latest jobs counted them (empty: none stored)."""
    query = (
        select(RegionIdentifications.year, func.sum(RegionIdentifications.identifications))
        .where(scope.filter(RegionIdentifications.region_code))
        .group_by(RegionIdentifications.year)
    )
    return {int(year): int(n) for year, n in sorted(session.execute(query).all())}
