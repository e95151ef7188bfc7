"""Row digests: equal for the same rows in any order, different when any value of a household changes."""

from __future__ import annotations

from datetime import date
from functools import lru_cache

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from features.profiles.build import build_profiles
from features.pseudonyms.ingestion import ingest
from features.pseudonyms.keys import PseudonymKey
from features.reading.partitions import PartitionedSources, arrow_sources
from features.reading.row_digests import combine, household_digests, keyed, row_hashes
from features.reading.sources import read_arrow_tables
from tests.cities import city_folder

KEY = PseudonymKey.from_text("k" * 40, "v1")


@lru_cache(maxsize=1)
def city() -> dict[str, pa.Table]:
    tables, _, _ = read_arrow_tables(city_folder(300, 5))
    return tables


def shuffled(table: pa.Table, seed: int) -> pa.Table:
    return table.take(pa.array(np.random.default_rng(seed).permutation(table.num_rows)))


def households_shuffled(tables: dict[str, pa.Table], seed: int) -> dict[str, pa.Table]:
    """Every table's rows grouped in another household order, each household's rows in their own order."""
    members = tables["members"].to_pandas().set_index("member_id")["household_id"]
    households = tables["households"].column("household_id").to_pylist()
    rank = dict(zip(households, np.random.default_rng(seed).permutation(len(households)), strict=True))
    out = {}
    for name, table in tables.items():
        if name == "villages":
            out[name] = table
            continue
        owners = (
            members.reindex(table.column("member_id").to_pylist()).to_numpy()
            if name == "member_status"
            else table.column("household_id").to_numpy(zero_copy_only=False)
        )
        key = np.array([rank.get(h, -1) for h in owners])
        out[name] = table.take(pa.array(np.argsort(key, kind="stable")))
    return out


def digests_by_household(tables: dict[str, pa.Table]) -> pd.Series:
    partitioned = PartitionedSources.of(dict(tables), digests=True, max_households=100)
    ids = partitioned.tables["households"].column("household_id").to_pylist()
    assert partitioned.digests is not None
    return pd.Series(partitioned.digests, index=ids).sort_index()


def test_every_row_of_a_table_gets_its_own_hash_and_equal_rows_equal_hashes() -> None:
    for name, table in city().items():
        hashes = row_hashes(table, name)
        distinct_rows = len(table.to_pandas().astype(str).drop_duplicates())
        assert len(np.unique(hashes)) == distinct_rows, name
    doubled = pa.concat_tables([city()["events"], city()["events"]])
    hashes = row_hashes(doubled)
    assert (hashes[: len(hashes) // 2] == hashes[len(hashes) // 2 :]).all()


def profiles(tables: dict[str, pa.Table]) -> pd.DataFrame:
    built = build_profiles(ingest(arrow_sources(tables), KEY), date(2024, 1, 1))
    return built.sort_values("household_id").reset_index(drop=True)


def test_digests_and_profiles_do_not_depend_on_how_households_interleave() -> None:
    mixed = households_shuffled(city(), seed=4)
    assert not mixed["income"].equals(city()["income"])
    pd.testing.assert_series_equal(digests_by_household(city()), digests_by_household(mixed))
    pd.testing.assert_frame_equal(profiles(city()), profiles(mixed), check_exact=True)


def test_a_household_rows_in_another_order_change_its_digest_as_they_can_change_its_profile() -> None:
    before = digests_by_household(city())
    mixed = {name: shuffled(t, 10 + i) for i, (name, t) in enumerate(city().items())}
    after = digests_by_household(mixed)
    rows_per_household = city()["income"].to_pandas()["household_id"].value_counts()
    several = rows_per_household.index[rows_per_household > 1]
    assert (before[several] != after[several]).all()
    # Why the order counts: amounts are summed in row order, and float addition is not associative.
    changed = (profiles(city()) != profiles(mixed)) & profiles(city()).notna()
    assert changed.to_numpy().any()


@pytest.mark.parametrize(
    ("table", "column"),
    [
        ("income", "wage_local_yuan"),  # float
        ("events", "event_date"),  # date
        ("member_status", "health"),  # string, through the member's household
        ("member_status", "migrant_work_months"),  # integer
        ("water_checks", "quality_ok"),  # bool
        ("households", "region_code"),
    ],
)
def test_changing_one_value_changes_that_household_digest_only(table: str, column: str) -> None:
    tables = dict(city())
    before = digests_by_household(tables)
    target = tables[table]
    values = target.column(column).to_pylist()
    row = next(i for i, v in enumerate(values) if v is not None)
    value = values[row]
    new = (
        not value
        if isinstance(value, bool)
        else value + 1
        if isinstance(value, int | float)
        else date(value.year, value.month, 1 if value.day != 1 else 2)
        if isinstance(value, date)
        else value + "x"
    )
    values[row] = new
    at = target.column_names.index(column)
    tables[table] = target.set_column(at, column, pa.array(values, type=target.schema.field(column).type))
    after = digests_by_household(tables)
    if table == "member_status":
        member = target.column("member_id")[row].as_py()
        members = tables["members"].to_pandas()
        household = members.loc[members["member_id"] == member, "household_id"].item()
    else:
        household = target.column("household_id")[row].as_py()
    changed = before.index[(before != after).to_numpy()]
    assert list(changed) == [household]


def test_missing_and_present_values_differ_and_signed_zeros_do_not() -> None:
    base = pa.table({"x": pa.array([1.0, None, 0.0, -0.0]), "y": pa.array(["a", None, "", "b"])})
    h = row_hashes(base)
    assert len(set(h[:3])) == 3
    zeros = row_hashes(pa.table({"x": pa.array([0.0, -0.0])}))
    assert zeros[0] == zeros[1]
    swapped = row_hashes(pa.table({"x": pa.array(["a"]), "y": pa.array(["b"])}))
    assert swapped[0] != row_hashes(pa.table({"x": pa.array(["b"]), "y": pa.array(["a"])}))[0]


def splitmix64_finaliser(x: int) -> int:
    """The published splitmix64 output function, in Python integers (the reference)."""
    mask = 2**64 - 1
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & mask
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & mask
    return x ^ (x >> 31)


def test_household_digest_sums_its_rows_hashed_with_their_rank() -> None:
    table = city()["income"]
    owner = np.random.default_rng(3).integers(-1, 20, table.num_rows)
    got = household_digests(table, owner, 20, label="income")
    rows = row_hashes(table, "income")
    expected = []
    for k in range(20):
        mine = [int(h) for h in rows[owner == k]]
        total = sum(splitmix64_finaliser(h ^ ((rank * 0x9E3779B97F4A7C15) % 2**64)) for rank, h in enumerate(mine))
        expected.append(total % 2**64)
    assert got.tolist() == expected


def test_keyed_digests_separate_runs_and_keep_equal_inputs_equal() -> None:
    digests = np.array([1, 2, 2, 2**63], dtype=np.uint64)
    a, b = keyed(digests, combine("v3", "2024-01-01")), keyed(digests, combine("v3", "2025-01-01"))
    assert a[1] == a[2] and len(set(a.tolist())) == 3
    assert not set(a.tolist()) & set(b.tolist())


def test_distinct_strings_of_every_length_hash_apart() -> None:
    rng = np.random.default_rng(11)
    words = {"", "a", "a\x00", "\x00", "\x00\x00", "12345678", "123456789", "1234567\x00", "因病", "因病 "}
    words |= {"".join(rng.choice(list("ab\x00因"), n)) for n in range(1, 20) for _ in range(40)}
    column = pa.table({"x": pa.array(sorted(words))})
    assert len(set(row_hashes(column).tolist())) == len(words)
