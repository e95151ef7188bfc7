"""The region report's data, kept per database and region and brought up to date with only what changed.

Scores are append-only (every decision is audited; nothing is updated or deleted), so a region's data changes
exactly when scores are added inside it. Each request reads the region's fingerprint — its number of scores and
largest score id — from the region index of `score_records` alone. Unchanged: the cached result is used.
Grown: only the rows of `latest_scores` whose score id is above the last one seen are read and merged into the
cached households — unless the count does not add up (a transaction that took a smaller id committed late, or
rows were removed), in which case the region is read again whole. The trend and the listed households are read
again whenever the region changed. The cache lives as long as its `Database` object (weak keys), so tests and
reconnects never see another database's data. Region scope is checked before the cache is consulted; requests
for the same region wait for each other, so a merge happens once.
"""

from __future__ import annotations

import threading
import weakref
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Final

from sqlalchemy.orm import Session

from service.db import Database
from service.reports._queries import RegionData, region_data_of
from service.scope import Scope
from service.store import LatestScores, count_scores_after, score_fingerprint

MAX_REGIONS: Final = 16  # per database; a county of 50,000 households holds ≈ 15 MB of state


@dataclass
class _Entry:
    latest: LatestScores
    fingerprint: tuple[int, int] = (0, 0)  # of the scores `latest` reflects
    result: RegionData | None = None
    settings: tuple[int, int] = (0, 0)
    lock: threading.Lock = field(default_factory=threading.Lock)


_caches: weakref.WeakKeyDictionary[Database, OrderedDict[str, _Entry]] = weakref.WeakKeyDictionary()
_lock = threading.Lock()


def _entry(database: Database, scope: Scope) -> _Entry:
    with _lock:
        regions = _caches.setdefault(database, OrderedDict())
        entry = regions.get(scope.region_prefix)
        if entry is None:
            entry = regions[scope.region_prefix] = _Entry(LatestScores(scope))
        regions.move_to_end(scope.region_prefix)
        while len(regions) > MAX_REGIONS:
            regions.popitem(last=False)
        return entry


def region_data_cached(
    database: Database, session: Session, scope: Scope, visit_max: int, compare_max: int
) -> RegionData:
    """`region_data(session, scope, …)`, from the cache when the region has not changed, merged when it grew."""
    entry = _entry(database, scope)
    with entry.lock:
        count, largest = score_fingerprint(session, scope)
        if (
            entry.fingerprint == (count, largest)
            and entry.settings == (visit_max, compare_max)
            and entry.result is not None
        ):
            return entry.result
        if entry.fingerprint != (count, largest):
            rows, max_id = entry.fingerprint
            # Every score added since has an id above the last one seen, or one committed late: read whole.
            if max_id and (largest < max_id or rows + count_scores_after(session, scope, max_id) != count):
                entry.latest, max_id = LatestScores(scope), 0
            # Rows committed after the fingerprint may be read too; merging them again later changes nothing.
            entry.latest.read(session, after_score_id=max_id)
            entry.fingerprint = (count, largest)
        entry.result = region_data_of(session, entry.latest, visit_max, compare_max)
        entry.settings = (visit_max, compare_max)
        return entry.result
