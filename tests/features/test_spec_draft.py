"""`relapse spec draft`: a first spec guessed from a table, every guess marked, and the draft reads its table."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from features.profiles.spec import apply_feature_spec, read_feature_spec
from features.profiles.spec_draft import LABEL_WORDS, draft_spec
from tests.fixtures import MESSY_PROFILES
from tests.fixtures.survey import survey_table
from training.byod import LABEL_FALSE, LABEL_TRUE, read_profile_table


def drafted(frame: pd.DataFrame, tmp_path: Path) -> Path:
    path = tmp_path / "spec.yaml"
    path.write_text(draft_spec(frame, "table.csv").text(), encoding="utf-8")
    return path


def test_the_survey_draft_guesses_roles_types_maps_and_missing_codes(tmp_path: Path) -> None:
    frame = survey_table()
    draft = draft_spec(frame, "survey.csv")
    assert (draft.time, draft.ids, draft.label, draft.groups) == ("year", ["hhid", "year"], "relapsed", ["县", "性别"])
    assert draft.left_out == [("remarks", "free text: 600 distinct values; add it as a category if it is one")]
    spec = read_feature_spec(drafted(frame, tmp_path))
    types = {e.name: e.type for e in spec.features}
    assert types == {
        "terrain": "category",
        "members": "count",
        "land_mu": "number",
        "loans_yuan": "number",
        "ill": "flag",
    }
    loans = next(e for e in spec.features if e.name == "loans_yuan")
    assert loans.values == {"No": 0, "yes": 1} and loans.parse["missing"] == ["", "n/a"]
    assert draft.command().endswith("--label relapsed --time year --group 县 --group 性别")


def test_every_entry_and_role_is_marked_as_a_guess(tmp_path: Path) -> None:
    text = draft_spec(survey_table(), "survey.csv").text()
    lines = text.splitlines()
    entries = [i for i, line in enumerate(lines) if line.startswith("  - name:")]
    assert len(entries) == 5
    assert all(lines[i - 1].startswith("  # guessed: ") for i in entries)
    for role in ("label relapsed", "time column year", "fairness group 县", "fairness group 性别"):
        assert f"# guessed: {role}" in text
    assert 'id_columns: ["hhid", "year"]  # guessed' in text


def test_the_draft_reads_its_own_table_with_the_values_a_reader_expects(tmp_path: Path) -> None:
    frame = survey_table()
    parsed = apply_feature_spec(frame, read_feature_spec(drafted(frame, tmp_path)))
    raw = frame["loans_yuan"].str.strip()
    expected = pd.to_numeric(raw, errors="coerce").where(~raw.str.casefold().eq("no"), 0.0)
    expected = expected.where(raw != "yes", 1.0)
    np.testing.assert_array_equal(parsed["loans_yuan"].to_numpy(), expected.to_numpy())
    assert parsed["ill"].tolist() == frame["ill"].isin(["Yes", "是"]).astype(float).tolist()
    assert parsed["members"].dtype == np.int64


def test_the_messy_fixture_draft_matches_its_hand_written_spec_in_roles_and_types(tmp_path: Path) -> None:
    frame = read_profile_table(MESSY_PROFILES)
    draft = draft_spec(frame, MESSY_PROFILES.name)
    assert (draft.time, draft.ids, draft.label) == ("survey_year", ["household_id", "survey_year"], "relapsed")
    assert draft.groups == ["county", "head_gender"]
    spec = read_feature_spec(drafted(frame, tmp_path))
    hand = read_feature_spec(MESSY_PROFILES.with_name("messy_spec.yaml"))
    assert {e.name: e.type for e in spec.features} == {e.name: e.type for e in hand.features}
    pd.testing.assert_frame_equal(apply_feature_spec(frame, spec), apply_feature_spec(frame, hand))


def test_two_outcome_like_columns_leave_the_label_to_the_user(tmp_path: Path) -> None:
    frame = survey_table().assign(poverty_returned=lambda f: f["relapsed"].map({"1": "yes", "0": "no"}))
    draft = draft_spec(frame, "survey.csv")
    assert draft.label is None and {"relapsed", "poverty_returned"} <= set(draft.label_candidates)
    assert "--label LABEL" in draft.command()
    assert "no label column found for sure" in draft.text()


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_tables_are_read_as_text_whatever_their_format(tmp_path: Path, suffix: str) -> None:
    frame = survey_table(households=60)
    path = tmp_path / f"survey{suffix}"
    frame.to_csv(path, index=False) if suffix == ".csv" else frame.to_parquet(path)
    assert draft_spec(read_profile_table(path), path.name).label == "relapsed"


def test_a_label_is_guessed_only_in_words_training_reads_as_0_or_1() -> None:
    assert LABEL_WORDS == LABEL_TRUE | LABEL_FALSE  # the draft never guesses a label `relapse train` cannot read
    frame = survey_table(households=60).assign(relapsed=lambda f: f["relapsed"].map({"1": "有", "0": "无"}))
    assert draft_spec(frame, "survey.csv").label is None
