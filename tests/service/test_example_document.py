"""The README's example household document (docs/examples/household.json) is accepted and profiled."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from features.pseudonyms.keys import PseudonymKey
from service.documents import profiles_from_documents
from service.schemas import HouseholdScoreRequest

EXAMPLE = Path(__file__).parents[2] / "docs" / "examples" / "household.json"


def test_the_readme_example_is_a_valid_request_and_builds_one_profile() -> None:
    request = HouseholdScoreRequest.model_validate(json.loads(EXAMPLE.read_text(encoding="utf-8")))
    key = PseudonymKey.from_text("example-key-for-the-readme-document-0123456789", "t1")
    profiles = profiles_from_documents(request.households, pd.Timestamp("2025-07-01").date(), key)
    assert len(profiles) == 1
    assert profiles["region_code"].iloc[0].startswith("99")  # fictional region: synthetic data
    assert profiles["hospital_stays_12m"].iloc[0] >= 1  # the example was chosen for a recent hospital stay


def test_a_civil_affairs_list_sent_empty_is_observed_and_one_left_out_is_not() -> None:
    """`"civil_affairs": []` says the source holds the table and the household is in no category (0); no list at
    all says nothing (missing), as for a source folder without the file."""
    document = json.loads(EXAMPLE.read_text(encoding="utf-8"))["households"][0]
    document.pop("civil_affairs", None)
    key = PseudonymKey.from_text("example-key-for-the-readme-document-0123456789", "t1")
    as_of = pd.Timestamp("2025-07-01").date()
    absent = HouseholdScoreRequest.model_validate({"households": [document]})
    empty = HouseholdScoreRequest.model_validate({"households": [{**document, "civil_affairs": []}]})
    left_out = profiles_from_documents(absent.households, as_of, key)
    sent = profiles_from_documents(empty.households, as_of, key)
    for feature in ("dibao_edge_active", "rigid_expenditure_active"):
        assert pd.isna(left_out[feature].iloc[0]) and sent[feature].iloc[0] == 0, feature
