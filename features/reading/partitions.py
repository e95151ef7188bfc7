"""Source tables split into partitions of households (by county, large counties in parts) for batch scoring.

A province does not fit in memory as pandas frames, but it does as Arrow tables (strings held once in
buffers, not as Python objects). `PartitionedSources.read(folder)` reads every table once with Arrow, gives
each household a partition — its county (the first six digits of its region code), counties larger than
`max_households` split into consecutive parts in (region code, household id) order — and sorts every table
by partition, so that a partition's rows are a zero-copy slice. `sources(i)` converts one partition to the
`Sources` that `features.profiles.build.build_profiles` takes, so memory holds the Arrow tables plus one partition
in pandas at a time.

Rows are matched to households through `household_id` (`member_status` through its member's household). A
row whose household is not in the households table belongs to no partition; such rows are counted in
`warnings` (validation reports them row by row), never silently dropped.

With `spill=FOLDER` every sorted table is written to an Arrow IPC file there, one record batch run per
partition, and memory-mapped: the process keeps no copy of the tables, and a worker process on the same
machine is sent a `SpilledSpan` (folder and partition numbers), whose `tables()` reads just those partitions'
record batches from the files (from the page cache, into memory the worker frees after the unit).

With `digests=True` each household also gets a digest of its rows in every table (`features.reading.row_digests`),
and the villages table one of its own: a re-run compares them with the earlier run's to skip the households
whose records did not change. With `settled=` (a function of the household ids, their digests and the
villages digest, e.g. `scoring.reuse.Earlier.settled`) the tables are held as read until every digest is
known; the households it names keep their households row and lose their rows in every other table, so a
re-run sorts and spills only the changed households' rows (`settled_span` tells which are which).
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Final

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from features.contract.tables import TABLES
from features.errors import SourceFolderError
from features.reading._row_owner_cache import RowOwnerCache
from features.reading.row_digests import household_digests, row_hashes
from features.reading.sources import MANIFEST, Sources, arrow_to_frame, coerce_sources, read_arrow_tables, read_manifest

DEFAULT_MAX_HOUSEHOLDS: Final = 50_000
# (household ids, their row digests, the villages table's digest) → the households an earlier result stands for
Settled = Callable[[np.ndarray, np.ndarray, int], np.ndarray]
COUNTY_DIGITS: Final = 6


@dataclass(frozen=True)
class Partition:
    index: int
    county: str  # the county's six-digit code ("" when the region code is missing)
    part: int  # 0, 1, … within the county
    households: int

    @property
    def name(self) -> str:
        return f"{self.county or 'unknown'}-{self.part}"


@dataclass
class PartitionedSources:
    """Arrow tables sorted by partition, with each partition's row range per table."""

    partitions: list[Partition]
    tables: dict[str, pa.Table]
    offsets: dict[str, np.ndarray]  # table → partition boundaries (len(partitions) + 1)
    manifest: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    digests: np.ndarray | None = None  # uint64 per household, in the sorted households table's order
    reference_digest: int = 0  # the villages table's (reference data every profile reads)
    spill: Path | None = None  # where the sorted tables are memory-mapped from
    settled: np.ndarray | None = None  # households whose rows were left out (`read(…, settled=…)`), sorted order

    @classmethod
    def read(
        cls,
        folder: Path | str,
        *,
        max_households: int = DEFAULT_MAX_HOUSEHOLDS,
        digests: bool = False,
        spill: Path | None = None,
        settled: Settled | None = None,
        owner_cache: Path | str | None = None,
    ) -> PartitionedSources:
        """Read and partition a source folder; Parquet tables are read and sorted one at a time (with `settled`,
        sorted once every table is read: see the module docstring). With `owner_cache` (a folder) and digests,
        each Parquet file's row matching and row digests are kept there for the next read of the same bytes
        (`features.reading._row_owner_cache`)."""
        folder = Path(folder)
        if not folder.is_dir() or any(folder.glob("*.csv")):
            tables, manifest, warnings = read_arrow_tables(folder)
            return cls._build(list(tables), tables.pop, manifest, warnings, max_households, digests, spill, settled)
        manifest = read_manifest(folder)
        known = {f"{name}.parquet" for name in TABLES} | {MANIFEST}
        warnings = [
            f"ignored file {file.name}: not a table of the contract"
            for file in sorted(folder.iterdir())
            if file.is_file() and file.name not in known and not file.name.startswith(".")
        ]
        names = [name for name in TABLES if (folder / f"{name}.parquet").is_file()]
        files = {name: folder / f"{name}.parquet" for name in names}
        return cls._build(
            names,
            lambda name: _read_parquet(files[name]),
            manifest,
            warnings,
            max_households,
            digests,
            spill,
            settled,
            RowOwnerCache(Path(owner_cache), files) if owner_cache is not None and (digests or settled) else None,
        )

    @classmethod
    def open(cls, spill: Path | str) -> PartitionedSources:
        """The partitions a `read(…, spill=spill)` wrote (tables memory-mapped, no digests)."""
        spill = Path(spill)
        index = _spill_index(str(spill))
        tables = {name: _mapped(spill / f"{name}.arrow") for name in index["tables"]}
        return cls(
            [Partition(**p) for p in index["partitions"]],
            tables,
            {name: np.asarray(bounds, dtype=np.int64) for name, bounds in index["offsets"].items()},
            index["manifest"],
            index["warnings"],
            spill=spill,
        )

    @classmethod
    def of(
        cls,
        tables: dict[str, pa.Table],
        manifest: dict[str, Any] | None = None,
        warnings: list[str] | None = None,
        *,
        max_households: int = DEFAULT_MAX_HOUSEHOLDS,
        digests: bool = False,
        settled: Settled | None = None,
    ) -> PartitionedSources:
        """Partition tables already read (see the module docstring)."""
        return cls._build(list(tables), tables.__getitem__, manifest, warnings, max_households, digests, None, settled)

    @classmethod
    def _build(
        cls,
        names: list[str],
        load: Callable[[str], pa.Table],
        manifest: dict[str, Any] | None,
        warnings: list[str] | None,
        max_households: int,
        with_digests: bool = False,
        spill: Path | None = None,
        settled: Settled | None = None,
        cache: RowOwnerCache | None = None,
    ) -> PartitionedSources:
        """Load each table once (households and members first), sort it by partition and keep only the sorted
        copy, so that memory holds the sorted tables plus one table being sorted. With `settled`, the tables
        are held as read until every digest is known, then each keeps only the unsettled households' rows."""
        if max_households < 1:
            raise ValueError("max_households must be at least 1")
        if "households" not in names:
            raise SourceFolderError("the source folder has no households table")
        with_digests = with_digests or settled is not None
        warnings = list(warnings or [])
        if spill is not None:
            spill.mkdir(parents=True, exist_ok=True)
        households = load("households")
        partitions, of_household = _assign(households, max_households)
        count = len(partitions)
        sorted_tables: dict[str, pa.Table] = {}
        offsets: dict[str, np.ndarray] = {}
        ids = households.column("household_id")
        digests = np.zeros(len(of_household), dtype=np.uint64) if with_digests else None
        reference = 0
        members: pa.Table | None = load("members") if "members" in names else None
        hasher = ThreadPoolExecutor(1, thread_name_prefix="row-digests") if digests is not None else None
        held: list[tuple[str, pa.Table, np.ndarray]] = []  # read for their digests, placed once settled is known
        later: list[tuple[str, np.ndarray]] = []  # digests from the cache: read and placed once settled is known

        def place(name: str, table: pa.Table, owner: np.ndarray, keep: np.ndarray | None = None) -> None:
            """The table's rows of partitioned households (and of `keep` ones), sorted by partition."""
            of_row = np.where(owner >= 0, of_household[np.maximum(owner, 0)], -1)
            if keep is not None:
                of_row = np.where(keep[np.maximum(owner, 0)], of_row, -1)
            kept = np.flatnonzero(of_row >= 0)  # then sorted by partition, in file order within one (stable)
            small = of_row[kept].astype(np.int16 if count < np.iinfo(np.int16).max else np.int64)  # int16: radix sort
            kept = kept[np.argsort(small, kind="stable")]
            offsets[name] = np.concatenate(([0], np.cumsum(np.bincount(of_row[kept], minlength=count))))
            sorted_tables[name] = _sorted(table, kept, spill, name, offsets[name])

        def orphans(name: str, owner: np.ndarray) -> None:
            count = int((owner < 0).sum())
            if count:
                warnings.append(f"{name}: {count} rows belong to no household of the households table")

        for name in sorted(names, key=lambda n: n != "members"):
            kept = cache.get(name) if cache is not None and name != "villages" else None
            if kept is not None and len(kept[1]) != len(of_household):
                kept = None
            if (
                kept is not None
                and digests is not None
                and settled is not None
                and name not in {"households", "members"}
            ):
                # Its digests are known without reading it: it is read once the settled households are known and
                # keeps only the others' rows, so memory never holds it whole next to the tables held below.
                digests += kept[1]
                later.append((name, kept[0]))
                continue
            table: pa.Table = (
                households
                if name == "households"
                else members
                if name == "members" and members is not None
                else load(name)
            )
            if name == "villages":
                sorted_tables[name] = _spilled(table, spill, name)  # reference data: every partition gets all
                if digests is not None:
                    reference = int(np.add.reduce(row_hashes(table, name), dtype=np.uint64))
                continue
            if kept is not None and len(kept[0]) != table.num_rows:
                kept = None
            if kept is not None:
                owner = kept[0]
            elif name == "households":
                owner = np.arange(len(of_household))
            elif name == "member_status":
                owner = _through(table.column("member_id"), members, ids)
            elif "household_id" in table.column_names:
                owner = _positions(table.column("household_id"), ids)
            else:
                warnings.append(f"{name}: no household_id column; not partitioned")
                continue
            # The digests (compiled, without the GIL) on a second thread while this one sorts the table.
            hashing = (
                hasher.submit(household_digests, table, owner, len(of_household), label=name)
                if hasher and kept is None
                else None
            )
            orphans(name, owner)
            if settled is None or name == "households":
                place(name, table, owner)
            else:
                held.append((name, table, owner))
            if digests is not None and kept is not None:
                digests += kept[1]
            elif digests is not None and hashing is not None:
                part = hashing.result()
                digests += part
                if cache is not None:
                    cache.put(name, owner, part)
            del table
        if hasher is not None:
            hasher.shutdown()
        unsettled = None
        if settled is not None and digests is not None:
            household_ids = ids.to_numpy(zero_copy_only=False)
            unsettled = ~np.asarray(settled(household_ids, digests, reference), dtype=bool)
            while held:
                name, table, owner = held.pop(0)
                place(name, table, owner, unsettled)
                del table, owner
            for name, owner in later:
                table = load(name)
                if len(owner) != table.num_rows:
                    folder = cache.folder if cache is not None else ""
                    raise RuntimeError(f"the row-owner cache entry of {name} does not fit its file; remove {folder}")
                orphans(name, owner)
                place(name, table, owner, unsettled)
                del table
        in_order = np.argsort(of_household, kind="stable")  # the sorted households table's order
        manifest = dict(manifest or {})
        if spill is not None:
            index = {
                "tables": list(sorted_tables),
                "partitions": [asdict(p) for p in partitions],
                "offsets": {name: bounds.tolist() for name, bounds in offsets.items()},
                "manifest": manifest,
                "warnings": warnings,
            }
            (spill / _SPILL_INDEX).write_text(json.dumps(index, ensure_ascii=False, default=str), encoding="utf-8")
        return cls(
            partitions,
            sorted_tables,
            offsets,
            manifest,
            warnings,
            digests[in_order] if digests is not None else None,
            reference,
            spill,
            ~unsettled[in_order] if unsettled is not None else None,
        )

    def __len__(self) -> int:
        return len(self.partitions)

    @property
    def households(self) -> int:
        return sum(p.households for p in self.partitions)

    def arrow(self, index: int) -> dict[str, pa.Table]:
        """Partition `index` as Arrow slices (zero-copy; what a worker process is sent)."""
        return self.arrow_span(index, index + 1)

    def arrow_span(self, first: int, stop: int) -> dict[str, pa.Table]:
        """Partitions first … stop − 1 together as Arrow slices (contiguous: the tables are sorted by partition)."""
        if not 0 <= first < stop <= len(self.partitions):
            raise IndexError(f"no partitions {first}…{stop - 1} among {len(self.partitions)}")
        out = {}
        for name, table in self.tables.items():
            if name in self.offsets:
                start, end = self.offsets[name][first], self.offsets[name][stop]
                out[name] = _decoded(table.slice(int(start), int(end - start)))
            else:
                out[name] = _decoded(table)
        return out

    def digest_span(self, first: int, stop: int) -> np.ndarray | None:
        """The households' digests of partitions first … stop − 1 (None: read without digests)."""
        if self.digests is None:
            return None
        bounds = self.offsets["households"]
        return self.digests[bounds[first] : bounds[stop]]

    def settled_span(self, first: int, stop: int) -> np.ndarray | None:
        """Which households of partitions first … stop − 1 are settled: only their households row was kept
        (None: read without `settled`)."""
        if self.settled is None:
            return None
        bounds = self.offsets["households"]
        return self.settled[bounds[first] : bounds[stop]]

    def to_score(self, index: int) -> int:
        """Households of partition `index` left to score: all of them but the settled ones."""
        bounds = self.offsets["households"]
        settled = self.settled[bounds[index] : bounds[index + 1]] if self.settled is not None else ()
        return self.partitions[index].households - int(np.count_nonzero(settled))

    def sources(self, index: int) -> Sources:
        """Partition `index` as contract-typed `Sources`."""
        return arrow_sources(self.arrow(index), self.manifest)


@dataclass(frozen=True)
class SpilledSpan:
    """Partitions first … stop − 1 of a spilled `PartitionedSources`: what a worker on this machine is sent."""

    spill: str
    first: int
    stop: int
    settled: bytes | None = None  # `np.packbits` of the span's settled households (read with `settled`): left out

    def tables(self) -> dict[str, pa.Table]:
        """The partitions' rows of every table, read from the spill files (villages whole), without the settled
        households (of a settled read only their households row was spilled)."""
        folder = Path(self.spill)
        out = {}
        for name in _spill_index(self.spill)["tables"]:
            reader = pa.ipc.open_file(pa.OSFile(str(folder / f"{name}.arrow")))
            batches = (reader.get_batch(k) for k in range(*_batch_span(reader, self.first, self.stop)))
            out[name] = _decoded(pa.Table.from_batches(list(batches), schema=reader.schema))
        if self.settled is not None:
            households = out["households"]
            settled = np.unpackbits(np.frombuffer(self.settled, dtype=np.uint8), count=households.num_rows)
            out["households"] = households.filter(pa.array(settled == 0))
        return out


@lru_cache(maxsize=4)
def _spill_index(spill: str) -> dict[str, Any]:
    result: dict[str, Any] = json.loads((Path(spill) / _SPILL_INDEX).read_text(encoding="utf-8"))
    return result


_SPILL_INDEX: Final = "partitions.json"
_BATCH_BOUNDS: Final = b"relapse.partition_batches"  # file metadata: first record batch of each partition


def _batch_span(reader: pa.ipc.RecordBatchFileReader, first: int, stop: int) -> tuple[int, int]:
    bounds = (reader.schema.metadata or {}).get(_BATCH_BOUNDS)
    if bounds is None:  # not partitioned (villages): every batch
        return 0, reader.num_record_batches
    starts = json.loads(bounds)
    return starts[first], starts[stop]


def _spilled(table: pa.Table, spill: Path | None, name: str) -> pa.Table:
    """A table every partition gets whole (villages), written to spill/name.arrow and memory-mapped back (no
    spill: `table` itself)."""
    if spill is None:
        return table
    path = spill / f"{name}.arrow"
    with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
        writer.write_table(table)
    return _mapped(path)


def _sorted(table: pa.Table, rows: np.ndarray, spill: Path | None, name: str, offsets: np.ndarray) -> pa.Table:
    """`table`'s `rows` (sorted by partition, partition k being rows offsets[k] … offsets[k + 1] − 1). Spilled,
    each partition is gathered and written on its own, so memory holds the table and one partition's copy, and
    comes back memory-mapped (one record batch per partition)."""
    if spill is None:
        return _take(table, pa.array(rows))
    path = spill / f"{name}.arrow"
    metadata = {**(table.schema.metadata or {}), _BATCH_BOUNDS: json.dumps(list(range(len(offsets)))).encode()}
    schema = table.schema.with_metadata(metadata)
    with (
        pa.OSFile(str(path), "wb") as sink,
        pa.ipc.new_file(sink, schema) as writer,
        ThreadPoolExecutor(2, thread_name_prefix="take") as pool,
    ):
        for start, stop in itertools.pairwise(offsets):
            within = rows[start:stop]  # increasing: a partition's rows are in file order
            columns = pool.map(_gather, table.columns, itertools.repeat(within))
            writer.write_batch(pa.record_batch(list(columns), schema=schema))
    return _mapped(path)


def _gather(column: pa.ChunkedArray, rows: np.ndarray) -> pa.Array:
    """`column.take(rows)` for increasing `rows`, chunk by chunk: a `take` on a chunked array costs in
    proportion to the whole column, however few rows it takes, and would be paid once for each of many partitions."""
    bounds = np.cumsum([0, *(len(chunk) for chunk in column.chunks)])
    cut = np.searchsorted(rows, bounds)
    pieces = [
        chunk.take(pa.array(rows[cut[i] : cut[i + 1]] - bounds[i]))
        for i, chunk in enumerate(column.chunks)
        if cut[i + 1] > cut[i]
    ]
    return pa.concat_arrays(pieces) if pieces else pa.array([], column.type)


def _take(table: pa.Table, rows: pa.Array) -> pa.Table:
    """`table.take(rows)`, a column per thread: gathering a 1 M-household city's rows by partition is memory-bound
    work Arrow does one column after another on one core, and the columns are independent."""
    if table.num_columns < 2 or len(rows) < 100_000:
        return table.take(rows)
    with ThreadPoolExecutor(2, thread_name_prefix="take") as pool:
        columns = list(pool.map(lambda column: column.take(rows), table.columns))
    return pa.Table.from_arrays(columns, schema=table.schema)


def _mapped(path: Path) -> pa.Table:
    """A spill file as a zero-copy table over its memory map (without the batch bounds)."""
    table = pa.ipc.open_file(pa.memory_map(str(path))).read_all()
    metadata = {k: v for k, v in (table.schema.metadata or {}).items() if k != _BATCH_BOUNDS}
    return table.replace_schema_metadata(metadata or None)


def _read_parquet(path: Path) -> pa.Table:
    # Plain strings: Arrow dictionaries would halve member_status, but `take` across a dictionary column's
    # chunks (one per row group) unifies the dictionaries on every call, which costs partitioning far more
    # time than the memory saved is worth.
    return pq.read_table(path)


def _decoded(table: pa.Table) -> pa.Table:
    """Dictionary columns as their plain values (what the contract's readers and validation expect)."""
    for i, f in enumerate(table.schema):
        if pa.types.is_dictionary(f.type):
            table = table.set_column(i, f.name, table.column(i).cast(f.type.value_type))
    return table


def pack_tables(tables: dict[str, pa.Table]) -> dict[str, bytes]:
    """Tables as Arrow IPC streams: what a partition is sent to another process as.

    Pickling a slice of an Arrow table pickles the whole buffers it points into (the full table); the IPC
    writer writes only the slice's rows.
    """
    out = {}
    for name, table in tables.items():
        sink = pa.BufferOutputStream()
        with pa.ipc.new_stream(sink, table.schema) as writer:
            writer.write_table(table)
        out[name] = sink.getvalue().to_pybytes()
    return out


def unpack_tables(packed: dict[str, bytes]) -> dict[str, pa.Table]:
    """The tables `pack_tables` packed."""
    return {name: pa.ipc.open_stream(pa.py_buffer(data)).read_all() for name, data in packed.items()}


def arrow_sources(tables: dict[str, pa.Table], manifest: dict[str, Any] | None = None) -> Sources:
    """Arrow tables (a partition) as contract-typed `Sources`."""
    frames = {name: arrow_to_frame(table) for name, table in tables.items() if name in TABLES}
    return coerce_sources(Sources(frames, dict(manifest or {})))


def _assign(households: pa.Table, max_households: int) -> tuple[list[Partition], np.ndarray]:
    """Partitions, and each household's partition index."""
    region = households.column("region_code").cast(pa.string())
    county = pc.fill_null(pc.utf8_slice_codeunits(region, 0, COUNTY_DIGITS), "")
    order = pc.sort_indices(
        pa.table({"c": county, "r": pc.fill_null(region, ""), "h": households.column("household_id")}),
        sort_keys=[("c", "ascending"), ("r", "ascending"), ("h", "ascending")],
    ).to_numpy()
    counties = county.to_numpy(zero_copy_only=False).astype(str)[order]
    of_household = np.empty(len(order), dtype=np.int64)
    partitions: list[Partition] = []
    starts = np.flatnonzero(np.r_[True, counties[1:] != counties[:-1]]) if len(order) else np.zeros(0, dtype=int)
    bounds = np.r_[starts, len(order)]
    for start, stop in zip(bounds[:-1], bounds[1:], strict=True):
        parts = -(-(stop - start) // max_households)
        for part, chunk in enumerate(np.array_split(np.arange(start, stop), parts)):
            of_household[order[chunk]] = len(partitions)
            partitions.append(Partition(len(partitions), str(counties[start]), part, len(chunk)))
    return partitions, of_household


def _positions(keys: pa.ChunkedArray, ids: pa.ChunkedArray) -> np.ndarray:
    """Each key's row in `ids` (−1: not there)."""
    position = pc.index_in(keys.cast(pa.string()), value_set=ids.cast(pa.string()).combine_chunks())
    return pc.fill_null(position, -1).to_numpy(zero_copy_only=False).astype(np.int64)


def _through(member_ids: pa.ChunkedArray, members: pa.Table | None, ids: pa.ChunkedArray) -> np.ndarray:
    """Household row of each member_status row, through its member's household (−1: none)."""
    if members is None:
        return np.full(len(member_ids), -1, dtype=np.int64)
    of_member = _positions(members.column("household_id"), ids)
    found = _positions(member_ids, members.column("member_id"))
    return np.where(found >= 0, of_member[np.maximum(found, 0)], -1)
