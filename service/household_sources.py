"""Household sources: each scored household's contract rows kept, so that a department event re-scores it at once.

`POST /v1/households:score` keeps the rows of every household it scored, in the transaction that stores the
scores, keyed by household pseudonym and village; the household's next document replaces them. A pushed event is
appended to its household's rows in the transaction that stores the event, and the household is rebuilt from those
rows through the same road as a document (`build_profiles`, the service's villages reference as context) and
scored by `service.scoring`.

Rows are kept as the document sent them, with what ingestion withholds left out (ID numbers replaced by the
members' pseudonyms, names dropped: `features.pseudonyms.ingestion`) and empty cells left out
(`service.documents.IngestedDocuments`), so that coercing them again rebuilds the profile the document gave. They
hold health-related amounts (hospital costs): they live in the service database only and are never logged. The
as-of date of a re-score is the later of the stored one and the day after the newest appended event, so that the
event counts (a profile for D reads records before D).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache
from typing import Any

import pandas as pd
from sqlalchemy import Connection, select, tuple_
from sqlalchemy.orm import Session

from features.profiles.build import build_profiles
from features.pseudonyms.ingestion import ingest
from features.reading.sources import coerce_records
from service.db import insert_for
from service.documents import IngestedDocuments
from service.references import VillageReference
from service.scoring import Writes
from service.tables import HouseholdSources, utcnow

Key = tuple[str, str]  # (household pseudonym, village code)


@dataclass(frozen=True)
class Rebuilt:
    """Households rebuilt from their stored rows: their profiles, all as of one date."""

    as_of: date
    profiles: pd.DataFrame


def kept_rows(documents: IngestedDocuments, as_of: date) -> Writes:
    """The writer that stores each document's own rows, replacing what was kept for its household before (run in
    the transaction that stores the documents' scores: rows of a request that failed to score are not kept)."""
    now = utcnow()
    rows = {}
    for own in documents.rows:
        household = own["households"][0]
        key = (str(household["region_code"]), str(household["household_id"]))
        rows[key] = {"region_code": key[0], "household_pseudonym": key[1], "as_of": as_of, "tables": own}

    def write(connection: Connection) -> None:
        if rows:
            connection.execute(_upsert(connection.dialect.name), [row | {"stored_at": now} for row in rows.values()])

    return write


@lru_cache(maxsize=4)
def _upsert(dialect: str) -> Any:
    """INSERT … ON CONFLICT DO UPDATE of a household's kept rows: concurrent first documents of one household
    end with one row, whichever commits last."""
    table = HouseholdSources.__table__
    upsert = insert_for(dialect)(table)
    replaced = ("as_of", "tables", "stored_at")
    return upsert.on_conflict_do_update(
        index_elements=[table.c.region_code, table.c.household_pseudonym],
        set_={name: upsert.excluded[name] for name in replaced},
    )


def append_events(session: Session, events: Sequence[dict[str, Any]], regions: Sequence[str]) -> set[Key]:
    """Append each event row to its household's stored rows (in the caller's transaction); the households that
    have stored rows, which the caller re-scores. An event id the rows already hold is not appended twice."""
    wanted = {(str(e["household_id"]), region) for e, region in zip(events, regions, strict=True)}
    stored = {(r.household_pseudonym, r.region_code): r for r in _stored(session, wanted, lock=True)}
    for event, region in zip(events, regions, strict=True):
        row = stored.get((str(event["household_id"]), region))
        if row is None:
            continue
        held = list(row.tables.get("events", []))
        if any(e.get("event_id") == event["event_id"] for e in held):
            continue
        # A new dict: the JSON column is written only when the attribute is assigned.
        row.tables = {**row.tables, "events": [*held, event]}
        after = date.fromisoformat(event["event_date"]) + timedelta(days=1)
        row.as_of = max(row.as_of, after)
        row.stored_at = utcnow()
    return set(stored)


def held(session: Session, keys: Iterable[Key]) -> set[Key]:
    """Which of the households have kept rows (their events re-score them)."""
    return {(row.household_pseudonym, row.region_code) for row in _stored(session, keys)}


def rebuild(session: Session, keys: Iterable[Key], reference: VillageReference | None) -> list[Rebuilt]:
    """The households' profiles built from their stored rows, one group per as-of date."""
    groups: dict[date, list[HouseholdSources]] = {}
    for row in sorted(_stored(session, set(keys)), key=lambda r: (r.region_code, r.household_pseudonym)):
        groups.setdefault(row.as_of, []).append(row)
    return [Rebuilt(as_of, _profiles(rows, as_of, reference)) for as_of, rows in sorted(groups.items())]


def _profiles(rows: Sequence[HouseholdSources], as_of: date, reference: VillageReference | None) -> pd.DataFrame:
    records: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        for name, table_rows in row.tables.items():
            records.setdefault(name, []).extend(table_rows)
    sources = coerce_records(records, {"origin": "stored"})
    if reference is not None:
        counties = {row.region_code[:6] for row in rows}
        sources.tables["villages"] = reference.with_villages(counties, sources.tables.get("villages"))
    # Already ingested: no ID numbers are left, so no key is needed; ingest keeps the one road.
    return build_profiles(ingest(sources, None), as_of)


def _stored(session: Session, keys: Iterable[Key], *, lock: bool = False) -> list[HouseholdSources]:
    keys = list(keys)
    if not keys:
        return []
    query = select(HouseholdSources).where(
        tuple_(HouseholdSources.household_pseudonym, HouseholdSources.region_code).in_(keys)
    )
    # Two events of one household at once: the second waits for the first's append (PostgreSQL; SQLite
    # serialises writers anyway).
    return list(session.scalars(query.with_for_update() if lock else query))
