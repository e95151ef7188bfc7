"""Batch explanations agree with the per-household reference `explain_households`, row for row."""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pandas as pd
import pytest

from models._batch_measures import margins
from models._forest_margin import ForestMargin
from models.batch import BatchOptions, explain_batch, output_columns
from models.explain import HouseholdExplanation, explain_households
from models.reasons import default_explainer
from models.risk_model import RiskModel
from tests.models.explain_fixtures import profiles, small_model

ROWS = 400  # the highest-risk households (most reasons and measures) plus a spread of the others


@lru_cache(maxsize=2)
def sample() -> pd.DataFrame:
    data = profiles()
    picked = np.r_[np.arange(ROWS // 2), np.linspace(ROWS // 2, len(data) - 1, ROWS // 2).astype(int)]
    return data.iloc[picked].reset_index(drop=True)


@lru_cache(maxsize=4)
def reference(calibrator: str) -> list[HouseholdExplanation]:
    model = small_model(calibrator)
    return explain_households(model, sample(), explainer=default_explainer(model.booster))


def _same(a: object, b: object) -> bool:
    """Equal, with missing equal to missing (the table holds NaN or None where the reference has nothing)."""
    if a is None or (isinstance(a, float) and np.isnan(a)):
        return b is None or (isinstance(b, float) and np.isnan(b))
    return a == b


@pytest.mark.slow
@pytest.mark.parametrize("calibrator", ["sigmoid", "isotonic"])
def test_batch_table_equals_explain_households_row_for_row(calibrator: str) -> None:
    model = small_model(calibrator)
    table = explain_batch(model, sample(), explainer=default_explainer(model.booster))
    assert list(table.columns) == output_columns()
    reasons_seen = measures_seen = 0
    for i, expected in enumerate(reference(calibrator)):
        row = table.iloc[i]
        assert row["household_id"] == expected.household_id
        assert row["probability"] == expected.probability  # bitwise
        assert row["margin"] == expected.margin
        for k in range(1, 4):
            reason = expected.reasons[k - 1] if k <= len(expected.reasons) else None
            reasons_seen += reason is not None
            assert _same(row[f"reason{k}_key"], reason and reason.key), (i, k)
            assert _same(row[f"reason{k}_code"], reason and reason.code), (i, k)
            assert _same(row[f"reason{k}_zh"], reason and reason.zh), (i, k)
            assert _same(row[f"reason{k}_points"], reason and reason.points), (i, k)  # bitwise
            assert _same(row[f"reason{k}_sentence_zh"], reason and reason.sentence_zh), (i, k)
            assert _same(row[f"reason{k}_sentence_en"], reason and reason.sentence_en), (i, k)
        for k in range(1, 7):
            has = k <= len(expected.measures)
            proposal = expected.measures[k - 1] if has else None
            scenario = expected.what_if[k - 1] if has else None
            measures_seen += has
            assert _same(row[f"measure{k}_code"], proposal and proposal.measure), (i, k)
            assert _same(row[f"measure{k}_en"], proposal and proposal.en), (i, k)
            assert _same(row[f"measure{k}_risks"], proposal and ",".join(proposal.risks)), (i, k)
            assert _same(row[f"measure{k}_probability_after"], scenario and scenario.probability_after), (i, k)
            assert _same(row[f"measure{k}_points"], scenario and scenario.points), (i, k)
    # The comparison covered real content, not empty columns.
    assert reasons_seen > ROWS and measures_seen > ROWS


def test_same_input_gives_the_same_table_in_any_batch_split() -> None:
    model = small_model()
    explainer = default_explainer(model.booster)
    whole = explain_batch(model, sample(), explainer=explainer)
    parts = pd.concat(
        [explain_batch(model, sample().iloc[a:b], explainer=explainer) for a, b in ((0, 7), (7, 150), (150, ROWS))],
        ignore_index=True,
    )
    pd.testing.assert_frame_equal(whole, parts, check_exact=True)


def test_without_sentences_the_rest_is_unchanged() -> None:
    model = small_model()
    explainer = default_explainer(model.booster)
    full = explain_batch(model, sample(), explainer=explainer)
    lean = explain_batch(model, sample(), explainer=explainer, options=BatchOptions(sentences=False))
    sentence_columns = [c for c in full.columns if "_sentence_" in c]
    assert lean[sentence_columns].isna().all().all()
    pd.testing.assert_frame_equal(
        full.drop(columns=sentence_columns), lean.drop(columns=sentence_columns), check_exact=True
    )


def test_no_rows_give_an_empty_table_with_every_column() -> None:
    model = small_model()
    table = explain_batch(model, sample().iloc[:0])
    assert len(table) == 0 and list(table.columns) == output_columns()


def test_forest_margins_are_lightgbm_margins_bitwise() -> None:
    model: RiskModel = small_model()
    x = model.prepare(sample())
    forest = ForestMargin(model.booster)
    leaves = forest.leaf_values(x)
    assert forest.margins(leaves).tobytes() == model.margin(x).tobytes()
    # A changed copy: only trees splitting on the changed columns are re-evaluated, the sum stays exact.
    changed = x.copy()
    columns = np.array([model.feature_names.index("income_pc_yuan"), model.feature_names.index("dibao_active")])
    changed[:, columns[0]] = np.nan_to_num(changed[:, columns[0]]) + 3_000.0
    changed[:, columns[1]] = 1.0
    rows = np.arange(len(x))
    after = forest.margins_after_change(changed, rows, leaves, columns)
    assert after.tobytes() == model.margin(changed).tobytes()
    assert not np.array_equal(after, model.margin(x))  # the change mattered


def test_margins_are_lightgbm_margins_and_fall_back_when_the_forest_disagrees(monkeypatch: pytest.MonkeyPatch) -> None:
    model = small_model()
    x = model.prepare(sample())
    ours, leaves = margins(model, x)
    assert leaves is not None and ours.tobytes() == model.margin(x).tobytes()
    monkeypatch.setattr(ForestMargin, "margins", staticmethod(lambda leaves: leaves.sum(axis=1) + 1e-9))
    fallback, none = margins(model, x)
    assert none is None and fallback.tobytes() == model.margin(x).tobytes()
