"""The work list: which households each village's staff visit next, as many as they can visit in one round.

A fixed "top N of the region" hands a 261-household village two hundred rows, most of them low risk, and a
county of fifty villages a list that reaches three of them. Staff work per village, so the list is cut per
village: the capacity is `visits per worker × workers` (or an explicit count), the same for every village of
the request, and each village lists its own highest-probability households up to it. Rows are grouped by
township and village, named from the service's villages reference (docs/reports.md, "Work list").

Current monitoring objects are never on the list: the model estimates *new* identification, which does not
apply to them, and they are followed up through their assistance plan (the region report lists them apart).

Home visits close the loop (service.visits). Each row shows the household's last standing visit. A household
whose last visit found it not at risk, already monitored or already eliminated (`SETTLED`) is left out until new
evidence arrives: a score computed with data dated after the visit that shows what the score in force on the visit
day did not — an official risk type among its reasons, an official-rule flag raised, or a higher risk level
(`new_evidence`). Until then the village's next household takes its place; each village counts those left out.

"Why now" compares each listed household's latest score with its previous one (the latest stored score with
an earlier `as_of`): the reasons that are new since then and the change of the probability. The service stores
scores, not the department events behind them, so new *reasons* stand in for new events; a household scored
once has nothing to compare with and shows its evidence instead (`work_table.why_now`).
"""

from __future__ import annotations

import threading
import weakref
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, Final

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from features.profiles.status import MONITORED
from service._scores import ScoreView
from service._summary import RISK_TYPE_KEYS
from service.db import Database
from service.errors import InvalidFieldError
from service.references import VillageReference, latest_version, load_reference
from service.scope import Scope
from service.tables import LatestScore, RiskLevel, ScoreRecord, Visit
from service.visits import SETTLED

MAX_PER_VILLAGE: Final = 500  # larger is not a round of visits but a census; ask for the export of scores instead
_PARAMETERS: Final = 900  # ids per IN (...) list: below SQLite's smallest limit on bound parameters
_RANK: Final = {RiskLevel.LOW.value: 1, RiskLevel.MEDIUM.value: 2, RiskLevel.HIGH.value: 3}


@dataclass(frozen=True)
class Capacity:
    """How many households one village's staff can visit in one round: `count` when given, else
    `visits_per_worker × workers`."""

    visits_per_worker: int
    workers: int
    count: int | None = None

    def __post_init__(self) -> None:
        for name in ("visits_per_worker", "workers"):
            if getattr(self, name) < 1:
                raise InvalidFieldError(name, "must be at least 1")
        if self.count is not None and self.count < 1:
            raise InvalidFieldError("count", "must be at least 1")
        if self.per_village > MAX_PER_VILLAGE:
            raise InvalidFieldError("count", f"visits per village must be at most {MAX_PER_VILLAGE}")

    @property
    def per_village(self) -> int:
        return self.count if self.count is not None else self.visits_per_worker * self.workers


@dataclass(frozen=True)
class Place:
    """A village's names, as the villages reference gives them (empty where it has none)."""

    village_code: str
    village: str = ""
    township_code: str = ""
    township: str = ""
    county_code: str = ""
    county: str = ""
    province_code: str = ""


@dataclass(frozen=True)
class Previous:
    """The household's score before the listed one: its date, probability, reason keys, risk level and the
    official-rule flags it raised."""

    as_of: date
    probability: float
    reason_keys: tuple[str, ...]
    level: str = ""
    raised: frozenset[str] = frozenset()


@dataclass(frozen=True)
class WorkRow:
    view: ScoreView
    previous: Previous | None
    visit: Visit | None = None  # the household's last standing home visit

    @property
    def new_reason_keys(self) -> list[str]:
        """Reason keys of the latest score that the previous score did not name (all of them without one)."""
        before = set(self.previous.reason_keys) if self.previous else set()
        return [str(r.get("key")) for r in self.view.reasons if str(r.get("key")) not in before]


@dataclass(frozen=True)
class VillageWork:
    place: Place
    households: int  # scored households of the village that can be newly identified: what the list chose from
    rows: list[WorkRow]  # highest probability first, at most the capacity
    monitored: int = 0  # current monitoring objects of the village, left out
    settled: int = 0  # households a visit found not at risk (or already in or out of monitoring), no new evidence


@dataclass(frozen=True)
class WorkList:
    region_code: str
    capacity: Capacity
    villages: list[VillageWork]  # by township code, then village code

    @property
    def rows(self) -> int:
        return sum(len(v.rows) for v in self.villages)

    @property
    def monitored(self) -> int:
        return sum(v.monitored for v in self.villages)

    @property
    def settled(self) -> int:
        return sum(v.settled for v in self.villages)

    @property
    def version(self) -> str:
        """The list's version, written back with each visit: the region and the latest data date it was made from."""
        dates = [row.view.as_of for village in self.villages for row in village.rows]
        return f"{self.region_code}-{max(dates):%Y%m%d}" if dates else self.region_code


def place_of(code: str, places: Mapping[str, Place]) -> Place:
    """The village's names, or a place with its codes alone (derived from the 12-digit code)."""
    known = places.get(code)
    if known is not None:
        return known
    return Place(code, township_code=code[:9], county_code=code[:6], province_code=code[:2])


def places_from(villages: pd.DataFrame) -> dict[str, Place]:
    """Village code → names, from a villages table of the source contract."""

    def text(value: Any) -> str:
        return "" if value is None or pd.isna(value) else str(value)

    places = {}
    for row in villages.itertuples(index=False):
        code = text(row.region_code)
        places[code] = Place(
            code,
            text(row.village_name),
            text(row.township_code),
            text(row.township_name),
            text(row.county_code),
            text(row.county_name),
            text(row.province_code),
        )
    return places


_places: weakref.WeakKeyDictionary[Database, tuple[int, dict[str, Place]]] = weakref.WeakKeyDictionary()
_places_lock = threading.Lock()


def reference_places(database: Database) -> dict[str, Place]:
    """The names of the service's current villages reference (empty without one), read once per version."""
    version = latest_version(database)
    if version is None:
        return {}
    with _places_lock:
        held = _places.get(database)
        if held is not None and held[0] == version:
            return held[1]
    reference: VillageReference | None = load_reference(database, version)
    places = places_from(reference.villages) if reference is not None else {}
    with _places_lock:
        _places[database] = (version, places)
    return places


def _chunks(items: Sequence[Any], size: int = _PARAMETERS) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


Row = tuple[str, str, int, float, Any, Any, str, bool]


def latest_rows(session: Session, scope: Scope) -> list[Row]:
    """(village, pseudonym, score id, probability, as_of, scored_at, monitoring status, any rule flag raised) of each
    household's latest score; a household scored in two villages of the scope is listed once, in the village of
    its later score."""
    rows = session.execute(
        select(
            LatestScore.region_code,
            LatestScore.household_pseudonym,
            LatestScore.score_id,
            LatestScore.probability,
            LatestScore.as_of,
            LatestScore.scored_at,
            LatestScore.monitoring_status,
            LatestScore.any_rule_flag,
        ).where(scope.filter(LatestScore.region_code))
    ).all()
    latest: dict[str, Row] = {}
    for village, pseudonym, score_id, probability, as_of, scored_at, status, flagged in rows:
        row = (village, pseudonym, int(score_id), float(probability), as_of, scored_at, str(status), bool(flagged))
        seen = latest.get(pseudonym)
        if seen is None or (as_of, scored_at, row[2]) > (seen[4], seen[5], seen[2]):
            latest[pseudonym] = row
    return list(latest.values())


def score_views(session: Session, scope: Scope, ids: Sequence[int]) -> dict[int, ScoreView]:
    """The stored scores of `ids` inside `scope`, by id (read in chunks below the bound-parameter limit)."""
    views: dict[int, ScoreView] = {}
    for chunk in _chunks(sorted(ids)):
        query = select(ScoreRecord).where(ScoreRecord.id.in_(chunk), scope.filter(ScoreRecord.region_code))
        views.update((row.id, ScoreView.of(row)) for row in session.scalars(query))
    return views


def _previous(session: Session, scope: Scope, latest: Sequence[ScoreView]) -> dict[str, Previous]:
    """Each household's latest score dated before its listed one (largest as_of, scored_at, id)."""
    return _latest_before(session, scope, {v.household_pseudonym: v.as_of for v in latest})


def _latest_before(session: Session, scope: Scope, as_of: Mapping[str, date]) -> dict[str, Previous]:
    """Each household's latest score dated before its date in `as_of` (largest as_of, scored_at, id)."""
    found: dict[str, tuple[tuple[Any, ...], Previous]] = {}
    for chunk in _chunks(sorted(as_of)):
        query = select(
            ScoreRecord.household_pseudonym,
            ScoreRecord.as_of,
            ScoreRecord.scored_at,
            ScoreRecord.id,
            ScoreRecord.probability,
            ScoreRecord.reasons,
            ScoreRecord.level,
            ScoreRecord.rule_flags,
        ).where(ScoreRecord.household_pseudonym.in_(chunk), scope.filter(ScoreRecord.region_code))
        for pseudonym, day, scored_at, score_id, probability, reasons, level, flags in session.execute(query):
            if day >= as_of[pseudonym]:
                continue
            order = (day, scored_at, score_id)
            seen = found.get(pseudonym)
            if seen is None or order > seen[0]:
                keys = tuple(str(r.get("key")) for r in reasons or [] if isinstance(r, dict))
                found[pseudonym] = (order, Previous(day, float(probability), keys, str(level), raised_flags(flags)))
    return {pseudonym: previous for pseudonym, (_, previous) in found.items()}


def settled_by_visit(session: Session, scope: Scope, view: ScoreView, visit: Visit | None) -> bool:
    """Whether the household's last standing visit settled it (`SETTLED`) with no new evidence since (module
    docstring). Judged against what the visit saw (the score in force on the visit day), not the score just
    before, so a later score that repeats the new evidence keeps the household listed."""
    if visit is None or visit.outcome not in SETTLED:
        return False
    if view.as_of <= visit.visited_on:
        return True
    day_after = visit.visited_on + timedelta(days=1)
    seen = _latest_before(session, scope, {view.household_pseudonym: day_after}).get(view.household_pseudonym)
    return not new_evidence(view, seen)


def new_evidence(view: ScoreView, seen: Previous | None) -> bool:
    """Whether a score shows what a visit that saw `seen` (None: no score before it) did not: an official risk
    type among its reasons, an official-rule flag raised, or a higher risk level. Reasons are the few strongest,
    so a new risk type behind three others shows as a flag or a level, if at all."""
    named = {str(r.get("key")) for r in view.reasons}
    if any(key in RISK_TYPE_KEYS and key not in (seen.reason_keys if seen else ()) for key in named):
        return True
    if raised_flags(view.rule_flags) - (seen.raised if seen else frozenset()):
        return True
    return seen is not None and _RANK.get(str(view.level), 0) > _RANK.get(seen.level, 0)


def raised_flags(flags: Mapping[str, Any] | None) -> frozenset[str]:
    """The official-rule flags raised in a stored score's flags (a JSON object of booleans)."""
    return frozenset(name for name, value in (flags or {}).items() if value is True)


def work_list(
    session: Session,
    scope: Scope,
    capacity: Capacity,
    places: Mapping[str, Place],
    *,
    listable: Callable[[ScoreView], bool] = lambda view: True,
    visits: Mapping[str, Visit] | None = None,
    rows: Sequence[Row] | None = None,
) -> WorkList:
    """Each village's `capacity.per_village` households with the highest probability (ties by pseudonym), among
    those that can be newly identified (current monitoring objects are counted, never listed) and not settled by
    a visit (`visits`: each household's last standing visit; module docstring).

    `listable` leaves further households out after their score is read; the next of the village takes the place.
    `rows` are the scope's `latest_rows` when the caller has read them already.
    """
    visits = visits or {}
    settled: dict[str, int] = defaultdict(int)

    by_village: dict[str, list[Row]] = defaultdict(list)
    monitored: dict[str, int] = defaultdict(int)
    for row in latest_rows(session, scope) if rows is None else rows:
        if row[6] == MONITORED:
            monitored[row[0]] += 1
        else:
            by_village[row[0]].append(row)
    codes = sorted({*by_village, *monitored}, key=lambda c: (place_of(c, places).township_code, c))
    ranked = {code: sorted(by_village[code], key=lambda row: (-row[3], row[1])) for code in codes}
    chosen: dict[str, list[ScoreView]] = {code: [] for code in codes}
    # Every village's next slice of the capacity is read in one batch: usually one batch suffices, a further
    # one only for villages where `listable` left households out.
    per_village, start = capacity.per_village, 0
    pending = [code for code in codes if ranked[code]]
    while pending:
        pieces = {code: ranked[code][start : start + per_village] for code in pending}
        views = score_views(session, scope, [row[2] for piece in pieces.values() for row in piece])
        for code, piece in pieces.items():
            for row in piece:
                view = views.get(row[2])
                if view is None or not listable(view):
                    continue
                if settled_by_visit(session, scope, view, visits.get(view.household_pseudonym)):
                    settled[code] += 1
                    continue
                chosen[code].append(view)
        start += per_village
        pending = [code for code in pending if len(chosen[code]) < per_village and start < len(ranked[code])]
    villages = [(code, len(ranked[code]), chosen[code][:per_village]) for code in codes]
    previous = _previous(session, scope, [view for _, _, chosen in villages for view in chosen])
    return WorkList(
        scope.region_prefix,
        capacity,
        [
            VillageWork(
                place_of(code, places),
                households,
                [
                    WorkRow(view, previous.get(view.household_pseudonym), visits.get(view.household_pseudonym))
                    for view in chosen
                ],
                monitored.get(code, 0),
                settled.get(code, 0),
            )
            for code, households, chosen in villages
        ],
    )
