"""Which reason key each feature's points go to, for one household and for a batch (`models.reasons`).

A model's features have fixed roles (`features.profiles.evidence.ROLES`); where a feature's points go depends on
the household: its evidence of the feature's risk type or need, the condition under which they move to
another risk type (hospital costs of an accident), and whether the value is missing. `route_row` decides it for
one profile row, `route_batch` for a whole table; tests/models/test_reason_keys.py checks that they agree.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd

from features.profiles.evidence import DATA_QUALITY, Condition, evidence_columns, evidence_keys, role


@dataclass(frozen=True)
class Plan:
    """The routes of a model's columns: per column its background, evidence and moves-to keys (indexes into
    `keys`, −1 for none) and the moves-to condition; `keys` lists every key a column can reach, in the order of
    the first column reaching it (evidence, moves-to, then background), data quality last."""

    keys: tuple[str, ...]
    background: tuple[int, ...]
    evidence: tuple[int, ...]
    moves_to: tuple[int, ...]
    conditions: tuple[Condition | None, ...]
    data_quality: int


@lru_cache(maxsize=64)
def plan(names: tuple[str, ...]) -> Plan:
    keys: dict[str, int] = {}

    def index(key: str | None) -> int:
        if key is None:
            return -1
        return keys.setdefault(key, len(keys))

    background, evidence, moves_to, conditions = [], [], [], []
    for name in names:
        item = role(name)
        evidence.append(index(item.evidence))
        moves_to.append(index(item.moves_to[0]) if item.moves_to else -1)
        conditions.append(item.moves_to[1] if item.moves_to else None)
        background.append(-1 if item.background == DATA_QUALITY else index(item.background))
    quality = index(DATA_QUALITY)
    background = [quality if b < 0 else b for b in background]
    return Plan(tuple(keys), tuple(background), tuple(evidence), tuple(moves_to), tuple(conditions), quality)


def route_row(names: tuple[str, ...], profile: Mapping[str, Any] | pd.Series, missing: Sequence[bool]) -> list[int]:
    """Each column's key index for one household (`plan(names).keys`)."""
    routes = plan(names)
    shown = evidence_keys(profile)
    out = []
    for j in range(len(names)):
        b, e, m = routes.background[j], routes.evidence[j], routes.moves_to[j]
        if missing[j] or b == routes.data_quality:
            out.append(routes.data_quality)
        elif m >= 0 and routes.keys[m] in shown and _holds(routes.conditions[j], profile):
            out.append(m)
        elif e >= 0 and routes.keys[e] in shown:
            out.append(e)
        else:
            out.append(b)
    return out


def route_batch(names: tuple[str, ...], profiles: pd.DataFrame, missing: np.ndarray) -> np.ndarray:
    """Each row's and column's key index (n × columns), as `route_row` decides for every row."""
    routes = plan(names)
    n = len(profiles)
    used = {routes.keys[e] for e in (*routes.evidence, *routes.moves_to) if e >= 0}
    shown = evidence_columns(profiles) if used else {}
    conditions: dict[Condition, np.ndarray] = {}
    out = np.empty((n, len(names)), dtype=np.int64)
    for j in range(len(names)):
        b, e, m = routes.background[j], routes.evidence[j], routes.moves_to[j]
        column = np.full(n, b, dtype=np.int64)
        if b != routes.data_quality:
            if e >= 0:
                column[shown[routes.keys[e]]] = e
            condition = routes.conditions[j]
            if m >= 0 and condition is not None:
                if condition not in conditions:
                    conditions[condition] = condition.holds_column(profiles)
                column[shown[routes.keys[m]] & conditions[condition]] = m
        column[missing[:, j]] = routes.data_quality
        out[:, j] = column
    return out


def _holds(condition: Condition | None, profile: Mapping[str, Any] | pd.Series) -> bool:
    return condition is not None and condition.holds(profile)
