"""Measures and what-if for a batch, computed once per group of rows that the rules cannot tell apart.

`models.measures.propose_measures` reads a profile only through its labour and, per measure, whether the household
is eligible for it (`eligible_when`) and receives it (`received_when`); only the measures its reason keys can reach
matter, plus the income floor (reached whatever the keys). Rows with the same reason keys, labour and those
outcomes therefore get the same proposals: `propose_groups` evaluates every condition column-wise (thresholds
from other columns or yearly standards included) and every measure's rule from them, then calls
`models.measures.propose_from` — the rules of the single road — once per group (remembering the answer across
batches, the table being fixed), and spreads it to the rows as flat columns.

`what_if_columns` re-scores each proposed measure as `models.whatif.what_if_batch` does — the measure's
effects applied by `models.whatif.apply_effects`, the changed profile scored by the same model — but on the
model's numeric input columns only (a float64 frame built once) and straight into the prepared matrix, so
that the probabilities are bitwise those of `what_if_batch` without copying every profile column per measure.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Final

import numpy as np
import pandas as pd

from models._forest_margin import forest_margin
from models._treeshap_forest import UnsupportedModelError
from models.measure_table import BY_RISK, FLOOR, MEASURE_LIST, MEASURES, Change, Condition, Measure, measure
from models.measures import (
    PROVINCE_COLUMN,
    YEAR_COLUMN,
    Proposal,
    Standards,
    compare,
    default_standards,
    propose_from,
)
from models.risk_model import RiskModel
from models.whatif import apply_effects

LABOUR_FEATURES: Final = ("no_labour_household", "labour_capable_count")
_MEMO_LIMIT: Final = 200_000
CHECK_ROWS: Final = 1_024  # rows whose forest margins are compared with LightGBM's in every batch
_memo: dict[tuple[tuple[str, ...], bytes, int], list[Proposal]] = {}


@dataclass(frozen=True)
class ProposalGroups:
    group_of_row: np.ndarray  # each row's group
    proposals: list[list[Proposal]]  # each group's proposals, in order


def _conditions_of(item: Measure) -> list[Condition]:
    found = [c for clause in item.eligible_when for c in clause]
    return found + ([item.received_when] if item.received_when is not None else [])


@lru_cache(maxsize=1)
def conditions() -> tuple[Condition, ...]:
    """Every condition a measure proposal reads (`eligible_when`, `received_when`), in a fixed order."""
    found: dict[Condition, None] = {}
    for item in MEASURES.values():
        for condition in _conditions_of(item):
            found[condition] = None
    return tuple(found)


def number_column(profiles: pd.DataFrame, name: str) -> np.ndarray:
    """A column as float64 (missing and unparsable → NaN), as `models.measures` and `models.whatif` read it."""
    if name not in profiles.columns:
        return np.full(len(profiles), np.nan)
    return pd.to_numeric(profiles[name], errors="coerce").astype("float64").to_numpy(na_value=np.nan)


def _province_column(profiles: pd.DataFrame) -> np.ndarray:
    """Province codes as `models.measures.threshold` reads them (anything but a string: no province)."""
    if PROVINCE_COLUMN not in profiles.columns:
        return np.full(len(profiles), None, dtype=object)
    values = profiles[PROVINCE_COLUMN].to_numpy(dtype=object)
    return np.array([v if isinstance(v, str) else None for v in values], dtype=object)


def condition_outcomes(profiles: pd.DataFrame, standards: Standards | None = None) -> np.ndarray:
    """rows × `conditions()`: `models.measures.holds` of every condition for every row, column-wise."""
    standards = standards or default_standards()
    columns: dict[str, np.ndarray] = {}

    def column(name: str) -> np.ndarray:
        if name not in columns:
            columns[name] = number_column(profiles, name)
        return columns[name]

    limits: dict[str, np.ndarray] = {}
    out = np.zeros((len(profiles), len(conditions())), dtype=bool)
    for j, condition in enumerate(conditions()):
        if condition.times is not None:
            limit: float | np.ndarray = condition.value * column(condition.times)
        elif condition.standard is not None:
            if condition.standard not in limits:
                limits[condition.standard] = standards[condition.standard].lookup(
                    column(YEAR_COLUMN), _province_column(profiles)
                )
            limit = condition.value * limits[condition.standard]
        else:
            limit = condition.value
        with np.errstate(invalid="ignore"):
            out[:, j] = compare(column(condition.feature), condition.op, limit)
    return out


def measure_outcomes(profiles: pd.DataFrame, standards: Standards | None = None) -> tuple[np.ndarray, np.ndarray]:
    """rows × `MEASURE_LIST`: whether each row is eligible for each measure, and whether it receives it."""
    outcomes = condition_outcomes(profiles, standards)
    index = {c: j for j, c in enumerate(conditions())}
    n = len(profiles)
    eligible = np.ones((n, len(MEASURE_LIST)), dtype=bool)
    received = np.zeros((n, len(MEASURE_LIST)), dtype=bool)
    for m, item in enumerate(MEASURE_LIST):
        for clause in item.eligible_when:
            eligible[:, m] &= outcomes[:, [index[c] for c in clause]].any(axis=1)
        if item.received_when is not None:
            received[:, m] = outcomes[:, index[item.received_when]]
    return eligible, received


@lru_cache(maxsize=4096)
def _reachable(keys: tuple[str, ...]) -> np.ndarray:
    """Mask over `MEASURE_LIST` of the measures proposals for these reason keys can name (the floor included)."""
    found = {FLOOR}
    for key in keys:
        entry = BY_RISK.get(key)
        if entry is not None:
            found.update(entry.with_labour, entry.without_labour)
    return np.array([item.code in found for item in MEASURE_LIST])


def propose_groups(
    profiles: pd.DataFrame,
    keys: Sequence[str],
    key_indexes: np.ndarray,
    per_reason: int,
    standards: Standards | None = None,
) -> ProposalGroups:
    """`propose_measures` for every row (reason keys `keys[key_indexes[i]]`, −1: none), once per group."""
    n = len(profiles)
    flag = number_column(profiles, "no_labour_household")
    capable = number_column(profiles, "labour_capable_count")
    labour = np.where(np.isnan(flag), capable >= 1, flag != 1)
    eligible, received = measure_outcomes(profiles, standards)
    combos, combo_of_row = np.unique(key_indexes.reshape(n, -1), axis=0, return_inverse=True)
    combo_of_row = np.asarray(combo_of_row).reshape(-1)
    combo_keys = [tuple(keys[i] for i in combo if i >= 0) for combo in combos]
    masks = np.array([_reachable(k) for k in combo_keys]).reshape(len(combos), -1)
    # What a row's proposals can depend on: labour and, for the measures its keys reach, eligible and received.
    relevant = np.column_stack([labour, eligible & masks[combo_of_row], received & masks[combo_of_row]])
    signature = np.column_stack([combo_of_row, np.packbits(relevant, axis=1).astype(np.int64)])
    groups, first, group_of_row = np.unique(signature, axis=0, return_index=True, return_inverse=True)
    position = {item.code: m for m, item in enumerate(MEASURE_LIST)}
    proposals = []
    for g in range(len(groups)):
        row = int(first[g])
        row_keys = combo_keys[combo_of_row[row]]
        memo_key = (row_keys, np.packbits(relevant[row]).tobytes(), per_reason)
        found = _memo.get(memo_key)
        if found is None:
            found = propose_from(
                _lookup(eligible[row], position),
                _lookup(received[row], position),
                bool(labour[row]),
                row_keys,
                per_reason,
            )
            if len(_memo) >= _MEMO_LIMIT:
                _memo.clear()
            _memo[memo_key] = found
        proposals.append(found)
    return ProposalGroups(np.asarray(group_of_row).reshape(-1), proposals)


def _lookup(row: np.ndarray, position: dict[str, int]) -> Callable[[Measure], bool]:
    return lambda item: bool(row[position[item.code]])


def margins(model: RiskModel, x: np.ndarray, check_rows: int = CHECK_ROWS) -> tuple[np.ndarray, np.ndarray | None]:
    """The booster's margins of x, and each row's leaf values per tree when `ForestMargin` computed them.

    The forest sums leaf values in LightGBM's order, so its margins are LightGBM's bitwise; that is checked
    against `RiskModel.margin` on `check_rows` rows spread over the batch (all rows when there are fewer),
    and LightGBM's own predict is used for the whole batch if any differs or the model has deeper trees.
    """
    try:
        forest = forest_margin(model.booster)
    except UnsupportedModelError:
        return model.margin(x), None
    leaves = forest.leaf_values(x)
    ours = forest.margins(leaves)
    sample = np.unique(np.linspace(0, len(x) - 1, min(check_rows, len(x))).astype(np.int64))
    if not np.array_equal(ours[sample], model.margin(x[sample])):
        return model.margin(x), None
    return ours, leaves


def what_if_probabilities(
    model: RiskModel, profiles: pd.DataFrame, x: np.ndarray, leaves: np.ndarray | None, codes: np.ndarray
) -> np.ndarray:
    """Calibrated probability after each proposed measure: codes is rows × slots (None: no measure there).

    With `leaves` (from `margins`), only trees that split on a changed column are re-evaluated; without,
    LightGBM re-scores the changed rows.
    """
    after = np.full(codes.shape, np.nan)
    present = codes != None  # noqa: E711 — element-wise on an object array
    if not present.any():
        return after
    names = model.feature_names
    numeric = np.array([j for j, f in enumerate(model.features) if f.kind != "category"], dtype=np.int64)
    numeric_names = [names[j] for j in numeric]
    extra = [
        c
        for c in profiles.columns
        if c not in set(names)
        and (pd.api.types.is_numeric_dtype(profiles[c]) or pd.api.types.is_bool_dtype(profiles[c]))
    ]
    # What apply_effects reads and writes, as it would read it (`models.whatif._column`): float64, NaN missing.
    frame = pd.DataFrame(
        np.column_stack([x[:, numeric], *(number_column(profiles, c) for c in extra)]),
        columns=numeric_names + extra,
    )
    forest = forest_margin(model.booster) if leaves is not None else None
    for code in sorted(set(codes[present].tolist())):
        item = measure(code)
        _check_numeric(item, model)
        rows, slots = np.nonzero(codes == code)
        changed = apply_effects(frame.iloc[rows], item.effects)[numeric_names].to_numpy(dtype=np.float64)
        x_after = x[rows]
        before = x_after[:, numeric]
        differs = ~((changed == before) | (np.isnan(changed) & np.isnan(before)))
        differs |= np.signbit(changed) != np.signbit(before)
        columns = numeric[differs.any(axis=0)]
        x_after[:, numeric] = changed
        if forest is not None and leaves is not None:
            margin_after = forest.margins_after_change(x_after, rows, leaves, columns)
        else:
            margin_after = model.margin(x_after)
        after[rows, slots] = model.calibrator.predict(margin_after)
    return after


def _check_numeric(item: Measure, model: RiskModel) -> None:
    categories = {f.name for f in model.features if f.kind == "category"}
    touched = {e.feature for e in item.effects if isinstance(e, Change)}
    if touched & categories:
        raise ValueError(f"measure {item.code} changes a category feature; batch what-if handles numbers only")
