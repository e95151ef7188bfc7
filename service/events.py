"""Department events pushed to the service (`POST /v1/events`): checked by the contract's validator, kept per
household, listed with the household.

An event is one row of the contract's `events` table (a hospital stay with its costs, a disaster loss, a job loss,
a death, ...). A batch is judged whole, as a household document is: the validator (`features.validation.report`,
what `relapse validate` and `households:score` run) checks every row, the service adds what only it can check (the
household is one scored in the caller's region; an event id already stored names the same event), and every
violation comes back in one 422 by row and column. Nothing of a batch with a violation is stored.

A stored event is appended to its household's kept source rows and the household re-scored
(`service.household_sources`); a household whose rows the service does not hold (scored only from profiles or by a
batch job) waits for its next document, which must carry the event (docs/api.md, "Department events"). Repeats
are harmless: an event id already stored with the same content is answered as a duplicate and not stored again.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, Final, Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from features.contract.tables import TABLES
from features.reading.records import json_records
from features.reading.sources import coerce_records
from features.validation.report import describe_reason, validate_sources
from service.documents import DocumentViolation, DocumentViolationsError
from service.errors import InvalidFieldError
from service.scope import Scope
from service.tables import HouseholdEvent, LatestScore

COLUMNS: Final = TABLES["events"].column_names
# Reference rules the service cannot judge: it keeps rows only of households scored from documents. The household
# is checked against the stored scores instead; a member id is taken as sent (assumed: the department's own code).
UNCHECKED: Final = frozenset({("household_id", "orphan_reference"), ("member_id", "orphan_reference")})
WAITING: Final[Literal["waiting_for_document"]] = "waiting_for_document"
RESCORED: Final[Literal["rescored"]] = "rescored"
UNCHANGED: Final[Literal["unchanged"]] = "unchanged"  # a duplicate: nothing new to score


@dataclass(frozen=True)
class EventViolation(DocumentViolation):
    """A violation of one pushed event; `text` explains the service's own rules (the contract's have a code)."""

    text: str = ""

    @property
    def message(self) -> str:
        return self.text or describe_reason(self.reason)


@dataclass(frozen=True)
class StoredEvent:
    event: HouseholdEvent
    duplicate: bool  # stored before, with the same content


def check_columns(rows: Sequence[dict[str, Any]]) -> None:
    for i, row in enumerate(rows):
        for column in row:
            if column not in COLUMNS:
                raise InvalidFieldError(f"events.{column}", "is not a column of the contract's events table", i)


def plain_rows(rows: Sequence[dict[str, Any]], today: date | None = None) -> list[dict[str, Any]]:
    """The rows typed as the contract types them, back as plain JSON values; every violation raised at once."""
    check_columns(rows)
    sources = coerce_records({"events": [dict(row) for row in rows]}, {"origin": "api"})
    report = validate_sources(sources, today=today)
    violations = [
        EventViolation(v.row - 1 if v.row is not None else None, "events", 0, v.column, v.reason)
        for v in report.violations
        if (v.column, v.reason) not in UNCHECKED
    ]
    if violations:
        raise DocumentViolationsError(list(violations), len(violations))
    return json_records(sources.tables["events"])


@dataclass
class Known:
    """What the database holds of a batch's households and event ids, read once for all of its pushes."""

    villages: dict[str, list[str]]  # household → the villages of its latest scores, the latest last
    events: dict[str, HouseholdEvent]  # event id → the event stored with it (a batch's accepted pushes included)

    def village(self, scope: Scope, household: str) -> str | None:
        """The village of the household's latest score in `scope`; None when it was not scored there."""
        return next((v for v in reversed(self.villages.get(household, [])) if scope.contains(v)), None)

    def accept(self, events: Sequence[HouseholdEvent]) -> None:
        """Stored events count as stored before for the pushes judged after them."""
        self.events.update((event.event_id, event) for event in events)


def known_for(session: Session, households: set[str], event_ids: set[str]) -> Known:
    villages: dict[str, list[str]] = {}
    query = (
        select(LatestScore.household_pseudonym, LatestScore.region_code)
        .where(LatestScore.household_pseudonym.in_(households))
        .order_by(LatestScore.as_of, LatestScore.scored_at)
    )
    for pseudonym, region in session.execute(query):
        villages.setdefault(str(pseudonym), []).append(str(region))
    stored = session.scalars(select(HouseholdEvent).where(HouseholdEvent.event_id.in_(event_ids)))
    return Known(villages, {event.event_id: event for event in stored})


def judge(known: Known, scope: Scope, plain: Sequence[dict[str, Any]], *, key_id: int | None) -> list[StoredEvent]:
    """A push's events (rows `plain_rows` passed) of households scored in `scope`: each new or a duplicate of one
    stored before; every violation of the service's own rules raised at once. Nothing is stored here."""
    violations: list[DocumentViolation] = []
    out: list[StoredEvent] = []
    for i, row in enumerate(plain):
        region = known.village(scope, row["household_id"])
        if region is None:
            text = "no household with this id scored in your region"
            violations.append(EventViolation(i, "events", 0, "household_id", "unknown_household", text))
            continue
        digest = _digest(row)
        earlier = known.events.get(row["event_id"])
        if earlier is not None:
            if earlier.digest != digest or not scope.contains(earlier.region_code):
                text = "an event with this id was stored before with other content"
                violations.append(EventViolation(i, "events", 0, "event_id", "event_id_reused", text))
            else:
                out.append(StoredEvent(earlier, duplicate=True))
            continue
        event = HouseholdEvent(
            event_id=row["event_id"],
            household_pseudonym=row["household_id"],
            region_code=region,
            event_type=row["event_type"],
            event_date=date.fromisoformat(row["event_date"]),
            row=row,
            digest=digest,
            key_id=key_id,
        )
        out.append(StoredEvent(event, duplicate=False))
    if violations:
        raise DocumentViolationsError(violations, len(violations))
    return out


def household_events(session: Session, scope: Scope, pseudonym: str) -> list[HouseholdEvent]:
    """The household's events in `scope`, newest event date first."""
    query = (
        select(HouseholdEvent)
        .where(HouseholdEvent.household_pseudonym == pseudonym, scope.filter(HouseholdEvent.region_code))
        .order_by(HouseholdEvent.event_date.desc(), HouseholdEvent.id.desc())
    )
    return list(session.scalars(query))


def _digest(row: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(row, sort_keys=True, ensure_ascii=False).encode()).hexdigest()
