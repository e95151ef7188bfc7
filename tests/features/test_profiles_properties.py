"""Point-in-time and no-skew properties of the profile builder on a synthetic city.

- Adding any record dated on or after `as_of` to any table leaves every profile exactly unchanged.
- One household's profile built from its own records equals its row of the batch build exactly.
- Row order does not matter.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from features.contract.tables import TABLES
from features.profiles.build import build_profile, build_profiles, select_households
from features.reading.sources import Sources
from tests.features.conftest import AS_OF

# Tables whose rows are dated, with the column that dates them (features.contract.tables Table.time_column).
TIMED = {name: t.time_column for name, t in TABLES.items() if t.time_column}


@pytest.fixture(scope="module")
def sample(small_city: Sources) -> Sources:
    """300 households of the city: enough variety, fast enough for many hypothesis examples."""
    ids = small_city["households"]["household_id"].sample(300, random_state=3)
    return select_households(small_city, ids)


@pytest.fixture(scope="module")
def sample_profiles(sample: Sources) -> pd.DataFrame:
    return build_profiles(sample, AS_OF)


def _with_late_rows(sources: Sources, table: str, picks: list[int], offsets: list[int], fields: int) -> Sources:
    """Copies of existing rows of `table`, re-dated on or after as_of (and otherwise perturbed)."""
    frame = sources[table]
    rows = frame.iloc[[p % len(frame) for p in picks]].copy()
    when = AS_OF + pd.to_timedelta(offsets, unit="D")
    rows[TIMED[table]] = when.astype(frame[TIMED[table]].dtype)
    if table == "identifications":
        rows["identification_id"] = [f"LATE{i}" for i in range(len(rows))]
    if table == "events" and fields % 2:
        # A death after as_of must not remove a member who is alive on as_of.
        rows["event_type"] = "death"
    for column in ("end_date", "elimination_date"):
        if column in rows and fields % 3 == 0:
            rows[column] = rows[TIMED[table]]
    tables = dict(sources.tables)
    tables[table] = pd.concat([frame, rows], ignore_index=True)
    return Sources(tables, sources.manifest)


@pytest.mark.slow
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    table=st.sampled_from(sorted(TIMED)),
    picks=st.lists(st.integers(0, 10_000), min_size=1, max_size=5),
    offsets=st.lists(st.integers(0, 800), min_size=5, max_size=5),
    fields=st.integers(0, 5),
)
def test_records_dated_on_or_after_as_of_change_nothing(
    sample: Sources, sample_profiles: pd.DataFrame, table: str, picks: list[int], offsets: list[int], fields: int
) -> None:
    if not len(sample[table]):
        return
    changed = _with_late_rows(sample, table, picks, offsets[: len(picks)], fields)
    pd.testing.assert_frame_equal(build_profiles(changed, AS_OF), sample_profiles)


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(offset=st.integers(0, 400), pick=st.integers(0, 10_000))
def test_members_born_on_or_after_as_of_change_nothing(
    sample: Sources, sample_profiles: pd.DataFrame, offset: int, pick: int
) -> None:
    members = sample["members"]
    baby = members.iloc[[pick % len(members)]].copy()
    baby["member_id"] = "NEWBORN"
    baby["birth_date"] = (AS_OF + pd.Timedelta(days=offset)).to_datetime64()
    tables = dict(sample.tables, members=pd.concat([members, baby], ignore_index=True))
    pd.testing.assert_frame_equal(build_profiles(Sources(tables), AS_OF), sample_profiles)


@pytest.mark.slow
@pytest.mark.parametrize("as_of", ["2022-01-01", "2023-07-15", "2024-01-01", "2025-03-01"])
def test_one_household_equals_its_batch_row(small_city: Sources, as_of: str) -> None:
    batch = build_profiles(small_city, as_of)
    rng = np.random.default_rng(7)
    # Include the unusual: monitored, without members, with deaths, with hospital stays.
    interesting = batch[
        (batch["under_monitoring"] == 1)
        | (batch["members_count"] == 0)
        | (batch["deaths_12m"] > 0)
        | (batch["hospital_stays_12m"] > 1)
    ]["household_id"]
    ids = list(interesting.sample(min(15, len(interesting)), random_state=1))
    ids += list(rng.choice(batch["household_id"].to_numpy(), 15, replace=False))
    indexed = batch.set_index("household_id")
    for household in ids:
        one = build_profile(select_households(small_city, [household]), as_of)
        pd.testing.assert_frame_equal(one, indexed.loc[[household]].reset_index(), check_index_type=False)


def test_row_order_does_not_matter(sample: Sources, sample_profiles: pd.DataFrame) -> None:
    shuffled = {
        name: frame.sample(frac=1.0, random_state=5).reset_index(drop=True) if name != "households" else frame
        for name, frame in sample.tables.items()
    }
    pd.testing.assert_frame_equal(build_profiles(shuffled, AS_OF), sample_profiles)


def test_every_household_has_one_row(small_city: Sources, city_profiles: pd.DataFrame) -> None:
    assert city_profiles["household_id"].tolist() == small_city["households"]["household_id"].tolist()
    assert city_profiles["members_count"].sum() > 0
