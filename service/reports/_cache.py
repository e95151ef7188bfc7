"""The region report's data, kept per database and region until a new score lands in the region.

Scores are append-only (every decision is audited; nothing is updated or deleted), so a region's report data
changes exactly when a score is added inside it. The fingerprint — the number of scores in the region and the
largest score id — is read from the region index alone (a covering index scan, no wide rows), and costs a few
milliseconds even for a county of 50,000 households; the full computation reads every latest score's JSON and
takes seconds on a busy machine. The cache lives as long as its `Database` object (weak keys), so tests and
reconnects never see another database's data. Region scope is checked before the cache is consulted.
"""

from __future__ import annotations

import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable
from typing import Final, TypeVar

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from service.db import Database
from service.scope import Scope
from service.tables import ScoreRecord

MAX_REGIONS: Final = 64
T = TypeVar("T")
Fingerprint = tuple[int, int]

_caches: weakref.WeakKeyDictionary[Database, OrderedDict[str, tuple[Fingerprint, object]]] = weakref.WeakKeyDictionary()
_lock = threading.Lock()


def fingerprint(session: Session, scope: Scope) -> Fingerprint:
    count, largest = session.execute(
        select(func.count(), func.max(ScoreRecord.id)).where(scope.filter(ScoreRecord.region_code))
    ).one()
    return int(count or 0), int(largest or 0)


def cached(database: Database, session: Session, scope: Scope, compute: Callable[[], T]) -> T:
    """`compute()` for `scope`'s region, or the value computed earlier if no score was added there since."""
    key = scope.region_prefix
    current = fingerprint(session, scope)
    with _lock:
        regions = _caches.setdefault(database, OrderedDict())
        hit = regions.get(key)
        if hit is not None and hit[0] == current:
            regions.move_to_end(key)
            return hit[1]  # type: ignore[return-value]
    value = compute()
    with _lock:
        regions[key] = (current, value)
        regions.move_to_end(key)
        while len(regions) > MAX_REGIONS:
            regions.popitem(last=False)
    return value
