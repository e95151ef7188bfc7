"""The row-owner cache: a read that finds its tables' files unchanged gives the same partitions and digests
without matching or hashing their rows again; a changed or unreadable entry is computed again."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from features.reading import partitions
from features.reading.partitions import PartitionedSources
from tests.cities import city_folder

MAX = 300


class Counted:
    """Counts the row matching and row hashing `PartitionedSources` does, by table."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.hashed: list[str] = []
        self.matched = 0
        digests, positions = partitions.household_digests, partitions._positions

        def hashed(table, owner, households, *, label=""):  # type: ignore[no-untyped-def]
            self.hashed.append(label)
            return digests(table, owner, households, label=label)

        def matched(keys, ids):  # type: ignore[no-untyped-def]
            self.matched += 1
            return positions(keys, ids)

        monkeypatch.setattr(partitions, "household_digests", hashed)
        monkeypatch.setattr(partitions, "_positions", matched)


def copy_of_city(tmp_path: Path) -> Path:
    folder = tmp_path / "sources"
    shutil.copytree(city_folder(2_000, 1), folder, ignore=shutil.ignore_patterns("_truth"))
    return folder


def assert_same_partitions(got: PartitionedSources, expected: PartitionedSources) -> None:
    assert got.partitions == expected.partitions
    assert got.digests is not None and expected.digests is not None
    np.testing.assert_array_equal(got.digests, expected.digests)
    assert got.reference_digest == expected.reference_digest
    assert got.tables.keys() == expected.tables.keys()
    for name, table in expected.tables.items():
        assert got.tables[name].equals(table), name
        if name in expected.offsets:
            np.testing.assert_array_equal(got.offsets[name], expected.offsets[name])


def test_a_second_read_of_the_same_files_neither_matches_nor_hashes_rows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder, cache = copy_of_city(tmp_path), tmp_path / "cache"
    plain = PartitionedSources.read(folder, max_households=MAX, digests=True)
    counted = Counted(monkeypatch)
    first = PartitionedSources.read(folder, max_households=MAX, digests=True, owner_cache=cache)
    assert counted.matched > 0 and "member_status" in counted.hashed
    assert len(list(cache.glob("*.digests.npy"))) == len(list(cache.glob("*.owner.npy"))) == len(counted.hashed)
    counted.hashed.clear()
    counted.matched = 0
    again = PartitionedSources.read(folder, max_households=MAX, digests=True, owner_cache=cache)
    assert counted.hashed == [] and counted.matched == 0
    assert_same_partitions(first, plain)
    assert_same_partitions(again, plain)


def test_a_changed_file_is_matched_and_hashed_again_and_a_broken_entry_is_replaced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder, cache = copy_of_city(tmp_path), tmp_path / "cache"
    PartitionedSources.read(folder, max_households=MAX, digests=True, owner_cache=cache)
    income = pq.read_table(folder / "income.parquet")
    at = income.column_names.index("wage_local_yuan")
    raised = pc.add(pc.fill_null(income.column(at), 0.0), 1.0)
    pq.write_table(income.set_column(at, "wage_local_yuan", raised), folder / "income.parquet")
    events = next(cache.glob("events-*.owner.npy"))
    events.write_bytes(b"not an npy file")
    counted = Counted(monkeypatch)
    again = PartitionedSources.read(folder, max_households=MAX, digests=True, owner_cache=cache)
    assert sorted(counted.hashed) == ["events", "income"]
    monkeypatch.undo()
    assert_same_partitions(again, PartitionedSources.read(folder, max_households=MAX, digests=True))


def test_a_changed_households_file_invalidates_every_table(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder, cache = copy_of_city(tmp_path), tmp_path / "cache"
    PartitionedSources.read(folder, max_households=MAX, digests=True, owner_cache=cache)
    households = pq.read_table(folder / "households.parquet")
    pq.write_table(
        households.take(np.arange(households.num_rows)[::-1]), folder / "households.parquet"
    )  # rows reordered
    counted = Counted(monkeypatch)
    again = PartitionedSources.read(folder, max_households=MAX, digests=True, owner_cache=cache)
    assert "member_status" in counted.hashed and "income" in counted.hashed and counted.matched > 0
    monkeypatch.undo()
    assert_same_partitions(again, PartitionedSources.read(folder, max_households=MAX, digests=True))


def test_a_settled_read_from_the_cache_keeps_the_same_rows_as_one_without_it(tmp_path: Path) -> None:
    folder, cache = copy_of_city(tmp_path), tmp_path / "cache"
    PartitionedSources.read(folder, max_households=MAX, digests=True, owner_cache=cache)
    income = pq.read_table(folder / "income.parquet")
    pq.write_table(income.slice(0, income.num_rows - 100), folder / "income.parquet")  # a changed file: read first

    def settled(ids: np.ndarray, digests: np.ndarray, reference: int) -> np.ndarray:
        return (digests % np.uint64(3)) != 0  # about two households in three

    cached = PartitionedSources.read(folder, max_households=MAX, settled=settled, owner_cache=cache)
    plain = PartitionedSources.read(folder, max_households=MAX, settled=settled)
    assert cached.settled is not None and plain.settled is not None
    np.testing.assert_array_equal(cached.settled, plain.settled)
    assert 0 < cached.settled.mean() < 1
    assert_same_partitions(cached, plain)
    assert sorted(cached.warnings) == sorted(plain.warnings)
