"""Value maps of a feature spec: the words a survey writes inside a typed column, and what they stand for.

Survey exports put "yes"/"no", "是"/"否", "n/a" or a sentinel such as 999 inside number columns. A spec entry's
`values:` maps such cells to a value of the column's type, or to null (missing), before the column is parsed:

    - name: has_loan
      type: number
      values: {yes: 1, no: 0, 是: 1, 否: 0, n/a: null, "999": null}

Keys match the cell with surrounding spaces ignored and without regard to case ("Yes" is "yes"), so that one
entry covers the spellings a hand-typed column mixes. A mapped cell is never parsed again: a map wins over the
type's own reading (999 → missing even though 999 is a number).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd


class ValueMapError(ValueError):
    """A `values:` map that does not fit its column's type; the message names the entry and the key
    (`features.profiles.spec` re-raises it as a FeatureSpecError)."""


def check_value_map(where: str, name: str, kind: str, raw: object, categories: list[str]) -> dict[str, Any]:
    """The map with its keys as text (YAML reads `999:` as a number), each value checked against `kind`."""
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ValueMapError(f"{where}.values ({name}): expected a mapping of cell text to a value, e.g. {{yes: 1}}")
    out: dict[str, Any] = {}
    for key, value in raw.items():
        text = str(key).strip()
        if _fold(text) in {_fold(k) for k in out}:
            raise ValueMapError(f"{where}.values ({name}): {text!r} appears twice (keys ignore case and spaces)")
        out[text] = _checked_value(f"{where}.values.{text} ({name})", kind, value, categories)
    return out


def _checked_value(where: str, kind: str, value: object, categories: list[str]) -> Any:
    if value is None:
        return None
    if kind == "category":
        if str(value) not in categories:
            raise ValueMapError(f"{where}: {value!r} is not one of the categories {', '.join(categories)}")
        return str(value)
    if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
        raise ValueMapError(f"{where}: {value!r} is not a number (or null for missing)")
    if kind == "flag" and value not in (0, 1):
        raise ValueMapError(f"{where}: a flag maps to 1, 0 or null, not {value!r}")
    if kind == "count" and (value < 0 or value != int(value)):
        raise ValueMapError(f"{where}: a count maps to a whole number ≥ 0 or null, not {value!r}")
    return value


def map_values(text: pd.Series, mapping: dict[str, Any]) -> tuple[pd.Series, pd.Series]:
    """(hit, mapped): which cells a key of `mapping` names, and their mapped values (None = missing)."""
    if not mapping:
        return pd.Series(False, index=text.index), pd.Series(None, index=text.index, dtype=object)
    folded = {_fold(k): v for k, v in mapping.items()}
    keys = text.map(lambda v: None if v is None else _fold(str(v)))
    hit = keys.map(lambda k: k is not None and k in folded).astype(bool)
    mapped = keys.map(lambda k: folded.get(k) if k is not None else None).where(hit, None)
    return hit, mapped.astype(object)


def as_float(mapped: pd.Series) -> pd.Series:
    return mapped.map(lambda v: np.nan if v is None else float(v)).astype(float)


def _fold(text: str) -> str:
    return text.strip().casefold()
