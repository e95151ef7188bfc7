"""The hidden-need list: households likely in need that no other channel has raised, for the departments' early-warning
channel (部门筛查预警) to hand to grid workers (docs/reports.md, "Hidden-need list").

A household is listed from its latest stored score in the region when

- it is not a current monitoring object: those are followed up through their assistance plan;
- (only with `include_flagged=False`) no official-rule flag of the score is raised, for an office that acts on
  every flag through the rules' own screening and wants only the need the flags miss. By default flagged
  households are listed too (`assumed`): a flag is not a visit, and on the demo city leaving them out loses about
  a third of the undiscovered need the list finds (docs/model-quality.md, "The hidden-need list by county");
- no home visit settled it without new evidence since (`worklist.settled_by_visit`, the work list's rule): a
  visit that found it not at risk, already monitored or already eliminated is a recent verification.

Households whose risk was eliminated stay on the list (a return to need is what this channel should catch), and
households of unknown status stay, marked unknown.

The list holds `share` of each county's households that are not current monitoring objects (rounded up), the
county's highest probabilities among those listable, so every county gets its own share whatever the others'
probabilities; the whole list is ordered by probability, then household number.

Membership is decided from the narrow `latest_scores` rows (probability, status, any rule flag) and the visits;
the wide score rows are read only for the households shown (and for the few a visit settled before a newer score).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Final

from sqlalchemy.orm import Session

from features.profiles.status import MONITORED
from service._scores import ScoreView
from service._summary import RISK_TYPE_KEYS
from service.errors import InvalidFieldError
from service.reports.worklist import Place, Row, latest_rows, place_of, score_views, settled_by_visit
from service.scope import Scope
from service.tables import Visit
from service.visits import SETTLED

DEFAULT_SHARE: Final = 0.05
MAX_SHARE: Final = 0.25  # a larger list is not a list of hidden cases but a census; ask for the export of scores
# Probabilities are compared as integers of this scale in cursors (paging keys are ints and strings).
_SCALE: Final = 10**12


@dataclass(frozen=True)
class Entry:
    """A listed household before its score is read: enough to order, count and page the list."""

    pseudonym: str
    score_id: int
    probability: float
    village_code: str
    county_code: str
    county_rank: int  # 1 = the county's highest probability on the list
    rank: int = 0  # in the whole list, 1 first
    flagged: bool = False  # an official-rule flag raises it too (listed only with include_flagged)

    @property
    def key(self) -> tuple[int, str]:
        """The list's order (ascending): higher probability first, then household number."""
        return (-round(self.probability * _SCALE), self.pseudonym)


@dataclass(frozen=True)
class CountyCount:
    """How a county's list was made: its households that are not current monitoring objects, the list's size,
    the households listed, those a rule flag raises (listed with `include_flagged`, else left out) and those
    left out because a visit settled them."""

    county_code: str
    households: int
    size: int
    listed: int
    flagged: int
    settled: int


@dataclass(frozen=True)
class HiddenNeedList:
    region_code: str
    share: float
    entries: list[Entry]  # every listed household, in the list's order
    counties: list[CountyCount]  # by county code
    include_flagged: bool = True


@dataclass(frozen=True)
class HiddenNeedRow:
    """A listed household with its stored score and its village's names."""

    entry: Entry
    view: ScoreView
    place: Place

    @property
    def risk_reasons(self) -> list[dict[str, Any]]:
        """The score's reasons that name an official risk type: why the household is on the list."""
        return [r for r in self.view.reasons if str(r.get("key")) in RISK_TYPE_KEYS]


def check_share(share: float) -> float:
    if not 0 < share <= MAX_SHARE:  # false for NaN too
        raise InvalidFieldError("share", f"must lie above 0 and at most {MAX_SHARE}")
    return share


def _county(row: Row, places: Mapping[str, Place]) -> str:
    return place_of(row[0], places).county_code or row[0][:6]


def hidden_need_list(
    session: Session,
    scope: Scope,
    places: Mapping[str, Place],
    share: float = DEFAULT_SHARE,
    *,
    visits: Mapping[str, Visit] | None = None,
    include_flagged: bool = True,
) -> HiddenNeedList:
    """The list of `scope` (module docstring); `visits`: each household's last standing home visit.
    `include_flagged` keeps the households an official-rule flag raises (then `flagged` counts those listed)."""
    check_share(share)
    visits = visits or {}
    pool: dict[str, list[Row]] = defaultdict(list)
    for row in latest_rows(session, scope):
        if row[6] != MONITORED:
            pool[_county(row, places)].append(row)
    entries: list[Entry] = []
    counties = []
    for county in sorted(pool):
        rows = pool[county]
        size = math.ceil(share * len(rows))
        left_out = [] if include_flagged else [row for row in rows if row[7]]
        listable = rows if include_flagged else [row for row in rows if not row[7]]
        chosen, settled = _choose(session, scope, listable, size, visits)
        entries.extend(
            Entry(row[1], row[2], row[3], row[0], county, rank, flagged=bool(row[7]))
            for rank, row in enumerate(chosen, start=1)
        )
        flagged = len(left_out) if not include_flagged else sum(bool(row[7]) for row in chosen)
        counties.append(CountyCount(county, len(rows), size, len(chosen), flagged, settled))
    ordered = [replace(entry, rank=rank) for rank, entry in enumerate(sorted(entries, key=lambda e: e.key), start=1)]
    return HiddenNeedList(scope.region_prefix, share, ordered, counties, include_flagged)


def _choose(
    session: Session, scope: Scope, rows: Sequence[Row], size: int, visits: Mapping[str, Visit]
) -> tuple[list[Row], int]:
    """The `size` highest-probability rows not settled by a visit, and how many a visit settled on the way."""
    chosen: list[Row] = []
    settled = 0
    for row in sorted(rows, key=lambda row: (-row[3], row[1])):
        if len(chosen) == size:
            break
        visit = visits.get(row[1])
        if visit is not None and visit.outcome in SETTLED:
            if row[4] <= visit.visited_on:
                settled += 1
                continue
            view = score_views(session, scope, [row[2]]).get(row[2])
            if view is None or settled_by_visit(session, scope, view, visit):
                settled += 1
                continue
        chosen.append(row)
    return chosen, settled


def read_rows(
    session: Session, scope: Scope, entries: Sequence[Entry], places: Mapping[str, Place]
) -> list[HiddenNeedRow]:
    """The stored scores of `entries` (the list or a page of it), with their villages' names."""
    views = score_views(session, scope, [entry.score_id for entry in entries])
    return [
        HiddenNeedRow(entry, views[entry.score_id], place_of(entry.village_code, places))
        for entry in entries
        if entry.score_id in views
    ]
