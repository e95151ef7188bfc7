"""The input hash of a decision: SHA-256 of the profile it was made on, stored with its audit entry.

docs/architecture.md, non-negotiable 4. The profile is hashed after pseudonymisation, so no ID number is hashed.
Its cells are hashed as plain JSON values (sorted keys, missing values as null), so a frame's row and the same
row's values (`service.profile_rows.profile_values`) hash alike.
"""

from __future__ import annotations

import hashlib
import json
import math
from typing import Any

import numpy as np
import pandas as pd


def input_hash(profile: pd.Series) -> str:
    """SHA-256 of the profile the decision was made on (after pseudonymisation: no ID number is hashed)."""
    return hash_values(dict(zip(profile.index, profile.to_numpy(dtype=object), strict=True)))


def hash_values(values: dict[str, Any]) -> str:
    """`input_hash` of the profile row whose values (column → cell) these are."""
    plain = {name: _plain(value) for name, value in values.items()}
    text = json.dumps(plain, sort_keys=True, ensure_ascii=False, default=str)
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


def _plain(value: Any) -> Any:
    kind = type(value)
    # The cells of a profile row, by far the most common first: `.item()` of a float64 is `float()` of it.
    if kind is np.float64 or kind is float:
        return None if value != value else float(value)
    if kind is str or kind is int:
        return value
    if kind is np.int64:
        return int(value)
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float | np.floating) and math.isnan(value):
        return None
    if isinstance(value, np.generic):
        return value.item()
    return value
