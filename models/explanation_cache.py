"""Explanations cached by (model version, profile hash), so that a batch re-run only explains what changed.

A household's SHAP values depend on nothing but the model and its feature row, so the key is the model
version and a hash of the row as the booster sees it (`RiskModel.prepare`: float64, categories as codes,
missing as NaN). NaN payloads and the sign of zero are canonicalised first: they never change a split, so
they must not change the key.

The cache is a folder with one sub-folder per model version holding `.npz` shards of plain arrays (hashes as
fixed-width bytes, values as float64), written atomically and read with `allow_pickle=False`. Each
`put_many` adds a shard; entries are immutable, so a later shard repeating a key repeats its value.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol
from urllib.parse import quote

import numpy as np

HASH_BYTES = 16
CacheKey = tuple[str, bytes]  # (model version, profile hash)


class ExplanationCacheError(ValueError):
    """The cache folder holds something this cache did not write, or values of a different width."""


class Explainer(Protocol):
    def shap_values(self, x: np.ndarray) -> np.ndarray: ...


def profile_hashes(x: np.ndarray) -> list[bytes]:
    """A stable 16-byte BLAKE2b hash of each row's float64 bytes (little-endian, one NaN, no negative zero)."""
    rows = np.array(x, dtype="<f8", order="C", ndmin=2, copy=True)
    rows[np.isnan(rows)] = np.nan  # one NaN bit pattern
    rows += 0.0  # -0.0 + 0.0 == +0.0
    return [hashlib.blake2b(row.tobytes(), digest_size=HASH_BYTES).digest() for row in rows]


class ExplanationCache:
    """SHAP values by (model version, profile hash), persisted under `folder`."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self._loaded: dict[str, tuple[np.ndarray, np.ndarray]] = {}  # version → sorted hashes, values

    def get_many(self, keys: Sequence[CacheKey]) -> tuple[np.ndarray, np.ndarray]:
        """(values, found): values[i] is key i's row when found[i]; values has 0 columns if nothing is found."""
        found = np.zeros(len(keys), dtype=bool)
        width = None
        hits: list[tuple[np.ndarray, np.ndarray]] = []
        for version, positions in _group_by_version(keys).items():
            hashes, values = self._version(version)
            if not len(hashes):
                continue
            if width is not None and values.shape[1] != width:
                raise ExplanationCacheError("the requested model versions store values of different widths")
            width = values.shape[1]
            wanted = np.array([keys[i][1] for i in positions], dtype=f"S{HASH_BYTES}")
            at = np.minimum(np.searchsorted(hashes, wanted), len(hashes) - 1)
            hit = hashes[at] == wanted
            found[positions[hit]] = True
            hits.append((positions[hit], values[at[hit]]))
        out = np.full((len(keys), width or 0), np.nan)
        for positions, rows in hits:
            out[positions] = rows
        return out, found

    def put_many(self, keys: Sequence[CacheKey], values: np.ndarray) -> None:
        """Store rows of `values` under `keys` (one new shard per model version)."""
        values = np.ascontiguousarray(values, dtype=np.float64)
        if values.ndim != 2 or len(values) != len(keys):
            raise ValueError(f"values must have one row per key ({len(keys)}), got shape {values.shape}")
        for version, positions in _group_by_version(keys).items():
            hashes = np.array([keys[i][1] for i in positions], dtype=f"S{HASH_BYTES}")
            folder = self.folder / quote(version, safe="")
            folder.mkdir(parents=True, exist_ok=True)
            handle, tmp = tempfile.mkstemp(dir=folder, prefix=".shard-", suffix=".npz")
            with os.fdopen(handle, "wb") as file:
                np.savez(file, hashes=hashes, values=values[positions])
            os.replace(tmp, folder / f"shard-{len(list(folder.glob('shard-*.npz'))):06d}-{os.getpid()}.npz")
            self._loaded.pop(version, None)

    def _version(self, version: str) -> tuple[np.ndarray, np.ndarray]:
        if version not in self._loaded:
            self._loaded[version] = self._read(self.folder / quote(version, safe=""))
        return self._loaded[version]

    @staticmethod
    def _read(folder: Path) -> tuple[np.ndarray, np.ndarray]:
        hashes, values = [], []
        for shard in sorted(folder.glob("shard-*.npz")):
            with np.load(shard, allow_pickle=False) as data:
                if set(data.files) != {"hashes", "values"} or data["hashes"].dtype != np.dtype(f"S{HASH_BYTES}"):
                    raise ExplanationCacheError(f"{shard} is not an explanation cache shard")
                hashes.append(data["hashes"])
                values.append(data["values"])
        if not hashes:
            return np.empty(0, dtype=f"S{HASH_BYTES}"), np.empty((0, 0))
        if len({v.shape[1] for v in values}) > 1:
            raise ExplanationCacheError(f"shards in {folder} store values of different widths")
        all_hashes, all_values = np.concatenate(hashes), np.concatenate(values)
        # Sorted for vectorised look-up; on a repeated key any copy will do (entries are immutable).
        unique, first = np.unique(all_hashes, return_index=True)
        return unique, all_values[first]


@dataclass(frozen=True)
class CachedExplanation:
    values: np.ndarray  # n × n_features SHAP values
    computed: np.ndarray  # rows explained now: the first row of each profile that was not cached, ascending


def explain_with_cache(
    cache: ExplanationCache, explainer: Explainer, model_version: str, x: np.ndarray
) -> CachedExplanation:
    """SHAP values of every row of x, explaining only rows whose (model version, profile) is not cached."""
    x = np.asarray(x, dtype=np.float64)
    keys: list[CacheKey] = [(model_version, h) for h in profile_hashes(x)]
    values, found = cache.get_many(keys)
    if not found.any():
        values = np.full(x.shape, np.nan)
    elif values.shape[1] != x.shape[1]:
        raise ExplanationCacheError(
            f"cached values for {model_version!r} have {values.shape[1]} columns, x has {x.shape[1]}"
        )
    missing = np.flatnonzero(~found)
    if len(missing):
        # Identical profiles in one batch are explained once.
        _, first, inverse = np.unique(
            np.array([keys[i][1] for i in missing], dtype=f"S{HASH_BYTES}"), return_index=True, return_inverse=True
        )
        fresh = explainer.shap_values(x[missing[first]])
        values[missing] = fresh[inverse]
        cache.put_many([keys[i] for i in missing[first]], fresh)
        missing = missing[first]
    return CachedExplanation(values, np.sort(missing))


def _group_by_version(keys: Sequence[CacheKey]) -> dict[str, np.ndarray]:
    groups: dict[str, list[int]] = {}
    for i, (version, _) in enumerate(keys):
        groups.setdefault(version, []).append(i)
    return {version: np.array(positions, dtype=np.int64) for version, positions in sorted(groups.items())}
