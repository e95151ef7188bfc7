"""Calibrators: serialisable as plain numbers and equal to scikit-learn's fitted maps."""

from __future__ import annotations

import json

import numpy as np
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression

from models.calibration import IsotonicCalibrator, SigmoidCalibrator, calibrator_from_dict


def test_isotonic_calibrator_reproduces_sklearn_and_survives_json() -> None:
    rng = np.random.default_rng(0)
    margin = rng.normal(-3, 1.5, 5_000)
    y = rng.random(5_000) < 1 / (1 + np.exp(-(margin + 0.5)))
    iso = IsotonicRegression(out_of_bounds="clip", y_min=0, y_max=1).fit(margin, y)
    cal = IsotonicCalibrator(tuple(iso.X_thresholds_), tuple(iso.y_thresholds_))
    again = calibrator_from_dict(json.loads(json.dumps(cal.to_dict())))
    probe = np.linspace(-10, 5, 301)
    np.testing.assert_allclose(again.predict(probe), iso.predict(probe), atol=1e-12)


def test_sigmoid_calibrator_reproduces_logistic_regression() -> None:
    rng = np.random.default_rng(1)
    margin = rng.normal(-2, 1, 4_000)
    y = rng.random(4_000) < 1 / (1 + np.exp(-(0.7 * margin - 0.4)))
    lr = LogisticRegression(C=1e6).fit(margin[:, None], y)
    cal = SigmoidCalibrator(float(lr.coef_[0, 0]), float(lr.intercept_[0]))
    again = calibrator_from_dict(cal.to_dict())
    probe = np.linspace(-6, 3, 50)
    np.testing.assert_allclose(again.predict(probe), lr.predict_proba(probe[:, None])[:, 1], atol=1e-12)
