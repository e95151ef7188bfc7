"""The readiness list of a region: its current monitoring objects, each with its elimination conditions checked.

A household is listed by its latest score in the region (`latest_scores`, as the region summary reads it) when
that score says it is a current monitoring object; its readiness is the one stored with that score
(`features.profiles.readiness`). The list runs oldest identification first — the households most overdue for an
elimination review, the order of the summary's `monitored_list` — ties by pseudonym, a page at a time.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from features.profiles.status import MONITORED
from service._scores import ScoreView
from service._summary import MONITORING_STATUS, SCORE_ID, LatestScores, _monitored_rank, _score_views
from service.scope import Scope


@dataclass(frozen=True)
class ReadinessPage:
    region_code: str
    items: list[ScoreView]
    more: bool  # items follow this page


def readiness_key(view: ScoreView) -> tuple[str, str]:
    """A listed household's sort key (and cursor): its identification date as ISO text, then its pseudonym."""
    identified = view.identified_date.isoformat() if view.identified_date is not None else "9999"
    return identified, view.household_pseudonym


def readiness_list(
    session: Session, scope: Scope, region_code: str, limit: int, after: tuple[str, str] | None = None
) -> ReadinessPage:
    """Up to `limit` monitoring objects of `region_code` inside `scope` after the key `after` (`readiness_key`).

    A region outside the scope raises `OutOfScopeError` from the codes alone, as the summary does."""
    inner = scope.narrow(region_code)
    latest = LatestScores(inner)
    latest.read(session)
    monitored = sorted(
        (row for row in latest.households.values() if row[MONITORING_STATUS] == MONITORED), key=_monitored_rank
    )
    rest = [row for row in monitored if after is None or _monitored_rank(row) > after]
    page = rest[:limit]
    views = _score_views(session, inner, (row[SCORE_ID] for row in page))
    return ReadinessPage(inner.region_prefix, [views[row[SCORE_ID]] for row in page], len(rest) > limit)
