"""The region report's data: each household's latest score summarised, the trend, rules versus model.

Everything comes from the narrow tables the scores are written with (`service._summary`), filtered by the
caller's `Scope` in SQL; only the households the report lists are read whole.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from service.scope import Scope
from service.store import Disagreement, LatestScores, RegionSummary, TrendPoint, level_trend, summarise

__all__ = ["Disagreement", "RegionData", "TrendPoint", "region_data", "region_data_of"]


@dataclass(frozen=True)
class RegionData:
    """Everything a region report shows, computed together."""

    summary: RegionSummary
    trend: list[TrendPoint]
    model_only: Disagreement  # high model level without any rule flag
    rules_only: Disagreement  # a rule flag but low model level


def region_data_of(session: Session, latest: LatestScores, visit_max: int, compare_max: int) -> RegionData:
    """The report's data from households' latest scores already read (the cache keeps them between requests)."""
    summary, model_only, rules_only = summarise(session, latest.scope, latest.households, visit_max, compare_max)
    return RegionData(summary, level_trend(session, latest.scope), model_only, rules_only)


def region_data(session: Session, scope: Scope, visit_max: int, compare_max: int) -> RegionData:
    """The region report's data, read fresh: one pass over the region's `latest_scores` rows, one aggregate of
    its `household_runs`, and one read of the listed households' scores."""
    latest = LatestScores(scope)
    latest.read(session)
    return region_data_of(session, latest, visit_max, compare_max)
