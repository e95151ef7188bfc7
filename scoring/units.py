"""Units of work: consecutive partitions scored together, what a worker gets, and what is reused without one.

Consecutive partitions are scored together up to `unit_households` (small counties cost mostly fixed overhead per
call); rows are independent, so each partition's table is the one it gets alone. A unit is sent as compact
Arrow IPC bytes, or as a `SpilledSpan` the worker reads from the spill files; households whose source digest
equals their earlier row's are not sent at all (`scoring.reuse`), and the unit's result puts fresh and reused
rows back in household order.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from features.reading.partitions import Partition, PartitionedSources, SpilledSpan, pack_tables
from features.reading.row_digests import keyed
from scoring.job import ScoringJob
from scoring.reuse import Earlier, hex_digests

DEFAULT_UNIT_HOUSEHOLDS: Final = 50_000  # households scored in one call (consecutive partitions together)
SETTLED_UNIT_FACTOR: Final = 4  # a unit of a settled read: at most this many × unit_households in all


@dataclass
class Unit:
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


def prepare_unit(
    job: ScoringJob,
    partitioned: PartitionedSources,
    unit: list[Partition],
    earlier: Earlier | None,
    run: np.uint64 | None,
    *,
    packed: bool,
) -> Unit:
    """A unit ready to send: what its worker gets, or nothing when every household keeps its earlier row."""
    first, stop = unit[0].index, unit[-1].index + 1
    tables = partitioned.arrow_span(first, stop)
    names = tables["households"].column("household_id")
    ids = names.to_numpy(zero_copy_only=False)
    at = earlier.rows(names) if earlier is not None else np.full(len(ids), -1, dtype=np.int64)
    label = unit[0].name if len(unit) == 1 else f"{unit[0].name}…{unit[-1].name}"
    span = partitioned.digest_span(first, stop)
    if span is None or run is None:
        sent = _sent(partitioned, tables, first, stop, packed=packed)
        return Unit(unit, (job, sent, partitioned.manifest, _earlier_rows(earlier, at), label))
    keyed_digests = keyed(span, run)
    same = partitioned.settled_span(first, stop)
    if same is None:
        same = earlier.unchanged(at, keyed_digests) if earlier is not None else np.zeros(len(ids), dtype=bool)
    elif (at[same] < 0).any():
        raise ValueError(f"partition {label}: settled households without an earlier row (another earlier table?)")
    unit_ = Unit(unit, None, ids, hex_digests(keyed_digests))
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


def plan_units(todo: list[Partition], households: int, scored: dict[int, int] | None = None) -> list[list[Partition]]:
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


def split_unit(
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
