"""The region report's data, kept per database and region and brought up to date with only the new scores.

Scores are append-only (every decision is audited; nothing is updated or deleted), so a region's data changes
exactly when scores are added inside it. Each request reads the region's fingerprint — its number of scores and
largest score id — from the region index alone (a covering index scan, no wide rows). Unchanged: the cached
result is used. Grown: only the scores with a larger id are read and merged into the cached per-household
state — unless the count does not add up (a transaction that took a smaller id committed late, or rows were
removed), in which case the region is read again whole. The cache lives as long as its `Database` object (weak
keys), so tests and reconnects never see another database's data. Region scope is checked before the cache is
consulted; requests for the same region wait for each other, so a merge happens once.
"""

from __future__ import annotations

import threading
import weakref
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Final

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from service.db import Database
from service.reports._queries import RegionAccumulator, RegionData, score_rows
from service.scope import Scope
from service.tables import ScoreRecord

MAX_REGIONS: Final = 16  # per database; a county of 50,000 households holds ≈ 20 MB of state


@dataclass
class _Entry:
    accumulator: RegionAccumulator
    result: RegionData | None = None
    settings: tuple[int, int] = (0, 0)
    lock: threading.Lock = field(default_factory=threading.Lock)


_caches: weakref.WeakKeyDictionary[Database, OrderedDict[str, _Entry]] = weakref.WeakKeyDictionary()
_lock = threading.Lock()


def fingerprint(session: Session, scope: Scope) -> tuple[int, int]:
    """(number of scores, largest score id) in the region, from the region index alone."""
    count, largest = session.execute(
        select(func.count(), func.max(ScoreRecord.id)).where(scope.filter(ScoreRecord.region_code))
    ).one()
    return int(count or 0), int(largest or 0)


def _entry(database: Database, scope: Scope) -> _Entry:
    with _lock:
        regions = _caches.setdefault(database, OrderedDict())
        entry = regions.get(scope.region_prefix)
        if entry is None:
            entry = regions[scope.region_prefix] = _Entry(RegionAccumulator(scope))
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
        count, largest = fingerprint(session, scope)
        state = entry.accumulator
        unchanged = (state.rows, state.max_id) == (count, largest) and entry.settings == (visit_max, compare_max)
        if unchanged and entry.result is not None:
            return entry.result
        if largest < state.max_id or count < state.rows:  # rows disappeared: start again
            state = entry.accumulator = RegionAccumulator(scope)
        if (state.rows, state.max_id) != (count, largest):
            state.add(score_rows(session, scope, after_id=state.max_id))
            if state.rows != count:  # a smaller id committed after our last read: read the region whole
                state = entry.accumulator = RegionAccumulator(scope)
                state.add(score_rows(session, scope))
        entry.result = state.result(session, visit_max, compare_max)
        entry.settings = (visit_max, compare_max)
        return entry.result
