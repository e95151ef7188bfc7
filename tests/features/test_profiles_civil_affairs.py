"""Civil-affairs categories in the profile (features/profiles/_civil_affairs.py): held on as_of like a spell, missing
when the source does not deliver the table, and 低保 / 特困 read from either record."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features.profiles.build import build_profile, build_profiles, select_households
from features.reading.sources import Sources
from models.measures import propose_measures
from tests.factories import make_sources

FLAGS = ["dibao_active", "tekun_active", "dibao_edge_active", "rigid_expenditure_active"]


def _flags(sources: Sources, as_of: str, household: str) -> dict[str, float]:
    profiles = build_profiles(sources, as_of).set_index("household_id")
    return {flag: float(profiles.loc[household, flag]) for flag in FLAGS}


@pytest.mark.parametrize(
    ("as_of", "held"),
    [
        ("2023-06-01", 0.0),  # recognised that day: not before as_of
        ("2023-06-02", 1.0),
        ("2024-05-31", 1.0),  # its last day
        ("2024-06-01", 0.0),
    ],
)
def test_a_category_is_held_from_the_day_after_recognition_to_its_end(as_of: str, held: float) -> None:
    # The factory's first household is recognised as a rigid-expenditure family from 2023-06-01 to 2024-05-31.
    flags = _flags(make_sources(), as_of, "H000001")
    assert flags == {
        "dibao_active": 0.0,
        "tekun_active": 0.0,
        "dibao_edge_active": 0.0,
        "rigid_expenditure_active": held,
    }


def test_without_the_table_the_categories_are_not_observed() -> None:
    sources = make_sources()
    del sources.tables["civil_affairs"]
    profiles = build_profiles(sources, "2024-01-01")
    assert profiles[["dibao_edge_active", "rigid_expenditure_active"]].isna().all().all()
    # 低保 still comes from the assistance spell, which the source does deliver.
    assert profiles.set_index("household_id").loc["H000006", "dibao_active"] == 1.0
    # A household's own records keep the table absent too: the one-household road agrees with the batch.
    one = build_profile(select_households(sources, ["H000001"]), "2024-01-01")
    assert np.isnan(one.loc[0, "rigid_expenditure_active"])


def test_an_empty_table_observes_that_no_household_is_recognised() -> None:
    sources = make_sources()
    sources.tables["civil_affairs"] = sources.tables["civil_affairs"].iloc[0:0]
    profiles = build_profiles(sources, "2024-01-01")
    assert (profiles[["dibao_edge_active", "rigid_expenditure_active"]] == 0.0).all().all()


def _without_dibao_spell(sources: Sources) -> Sources:
    spells = sources.tables["assistance"]
    sources.tables["assistance"] = spells[spells["measure"] != "dibao"].reset_index(drop=True)
    return sources


def test_a_dibao_recipient_known_only_to_civil_affairs_receives_dibao_and_is_not_proposed_it_again() -> None:
    sources = _without_dibao_spell(make_sources())
    profile = build_profiles(sources, "2024-01-01").set_index("household_id").loc["H000006"].copy()
    assert profile["dibao_active"] == 1.0
    poor = profile.copy()
    poor["income_pc_yuan"] = poor["income_pc_after_medical_yuan"] = 1_000.0  # far below any 低保 standard
    assert "dibao" not in [p.measure for p in propose_measures(poor, ["income"], per_reason=5)]
    # The same household without the civil-affairs record: nothing says it receives 低保, so it is proposed.
    civil = sources.tables["civil_affairs"]
    sources.tables["civil_affairs"] = civil[civil["household_id"] != "H000006"].reset_index(drop=True)
    unknown = build_profiles(sources, "2024-01-01").set_index("household_id").loc["H000006"].copy()
    assert unknown["dibao_active"] == 0.0
    unknown["income_pc_yuan"] = unknown["income_pc_after_medical_yuan"] = 1_000.0
    assert "dibao" in [p.measure for p in propose_measures(unknown, ["income"], per_reason=5)]


def test_a_tekun_category_counts_as_tekun_support() -> None:
    sources = make_sources()
    extra = pd.DataFrame(
        {
            "household_id": ["H000002"],
            "category": ["tekun"],
            "start_date": pd.to_datetime(["2023-02-01"]),
            "end_date": pd.to_datetime([None]),
        }
    )
    sources.tables["civil_affairs"] = pd.concat([sources.tables["civil_affairs"], extra], ignore_index=True)
    flags = _flags(sources, "2024-01-01", "H000002")
    assert flags["tekun_active"] == 1.0 and flags["dibao_active"] == 0.0
