"""The row-wise twin of `RiskModel.prepare`, behind `RiskModel.prepare_rows` (models/risk_model.py).

`prepare` converts a profile frame column by column: numbers with `pd.to_numeric(...).astype("float64")`,
categories to their index in the model's list. For the few rows of an API request those ~100 pandas calls cost
more than scoring the rows, while the rows' own values convert to the same floats without them. Each function
here converts only what it converts bitwise as `prepare` does and says what it leaves to `prepare`; the equality
tests are tests/models/test_prepare_rows.py.

This module does not import `models.risk_model` (which imports it): the features are anything with the
`FeatureSpec` fields it reads.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any, Final, Protocol

import numpy as np
import pandas as pd

from features.profiles.catalogue import FEATURES
from features.reading.frames import column_index

_FEATURE_KINDS: Final = {f.name: f.kind == "category" for f in FEATURES}  # name → whether a category


class Feature(Protocol):
    """The fields of `models.risk_model.FeatureSpec` the conversion reads."""

    @property
    def name(self) -> str: ...

    @property
    def kind(self) -> str: ...

    @property
    def categories(self) -> tuple[str, ...]: ...


def frame_rows_matrix(
    features: Sequence[Feature], profiles: pd.DataFrame, rows: Sequence[pd.Series]
) -> tuple[np.ndarray, list[int]] | None:
    """The matrix from the profile rows `profiles.iloc[i]`, and the model columns left for `prepare` to fill;
    None when the frame lacks a model feature (`prepare` names it).

    Numpy numeric columns and string categories convert from the rows' values; other dtypes (nullable
    integers, object or text numbers, …) are left to `prepare`, which defines their conversion.
    """
    positions = profiles.columns.get_indexer(column_index(tuple(f.name for f in features)))
    if (positions < 0).any():
        return None
    dtypes = profiles.dtypes.tolist()
    values = np.array([row.to_numpy(dtype=object) for row in rows], dtype=object).reshape(len(rows), -1)
    x = np.empty((len(rows), len(features)), dtype=np.float64)
    numeric: list[int] = []
    other: list[int] = []
    for j, (f, position) in enumerate(zip(features, positions.tolist(), strict=True)):
        dtype = dtypes[position]
        if f.kind == "category" and _string_categories(dtype):
            index = _category_index(f.categories)
            x[:, j] = [index.get(v, np.nan) if isinstance(v, str) else np.nan for v in values[:, position]]
        elif f.kind != "category" and isinstance(dtype, np.dtype) and dtype.kind in "biuf":
            numeric.append(j)
        else:
            other.append(j)
    if numeric:
        x[:, numeric] = values[:, positions[numeric]].astype(np.float64)
    return x, other


def values_matrix(features: Sequence[Feature], values: Sequence[Mapping[str, Any]]) -> np.ndarray | None:
    """The matrix of the frame whose rows are `values` (each cell typed as a catalogue profile frame's row holds
    it: numpy numbers, category text or NaN), converted as `frame_rows_matrix` converts rows: numbers to float64,
    category text to its index in the model's list (else missing).

    None when there are no rows, or a model feature is not in the catalogue with the same kind: the cells were
    typed by the catalogue, so only then is this conversion `prepare`'s.
    """
    if not values or not all(_FEATURE_KINDS.get(f.name) == (f.kind == "category") for f in features):
        return None
    x = np.empty((len(values), len(features)), dtype=np.float64)
    for j, f in enumerate(features):
        if f.kind == "category":
            index = _category_index(f.categories)
            x[:, j] = [index.get(v, np.nan) if isinstance(v, str) else np.nan for v in (row[f.name] for row in values)]
        else:
            x[:, j] = [float(row[f.name]) for row in values]
    return x


def _string_categories(dtype: object) -> bool:
    return isinstance(dtype, pd.CategoricalDtype) and all(isinstance(c, str) for c in dtype.categories)


@lru_cache(maxsize=256)
def _category_index(categories: tuple[str, ...]) -> dict[str, int]:
    return {str(c): k for k, c in reversed(list(enumerate(categories)))}  # the first match, as get_indexer
