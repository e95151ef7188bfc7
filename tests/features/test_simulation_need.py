"""The synthetic city's truth about need (features/simulation/need.py) and who is observed (observation.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from features.contract.monitoring_lines import DEFAULT_MONITORING_LINES
from features.profiles.build import per_capita_net_income
from features.simulation import NEED_FILE, TRUTH_DIR, CityConfig, simulate_city

SEED = 11


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("need_city")
    simulate_city(CityConfig(households=1_500), seed=SEED, out_dir=out)
    return out


@pytest.fixture(scope="module")
def fully_observed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("need_city_full")
    simulate_city(CityConfig(households=1_500, ordinary_income_observed_share=1.0), seed=SEED, out_dir=out)
    return out


def _truth(folder: Path) -> pd.DataFrame:
    return pd.read_parquet(folder / TRUTH_DIR / NEED_FILE)


def _identifications(folder: Path) -> pd.DataFrame:
    frame = pd.read_parquet(folder / "identifications.parquet")
    frame["identified_date"] = pd.to_datetime(frame["identified_date"]).astype("datetime64[ms]")
    return frame


def test_truth_is_outside_the_contract_tables(city: Path) -> None:
    from features.reading.sources import read_sources

    assert (city / TRUTH_DIR / NEED_FILE).is_file()
    assert not any("need" in name for name in read_sources(city).tables)


def test_observation_changes_only_which_income_rows_are_recorded(city: Path, fully_observed: Path) -> None:
    for name in ("identifications", "events", "assistance", "households", "housing_checks"):
        pd.testing.assert_frame_equal(
            pd.read_parquet(city / f"{name}.parquet"), pd.read_parquet(fully_observed / f"{name}.parquet")
        )
    pd.testing.assert_frame_equal(_truth(city), _truth(fully_observed))
    thin = pd.read_parquet(city / "income.parquet")
    full = pd.read_parquet(fully_observed / "income.parquet")
    merged = thin.merge(full, on=["household_id", "income_year"], how="left", suffixes=("", "_full"))
    assert len(thin) < len(full)
    assert (merged["wage_migrant_yuan"] == merged["wage_migrant_yuan_full"]).all()


def test_former_poor_and_monitored_households_are_observed_every_year(city: Path) -> None:
    income = pd.read_parquet(city / "income.parquet")
    households = pd.read_parquet(city / "households.parquet")
    years = sorted(income["income_year"].unique())
    former_poor = households.loc[households["household_type"] == "poverty_alleviated", "household_id"]
    per_year = income[income["household_id"].isin(former_poor)].groupby("income_year")["household_id"].nunique()
    # Every former poor household has a row every year while it exists (dissolved households stop).
    assert (per_year.diff().dropna() <= 0).all() and per_year.iloc[0] == len(former_poor)
    ordinary = households.loc[households["household_type"] == "general", "household_id"]
    share = income[income["household_id"].isin(ordinary)].groupby("income_year").size() / len(ordinary)
    assert len(share) == len(years)
    assert ((share > 0.2) & (share < 0.5)).all(), share
    identified = _identifications(city)
    identified_year = identified.assign(income_year=identified["identified_date"].dt.year)
    verified = identified_year.merge(income, on=["household_id", "income_year"], how="left", indicator=True)
    # Identified in December, dated in January: the identification year's income may be the one before.
    assert (verified["_merge"] == "both").mean() > 0.9


def test_income_need_in_the_truth_matches_the_recorded_income(fully_observed: Path) -> None:
    income = pd.read_parquet(fully_observed / "income.parquet")
    truth = _truth(fully_observed)
    after_medical = per_capita_net_income(income) - income["medical_oop_compliant_yuan"] / income["members_count"]
    line = income["income_year"].map(DEFAULT_MONITORING_LINES)
    # Rounded components: leave out the households within a yuan of the line.
    clear = (after_medical - line).abs() > 5
    below = income[clear & (after_medical < line)][["household_id", "income_year"]]
    above = income[clear & (after_medical >= line)][["household_id", "income_year"]]
    in_need = truth.rename(columns={"need_year": "income_year"})
    below_found = below.merge(in_need, on=["household_id", "income_year"], how="left", indicator=True)
    assert len(below) > 50 and (below_found["_merge"] == "both").all()
    above_income = above.merge(in_need, on=["household_id", "income_year"])
    assert len(above_income) and (above_income["trigger"] != "income").all()


def test_discovered_need_is_an_identification_of_that_year(city: Path) -> None:
    truth = _truth(city)
    identified = _identifications(city)
    found = truth[truth["discovered"]]
    assert len(found) and (~truth["discovered"]).sum() > len(found)
    joined = found.merge(
        identified[["household_id", "identified_date"]], on=["household_id", "identified_date"], how="left"
    )
    assert len(joined) == len(found) and joined["identified_date"].notna().all()
    assert truth.loc[~truth["discovered"], "identified_date"].isna().all()
    # Identified no earlier than the year of need, and within the following winter's check.
    years = found["identified_date"].dt.year - found["need_year"]
    assert years.between(0, 1).all()


def test_truth_rows_are_well_formed(city: Path) -> None:
    truth = _truth(city)
    assert set(truth["trigger"]) <= {"income", "rigid_expenditure", "guarantee"}
    assert not truth.duplicated(["household_id", "need_year"]).any()
    assert (truth["need_date"].dt.year == truth["need_year"]).all()
    first = truth["need_year"] == truth["need_year"].min()
    assert not truth.loc[first, "continuing"].any()
    previous = set(zip(truth["household_id"], truth["need_year"] + 1, strict=True))
    expected = [(h, y) in previous for h, y in zip(truth["household_id"], truth["need_year"], strict=True)]
    assert np.array_equal(truth["continuing"].to_numpy(), np.array(expected))
