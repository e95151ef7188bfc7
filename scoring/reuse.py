"""What a re-run takes from an earlier run's result table, in two steps.

When the sources were read with digests (`PartitionedSources.read(…, digests=True)`, as `relapse score` does),
each result row carries `source_digest`: the household's rows in every table mixed with everything else its
row depends on (`run_digest`: model, reference date, options, pseudonym key, catalogue version, villages table,
package version). A household whose digest equals its earlier row's is not validated, profiled or scored
again: its earlier row is the result. The rest are profiled, and an earlier row with the same model version and
profile hash is reused (`profile_rows`: a change that does not reach the profile, e.g. a record after the
reference date); only those left are explained.

`Earlier` holds the earlier table; `relapse score` also gives `Earlier.settled` to `PartitionedSources.read`,
which then keeps no source rows of unchanged households (only their households row, for their place and
digest), so a re-run neither sorts nor spills them, and their earlier rows are copied as Arrow.
"""

from __future__ import annotations

import binascii
import hashlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from features.profiles.catalogue import catalogue_version
from features.reading.row_digests import combine, keyed, string_hashes
from models.batch import DEFAULT_OPTIONS, BatchOptions, output_columns
from models.explanation_cache import profile_hashes
from scoring.job import ScoringJob, model_digest
from scoring.results import result_columns, result_schema


class Earlier:
    """An earlier run's result table, looked up by household: what a re-run reuses (module docstring).

    Only the household ids and source digests are read up front; the whole table (all result columns of every
    row) is read when a unit first needs it, after the sources were read and partitioned (peak memory).
    """

    def __init__(self, columns: pa.Table, load: Callable[[], pa.Table], options: BatchOptions) -> None:
        self.ids = columns.column("household_id").combine_chunks().cast(pa.string())
        hashes = pd.Index(string_hashes(self.ids))  # looked up by 64-bit hash, then the strings compared
        first = ~hashes.duplicated() if not hashes.is_unique else np.ones(len(hashes), dtype=bool)
        self.hashes = hashes[first]  # each hash's first row
        self.positions = np.flatnonzero(first)  # that row
        self.digests: np.ndarray | None = None  # source digests (uint64) by row; None: written without them
        self.digested: np.ndarray | None = None  # rows that have one
        if "source_digest" in columns.column_names:
            self.digests, self.digested = _unhex(columns.column("source_digest"))
        self._load = load
        self._table: pa.Table | None = None
        self.options = options

    @classmethod
    def of(cls, table: pa.Table | None, options: BatchOptions = DEFAULT_OPTIONS) -> Earlier | None:
        """None when `table` cannot serve: absent, empty, or written with other options."""
        if table is None or not table.num_rows or not set(output_columns(options)) <= set(table.column_names):
            return None
        return cls(_digest_columns(table.schema, table.select, options), lambda: table, options)

    @classmethod
    def read(cls, path: Path | None, options: BatchOptions = DEFAULT_OPTIONS) -> Earlier | None:
        """An earlier run's result file, if `path` names one (None, like `of`, when it cannot serve)."""
        if path is None or not Path(path).is_file():
            return None
        schema = pq.read_schema(path)
        if not set(output_columns(options)) <= set(schema.names) or not pq.ParquetFile(path).metadata.num_rows:
            return None
        return cls(
            _digest_columns(schema, lambda names: pq.read_table(path, columns=names), options),
            lambda: _one_chunk(path, schema),
            options,
        )

    @property
    def table(self) -> pa.Table:
        """Every earlier row: the result columns (`result_schema`) when it has them all."""
        if self._table is None:
            table = self._load()
            if _whole(table.column_names, self.options):
                table = table.select(result_columns(self.options)).cast(result_schema(self.options))
            self._table = table.combine_chunks()  # one chunk: a `take` across many chunks costs far more
        return self._table

    def rows(self, ids: np.ndarray | pa.ChunkedArray) -> np.ndarray:
        """Each household's earlier row, its first (−1: none)."""
        names = ids.cast(pa.string()) if isinstance(ids, pa.ChunkedArray) else pa.array(ids, pa.string())
        found = self.hashes.get_indexer(string_hashes(names))
        at = np.where(found >= 0, self.positions[np.maximum(found, 0)], -1)
        hit = np.flatnonzero(at >= 0)
        same = pc.equal(names.take(hit), self.ids.take(at[hit]))
        if names.null_count or self.ids.null_count or not pc.all(same).as_py():  # a 64-bit collision, or nulls
            return self._rows_exactly(names)
        return at

    def _rows_exactly(self, names: pa.Array | pa.ChunkedArray) -> np.ndarray:
        """`rows` by the strings themselves (what a hash collision falls back to)."""
        ids = pd.Index(self.ids.to_numpy(zero_copy_only=False))
        first = np.flatnonzero(~ids.duplicated())
        found = ids[first].get_indexer(pd.Index(names.to_numpy(zero_copy_only=False)))
        return np.where(found >= 0, first[np.maximum(found, 0)], -1)

    def unchanged(self, at: np.ndarray, digests: np.ndarray) -> np.ndarray:
        """Whether each household's earlier row (`at`) has its source digest (keyed, uint64)."""
        if self.digests is None or self.digested is None:
            return np.zeros(len(at), dtype=bool)
        row = np.maximum(at, 0)
        return (at >= 0) & self.digested[row] & (self.digests[row] == digests)

    def settled(self, job: ScoringJob) -> Callable[[np.ndarray, np.ndarray, int], np.ndarray]:
        """For `PartitionedSources.read(…, settled=…)`: which households (ids, their row digests, the villages
        digest) keep their earlier row under `job`, so that their source rows need not be kept at all."""

        def settled(ids: np.ndarray, digests: np.ndarray, reference: int) -> np.ndarray:
            return self.unchanged(self.rows(ids), keyed(digests, run_digest(job, reference)))

        return settled


def profile_rows(job: ScoringJob, profiles: pd.DataFrame, previous: pd.DataFrame | None) -> np.ndarray | None:
    """Each profile's row in `previous` with the same model version and profile hash (−1: none); None when
    `previous` cannot serve (absent, empty, or written with other options)."""
    if previous is None or not len(previous):
        return None
    if not set(output_columns(job.options)) <= set(previous.columns):
        return None  # written with other options
    hashes = [h.hex() for h in profile_hashes(job.model.prepare(profiles))]
    positions = np.flatnonzero((previous["model_version"] == job.model_version).to_numpy())
    if not len(positions):
        return np.full(len(profiles), -1, dtype=np.int64)
    earlier = previous["profile_hash"].to_numpy(dtype=object)[positions]
    _, first = np.unique(earlier.astype(str), return_index=True)  # a repeated hash: its first row will do
    found = pd.Index(earlier[first]).get_indexer(hashes)
    at = np.where(found >= 0, positions[first][np.maximum(found, 0)], -1)
    return at


def _one_chunk(path: Path, schema: pa.Schema, columns: int = 16) -> pa.Table:
    """A Parquet file as a table of one chunk per column, read `columns` columns at a time (decoded on Arrow's
    threads; memory never holds the row groups' chunks and their concatenation of the whole table together)."""
    out: dict[str, pa.Array] = {}
    with pq.ParquetFile(path) as source:
        for start in range(0, len(schema.names), columns):
            part = source.read(columns=schema.names[start : start + columns])
            out.update((name, part.column(name).combine_chunks()) for name in part.column_names)
    return pa.table(out)


def _digest_columns(schema: pa.Schema, select: Callable[[list[str]], pa.Table], options: BatchOptions) -> pa.Table:
    """The household ids and, when the rows can be reused whole, their source digests (what the look-up needs)."""
    return select(["household_id", "source_digest"] if _whole(schema.names, options) else ["household_id"])


def _whole(names: list[str], options: BatchOptions) -> bool:
    """Whether an earlier table has every result column, source digest included: its rows are reused as they are."""
    return set(result_columns(options)) <= set(names)


def run_digest(job: ScoringJob, reference: int) -> np.uint64:
    """Everything a household's result depends on besides its own rows and the villages table (`reference`)."""
    from importlib.metadata import version

    key = job.key
    secret = hashlib.blake2b(key.secret, digest_size=16).hexdigest() if key is not None else "-"
    return combine(
        job.model_version,
        model_digest(job.model).hex(),
        job.as_of.isoformat(),
        repr(job.options),
        key.version if key is not None else "-",
        secret,
        job.synthetic,
        catalogue_version(),
        reference,
        version("relapse-risk"),
    )


def hex_digests(values: np.ndarray) -> np.ndarray:
    """uint64 values as 16-character hex strings."""
    text = binascii.hexlify(values.astype(">u8").tobytes())
    return np.frombuffer(text, dtype="S16").astype(str)


def _unhex(column: pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray]:
    """16-character hex strings as uint64 values, and which cells held one (others: 0)."""
    text = pc.fill_null(column, "").to_numpy(zero_copy_only=False).astype("S16")
    valid = np.char.str_len(text) == 16
    text[~valid] = b"0" * 16
    try:
        values = np.frombuffer(binascii.unhexlify(text.tobytes()), dtype=">u8").astype(np.uint64)
    except binascii.Error:  # not hex: no digest reused
        return np.zeros(len(text), dtype=np.uint64), np.zeros(len(text), dtype=bool)
    return values, valid
