"""A fingerprint of the training data, logged with every run: what exactly was the model trained on."""

from __future__ import annotations

import hashlib
from typing import Any

import pandas as pd


def data_fingerprint(snapshots: pd.DataFrame, *, synthetic: bool) -> dict[str, Any]:
    """Row counts, date range, label counts and a content hash that changes when any value changes."""
    hashed = pd.util.hash_pandas_object(snapshots.reset_index(drop=True), index=False).to_numpy()
    digest = hashlib.sha256(hashed.tobytes()).hexdigest()
    by_date = snapshots.groupby("as_of")["label"].agg(["size", "sum"])
    return {
        "rows": int(len(snapshots)),
        "households": int(snapshots["household_id"].nunique()) if "household_id" in snapshots else None,
        "columns": int(snapshots.shape[1]),
        "as_of_first": str(pd.Timestamp(snapshots["as_of"].min()).date()),
        "as_of_last": str(pd.Timestamp(snapshots["as_of"].max()).date()),
        "rows_by_as_of": {str(pd.Timestamp(str(k)).date()): int(v) for k, v in by_date["size"].items()},
        "positives_by_as_of": {str(pd.Timestamp(str(k)).date()): int(v) for k, v in by_date["sum"].items()},
        "content_sha256": digest,
        "synthetic": synthetic,
    }
