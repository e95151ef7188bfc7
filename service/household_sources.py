"""Household sources: each scored household's contract rows kept, so that a department event re-scores it at once.

`POST /v1/households:score` keeps the rows of every household it scored, as ingestion left them (ID numbers
replaced by pseudonyms, names dropped: `features.pseudonyms.ingestion.ingest`), keyed by household pseudonym and
village; the household's next document replaces them. A pushed event is appended to its household's rows in the
transaction that stores the event, and the household is rebuilt from those rows through the same road as a
document (`build_profiles`, the service's villages reference as context) and scored by `service.scoring`.

Rows are kept as plain JSON (dates as YYYY-MM-DD, empty cells left out), the shape a document arrives in, so the
rebuilt profile equals the one the document gave. They hold health-related amounts (hospital costs): they live in
the service database only and are never logged. The as-of date of a re-score is the later of the stored one and the
day after the newest appended event, so that the event counts (a profile for D reads records before D).
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Final

import pandas as pd
from sqlalchemy import select, tuple_
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from features.profiles.build import build_profiles
from features.pseudonyms.ingestion import ingest
from features.reading.sources import Sources, coerce_records
from service.db import Database
from service.documents import OBSERVED_WHEN_SENT
from service.references import VillageReference
from service.tables import HouseholdSources, utcnow

# Member status rows carry no household id: they follow their member.
BY_MEMBER: Final = "member_status"

Key = tuple[str, str]  # (household pseudonym, village code)


@dataclass(frozen=True)
class Rebuilt:
    """Households rebuilt from their stored rows: their profiles, all as of one date."""

    as_of: date
    profiles: pd.DataFrame


def plain_row(record: dict[Hashable, Any]) -> dict[str, Any]:
    """A typed row as JSON: dates as YYYY-MM-DD, missing cells left out."""
    out: dict[str, Any] = {}
    for column, value in record.items():
        if value is None or value is pd.NA or value is pd.NaT or (isinstance(value, float) and math.isnan(value)):
            continue
        if isinstance(value, datetime | pd.Timestamp):
            value = value.date().isoformat()
        elif isinstance(value, date):
            value = value.isoformat()
        elif hasattr(value, "item"):
            value = value.item()  # numpy scalars
        out[str(column)] = value
    return out


def split_sources(sources: Sources, reference: VillageReference | None) -> dict[Key, dict[str, list[dict[str, Any]]]]:
    """Each household's rows of the ingested `sources`, by table. A village row is kept only where the reference
    does not know the village (the document's own row was used for it); otherwise the reference gives it again."""
    households = sources.tables["households"]
    keys = {
        str(h): (str(h), str(r))
        for h, r in zip(households["household_id"].tolist(), households["region_code"].tolist(), strict=True)
    }
    out: dict[Key, dict[str, list[dict[str, Any]]]] = {key: {} for key in keys.values()}
    owner_of_member: dict[str, str] = {}
    members = sources.tables.get("members")
    if members is not None and len(members):
        owner_of_member = dict(zip(members["member_id"].astype(str), members["household_id"].astype(str), strict=True))
    for name, frame in sources.tables.items():
        if name == "villages" or not len(frame):
            continue
        owners = frame["member_id"].astype(str).map(owner_of_member) if name == BY_MEMBER else frame["household_id"]
        for owner, record in zip(owners.tolist(), frame.to_dict("records"), strict=True):
            key = keys.get(str(owner))
            if key is not None:
                out[key].setdefault(name, []).append(plain_row(record))
    for name in OBSERVED_WHEN_SENT:  # sent empty: kept as observed with no records
        if name in sources.tables:
            for tables in out.values():
                tables.setdefault(name, [])
    villages = sources.tables.get("villages")
    if villages is not None and len(villages):
        by_code = {str(r["region_code"]): plain_row(r) for r in villages.to_dict("records")}
        for key, tables in out.items():
            own = by_code.get(key[1])
            if own is not None and (reference is None or not reference.knows(key[1])):
                tables["villages"] = [own]
    return out


def keep_sources(database: Database, sources: Sources, as_of: date, reference: VillageReference | None) -> None:
    """Store each household's rows of the ingested `sources`, replacing what was kept for it before."""
    rows = split_sources(sources, reference)
    if not rows:
        return
    try:
        _replace(database, rows, as_of)
    except IntegrityError:
        # Another request kept a first row of one of these households at the same moment: replace it now.
        _replace(database, rows, as_of)


def _replace(database: Database, rows: dict[Key, dict[str, list[dict[str, Any]]]], as_of: date) -> None:
    now = utcnow()
    with database.session() as session:
        known = {(r.household_pseudonym, r.region_code): r for r in _stored(session, rows, lock=True)}
        for key, tables in rows.items():
            row = known.get(key)
            if row is None:
                session.add(
                    HouseholdSources(
                        household_pseudonym=key[0], region_code=key[1], as_of=as_of, tables=tables, stored_at=now
                    )
                )
            else:
                row.tables, row.as_of, row.stored_at = tables, as_of, now


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
