"""A city a year later (`relapse simulate --extend`): the earlier years as they were, and one more year."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from features.contract.tables import TABLES
from features.simulation import NEED_FILE, TRUTH_DIR, CityConfig, simulate_city
from features.simulation.extend import ExtendError, extend_city, extension_config

pytestmark = pytest.mark.slow  # two cities

HOUSEHOLDS, SEED = 1_500, 11
FIRST_EXTRACT = pd.Timestamp("2026-01-01")

# When each table's row was recorded, and what a later extract may fill in about an older row (end dates).
RECORDED = {
    "income": "recorded_date",
    "member_status": "recorded_date",
    "events": "event_date",
    "assistance": "start_date",
    "civil_affairs": "start_date",
    "housing_checks": "check_date",
    "water_checks": "check_date",
    "identifications": "identified_date",
}
SETTLED_LATER = {
    "assistance": ("end_date",),
    "civil_affairs": ("end_date",),
    "identifications": ("elimination_date", "elimination_way"),
}
STATIC = ("villages", "households", "members")


@pytest.fixture(scope="module")
def cities(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    first = tmp_path_factory.mktemp("city-2025")
    simulate_city(CityConfig(households=HOUSEHOLDS), seed=SEED, out_dir=first)
    later = tmp_path_factory.mktemp("city") / "2026"
    extend_city(first, later)
    return first, later


def as_known_on(frame: pd.DataFrame, table: str, day: pd.Timestamp) -> pd.DataFrame:
    """The rows recorded before `day`, with what was settled on or after it blanked (not known on `day`)."""
    known = frame[pd.to_datetime(frame[RECORDED[table]]) < day].copy()
    if table in SETTLED_LATER:
        date_column, *others = SETTLED_LATER[table]
        late = pd.to_datetime(known[date_column]) >= day
        for column in (date_column, *others):
            known.loc[late, column] = None
    return known


def comparable(frame: pd.DataFrame, table: str) -> pd.DataFrame:
    # A spell still running at the extract date gets its id (S9999…) at extraction: a later extract, where it
    # may have ended, numbers it again. Spells are compared by what they are, in a fixed order.
    if table == "assistance":
        frame = frame.drop(columns="spell_id")
        return frame.astype(str).sort_values(list(frame.columns)).reset_index(drop=True)
    if table == "civil_affairs":
        return frame.astype(str).sort_values(list(frame.columns)).reset_index(drop=True)
    return frame.reset_index(drop=True)


@pytest.mark.parametrize("table", sorted(TABLES))
def test_the_earlier_years_are_the_first_extracts_records(cities: tuple[Path, Path], table: str) -> None:
    first, later = (pd.read_parquet(city / f"{table}.parquet") for city in cities)
    if table in STATIC:
        pd.testing.assert_frame_equal(first, later)
        return
    assert len(later) > len(first)  # the year brought new records
    pd.testing.assert_frame_equal(
        comparable(as_known_on(first, table, FIRST_EXTRACT), table),
        comparable(as_known_on(later, table, FIRST_EXTRACT), table),
    )
    # and the first extract holds nothing dated after its own extract date
    assert (pd.to_datetime(first[RECORDED[table]]) < FIRST_EXTRACT).all()


def test_the_new_year_follows_on(cities: tuple[Path, Path]) -> None:
    first, later = cities
    manifest = json.loads((later / "dataset.json").read_text())
    assert (manifest["first_year"], manifest["last_year"], manifest["extract_date"]) == (2019, 2026, "2027-01-01")
    assert manifest["seed"] == SEED and manifest["households"] == HOUSEHOLDS
    income = pd.read_parquet(later / "income.parquet")
    assert income["income_year"].max() == 2026 and (income["income_year"] == 2026).sum() > HOUSEHOLDS / 4
    identified = pd.read_parquet(later / "identifications.parquet")
    assert (pd.to_datetime(identified["identified_date"]) >= FIRST_EXTRACT).sum() > 0
    # an older identification the year eliminated: open in the first extract, closed in the later one
    old = pd.read_parquet(first / "identifications.parquet").set_index("identification_id")
    new = identified.set_index("identification_id").loc[old.index]
    assert (old["elimination_date"].isna() & new["elimination_date"].notna()).sum() > 0
    # the ground truth of the earlier years is the same too
    need = [pd.read_parquet(city / TRUTH_DIR / NEED_FILE) for city in cities]
    pd.testing.assert_frame_equal(need[0], need[1][need[1]["need_year"] <= 2025].reset_index(drop=True))


def test_only_a_generated_city_is_extended_and_never_in_place(tmp_path: Path, cities: tuple[Path, Path]) -> None:
    first, _ = cities
    with pytest.raises(ExtendError, match="new folder"):
        extend_city(first, first)
    with pytest.raises(ExtendError, match="generator"):
        extension_config({"synthetic": True}, 1)
    with pytest.raises(ExtendError, match="lacks seed"):
        extension_config({"generator": "relapse simulate", "households": 10, "first_year": 2019, "last_year": 2025})
    done = subprocess.run(
        [sys.executable, "-m", "relapse", "simulate", "--extend", str(tmp_path), "--out", str(tmp_path / "x")],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 2 and "only a generated city can be extended" in " ".join(done.stderr.split())
    assert "Traceback" not in done.stderr
    both = subprocess.run(
        [sys.executable, "-m", "relapse", "simulate", "--extend", str(first), "--seed", "3", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
    )
    assert both.returncode == 2 and "drop --households, --years and --seed" in " ".join(both.stderr.split())
