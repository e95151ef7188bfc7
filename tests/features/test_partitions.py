"""Partitions of the source tables: every household in exactly one, and profiles as the whole city gives them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from features.profiles.build import build_profiles
from features.reading.partitions import PartitionedSources, SpilledSpan, arrow_sources, pack_tables, unpack_tables
from features.reading.sources import read_arrow_tables, read_sources
from tests.cities import city_folder

AS_OF = pd.Timestamp("2024-01-01")
MAX = 300


@pytest.fixture(scope="module")
def partitioned() -> PartitionedSources:
    return PartitionedSources.read(city_folder(2_000, 1), max_households=MAX)


def test_every_household_is_in_exactly_one_partition(partitioned: PartitionedSources) -> None:
    ids = pd.concat(
        [partitioned.arrow(p.index)["households"].column("household_id").to_pandas() for p in partitioned.partitions]
    )
    assert ids.is_unique and len(ids) == 2_000 == partitioned.households
    assert all(0 < p.households <= MAX for p in partitioned.partitions)
    assert len(partitioned) > 2_000 // MAX  # several counties, some split
    for p in partitioned.partitions:
        regions = partitioned.arrow(p.index)["households"].column("region_code").to_pylist()
        assert {r[:6] for r in regions} == {p.county}


def test_partition_profiles_equal_the_whole_city(partitioned: PartitionedSources) -> None:
    whole = build_profiles(read_sources(city_folder(2_000, 1)), AS_OF)
    parts = pd.concat([build_profiles(partitioned.sources(p.index), AS_OF) for p in partitioned.partitions])
    order = ["household_id"]
    pd.testing.assert_frame_equal(
        parts.sort_values(order).reset_index(drop=True), whole.sort_values(order).reset_index(drop=True)
    )


def test_rows_follow_their_household(partitioned: PartitionedSources) -> None:
    for p in partitioned.partitions[:3]:
        tables = partitioned.arrow(p.index)
        ids = set(tables["households"].column("household_id").to_pylist())
        assert set(tables["income"].column("household_id").to_pylist()) <= ids
        members = set(tables["members"].column("member_id").to_pylist())
        assert set(tables["member_status"].column("member_id").to_pylist()) <= members
        assert tables["villages"].num_rows == partitioned.tables["villages"].num_rows  # reference data: all of it


def test_packed_partition_round_trips_and_carries_only_its_rows(partitioned: PartitionedSources) -> None:
    tables = partitioned.arrow(0)
    packed = pack_tables(tables)
    back = unpack_tables(packed)
    for name, table in tables.items():
        assert back[name].equals(table.combine_chunks()), name
    assert len(packed["income"]) < partitioned.tables["income"].nbytes / 2
    pd.testing.assert_frame_equal(
        arrow_sources(back).tables["members"], arrow_sources(tables).tables["members"], check_index_type=False
    )


def test_rows_of_unknown_households_are_counted_not_dropped_silently() -> None:
    tables, manifest, warnings = read_arrow_tables(city_folder(2_000, 1))
    income = tables["income"]
    stray = income.slice(0, 2).set_column(
        income.column_names.index("household_id"), "household_id", pa.array(["NOPE1", "NOPE2"])
    )
    tables["income"] = pa.concat_tables([income, stray])
    result = PartitionedSources.of(tables, manifest, warnings, max_households=MAX)
    assert any("income: 2 rows belong to no household" in w for w in result.warnings)
    assert sum(result.offsets["income"][-1:]) == income.num_rows


def test_max_households_must_be_positive() -> None:
    tables, manifest, _ = read_arrow_tables(city_folder(2_000, 1))
    with pytest.raises(ValueError, match="at least 1"):
        PartitionedSources.of(tables, manifest, max_households=0)


def test_spilled_partitions_are_the_same_tables_mapped_from_disk(
    partitioned: PartitionedSources, tmp_path: Path
) -> None:
    in_memory = partitioned
    spilled = PartitionedSources.read(city_folder(2_000, 1), max_households=MAX, spill=tmp_path / "spill")
    reopened = PartitionedSources.open(tmp_path / "spill")
    assert spilled.partitions == reopened.partitions == in_memory.partitions
    for name in in_memory.tables:
        assert (tmp_path / "spill" / f"{name}.arrow").is_file()
    for index in range(len(in_memory)):
        expected = in_memory.arrow(index)
        for other in (
            spilled.arrow(index),
            reopened.arrow(index),
            SpilledSpan(str(tmp_path / "spill"), index, index + 1).tables(),
        ):
            assert list(other) == list(expected)
            assert all(other[name].equals(expected[name]) for name in expected)


def test_take_by_column_threads_equals_arrow_take() -> None:
    from features.reading.partitions import _take

    rng = np.random.default_rng(3)
    n = 150_000
    table = pa.table(
        {
            "household_id": pa.chunked_array([[f"H{i}" for i in range(n // 2)], [f"H{i}" for i in range(n // 2, n)]]),
            "amount": pa.array(rng.random(n), mask=rng.random(n) < 0.1),  # nulls: NaN never equals itself
            "code": pa.array([None if i % 7 == 0 else str(i % 5) for i in range(n)]),
        }
    )
    rows = pa.array(rng.permutation(n)[: n - 1_000])
    taken = _take(table, rows)
    assert taken.schema.equals(table.schema) and taken.equals(table.take(rows))


def test_gathering_increasing_rows_chunk_by_chunk_equals_arrow_take() -> None:
    from features.reading.partitions import _gather

    rng = np.random.default_rng(5)
    sizes = [0, 7, 1, 0, 30, 12]  # empty chunks and chunks of one row among them
    chunks = [
        pa.array([None if rng.random() < 0.2 else f"h{rng.integers(1000)}" for _ in range(n)], pa.string())
        for n in sizes
    ]
    column = pa.chunked_array(chunks, pa.string())
    for _ in range(50):
        rows = np.flatnonzero(rng.random(len(column)) < rng.random())  # increasing, from none to all
        assert _gather(column, rows).equals(column.take(pa.array(rows, pa.int64())).combine_chunks())
    assert len(_gather(pa.chunked_array([], pa.float64()), np.zeros(0, dtype=np.int64))) == 0


def test_a_settled_read_keeps_only_the_unsettled_households_rows_spilled_or_not(tmp_path: Path) -> None:
    folder = city_folder(2_000, 1)
    ids = pd.read_parquet(Path(folder) / "households.parquet", columns=["household_id"])["household_id"].to_numpy()
    settled_ids = set(np.random.default_rng(3).choice(ids, 1_500, replace=False))

    def settled(household_ids: np.ndarray, digests: np.ndarray, reference: int) -> np.ndarray:
        return np.isin(household_ids, list(settled_ids))

    plain = PartitionedSources.read(folder, max_households=400, settled=settled)
    spilled = PartitionedSources.read(folder, max_households=400, settled=settled, spill=tmp_path / "spill")
    assert plain.settled is not None and spilled.settled is not None
    for index, partition in enumerate(plain.partitions):
        in_memory, mapped = plain.arrow(index), spilled.arrow(index)
        for name, table in in_memory.items():
            assert mapped[name].equals(table)
            if name not in {"households", "villages", "member_status"} and "household_id" in table.column_names:
                assert not set(table.column("household_id").to_pylist()) & settled_ids
        # a worker sent the span drops the settled households rows too
        marks = spilled.settled_span(index, index + 1)
        sent = SpilledSpan(str(spilled.spill), index, index + 1, np.packbits(marks).tobytes()).tables()
        kept = set(sent["households"].column("household_id").to_pylist())
        assert kept == set(in_memory["households"].column("household_id").to_pylist()) - settled_ids
        assert partition.households == in_memory["households"].num_rows
