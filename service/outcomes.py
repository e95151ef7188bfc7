"""Visit outcomes as labels for training: one row per household and issued list, with its selection probability.

Outcomes flow back to training as data, never as an import: `relapse visits export-outcomes` writes this table and
`relapse train --outcomes` reads it (training.outcomes, docs/domain.md §18).

A visit becomes a label when it found the household's state: `enrolled` (taken into monitoring: in need) is 1,
`not_at_risk` (not eligible, no risk found) is 0. A visit that found nobody (`not_found`, `refused`, `away`) says
nothing about need, and one that found the household already in or out of monitoring says nothing about a *new*
need: both are dropped and counted. So is a visit that names no issued list, or a list that does not hold the
household, or that comes before the list's data date: its selection probability is unknown. Of several standing
visits of one household from one list, the latest counts (a later visit from the same list re-checks the
household).

The service's household pseudonym is the source tables' `household_id` (户编号; service.scoring stores the
profile's `household_id` as `household_pseudonym`), so the table names it `household_id` and training joins on it.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Final

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from service.scope import Scope
from service.tables import IssuedList, IssuedListRow, Visit
from service.visits import NOT_MET, standing

LABELS: Final[dict[str, int]] = {"enrolled": 1, "not_at_risk": 0}
COLUMNS: Final = (
    "household_id",
    "region_code",
    "visited_on",
    "outcome",
    "label",
    "list_version",
    "list_as_of",
    "list_rank",
    "explored",
    "selection_probability",
)


@dataclass(frozen=True)
class Outcomes:
    rows: pd.DataFrame  # COLUMNS, by list version then household
    dropped: dict[str, int]  # reason → visits left out


def _reason(visit: Visit, listed: dict[tuple[str, str], tuple[IssuedList, IssuedListRow]]) -> str | None:
    if visit.outcome in NOT_MET:
        return "household not met (not found, refused, away)"
    if visit.outcome not in LABELS:
        return "already in or out of monitoring"
    if visit.list_version is None:
        return "no list named"
    found = listed.get((visit.list_version, visit.household_pseudonym))
    if found is None:
        return "list not issued by the service or household not on it"
    if visit.visited_on < found[0].as_of:
        return "visited before the list's data date"
    return None


def export_outcomes(session: Session, scope: Scope) -> Outcomes:
    """The labelled outcomes of the standing visits in `scope` (module docstring)."""
    visits = standing(list(session.scalars(select(Visit).where(scope.filter(Visit.region_code)).order_by(Visit.id))))
    versions = sorted({v.list_version for v in visits if v.list_version is not None})
    listed: dict[tuple[str, str], tuple[IssuedList, IssuedListRow]] = {}
    for start in range(0, len(versions), 500):
        query = (
            select(IssuedList, IssuedListRow)
            .join(IssuedListRow, IssuedListRow.list_id == IssuedList.id)
            .where(IssuedList.list_version.in_(versions[start : start + 500]))
        )
        for head, row in session.execute(query).tuples():
            listed[(head.list_version, row.household_pseudonym)] = (head, row)
    dropped: Counter[str] = Counter()
    latest: dict[tuple[str, str], Visit] = {}
    for visit in visits:
        reason = _reason(visit, listed)
        if reason is not None:
            dropped[reason] += 1
            continue
        key = (str(visit.list_version), visit.household_pseudonym)
        seen = latest.get(key)
        if seen is not None:
            dropped["an earlier visit from the same list"] += 1
        if seen is None or (visit.visited_on, visit.id) > (seen.visited_on, seen.id):
            latest[key] = visit
    records = []
    for key in sorted(latest):
        visit = latest[key]
        head, row = listed[key]
        records.append(
            {
                "household_id": visit.household_pseudonym,
                "region_code": visit.region_code,
                "visited_on": visit.visited_on,
                "outcome": visit.outcome,
                "label": LABELS[visit.outcome],
                "list_version": head.list_version,
                "list_as_of": head.as_of,
                "list_rank": row.rank,
                "explored": row.explored,
                "selection_probability": row.selection_probability,
            }
        )
    frame = pd.DataFrame(records, columns=list(COLUMNS))
    for column in ("visited_on", "list_as_of"):
        frame[column] = pd.to_datetime(frame[column])
    frame["label"] = frame["label"].astype("int8")
    return Outcomes(frame, dict(dropped))
