"""Streaming batch scoring: source partitions → profiles → calibrated scores → reasons, measures, what-if.

`score_partition` is the unit of work: one partition's Arrow tables (`features.reading.partitions`) are validated,
pseudonymised (`features.pseudonyms.ingestion.ingest`), turned into profiles as of the reference date
(`features.profiles.build.build_profiles`, the function training and the API use) and explained
(`models.batch.explain_batch`). It is a plain function of its inputs, so a process pool or a Dask worker
(`models.cluster`) runs it as it is and gets bitwise the same table.

`score_partitions` scores consecutive small partitions together (up to `unit_households`), in this process or
on an executor with a bounded number of units in flight (sent as Arrow IPC bytes), and yields each
partition's result as an Arrow table of `result_schema` (built where the unit ran) in partition order; memory
holds the Arrow tables and the units in flight. `write_scores` appends the tables to one Parquet file.

Re-runs: a result table of an earlier run (`previous`) is reused in two steps. When the sources were read with
digests (`PartitionedSources.read(…, digests=True)`, as `relapse score` does), each result row carries
`source_digest`: the household's rows in every table mixed with everything else its row depends on (model,
reference date, options, pseudonym key, catalogue version, villages table, package version). A household whose
digest equals its earlier row's is not validated, profiled or scored again: its earlier row is the result.
The rest are profiled, and an earlier row with the same model version and profile hash is reused (a change
that does not reach the profile, e.g. a record after the reference date); only those left are explained.
`Earlier` holds the earlier table; `relapse score` also gives `Earlier.settled` to `PartitionedSources.read`,
which then keeps no source rows of unchanged households (only their households row, for their place and
digest), so a re-run neither sorts nor spills them, and their earlier rows are copied as Arrow. With a
`cache_dir`, the explanation cache (`models.explanation_cache`) also keeps SHAP values by (model version,
profile hash) — opt-in, since it stores 800 bytes a household and version and the result file already
serves unchanged households.
"""

from __future__ import annotations

import binascii
import hashlib
import multiprocessing
import multiprocessing.forkserver
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Final, Protocol

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from features.errors import SourceDataError
from features.profiles.build import build_profiles
from features.profiles.catalogue import catalogue_version
from features.profiles.rules import RULE_NAMES, rule_flags
from features.pseudonyms.ingestion import ingest
from features.pseudonyms.keys import PseudonymKey
from features.reading.partitions import (
    Partition,
    PartitionedSources,
    SpilledSpan,
    arrow_sources,
    pack_tables,
    unpack_tables,
)
from features.reading.row_digests import combine, keyed, string_hashes
from features.validation.report import validate_sources
from models.batch import DEFAULT_OPTIONS, ID_COLUMNS, BatchOptions, explain_batch, output_columns
from models.explanation_cache import ExplanationCache, profile_hashes
from models.reasons import Explainer, default_explainer
from models.risk_model import RiskModel

Progress = Callable[[str, int, int], None]  # (step, households done, households in all)
RULE_PREFIX: Final = "rule_"
DEFAULT_UNIT_HOUSEHOLDS: Final = 50_000  # households scored in one call (consecutive partitions together)
WRITE_AHEAD: Final = 2  # result tables handed to the writer thread and not yet written
SETTLED_UNIT_FACTOR: Final = 4  # a unit of a settled read: at most this many × unit_households in all


class PartitionError(SourceDataError):
    """A partition's source rows break the contract; names the partition and the first violations."""


@dataclass(frozen=True)
class ScoringJob:
    """What every partition of a run shares: the model, the date, the options and where caches live."""

    model: RiskModel
    model_version: str
    as_of: date
    options: BatchOptions = DEFAULT_OPTIONS
    key: PseudonymKey | None = None
    cache_dir: Path | None = None  # SHAP values by (model version, profile hash)
    synthetic: bool = False
    explainer: Explainer | None = field(default=None, compare=False)

    def __getstate__(self) -> dict[str, Any]:
        # Worker processes build their own explainer (numba kernels do not travel); the model travels as text.
        state = dict(self.__dict__)
        state["explainer"] = None
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)

    def with_explainer(self) -> ScoringJob:
        if self.explainer is not None:
            return self
        return ScoringJob(
            self.model,
            self.model_version,
            self.as_of,
            self.options,
            self.key,
            self.cache_dir,
            self.synthetic,
            _explainer(self.model),
        )


_EXPLAINERS: dict[bytes, Explainer] = {}


def _model_digest(model: RiskModel) -> bytes:
    return hashlib.blake2b(model.booster.model_to_string().encode(), digest_size=16).digest()


def _explainer(model: RiskModel) -> Explainer:
    """One explainer per model in a process: worker processes get a new model object with every partition."""
    digest = _model_digest(model)
    if digest not in _EXPLAINERS:
        if len(_EXPLAINERS) >= 4:
            _EXPLAINERS.clear()
        _EXPLAINERS[digest] = default_explainer(model.booster)
    return _EXPLAINERS[digest]


class Executor(Protocol):
    def map(self, fn: Callable[..., Any], *iterables: Iterable[Any]) -> Iterator[Any]: ...


def result_columns(options: BatchOptions = DEFAULT_OPTIONS) -> list[str]:
    rules = (RULE_PREFIX + name for name in RULE_NAMES)
    return [*output_columns(options), "model_version", "synthetic", *rules, "source_digest"]


def result_schema(options: BatchOptions = DEFAULT_OPTIONS) -> pa.Schema:
    """The fixed Arrow schema of result tables (the same for every partition, whatever it holds)."""
    floats = {"probability", "margin"}
    fields = []
    for name in result_columns(options):
        if name == "as_of":
            kind = pa.date32()
        elif name == "synthetic" or name.startswith(RULE_PREFIX):
            kind = pa.bool_()
        elif name in floats or name.endswith(("_points", "_probability_after")):
            kind = pa.float64()
        else:
            kind = pa.string()
        fields.append(pa.field(name, kind))
    return pa.schema(fields)


def score_partition(
    job: ScoringJob,
    tables: dict[str, pa.Table],
    manifest: dict[str, Any] | None = None,
    previous: pd.DataFrame | None = None,
    label: str = "",
) -> pd.DataFrame:
    """One partition's result table, in the partition's household order (module docstring)."""
    job = job.with_explainer()
    sources = arrow_sources(tables, manifest)
    report = validate_sources(sources, max_per_kind=5)
    if not report.ok:
        first = "; ".join(f"{v.table}.{v.column} of {v.row_key}: {v.reason}" for v in report.violations[:3])
        raise PartitionError(
            f"partition {label}: {report.total} contract violations, e.g. {first}; "
            "`relapse validate` lists them with their file rows",
            report.violations,
            report.total,
        )
    profiles = build_profiles(ingest(sources, job.key), job.as_of)
    return score_profiles(job, profiles, previous)


def score_profiles(job: ScoringJob, profiles: pd.DataFrame, previous: pd.DataFrame | None = None) -> pd.DataFrame:
    """Result rows for built profiles; rows of `previous` (same version and options) reused by profile hash."""
    job = job.with_explainer()
    profiles = profiles.reset_index(drop=True)
    cache = ExplanationCache(job.cache_dir) if job.cache_dir is not None else None
    at = _reusable(job, profiles, previous)  # each profile's row in `previous` (−1: none)
    fresh_rows = np.arange(len(profiles)) if at is None else np.flatnonzero(at < 0)
    parts = []
    if at is not None and previous is not None and len(fresh_rows) < len(profiles):
        kept = np.flatnonzero(at >= 0)
        old = previous.iloc[at[kept]][output_columns(job.options)]
        parts.append(old.set_axis(kept))
    if len(fresh_rows):
        fresh = explain_batch(
            job.model,
            profiles.iloc[fresh_rows],
            options=job.options,
            explainer=job.explainer,
            cache=cache,
            model_version=job.model_version,
        )
        parts.append(fresh.set_axis(fresh_rows))
    table = _typed(pd.concat(parts).sort_index() if len(parts) > 1 else parts[0], job.options, partial=True)
    for name in ID_COLUMNS:  # the profiles' own (the earlier run may predate a household's move)
        table[name] = profiles[name].to_numpy()
    table = table.reset_index(drop=True)
    table["model_version"] = job.model_version
    table["synthetic"] = job.synthetic
    flags = rule_flags(profiles)
    for name in RULE_NAMES:
        table[RULE_PREFIX + name] = flags[name].to_numpy()
    table["source_digest"] = None  # set by score_partitions when the sources were read with digests
    return _typed(table, job.options)


def _reusable(job: ScoringJob, profiles: pd.DataFrame, previous: pd.DataFrame | None) -> np.ndarray | None:
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


def _typed(table: pd.DataFrame, options: BatchOptions, *, partial: bool = False) -> pd.DataFrame:
    """The result columns in order with the schema's types (text as pandas' `str`, missing as NaN); `partial`:
    only the columns `table` has, index kept."""
    schema = result_schema(options)
    out = {}
    for item in schema:
        if partial and item.name not in table.columns:
            continue
        values = table[item.name]
        if pa.types.is_floating(item.type):
            out[item.name] = pd.to_numeric(values, errors="coerce").astype("float64")
        elif pa.types.is_boolean(item.type):
            out[item.name] = values.astype(bool)
        elif pa.types.is_date(item.type):
            out[item.name] = pd.to_datetime(values).dt.normalize()
        else:
            out[item.name] = values.astype("str")
    return pd.DataFrame(out, index=table.index if partial else None)


def score_partitions(
    job: ScoringJob,
    partitioned: PartitionedSources,
    *,
    previous: Earlier | pa.Table | None = None,
    executor: Executor | None = None,
    progress: Progress | None = None,
    skip: Iterable[int] = (),
    in_flight: int | None = None,
    unit_households: int = DEFAULT_UNIT_HOUSEHOLDS,
) -> Iterator[tuple[Partition, pa.Table]]:
    """Each partition's result table (`result_schema`), in partition order (module docstring); `skip` names
    done partitions.

    Consecutive partitions are scored together up to `unit_households` (small counties cost mostly fixed
    overhead per call); rows are independent, so each partition's table is the one it gets alone. With an
    executor that has `submit` (concurrent.futures, `models.cluster.DaskExecutor`), at most `in_flight` units
    (default: twice its workers) are out at a time, each sent as compact Arrow IPC bytes — or, when the sources
    were spilled (`PartitionedSources.read(…, spill=…)`), as a `SpilledSpan` the worker reads from the spill
    files — so memory holds a bounded number of units and results. An executor with only `map` gets every unit.
    Households whose source digest equals their `previous` row's are not sent at all (module docstring).
    """
    report = progress or (lambda *_: None)
    earlier = previous if isinstance(previous, Earlier) or previous is None else Earlier.of(previous, job.options)
    total = partitioned.households
    skipped = set(skip)
    todo = [p for p in partitioned.partitions if p.index not in skipped]
    done = sum(p.households for p in partitioned.partitions if p.index in skipped)
    report("scoring", done, total)
    scored = {p.index: partitioned.to_score(p.index) for p in todo} if partitioned.settled is not None else None
    units = _units(todo, unit_households, scored)
    run = _run_digest(job, partitioned.reference_digest) if partitioned.digests is not None else None
    if executor is None:
        job = job.with_explainer()  # built once here; worker processes build their own
    prepared = (_prepare(job, partitioned, unit, earlier, run, packed=executor is not None) for unit in units)
    results: Iterator[tuple[_Unit, pa.Table | None]]
    if executor is None:
        results = ((u, _call(u.arguments) if u.arguments else None) for u in prepared)
    elif hasattr(executor, "submit"):
        results = _windowed(executor, prepared, in_flight or 2 * max(_workers(executor), 1))
    else:
        results = _mapped(executor, list(prepared))
    for unit, fresh in results:
        table = unit.complete(fresh)
        for partition, part in _split(partitioned, unit.partitions, table):
            done += partition.households
            report(f"scoring {partition.name}", done, total)
            yield partition, part


def process_pool(workers: int) -> ProcessPoolExecutor:
    """A pool of `workers` processes for `score_partitions`, forked from a server process that imported the
    scoring code once (`forkserver`: no worker imports it again, and none inherits this process's threads or
    LightGBM's OpenMP state); `spawn` where that server is unavailable or cannot start."""
    if "forkserver" in multiprocessing.get_all_start_methods():
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload([__name__])
        try:
            multiprocessing.forkserver.ensure_running()  # starts it (returns before it has imported anything)
            return ProcessPoolExecutor(workers, mp_context=context)
        except OSError:  # e.g. a temporary folder whose path is too long for the server's socket
            pass
    return ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"))


def warm_up(executor: Any, model: RiskModel) -> None:
    """Start an executor's workers now: each imports the scoring code and builds the model's explainer while
    the caller reads the sources. Nothing waits for it: the submissions run on a thread (a `process_pool`
    worker starts only once its server has imported the scoring code), and a worker that fails here fails its
    first unit too."""

    def submit() -> None:
        try:
            for _ in range(max(_workers(executor), 1)):
                executor.submit(_explainer, model)
        except RuntimeError:  # shut down (or broken) before it started: the caller's own submissions say why
            pass

    threading.Thread(target=submit, name="warm-up", daemon=True).start()


@dataclass
class _Unit:
    """Consecutive partitions scored together: what a worker gets, and what is reused without one."""

    partitions: list[Partition]
    arguments: tuple[Any, ...] | None  # (job, tables, manifest, earlier rows, label); None: nothing to score
    ids: np.ndarray | None = None  # the unit's household ids in order (sources read with digests)
    digests: np.ndarray | None = None  # their source digests (hex)
    earlier: pa.Table | None = None  # the earlier table, when some households keep their earlier row
    kept: np.ndarray | None = None  # each household's row in it (−1: scored afresh)

    def complete(self, fresh: pa.Table | None) -> pa.Table:
        """The unit's result table in household order: fresh rows and reused ones, with their digests."""
        if self.ids is None or self.digests is None:
            assert fresh is not None
            return fresh
        scored = self.kept < 0 if self.kept is not None else np.ones(len(self.ids), dtype=bool)
        at = _fresh_rows(fresh, self.ids[scored]) if scored.any() else None
        if self.earlier is None or self.kept is None:
            assert fresh is not None
            table = fresh if at is None else fresh.take(pa.array(at))
        else:
            # One gather from the earlier rows and the fresh ones. A `take` across chunks costs in proportion to
            # their length, so the earlier table is first sliced to the unit's span of it (contiguous when the
            # earlier run had the same partitions), not the whole run.
            lo, hi = int(self.kept[~scored].min()), int(self.kept[~scored].max()) + 1
            earlier = self.earlier.slice(lo, hi - lo)
            rows = self.kept - lo
            if fresh is not None:
                rows[scored] = earlier.num_rows + (np.arange(fresh.num_rows) if at is None else at)
            table = pa.concat_tables([earlier, fresh] if fresh is not None else [earlier]).take(rows)
        where = table.schema.get_field_index("source_digest")
        return table.set_column(where, "source_digest", pa.array(self.digests, pa.string()))


def _fresh_rows(fresh: pa.Table | None, ids: np.ndarray) -> np.ndarray | None:
    """The row of each of `ids` in a worker's result (None: the rows are those ids in that order, as they are
    sent back)."""
    if fresh is None:
        raise RuntimeError("households missing from the unit's result")
    names = fresh.column("household_id")
    if fresh.num_rows == len(ids) and names.equals(pa.chunked_array([pa.array(ids, pa.string())], pa.string())):
        return None
    return np.asarray(_rows_of(names, ids, "the unit's result"), dtype=np.int64)


def _prepare(
    job: ScoringJob,
    partitioned: PartitionedSources,
    unit: list[Partition],
    earlier: Earlier | None,
    run: np.uint64 | None,
    *,
    packed: bool,
) -> _Unit:
    first, stop = unit[0].index, unit[-1].index + 1
    tables = partitioned.arrow_span(first, stop)
    names = tables["households"].column("household_id")
    ids = names.to_numpy(zero_copy_only=False)
    at = earlier.rows(names) if earlier is not None else np.full(len(ids), -1, dtype=np.int64)
    label = unit[0].name if len(unit) == 1 else f"{unit[0].name}…{unit[-1].name}"
    span = partitioned.digest_span(first, stop)
    if span is None or run is None:
        sent = _sent(partitioned, tables, first, stop, packed=packed)
        return _Unit(unit, (job, sent, partitioned.manifest, _earlier_rows(earlier, at), label))
    keyed_digests = keyed(span, run)
    same = partitioned.settled_span(first, stop)
    if same is None:
        same = earlier.unchanged(at, keyed_digests) if earlier is not None else np.zeros(len(ids), dtype=bool)
    elif (at[same] < 0).any():
        raise ValueError(f"partition {label}: settled households without an earlier row (another earlier table?)")
    unit_ = _Unit(unit, None, ids, _hex(keyed_digests))
    if earlier is not None and same.any():
        unit_.earlier, unit_.kept = earlier.table, np.where(same, at, -1)
    if not same.all():
        sent = _sent(partitioned, tables, first, stop, packed=packed, leave_out=same if same.any() else None)
        unit_.arguments = (job, sent, partitioned.manifest, _earlier_rows(earlier, np.where(same, -1, at)), label)
    return unit_


def _sent(
    partitioned: PartitionedSources,
    tables: dict[str, pa.Table],
    first: int,
    stop: int,
    *,
    packed: bool,
    leave_out: np.ndarray | None = None,
) -> Any:
    """What a unit's worker gets: its tables without the households `leave_out` marks — a `SpilledSpan` when
    they were spilled (on a settled read the spill holds only the others' rows, so the worker just drops the
    settled households rows), else the tables (as IPC bytes for another process)."""
    if packed and partitioned.spill is not None and (leave_out is None or partitioned.settled is not None):
        dropped = np.packbits(leave_out).tobytes() if leave_out is not None else None
        return SpilledSpan(str(partitioned.spill), first, stop, dropped)
    if leave_out is not None:
        ids = tables["households"].column("household_id").to_numpy(zero_copy_only=False)
        tables = _only(tables, ids[~leave_out])
    return pack_tables(tables) if packed else tables


def _earlier_rows(earlier: Earlier | None, at: np.ndarray) -> pa.Table | None:
    """The earlier rows at positions `at` (−1: none) that a worker may reuse by profile hash."""
    if earlier is None or not (at >= 0).any():
        return None
    return earlier.table.take(pa.array(at[at >= 0]))


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
            return self.unchanged(self.rows(ids), keyed(digests, _run_digest(job, reference)))

        return settled


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


def _run_digest(job: ScoringJob, reference: int) -> np.uint64:
    """Everything a household's result depends on besides its own rows and the villages table (`reference`)."""
    from importlib.metadata import version

    key = job.key
    secret = hashlib.blake2b(key.secret, digest_size=16).hexdigest() if key is not None else "-"
    return combine(
        job.model_version,
        _model_digest(job.model).hex(),
        job.as_of.isoformat(),
        repr(job.options),
        key.version if key is not None else "-",
        secret,
        job.synthetic,
        catalogue_version(),
        reference,
        version("relapse-risk"),
    )


def _hex(values: np.ndarray) -> np.ndarray:
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


def _only(tables: dict[str, pa.Table], ids: np.ndarray) -> dict[str, pa.Table]:
    """The tables restricted to the households `ids` (villages whole; member_status through members)."""
    keep = pa.array(ids, type=pa.string())
    out = {}
    for name, table in tables.items():
        if "household_id" in table.column_names and name != "villages":
            out[name] = table.filter(pc.is_in(table.column("household_id"), value_set=keep))
        else:
            out[name] = table
    if "member_status" in out:
        members = out["members"].column("member_id") if "members" in out else pa.chunked_array([], pa.string())
        status = out["member_status"]
        out["member_status"] = status.filter(pc.is_in(status.column("member_id"), value_set=members.combine_chunks()))
    return out


def _units(todo: list[Partition], households: int, scored: dict[int, int] | None = None) -> list[list[Partition]]:
    """Runs of consecutive partitions with at most `households` to score together (at least one partition
    each). On a settled read (`scored`: each partition's households left to score) a run also holds at most
    `SETTLED_UNIT_FACTOR` × `households` in all: the rest's earlier rows are copied, not scored, and fewer,
    larger calls spare the workers their fixed cost per call."""
    weight = (lambda p: scored[p.index]) if scored is not None else (lambda p: p.households)
    units: list[list[Partition]] = []
    for p in todo:
        last = units[-1] if units else None
        if (
            last
            and last[-1].index + 1 == p.index
            and sum(weight(q) for q in last) + weight(p) <= households
            and sum(q.households for q in last) + p.households <= households * (SETTLED_UNIT_FACTOR if scored else 1)
        ):
            last.append(p)
        else:
            units.append([p])
    return units


def _split(
    partitioned: PartitionedSources, unit: list[Partition], table: pa.Table
) -> Iterator[tuple[Partition, pa.Table]]:
    """Each partition's rows of a unit's result (in the unit's household order: consecutive slices)."""
    if len(unit) == 1:
        yield unit[0], table
        return
    names = table.column("household_id")
    start = 0
    for p in unit:
        ids = partitioned.arrow(p.index)["households"].column("household_id")
        part = table.slice(start, len(ids))
        if not names.slice(start, len(ids)).equals(ids):  # not in order after all: look the rows up
            part = table.take(_rows_of(names, ids, f"partition {p.name}'s result"))
        start += len(ids)
        yield p, part


def _rows_of(column: pa.ChunkedArray, ids: Any, what: str) -> pa.Array:
    """The row of each id in `column` (every id must be there)."""
    at = pc.index_in(pa.array(ids, pa.string()) if isinstance(ids, np.ndarray) else ids, value_set=column)
    if at.null_count:
        raise RuntimeError(f"households missing from {what}")
    return at


def _windowed(executor: Any, units: Iterator[_Unit], window: int) -> Iterator[tuple[_Unit, pa.Table | None]]:
    """Units with their results in order, with at most `window` submitted and not yet collected."""
    pending: deque[tuple[_Unit, Any]] = deque()
    for unit in units:
        pending.append((unit, executor.submit(_call, unit.arguments) if unit.arguments else None))
        if len(pending) >= window:
            done, future = pending.popleft()
            yield done, future.result() if future is not None else None
    while pending:
        done, future = pending.popleft()
        yield done, future.result() if future is not None else None


def _mapped(executor: Executor, units: list[_Unit]) -> Iterator[tuple[_Unit, pa.Table | None]]:
    """Units with their results, for an executor that only has `map` (it gets every unit to score at once)."""
    computed = iter(executor.map(_call, [u.arguments for u in units if u.arguments]))
    for unit in units:
        yield unit, next(computed) if unit.arguments else None


def _workers(executor: Any) -> int:
    for name in ("workers", "_max_workers"):
        value = getattr(executor, name, None)
        if isinstance(value, int):
            return value
    return 1


def _call(arguments: tuple[Any, ...]) -> pa.Table:
    """A unit's result table, built where it runs (a worker sends back Arrow, not pandas)."""
    job, tables, manifest, earlier, label = arguments
    if isinstance(tables, SpilledSpan):
        tables = tables.tables()
    elif tables and isinstance(next(iter(tables.values())), bytes):
        tables = unpack_tables(tables)
    table = score_partition(job, tables, manifest, earlier.to_pandas() if earlier is not None else None, label)
    return result_table(table, job.options)


def result_table(table: pd.DataFrame, options: BatchOptions = DEFAULT_OPTIONS) -> pa.Table:
    """A result frame (`score_partition`, `score_profiles`) as an Arrow table of `result_schema`."""
    return pa.Table.from_pandas(table, schema=result_schema(options), preserve_index=False).replace_schema_metadata()


def write_scores(
    results: Iterable[tuple[Partition, pa.Table]], out: Path, options: BatchOptions = DEFAULT_OPTIONS
) -> int:
    """Append every result table to the Parquet file `out` (written to a temporary name, then renamed).

    Encoding runs on a writer thread (Arrow releases the GIL) while the next tables are produced; at most
    `WRITE_AHEAD` tables wait for it."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(out.name + ".partial")
    rows = 0
    pending: deque[Future[None]] = deque()
    with (
        pq.ParquetWriter(partial, result_schema(options), compression="zstd") as writer,
        ThreadPoolExecutor(1, thread_name_prefix="write-scores") as thread,
    ):
        try:
            for _, table in results:
                pending.append(thread.submit(writer.write_table, table))
                rows += table.num_rows
                while len(pending) > WRITE_AHEAD:
                    pending.popleft().result()
        finally:
            for future in pending:  # the tables already handed over are written (or their error raised)
                future.result()
    partial.replace(out)
    return rows
