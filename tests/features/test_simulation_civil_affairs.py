"""The synthetic city's civil-affairs categories (features/simulation/civil_affairs.py), checked against the
city's own records: who is recognised follows the stated rules, and the table changes nothing else."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from features.profiles.build import per_capita_net_income
from features.simulation import CityConfig, simulate_city
from features.validation.report import validate_sources

SEED = 23
CONFIG = CityConfig(households=1_500)
# Income components are recorded rounded to the yuan; the generator decided on the unrounded values.
ROUNDING_YUAN = 10.0


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("civil_city")
    simulate_city(CONFIG, seed=SEED, out_dir=out)
    return out


def _read(folder: Path, name: str, *dates: str) -> pd.DataFrame:
    frame = pd.read_parquet(folder / f"{name}.parquet")
    for column in dates:
        frame[column] = pd.to_datetime(frame[column]).astype("datetime64[ns]")
    return frame


def _with_prior_income(city: Path, category: str) -> pd.DataFrame:
    """The category's recognitions, each with the household's income record of the year before its start."""
    rows = _read(city, "civil_affairs", "start_date", "end_date")
    rows = rows[rows["category"] == category].copy()
    rows["income_year"] = rows["start_date"].dt.year - 1
    income = _read(city, "income")
    income["pc"] = per_capita_net_income(income)
    income["own_pc"] = income["pc"] - income["transfer_dibao_yuan"].fillna(0) / income["members_count"]
    return rows.merge(income, on=["household_id", "income_year"], how="inner")


def test_the_city_s_civil_affairs_table_is_valid_and_holds_every_category(city: Path) -> None:
    report = validate_sources(city)
    assert report.ok, str(report)
    counts = _read(city, "civil_affairs")["category"].value_counts()
    assert set(counts.index) == {"dibao", "tekun", "dibao_edge", "rigid_expenditure"}


def test_dibao_and_tekun_recognitions_are_the_assistance_spells(city: Path) -> None:
    keys = ["household_id", "category", "start_date", "end_date"]
    spells = _read(city, "assistance", "start_date", "end_date")
    spells = spells[spells["measure"].isin(["dibao", "tekun"])].rename(columns={"measure": "category"})
    rows = _read(city, "civil_affairs", "start_date", "end_date")
    rows = rows[rows["category"].isin(["dibao", "tekun"])]
    expected = spells[keys].sort_values(keys).reset_index(drop=True)
    pd.testing.assert_frame_equal(rows[keys].sort_values(keys).reset_index(drop=True), expected, check_dtype=False)


def test_dibao_recipients_were_below_the_standard_when_it_was_granted(city: Path) -> None:
    granted = _with_prior_income(city, "dibao")
    assert len(granted) >= 20  # dibao households' income is recorded every year
    identifications = _read(city, "identifications", "identified_date")
    first = identifications.groupby("household_id")["identified_date"].min()
    monitored_before = granted["household_id"].map(first) < granted["start_date"]
    standard = granted["income_year"].map(CONFIG.dibao_standards)
    line = granted["income_year"].map(CONFIG.monitoring_lines)
    # Households never identified before the grant: below the 低保 standard. Monitoring objects are reviewed up to
    # the monitoring line (features/simulation/assistance.py), which lies above the demo standard.
    plain = granted[~monitored_before]
    assert len(plain) >= 10
    assert (plain["own_pc"] < standard[~monitored_before] + ROUNDING_YUAN).all()
    assert (granted["own_pc"] < line + ROUNDING_YUAN).all()


def test_edge_families_are_off_the_safety_net_and_below_the_edge_multiple(city: Path) -> None:
    edge = _with_prior_income(city, "dibao_edge")
    assert len(edge) >= 20
    limit = CONFIG.dibao_edge_multiple * edge["income_year"].map(CONFIG.dibao_standards)
    assert (edge["own_pc"] < limit + ROUNDING_YUAN).all()
    # Nobody is recognised as an edge family while on 低保 or 特困.
    rows = _read(city, "civil_affairs", "start_date", "end_date")
    net = rows[rows["category"].isin(["dibao", "tekun"])]
    both = rows[rows["category"] == "dibao_edge"].merge(net, on="household_id", suffixes=("", "_net"))
    held = (both["start_date_net"] <= both["start_date"]) & (
        both["end_date_net"].isna() | (both["end_date_net"] >= both["start_date"])
    )
    assert not held.any()


def test_rigid_expenditure_families_spent_over_the_share_of_income_below_the_benchmark(city: Path) -> None:
    rigid = _with_prior_income(city, "rigid_expenditure")
    assert len(rigid) >= 3
    costs = rigid["medical_oop_compliant_yuan"].fillna(0) + rigid["education_expense_yuan"].fillna(0)
    net = rigid["pc"] * rigid["members_count"]
    assert (costs + ROUNDING_YUAN * rigid["members_count"] > CONFIG.rigid_expenditure_share_of_income * net).all()
    benchmark = rigid["income_year"].map(CONFIG.rural_income_prior_year)
    assert (rigid["pc"] < benchmark + ROUNDING_YUAN).all()


def test_recognitions_run_from_early_next_year_to_its_review(city: Path) -> None:
    rows = _read(city, "civil_affairs", "start_date", "end_date")
    recognised = rows[rows["category"].isin(["dibao_edge", "rigid_expenditure"])]
    assert (recognised["end_date"] == pd.to_datetime(recognised["start_date"].dt.year.astype(str) + "-12-31")).all()
    assert (recognised["start_date"].dt.month <= 3).all()
    assert not recognised.duplicated(["household_id", "category", "start_date"]).any()


@pytest.mark.slow
def test_the_table_changes_nothing_else_in_the_city(city: Path, tmp_path: Path) -> None:
    quiet = replace(CONFIG, dibao_edge_recognised_share=0.0, rigid_expenditure_recognised_share=0.0)
    simulate_city(quiet, seed=SEED, out_dir=tmp_path)
    for name in ("households", "income", "events", "assistance", "identifications", "member_status"):
        pd.testing.assert_frame_equal(_read(city, name), _read(tmp_path, name))
    categories = set(np.unique(_read(tmp_path, "civil_affairs")["category"]))
    assert categories == {"dibao", "tekun"}
