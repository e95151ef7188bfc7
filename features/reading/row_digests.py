"""Per-household digests of source rows: what a re-run compares to find the households whose records changed.

A household's profile is a function of its own rows in every table, the villages table (reference data), the
reference date and the code (`features/profiles/_living.py` never reads other households). `household_digests`
folds every row and its rank among its household's rows into a 64-bit value and adds these up per household,
so two runs give a household the same digest exactly when (barring a 2⁻⁶⁴ collision) its rows are the same
and in the same order. The order counts because profiles sum floating-point amounts in row order, so the same
rows in another order can give a profile that differs in the last bit (tested); how the rows of different
households interleave does not count, and does not change profiles. Each column's values are hashed from their Arrow
buffers (strings eight bytes at a time in a compiled kernel, numbers by their bits), mixed with the
column's name, so a value moved to another column changes the digest. Nulls hash to their own constant.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from numba import njit


def household_digests(table: pa.Table, owner: np.ndarray, households: int, *, label: str = "") -> np.ndarray:
    """Sum over each household's rows of the hash of (row, its rank among the household's rows) (uint64,
    wrapping); `owner[i]` is row i's household index (−1: no household, left out). `label` (the table's
    name) is mixed into every row."""
    rows = row_hashes(table, label)
    out = np.zeros(households, dtype=np.uint64)
    _add_at(out, np.ascontiguousarray(owner, dtype=np.int64), rows)
    return out


def row_hashes(table: pa.Table, label: str = "") -> np.ndarray:
    """One 64-bit hash per row of `table`, from every column's value and name."""
    h = np.full(table.num_rows, _seed(label), dtype=np.uint64)
    for name, column in zip(table.column_names, table.columns, strict=True):
        start = 0
        for chunk in column.chunks:
            values, nulls = _chunk_values(chunk)
            _fold(h[start : start + len(chunk)], values, nulls, _seed(name))
            start += len(chunk)
    return h


def string_hashes(values: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """A 64-bit hash of each string (what `row_hashes` mixes in): equal strings, equal hashes. A null hashes as
    the empty string."""
    chunks = values.chunks if isinstance(values, pa.ChunkedArray) else [values]
    parts = [_chunk_values(chunk)[0] for chunk in chunks]
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.uint64)


def combine(*digests: str | bytes | int) -> np.uint64:
    """A 64-bit value for run-level inputs (reference date, model version, options, villages table …)."""
    blob = "\x1f".join(str(d) for d in digests).encode()
    return np.uint64(int.from_bytes(hashlib.blake2b(blob, digest_size=8).digest(), "little"))


def keyed(digests: np.ndarray, key: int | np.uint64) -> np.ndarray:
    """Each digest mixed with a run-level key (`combine`): equal only for equal rows under equal run inputs."""
    out = np.empty(len(digests), dtype=np.uint64)
    _keyed(np.ascontiguousarray(digests, dtype=np.uint64), np.uint64(key), out)
    return out


def _seed(text: str) -> np.uint64:
    return combine(text)


def _chunk_values(chunk: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """(a uint64 per value, a null mask) for one Arrow array."""
    kind = chunk.type
    if pa.types.is_dictionary(kind):
        chunk = chunk.cast(kind.value_type)
        kind = chunk.type
    if pa.types.is_large_string(kind) or pa.types.is_large_binary(kind):
        chunk = chunk.cast(pa.string() if pa.types.is_large_string(kind) else pa.binary())
        kind = chunk.type
    if pa.types.is_string(kind) or pa.types.is_binary(kind):
        _, offsets, data = chunk.buffers()
        starts = np.frombuffer(offsets, dtype=np.int32, count=len(chunk) + 1, offset=chunk.offset * 4)
        payload = np.frombuffer(data, dtype=np.uint8) if data is not None else np.zeros(0, dtype=np.uint8)
        values = _string_hashes(starts, payload)
    elif pa.types.is_boolean(kind):
        values = pc.cast(pc.fill_null(chunk, False), pa.uint64()).to_numpy(zero_copy_only=False)
    elif pa.types.is_floating(kind):
        floats = pc.cast(chunk, pa.float64()).to_numpy(zero_copy_only=False) + 0.0  # −0.0 + 0.0 is 0.0
        values = floats.view(np.uint64)
    elif pa.types.is_integer(kind) or pa.types.is_temporal(kind):
        if pa.types.is_temporal(kind):
            chunk = chunk.cast(pa.int32() if kind.bit_width == 32 else pa.int64())
        values = pc.fill_null(pc.cast(chunk, pa.int64()), 0).to_numpy(zero_copy_only=False).view(np.uint64)
    else:
        raise TypeError(f"no row digest for Arrow type {kind}")
    nulls = chunk.is_null().to_numpy(zero_copy_only=False) if chunk.null_count else np.zeros(len(chunk), dtype=bool)
    return values, nulls


@njit(cache=True, nogil=True)
def _splitmix(x: np.uint64) -> np.uint64:  # pragma: no cover - compiled
    """splitmix64's finaliser: every input bit moves every output bit."""
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


@njit(cache=True, nogil=True)
def _fold(h: np.ndarray, values: np.ndarray, nulls: np.ndarray, seed: np.uint64) -> None:  # pragma: no cover
    """h ← mix(h ⊕ mix(value) ⊕ seed), a null's value being its own constant."""
    null = np.uint64(0x9E3779B97F4A7C15)
    for i in range(len(h)):
        v = null if nulls[i] else _splitmix(values[i])
        h[i] = _splitmix(h[i] ^ v ^ seed)


@njit(cache=True, nogil=True)
def _string_hashes(offsets: np.ndarray, data: np.ndarray) -> np.ndarray:  # pragma: no cover - compiled
    """Each string's bytes, eight at a time (little-endian words), through splitmix64, seeded by its length."""
    out = np.empty(len(offsets) - 1, dtype=np.uint64)
    for i in range(len(offsets) - 1):
        start, end = offsets[i], offsets[i + 1]
        h = np.uint64(end - start) * np.uint64(0x9E3779B97F4A7C15)
        for j in range(start, end, 8):
            word = np.uint64(0)
            for b in range(min(8, end - j)):
                word |= np.uint64(data[j + b]) << np.uint64(8 * b)
            h = _splitmix(h ^ word)
        out[i] = h
    return out


@njit(cache=True, nogil=True)
def _add_at(out: np.ndarray, owner: np.ndarray, rows: np.ndarray) -> None:  # pragma: no cover - compiled
    seen = np.zeros(len(out), dtype=np.uint64)
    for i in range(len(owner)):
        k = owner[i]
        if k >= 0:
            out[k] += _splitmix(rows[i] ^ (seen[k] * np.uint64(0x9E3779B97F4A7C15)))
            seen[k] += np.uint64(1)


@njit(cache=True, nogil=True)
def _keyed(digests: np.ndarray, key: np.uint64, out: np.ndarray) -> None:  # pragma: no cover - compiled
    for i in range(len(digests)):
        out[i] = _splitmix(digests[i] ^ key)
