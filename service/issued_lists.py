"""Issued work lists: a work list stored as it was handed out, with the chance its design gave each household.

A list made only of the highest-probability households shows visitors nothing about the rest: a household below
the cut is never visited, so its outcome is never seen, and a model trained on visit outcomes would learn only
about the top of its own ranking. Each village's list therefore keeps a share of its slots for *exploration*
(`exploration_share`, `assumed` default `DEFAULT_EXPLORATION_SHARE`): ⌊share × capacity⌋ slots are filled by a
seeded simple random draw, without replacement, from the village's other listable households (not current
monitoring objects, not settled by a visit, not already listed by rank); the other slots take the highest
probabilities as the work list always has (service.reports.worklist).

Every listed household's *selection probability* is then known exactly: 1 for a household taken by rank, and
`slots / pool` for one drawn from a pool of `pool` households (1 when the pool is no larger than the slots).
Training weighs a visit's outcome by its inverse (training.outcomes, docs/domain.md "Outcomes as labels").
The seed is stored with the list, so the draw can be repeated and checked.
"""

from __future__ import annotations

import hashlib
import math
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Final

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from features.profiles.status import MONITORED
from service._scores import ScoreView
from service.errors import InvalidFieldError, NotFoundError
from service.reports.worklist import (
    MAX_PER_VILLAGE,
    Capacity,
    Place,
    Row,
    latest_rows,
    score_views,
    settled_by_visit,
)
from service.reports.worklist import work_list as ranked_work_list
from service.scope import Scope
from service.tables import IssuedList, IssuedListRow, Visit
from service.visits import SETTLED

# Assumed: one slot in ten spent on a random draw keeps nine in ten of the visits where the model sends them
# while every listable household keeps a chance of being visited (no source gives a figure).
DEFAULT_EXPLORATION_SHARE: Final = 0.10
# More than half of the slots at random would no longer be a work list ranked by need.
MAX_EXPLORATION_SHARE: Final = 0.5
_EPSILON: Final = 1e-9


def exploration_slots(per_village: int, share: float) -> int:
    """Slots of a village's list filled at random: ⌊share × per_village⌋ (one rank-chosen slot always stays)."""
    if not 0.0 <= share <= MAX_EXPLORATION_SHARE:
        raise InvalidFieldError("exploration_share", f"must lie between 0 and {MAX_EXPLORATION_SHARE}")
    return math.floor(per_village * share + _EPSILON)


def draw(pool: Sequence[str], slots: int, seed: int, village: str) -> tuple[list[str], float]:
    """`slots` households drawn without replacement from `pool` (order of `pool` ignored) and the inclusion
    probability each member of the pool had: slots / len(pool), or 1 when the pool is no larger."""
    members = sorted(pool)
    if slots <= 0 or not members:
        return [], 0.0
    if len(members) <= slots:
        return members, 1.0
    # One stream per village and seed: a village's draw does not depend on which other villages are listed.
    rng = random.Random(f"{seed}:{village}")
    return sorted(rng.sample(members, slots)), slots / len(members)


@dataclass(frozen=True)
class Listed:
    view: ScoreView
    rank: int  # in its village
    selection_probability: float
    explored: bool


def _pools(
    session: Session, scope: Scope, latest: Sequence[Row], taken: set[str], visits: Mapping[str, Visit]
) -> dict[str, list[tuple[str, int]]]:
    """Per village, (pseudonym, score id) of the listable households not taken by rank: not monitored, and not
    settled by a visit (the work list's own rule, read only for households whose last visit could settle them)."""
    pools: dict[str, list[tuple[str, int]]] = {}
    settling: list[int] = []
    for village, pseudonym, score_id, *_, status, _flagged in latest:
        if status == MONITORED or pseudonym in taken:
            continue
        pools.setdefault(village, []).append((pseudonym, score_id))
        visit = visits.get(pseudonym)
        if visit is not None and visit.outcome in SETTLED:
            settling.append(score_id)
    if settling:
        views = score_views(session, scope, settling)
        settled = {
            view.id
            for view in views.values()
            if settled_by_visit(session, scope, view, visits[view.household_pseudonym])
        }
        pools = {village: [m for m in members if m[1] not in settled] for village, members in pools.items()}
    return pools


def design(
    session: Session,
    scope: Scope,
    per_village: int,
    places: Mapping[str, Place],
    *,
    share: float,
    seed: int,
    visits: Mapping[str, Visit],
    latest: Sequence[Row] | None = None,
) -> list[Listed]:
    """Each village's list: its `per_village − slots` highest-probability listable households (rank 1 first),
    then `slots` drawn at random from the rest, highest probability first (module docstring). `latest` are the
    scope's `latest_rows` when the caller has read them already."""
    if not 1 <= per_village <= MAX_PER_VILLAGE:
        raise InvalidFieldError("visits_per_village", f"must lie between 1 and {MAX_PER_VILLAGE}")
    slots = exploration_slots(per_village, share)
    latest = latest_rows(session, scope) if latest is None else latest
    capacity = Capacity(1, 1, per_village - slots)
    top = ranked_work_list(session, scope, capacity, places, visits=visits, rows=latest)
    taken = {row.view.household_pseudonym for village in top.villages for row in village.rows}
    pools = _pools(session, scope, latest, taken, visits) if slots else {}
    drawn: dict[str, tuple[list[int], float]] = {}
    for code, members in pools.items():
        score_of = dict(members)
        chosen, share_drawn = draw(list(score_of), slots, seed, code)
        drawn[code] = ([score_of[p] for p in chosen], share_drawn)
    views = score_views(session, scope, [i for chosen_ids, _ in drawn.values() for i in chosen_ids])
    listed: list[Listed] = []
    for village in top.villages:
        rows = [Listed(row.view, rank, 1.0, False) for rank, row in enumerate(village.rows, start=1)]
        ids, probability = drawn.pop(village.place.village_code, ([], 0.0))
        extra = sorted((views[i] for i in ids), key=lambda v: (-v.probability, v.household_pseudonym))
        rows += [Listed(view, len(rows) + k, probability, True) for k, view in enumerate(extra, start=1)]
        listed += rows
    return listed


def default_seed(version: str) -> int:
    """The draw's seed when the caller names none: from the list's version, so a list can be drawn again."""
    return int.from_bytes(hashlib.sha256(version.encode()).digest()[:6], "big")


def _next_version(session: Session, region: str, as_of: date) -> str:
    """`<region>-<as_of>-<n>`: the n-th list of the region made from data up to `as_of`."""
    base = f"{region}-{as_of:%Y%m%d}-"
    issued = session.scalar(select(func.count()).where(IssuedList.list_version.startswith(base, autoescape=True)))
    return f"{base}{int(issued or 0) + 1}"


def issue_list(
    session: Session,
    scope: Scope,
    per_village: int,
    places: Mapping[str, Place],
    *,
    share: float = DEFAULT_EXPLORATION_SHARE,
    seed: int | None = None,
    visits: Mapping[str, Visit],
    key_id: int | None,
) -> tuple[IssuedList, list[IssuedListRow]]:
    """Draw the region's list (`design`), store it with its design and return it; NotFoundError when the region
    has nothing to list. The caller commits."""
    exploration_slots(per_village, share)  # the share is checked before anything is read
    scored = latest_rows(session, scope)  # read once: the list's date, its ranked part and its draw pools
    latest = max((row[4] for row in scored), default=None)
    if latest is None:
        raise NotFoundError("no scored households to list in this region")
    version = _next_version(session, scope.region_prefix, latest)
    seed = default_seed(version) if seed is None else seed
    listed = design(session, scope, per_village, places, share=share, seed=seed, visits=visits, latest=scored)
    if not listed:
        raise NotFoundError("no household in this region can be listed")
    head = IssuedList(
        list_version=version,
        region_code=scope.region_prefix,
        as_of=latest,
        per_village=per_village,
        exploration_share=share,
        seed=seed,
        key_id=key_id,
    )
    session.add(head)
    session.flush()
    rows = [
        IssuedListRow(
            list_id=head.id,
            household_pseudonym=item.view.household_pseudonym,
            region_code=item.view.region_code,
            rank=item.rank,
            score_id=item.view.id,
            model_version=item.view.model_version,
            probability=item.view.probability,
            selection_probability=item.selection_probability,
            explored=item.explored,
        )
        for item in listed
    ]
    session.add_all(rows)
    session.flush()
    return head, rows


def read_list(session: Session, scope: Scope, version: str) -> tuple[IssuedList, list[IssuedListRow]]:
    """A stored list inside `scope` and its rows (by village, then rank); NotFoundError alike for an unknown list
    and for one of another region."""
    head = session.scalar(select(IssuedList).where(IssuedList.list_version == version))
    if head is None or not scope.covers(Scope(head.region_code)):
        raise NotFoundError("no issued list with this version in your region")
    query = (
        select(IssuedListRow)
        .where(IssuedListRow.list_id == head.id)
        .order_by(IssuedListRow.region_code, IssuedListRow.rank)
    )
    return head, list(session.scalars(query))
