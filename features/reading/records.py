"""A coerced contract table as JSON rows: the inverse of `coerce_records`.

Dates become YYYY-MM-DD, numbers and flags plain Python values, and missing cells are left out, so that
`coerce_records` of the rows gives the table back. The conversion runs column by column: a row-wise
`DataFrame.to_dict` boxes every cell through pandas, which costs more than the rest of scoring one household.
"""

from __future__ import annotations

from typing import Any, cast

import numpy as np
import pandas as pd
from pandas.api.extensions import ExtensionArray
from pandas.arrays import DatetimeArray, NumpyExtensionArray


def json_records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """The rows of `frame` as JSON objects, missing cells left out."""
    names = [str(column) for column in frame.columns]
    columns = [_json_values(values.array) for _, values in frame.items()]
    if not columns:
        return [{} for _ in range(len(frame))]
    return [
        {name: value for name, value in zip(names, row, strict=True) if value is not None}
        for row in zip(*columns, strict=True)
    ]


def _json_values(cells: ExtensionArray) -> list[Any]:
    """A column's cells as JSON values, None where missing."""
    if isinstance(cells, DatetimeArray):
        days = cells.to_numpy().astype("datetime64[D]")
        text = np.datetime_as_string(days, unit="D").tolist()
        return [None if missing else day for day, missing in zip(text, np.isnat(days).tolist(), strict=True)]
    if isinstance(cells, NumpyExtensionArray):  # floats, NaN where missing (NaN is not equal to itself)
        return [None if value != value else value for value in cells.to_numpy().tolist()]
    # Nullable integers, flags and Arrow-backed text.
    return cells.to_numpy(dtype=object, na_value=cast(Any, None)).tolist()  # pandas types na_value narrowly
