"""Visit outcomes as training rows: hand-computed inverse-propensity weights, a household listed with probability p
weighs 1/p, rows that cannot be placed are dropped and counted, and outcomes are labels only — never features,
never in the validation or test period."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.tiny_city import tiny_sources
from training.observation import WEIGHT_COLUMN
from training.outcomes import (
    LABEL_SOURCE_COLUMN,
    OutcomesError,
    add_outcomes,
    check_outcomes,
    read_outcomes,
    visit_rows,
)
from training.pipeline import data_from_sources
from training.split import TimeSplit

DATES = [pd.Timestamp("2023-01-01"), pd.Timestamp("2023-04-01"), pd.Timestamp("2023-07-01")]


def _snapshots() -> pd.DataFrame:
    rows = [
        {"household_id": h, "as_of": d, "x": float(i * 10 + j), "label": 0}
        for i, h in enumerate(["h1", "h2", "h3"])
        for j, d in enumerate(DATES)
    ]
    return pd.DataFrame(rows).assign(label=lambda f: f["label"].astype(np.int8))


def _outcome(household: str, list_as_of: str, visited_on: str, label: int, p: float) -> dict[str, object]:
    return {
        "household_id": household,
        "list_as_of": pd.Timestamp(list_as_of),
        "visited_on": pd.Timestamp(visited_on),
        "label": label,
        "selection_probability": p,
    }


def test_hand_computed_rows_and_weights() -> None:
    outcomes = pd.DataFrame(
        [
            _outcome("h1", "2023-05-15", "2023-06-01", 1, 1.0),  # D = 2023-04-01, rank-chosen: weight 1
            _outcome("h2", "2023-04-01", "2023-04-10", 0, 0.25),  # D = 2023-04-01: weight 4
            _outcome("h3", "2023-07-20", "2023-08-01", 1, 1e-5),  # D = 2023-07-01: floored at 0.001, weight 1000
            _outcome("h1", "2022-12-01", "2022-12-20", 1, 1.0),  # before every snapshot date
            _outcome("h2", "2023-01-05", "2024-01-01", 0, 1.0),  # D = 2023-01-01: the window ends 2024-01-01
            _outcome("h9", "2023-05-01", "2023-05-02", 1, 0.5),  # no snapshot of h9
        ]
    )
    result = add_outcomes(_snapshots(), outcomes, 12)
    added = result.snapshots[visit_rows(result.snapshots)]
    got = [(r.household_id, str(r.as_of)[:10], r.x, r.label, r.weight) for r in added.itertuples()]
    assert got == [
        ("h1", "2023-04-01", 1.0, 1, 1.0),
        ("h2", "2023-04-01", 11.0, 0, 4.0),
        ("h3", "2023-07-01", 22.0, 1, pytest.approx(1000.0)),
    ]
    assert result.added == 3 and sum(result.dropped.values()) == 3
    assert result.dropped == {
        "no snapshot date on or before the list's data date": 1,
        "visit outside the snapshot's label window": 1,
        "household has no snapshot on that date (monitored then, or unknown)": 1,
    }
    records = result.snapshots[~visit_rows(result.snapshots)]
    assert (records[WEIGHT_COLUMN] == 1.0).all() and (records[LABEL_SOURCE_COLUMN] == "records").all()
    assert "3 added" in result.note()


@given(p=st.floats(0.001, 1.0), label=st.integers(0, 1), day=st.integers(0, 300))
def test_a_household_listed_with_probability_p_weighs_one_over_p(p: float, label: int, day: int) -> None:
    visited = DATES[1] + pd.Timedelta(days=day)
    outcomes = pd.DataFrame([_outcome("h2", "2023-04-01", str(visited.date()), label, p)])
    result = add_outcomes(_snapshots(), outcomes, 12)
    (row,) = result.snapshots[visit_rows(result.snapshots)].itertuples()
    assert row.weight == pytest.approx(1 / p) and row.label == label


def test_outcomes_never_change_a_record_row_and_stay_out_of_validation_and_test() -> None:
    snapshots = _snapshots()
    outcomes = pd.DataFrame(
        [
            _outcome(h, str(d.date()), str((d + pd.Timedelta(days=30)).date()), 1, 0.5)
            for h in ("h1", "h2")
            for d in DATES
        ]
    )
    combined = add_outcomes(snapshots, outcomes, 12).snapshots
    records = combined[~visit_rows(combined)].drop(columns=[LABEL_SOURCE_COLUMN, WEIGHT_COLUMN])
    pd.testing.assert_frame_equal(records.reset_index(drop=True), snapshots)
    split = TimeSplit((DATES[0],), DATES[1], DATES[2])
    visits = visit_rows(combined)
    assert not (split.valid_mask(combined) & visits).any() and not (split.test_mask(combined) & visits).any()
    assert (split.train_mask(combined) & visits).sum() == 2  # the outcomes on the training date
    assert split.test_mask(combined).sum() == 3 and split.valid_mask(combined).sum() == 3  # every record row
    assert split.unused_visits(combined) == 4  # two on the validation date, two on the test date
    assert TimeSplit((DATES[0], DATES[1]), DATES[1], DATES[2]).unused_visits(combined) == 2


def test_a_bad_table_names_its_column_and_row(tmp_path: Path) -> None:
    good = _outcome("h1", "2023-04-01", "2023-04-02", 1, 0.5)
    with pytest.raises(OutcomesError, match="row 2, column selection_probability"):
        check_outcomes(pd.DataFrame([good, {**good, "selection_probability": 0.0}]))
    with pytest.raises(OutcomesError, match="row 1, column list_as_of"):
        check_outcomes(pd.DataFrame([{**good, "list_as_of": pd.Timestamp("2023-05-01")}]))
    with pytest.raises(OutcomesError, match="row 1, column label"):
        check_outcomes(pd.DataFrame([{**good, "label": 2}]))
    with pytest.raises(OutcomesError, match="lacks column"):
        check_outcomes(pd.DataFrame([{"household_id": "h1"}]))
    path = tmp_path / "outcomes.csv"
    pd.DataFrame([good]).to_csv(path, index=False)
    assert read_outcomes(path)["label"].tolist() == [1]


def test_on_the_tiny_city_an_outcome_takes_the_snapshot_features_and_the_visit_label() -> None:
    """H3 has no records: not identified, label 0 on records. A visit found it in need: the added row carries the
    visit's label on the features of the snapshot dated before the visit, built from records before that date."""
    dates = [pd.Timestamp("2022-01-01"), pd.Timestamp("2023-01-01"), pd.Timestamp("2024-01-01")]
    plain = data_from_sources(tiny_sources(), dates, label="identified_12m")
    outcomes = pd.DataFrame([_outcome("H3", "2023-02-01", "2023-03-01", 1, 0.2)])
    data = data_from_sources(tiny_sources(), dates, label="identified_12m", outcomes=outcomes)
    visits = visit_rows(data.snapshots)
    (row,) = data.snapshots[visits].to_dict("records")
    assert row["label"] == 1 and row[WEIGHT_COLUMN] == pytest.approx(5.0) and row["as_of"] == dates[1]
    same = plain.snapshots[(plain.snapshots["household_id"] == "H3") & (plain.snapshots["as_of"] == dates[1])]
    features = [f.name for f in data.features]
    pd.testing.assert_series_equal(
        pd.Series({k: row[k] for k in features}, dtype=object),
        same[features].iloc[0].astype(object).rename(None),
        check_names=False,
    )
    records = data.snapshots[~visits].drop(columns=[LABEL_SOURCE_COLUMN, WEIGHT_COLUMN])
    pd.testing.assert_frame_equal(records.reset_index(drop=True), plain.snapshots)
    assert "1 added" in " ".join(data.notes)


def test_labels_about_monitoring_objects_refuse_outcomes() -> None:
    outcomes = pd.DataFrame([_outcome("H3", "2023-02-01", "2023-03-01", 1, 0.2)])
    with pytest.raises(OutcomesError, match="identified_12m or need_12m"):
        data_from_sources(tiny_sources(), [pd.Timestamp("2023-01-01")], label="eliminated_6m", outcomes=outcomes)


def test_relapse_train_names_a_bad_outcomes_table(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from relapse.cli import app

    monkeypatch.setenv("RELAPSE_DATA_DIR", str(tmp_path / "data"))
    bad = tmp_path / "outcomes.csv"
    pd.DataFrame([{"household_id": "H1", "visited_on": "2023-03-01", "label": 1}]).to_csv(bad, index=False)
    answer = CliRunner().invoke(app, ["train", "--data", str(tmp_path), "--outcomes", str(bad)])
    assert answer.exit_code == 2 and "list_as_of" in answer.output
