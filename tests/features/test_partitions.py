"""Partitions of the source tables: every household in exactly one, and profiles as the whole city gives them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from features.partitions import PartitionedSources, SpilledSpan, arrow_sources, pack_tables, unpack_tables
from features.profiles import build_profiles
from features.sources import read_arrow_tables, read_sources
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
    from features.partitions import _take

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
