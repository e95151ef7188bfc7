"""Region summaries for officials and grid workers: counts by level, top risk types and the visit list."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date
from typing import Final

from sqlalchemy import Subquery, case, func, select
from sqlalchemy.orm import Session, aliased

from service._scores import ScoreView
from service.errors import InvalidFieldError
from service.scope import Scope
from service.tables import RiskLevel, ScoreRecord

MAX_VISIT_LIST: Final = 1000
REASON_BATCH: Final = 5000


@dataclass(frozen=True)
class RiskTypeCount:
    """A reason key (risk-type code or group) and how many households name it among their top reasons."""

    key: str
    households: int


@dataclass(frozen=True)
class RegionSummary:
    """The latest stored score of every household in the region, summarised."""

    region_code: str
    households: int
    by_level: dict[RiskLevel, int]  # every level, zero included
    top_risk_types: list[RiskTypeCount]  # most frequent first
    visit_list: list[ScoreView]  # highest probability first
    latest_as_of: date | None
    synthetic: bool  # some of the scores come from synthetic (demo) data: reports must say so


def _latest_scores(inner: Scope) -> Subquery:
    """One row per household: its score with the latest `as_of` (then latest `scored_at`) inside `inner`."""
    rank = (
        func.row_number()
        .over(
            partition_by=ScoreRecord.household_pseudonym,
            order_by=(ScoreRecord.as_of.desc(), ScoreRecord.scored_at.desc(), ScoreRecord.id.desc()),
        )
        .label("rank")
    )
    ranked = select(ScoreRecord.id, rank).where(inner.filter(ScoreRecord.region_code)).subquery("ranked")
    return select(ranked.c.id).where(ranked.c.rank == 1).subquery("latest")


def region_summary(session: Session, scope: Scope, region_code: str, top_k: int = 20) -> RegionSummary:
    """Summary of `region_code` (any level: "99" province … 12-digit village) inside `scope`.

    A region outside the scope raises `OutOfScopeError` from the codes alone; a region without stored scores
    gives an empty summary — so nobody learns whether households exist in a region they may not see.
    """
    inner = scope.narrow(region_code)
    if not 1 <= top_k <= MAX_VISIT_LIST:
        raise InvalidFieldError("top_k", f"must lie between 1 and {MAX_VISIT_LIST}")
    latest = _latest_scores(inner)
    record = aliased(ScoreRecord, name="record")
    joined = select(record).join(latest, latest.c.id == record.id)

    by_level = dict.fromkeys(RiskLevel, 0)
    synthetic = False
    latest_as_of: date | None = None
    counts = session.execute(
        joined.with_only_columns(
            record.level,
            func.count(),
            func.max(case((record.synthetic, 1), else_=0)),
            func.max(record.as_of),
        ).group_by(record.level)
    )
    for level, count, any_synthetic, as_of in counts:
        by_level[level] = count
        synthetic = synthetic or bool(any_synthetic)
        latest_as_of = as_of if latest_as_of is None else max(latest_as_of, as_of)

    visits = session.scalars(joined.order_by(record.probability.desc(), record.household_pseudonym).limit(top_k))
    visit_list = [ScoreView.of(row) for row in visits]

    # Reasons are JSON; counting them in SQL would need a different function per backend. Stream them instead,
    # a batch at a time, so memory stays flat even for a province.
    risk_types: Counter[str] = Counter()
    reasons = session.execute(joined.with_only_columns(record.reasons).execution_options(yield_per=REASON_BATCH))
    for (household_reasons,) in reasons:
        risk_types.update({str(reason["key"]) for reason in household_reasons or [] if isinstance(reason, dict)})
    top_risk_types = [
        RiskTypeCount(key, count) for key, count in sorted(risk_types.items(), key=lambda item: (-item[1], item[0]))
    ]
    return RegionSummary(
        region_code=inner.region_prefix,
        households=sum(by_level.values()),
        by_level=by_level,
        top_risk_types=top_risk_types,
        visit_list=visit_list,
        latest_as_of=latest_as_of,
        synthetic=synthetic,
    )
