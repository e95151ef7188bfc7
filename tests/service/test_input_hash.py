"""The input hash's plain cells: the fast paths for the common cell types give what the general conversion gives."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd

from service.input_hash import _plain
from tests.service.profile_rows_cases import frame_rows


def _reference_plain(value: Any) -> Any:
    """`service.input_hash._plain` without its fast paths for the common cell types."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float | np.floating) and np.isnan(value):
        return None
    if isinstance(value, np.generic):
        return value.item()
    return value


def test_the_input_hash_cells_are_plain_as_before(batch_profiles: pd.DataFrame) -> None:
    odd: list[Any] = [np.float64("nan"), float("nan"), -0.0, np.float64(-0.0), 1e308, np.int64(-3), 2**70, True]
    odd += [np.bool_(False), pd.NA, pd.NaT, pd.Timestamp("2025-01-01"), "文本", None, np.float32(1.5), np.int32(7)]
    cells = [*odd, *(value for row in frame_rows(batch_profiles.head(50)) for value in row.values())]
    for value in cells:
        got, expected = _plain(value), _reference_plain(value)
        assert type(got) is type(expected) and json.dumps(got, default=str) == json.dumps(expected, default=str)
