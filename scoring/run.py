"""Batch scoring of partitioned sources: `score_partitions` yields each partition's result table in order.

`score_partitions` scores consecutive small partitions together (`scoring.units`), in this process or on an
executor (`scoring.pool`, `scoring.cluster`) with a bounded number of units in flight (sent as Arrow IPC bytes),
and yields each partition's result as an Arrow table of `result_schema` (built where the unit ran) in partition
order; memory holds the Arrow tables and the units in flight. `write_scores` (`scoring.results`) appends the
tables to one Parquet file. A re-run reuses an earlier run's result table (`scoring.reuse`).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Protocol

import pyarrow as pa

from features.reading.partitions import Partition, PartitionedSources, SpilledSpan, unpack_tables
from scoring.job import ScoringJob
from scoring.partition import score_partition
from scoring.pool import worker_count
from scoring.results import result_table
from scoring.reuse import Earlier, run_digest
from scoring.units import DEFAULT_UNIT_HOUSEHOLDS, Unit, plan_units, prepare_unit, split_unit

Progress = Callable[[str, int, int], None]  # (step, households done, households in all)


class Executor(Protocol):
    def map(self, fn: Callable[..., Any], *iterables: Iterable[Any]) -> Iterator[Any]: ...


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
    executor that has `submit` (concurrent.futures, `scoring.cluster.DaskExecutor`), at most `in_flight` units
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
    units = plan_units(todo, unit_households, scored)
    run = run_digest(job, partitioned.reference_digest) if partitioned.digests is not None else None
    if executor is None:
        job = job.with_explainer()  # built once here; worker processes build their own
    prepared = (prepare_unit(job, partitioned, unit, earlier, run, packed=executor is not None) for unit in units)
    results: Iterator[tuple[Unit, pa.Table | None]]
    if executor is None:
        results = ((u, _call(u.arguments) if u.arguments else None) for u in prepared)
    elif hasattr(executor, "submit"):
        results = _windowed(executor, prepared, in_flight or 2 * max(worker_count(executor), 1))
    else:
        results = _mapped(executor, list(prepared))
    for unit, fresh in results:
        table = unit.complete(fresh)
        for partition, part in split_unit(partitioned, unit.partitions, table):
            done += partition.households
            report(f"scoring {partition.name}", done, total)
            yield partition, part


def _windowed(executor: Any, units: Iterator[Unit], window: int) -> Iterator[tuple[Unit, pa.Table | None]]:
    """Units with their results in order, with at most `window` submitted and not yet collected."""
    pending: deque[tuple[Unit, Any]] = deque()
    for unit in units:
        pending.append((unit, executor.submit(_call, unit.arguments) if unit.arguments else None))
        if len(pending) >= window:
            done, future = pending.popleft()
            yield done, future.result() if future is not None else None
    while pending:
        done, future = pending.popleft()
        yield done, future.result() if future is not None else None


def _mapped(executor: Executor, units: list[Unit]) -> Iterator[tuple[Unit, pa.Table | None]]:
    """Units with their results, for an executor that only has `map` (it gets every unit to score at once)."""
    computed = iter(executor.map(_call, [u.arguments for u in units if u.arguments]))
    for unit in units:
        yield unit, next(computed) if unit.arguments else None


def _call(arguments: tuple[Any, ...]) -> pa.Table:
    """A unit's result table, built where it runs (a worker sends back Arrow, not pandas)."""
    job, tables, manifest, earlier, label = arguments
    if isinstance(tables, SpilledSpan):
        tables = tables.tables()
    elif tables and isinstance(next(iter(tables.values())), bytes):
        tables = unpack_tables(tables)
    table = score_partition(job, tables, manifest, earlier.to_pandas() if earlier is not None else None, label)
    return result_table(table, job.options)
