"""Fitting on a synthetic table with a known structure: determinism, constraints, calibration, files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.isotonic import IsotonicRegression

from models.risk_model import COMPANION, FILES, FeatureSpec, ModelSpecError, RiskModel, model_folders
from training.fit import TrainConfig, fit_risk_model
from training.metrics import expected_calibration_error
from training.split import latest_split, rolling_origin

FEATURES = (
    FeatureSpec("oop_share", "number", +1),
    FeatureSpec("income_ratio", "number", -1),
    FeatureSpec("noise", "number", 0),
    FeatureSpec("industry", "category", 0, ("apple", "livestock", "mixed")),
)


def make_snapshots(n: int = 6_000, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frames = []
    for year in range(2020, 2025):
        oop = rng.gamma(1.0, 0.2, n)
        ratio = rng.lognormal(0.8, 0.5, n)
        ratio[rng.random(n) < 0.1] = np.nan  # missing values are normal input
        industry = rng.choice(["apple", "livestock", "mixed"], n)
        logit = -4 + 3 * oop - 1.2 * np.nan_to_num(ratio, nan=2.0) + (industry == "livestock") * 0.8
        frames.append(
            pd.DataFrame(
                {
                    "household_id": [f"H{i:06d}" for i in range(n)],
                    "as_of": pd.Timestamp(f"{year}-01-01"),
                    "oop_share": oop,
                    "income_ratio": ratio,
                    "noise": rng.normal(size=n),
                    "industry": industry,
                    "label": (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int),
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


@pytest.fixture(scope="module")
def snapshots() -> pd.DataFrame:
    return make_snapshots()


def test_split_is_by_time(snapshots: pd.DataFrame) -> None:
    split = latest_split(snapshots["as_of"])
    assert split.test == pd.Timestamp("2024-01-01") and split.valid == pd.Timestamp("2023-01-01")
    assert max(split.train) < split.valid < split.test
    backtest = rolling_origin(snapshots["as_of"])
    assert [s.test.year for s in backtest] == [2022, 2023, 2024]
    assert all(max(s.train) < s.valid < s.test for s in backtest)


@pytest.mark.slow
def test_fit_is_deterministic_and_respects_monotone_constraints(snapshots: pd.DataFrame) -> None:
    split = latest_split(snapshots["as_of"])
    config = TrainConfig(num_boost_round=200, early_stopping_rounds=20)
    a = fit_risk_model(snapshots, FEATURES, split, config)
    b = fit_risk_model(snapshots, FEATURES, split, config)
    assert a.model.booster.model_to_string() == b.model.booster.model_to_string()
    probe = snapshots[split.test_mask(snapshots)].head(500).copy()
    base = a.model.margin(probe)
    more_oop = a.model.margin(probe.assign(oop_share=probe["oop_share"] + 0.5))
    more_income = a.model.margin(probe.assign(income_ratio=probe["income_ratio"] + 1.0))
    assert (more_oop >= base - 1e-12).all()
    assert (
        more_income[probe["income_ratio"].notna().to_numpy()] <= base[probe["income_ratio"].notna().to_numpy()] + 1e-12
    ).all()


@pytest.mark.slow
def test_calibrated_probabilities_match_outcomes_on_the_test_period(snapshots: pd.DataFrame) -> None:
    split = latest_split(snapshots["as_of"])
    result = fit_risk_model(snapshots, FEATURES, split, TrainConfig(num_boost_round=300))
    test = snapshots[split.test_mask(snapshots)]
    p = result.model.predict_proba(test)
    assert expected_calibration_error(test["label"].to_numpy(), p) < 0.02
    assert set(result.calibrator_scores) == {"isotonic", "sigmoid"}


@pytest.mark.slow
def test_saved_model_is_plain_files_and_predicts_identically(snapshots: pd.DataFrame, tmp_path: Path) -> None:
    split = latest_split(snapshots["as_of"])
    result = fit_risk_model(snapshots, FEATURES, split, TrainConfig(num_boost_round=100))
    folder = result.model.save(tmp_path / "model")
    assert sorted(p.name for p in folder.iterdir()) == [
        "booster.txt",
        "calibrator.json",
        "meta.json",
        "spec.json",
    ]
    assert not any(b"\x80" == p.read_bytes()[:1] for p in folder.iterdir())  # no pickle protocol header
    loaded = RiskModel.load(folder)
    test = snapshots[split.test_mask(snapshots)]
    np.testing.assert_array_equal(loaded.predict_proba(test), result.model.predict_proba(test))
    # An unknown category is treated as missing, not as an error.
    odd = test.head(3).assign(industry="unknown")
    assert np.isfinite(loaded.predict_proba(odd)).all()


def test_a_companion_is_saved_and_loaded_with_its_model(snapshots: pd.DataFrame, tmp_path: Path) -> None:
    """A need model's identification companion lives in `identification/` of the model's folder and predicts,
    loaded, what it predicted before saving; a companion of other features is refused."""
    split = latest_split(snapshots["as_of"])
    model = fit_risk_model(snapshots, FEATURES, split, TrainConfig(num_boost_round=60)).model
    companion = fit_risk_model(snapshots, FEATURES, split, TrainConfig(num_boost_round=30)).model
    model.identification = companion
    folder = model.save(tmp_path / "model")
    assert sorted(p.name for p in (folder / COMPANION).iterdir()) == sorted(FILES)
    assert model_folders(tmp_path) == [folder]  # the companion is part of its model, not a model of its own
    loaded = RiskModel.load(folder)
    test = snapshots[split.test_mask(snapshots)]
    x = loaded.prepare(test)
    assert loaded.identification is not None
    np.testing.assert_array_equal(loaded.identification_proba(x), companion.predict_proba(test))
    # A household under monitoring cannot be newly identified: no second output for it, whatever else it is.
    statuses = ["monitored", "not_monitored", "eliminated", "unknown", None] * (len(x) // 5) + [None] * (len(x) % 5)
    masked = loaded.identification_proba(x, statuses)
    assert masked is not None
    monitored = np.array([s == "monitored" for s in statuses])
    assert np.isnan(masked[monitored]).all()
    np.testing.assert_array_equal(masked[~monitored], companion.predict_proba(test)[~monitored])
    np.testing.assert_array_equal(loaded.predict_proba(x), model.predict_proba(test))
    assert RiskModel.load(folder / COMPANION).identification is None
    assert (
        model.identification_proba(x) is not None and RiskModel.load(folder / COMPANION).identification_proba(x) is None
    )

    spec = folder / COMPANION / "spec.json"
    other = json.loads(spec.read_text())
    category = next(f for f in other["features"] if f["kind"] == "category")
    category["categories"] = category["categories"][::-1]  # the same names, another matrix
    spec.write_text(json.dumps(other))
    with pytest.raises(ModelSpecError, match="other features than the model"):
        RiskModel.load(folder)


def test_isotonic_steps_claim_no_certainty_and_stay_non_decreasing() -> None:
    from training.fit import _isotonic

    # Three groups of margins with known rates: 2,000 households at 0 %, 1,000 at 30 %, and a top step of 30
    # households all in need, where plain isotonic regression answers 100 %.
    margin = np.concatenate([np.linspace(-5, -3, 2_000), np.linspace(-1, 0, 1_000), np.linspace(2, 3, 30)])
    y = np.concatenate([np.zeros(2_000), np.arange(1_000) % 10 < 3, np.ones(30)]).astype(float)
    # The middle group alternates in order, so that isotonic regression pools it into one step.
    y[2_000:3_000] = np.random.default_rng(0).permutation(y[2_000:3_000])
    cal = _isotonic(margin, y, np.ones(len(y)))
    top = float(cal.predict(np.array([3.0]))[0])
    assert top == pytest.approx(30.5 / 31)  # Jeffreys: (30 + ½) / (30 + 1), hand-computed
    # Every step, against plain isotonic regression's steps counted by hand: (in need + ½) / (households + 1).
    plain = IsotonicRegression(out_of_bounds="clip").fit(margin, y).predict(margin)
    for rate in np.unique(plain):
        step = plain == rate
        expected = (y[step].sum() + 0.5) / (step.sum() + 1)
        assert cal.predict(margin[step]) == pytest.approx(np.full(step.sum(), expected))
    assert np.all(np.diff(cal.y) >= 0)
    # A step with few households cannot end above a larger one after it: the steps are pooled again.
    small_top = _isotonic(np.array([0.0, 1.0, 2.0, 3.0]), np.array([0.0, 1.0, 1.0, 1.0]), np.array([1.0, 50, 50, 1]))
    assert np.all(np.diff(small_top.y) >= 0) and max(small_top.y) < 1.0
