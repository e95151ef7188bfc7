"""The API's profile rows → what the scorer takes: a profile frame, or the values of its rows.

`POST /v1/profiles:score` sends already-built profiles as JSON rows. They become exactly the frame
`features.profiles.build.build_profiles` would hold (catalogue dtypes; docs/architecture.md, non-negotiable 2),
or, for small requests, each row's values as that frame's row holds them, which `RiskModel.prepare_rows` and
`features.profiles.rules.rule_flags_row` take without building a frame. Unknown names and unreadable values are
refused naming field and row (non-negotiable 8), the same error either way (tests/service/test_profile_rows.py).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import date
from typing import Any, Final, cast

import numpy as np
import pandas as pd
from pandas.api.internals import create_dataframe_from_blocks

from features.profiles.build import feature_dtype
from features.profiles.catalogue import FEATURES, META_COLUMNS
from features.reading.frames import column_block
from models.risk_model import ROWWISE_MAX
from service.errors import InvalidFieldError
from service.schemas import check_as_of
from service.scope import check_region_code

_FEATURES_BY_NAME: Final = {f.name: f for f in FEATURES}


def profiles_for_scoring(rows: Sequence[dict[str, Any]], as_of: date) -> pd.DataFrame | list[dict[str, Any]]:
    """What `service.scoring.score_profiles` takes: the rows' values (`profile_values`) for small requests, else
    the frame."""
    return profile_values(rows, as_of) if len(rows) <= ROWWISE_MAX else profiles_from_rows(rows, as_of)


def profiles_from_rows(rows: Sequence[dict[str, Any]], as_of: date) -> pd.DataFrame:
    """A profile frame (catalogue dtypes) from JSON rows; unknown names and unreadable values name field and row."""
    meta = _meta_columns(rows, as_of)
    # The frame is assembled from one block per dtype, as `features.profiles.build` assembles it: inserting ~100
    # columns one by one into a DataFrame costs more than scoring one household. The dtypes are those of
    # `pd.DataFrame` on the same lists (meta columns inferred; features as `_feature_values` types them).
    n = len(rows)
    blocks: list[tuple[Any, np.ndarray]] = []
    for position, name in enumerate(META_COLUMNS):
        values = meta[name] if name in meta else [row.get(name) for row in rows]
        blocks.append((column_block(pd.Series(values)), np.array([position])))
    floats: list[tuple[int, np.ndarray]] = []
    counts: list[tuple[int, np.ndarray]] = []
    for position, item in enumerate(FEATURES, start=len(META_COLUMNS)):
        column = _feature_values(item.name, [row.get(item.name) for row in rows])
        if isinstance(column, pd.Categorical):
            blocks.append((column, np.array([position])))
        else:
            (counts if column.dtype == np.int64 else floats).append((position, column))
    for group, dtype in ((floats, np.float64), (counts, np.int64)):
        if group:
            block = np.empty((len(group), n), dtype=dtype)
            for k, (_, column) in enumerate(group):
                block[k] = column
            blocks.append((block, np.array([position for position, _ in group])))
    order = pd.Index([*META_COLUMNS, *(item.name for item in FEATURES)])
    return create_dataframe_from_blocks(blocks, pd.RangeIndex(n), order)


def _meta_columns(rows: Sequence[dict[str, Any]], as_of: date) -> dict[str, list[Any]]:
    """The checked meta columns of the rows (the first problem raised, naming field and row)."""
    allowed = set(META_COLUMNS) | set(_FEATURES_BY_NAME)
    for i, row in enumerate(rows):
        for name in row:
            if name not in allowed:
                raise InvalidFieldError(name, "is not a catalogue feature or profile column", i)
        if not isinstance(row.get("household_id"), str) or not row["household_id"]:
            raise InvalidFieldError("household_id", "is required", i)
        check_region_code(row.get("region_code"), row=i)
    region = [row["region_code"] for row in rows]
    return {
        "household_id": [row["household_id"] for row in rows],
        "as_of": [_as_of(row.get("as_of"), as_of, i) for i, row in enumerate(rows)],
        "region_code": region,
        "county_code": [row.get("county_code") or code[:6] for row, code in zip(rows, region, strict=True)],
        "province_code": [row.get("province_code") or code[:2] for row, code in zip(rows, region, strict=True)],
    }


def profile_values(rows: Sequence[dict[str, Any]], as_of: date) -> list[dict[str, Any]]:
    """Each row's values exactly as `profiles_from_rows(rows, as_of).iloc[i]` holds them (same keys, order,
    values and scalar types; same errors), without the frame: for one household a DataFrame of 108 columns
    cost more than scoring it. Tested equal to the frame's rows (tests/service/test_profile_rows.py)."""
    meta = _meta_columns(rows, as_of)
    n = len(rows)
    out: list[dict[str, Any]] = [{} for _ in range(n)]
    for name in META_COLUMNS:
        values = meta[name] if name in meta else [row.get(name) for row in rows]
        for value, target in zip(_cells(name, values), out, strict=True):
            target[name] = value
    for item in FEATURES:
        for value, target in zip(_feature_cells(item.name, [row.get(item.name) for row in rows]), out, strict=True):
            target[item.name] = value
    return out


def _cells(name: str, values: list[Any]) -> list[Any]:
    """The cells of a meta column as `pd.DataFrame` would type them: text as it is, else pandas' inference."""
    if name == "as_of" or all(isinstance(value, str) for value in values):
        return values  # Timestamps from `_as_of`; a column of text is `str`, its cells the same strings
    if all(value is None for value in values):
        return values  # object
    numbers = [value for value in values if value is not None]
    if all(type(value) in (int, float) for value in numbers) and all(abs(value) < 2**63 for value in numbers):
        # The income year and the monitoring line: int64 when all are ints, else float64 (None → NaN).
        if len(numbers) == len(values) and all(type(value) is int for value in numbers):
            return [np.int64(value) for value in values]
        return [np.float64(math.nan if value is None else value) for value in values]
    column = pd.Series(values)  # anything else as pandas types it
    return [column.iloc[i] for i in range(len(values))]


def _feature_cells(name: str, values: list[Any]) -> list[Any]:
    """`_feature_values` as a frame row holds it: category text or NaN, numpy float64, or int64 for a count
    column without missing values (in any row). Checked, in order, as `_feature_values` checks."""
    item = _FEATURES_BY_NAME[name]
    if item.kind == "category":
        for i, value in enumerate(values):
            if value is not None and value not in item.categories:
                raise InvalidFieldError(name, f"must be one of {', '.join(map(str, item.categories))}", i)
        return [np.nan if value is None else item.categories[item.categories.index(value)] for value in values]
    numbers: list[float] = []
    for i, value in enumerate(values):
        if value is None:
            numbers.append(math.nan)
        elif (number := _finite(value)) is not None:
            numbers.append(number)
        else:
            raise InvalidFieldError(name, "must be a finite number or null", i)
    if item.kind == "count" and not any(math.isnan(number) for number in numbers):
        if all(abs(number) < 2.0**63 for number in numbers):
            return [np.int64(number) for number in numbers]  # as `astype(np.int64)`: truncated toward zero
        return list(np.array(numbers).astype(np.int64))
    return [np.float64(number) for number in numbers]


def _finite(value: Any) -> float | None:
    """A JSON number as a float, or None when it is not one, not finite, or beyond float range (a huge integer)."""
    if not isinstance(value, bool | int | float):
        return None
    try:
        number = float(value)
    except OverflowError:
        return None
    return number if math.isfinite(number) else None


def _as_of(value: Any, default: date, row: int) -> pd.Timestamp:
    if value is None:
        return pd.Timestamp(default)
    try:
        stamp = pd.Timestamp(value)
    except (TypeError, ValueError):  # pandas' out-of-bounds dates are ValueErrors too
        raise InvalidFieldError("as_of", "must be a date (YYYY-MM-DD)", row) from None
    if stamp.tz is not None or stamp != stamp.normalize():
        raise InvalidFieldError("as_of", "must be a date without time of day", row)
    try:
        check_as_of(stamp.date())
    except ValueError as error:
        raise InvalidFieldError("as_of", str(error), row) from None
    return stamp


def _feature_values(name: str, values: list[Any]) -> pd.Categorical | np.ndarray:
    """A feature column: categorical, float64, or int64 for a count without missing values."""
    item = _FEATURES_BY_NAME[name]
    if item.kind == "category":
        for i, value in enumerate(values):
            if value is not None and value not in item.categories:
                raise InvalidFieldError(name, f"must be one of {', '.join(map(str, item.categories))}", i)
        codes = [-1 if value is None else item.categories.index(value) for value in values]
        return pd.Categorical.from_codes(codes, dtype=cast(pd.CategoricalDtype, feature_dtype(item)))
    numbers = np.empty(len(values), dtype=np.float64)
    for i, value in enumerate(values):
        if value is None:
            numbers[i] = np.nan
        elif (number := _finite(value)) is not None:
            numbers[i] = number
        else:
            raise InvalidFieldError(name, "must be a finite number or null", i)
    if item.kind == "count" and not np.isnan(numbers).any():
        return numbers.astype(np.int64)
    return numbers
