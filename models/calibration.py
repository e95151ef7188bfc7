"""Probability calibration of the booster's raw margin, stored as plain numbers (no pickle).

Training fits both calibrators with scikit-learn on a held-out period and keeps the better one on validation
(training/calibrate.py); serving only needs `predict`, which is numpy. The calibrators map the booster's raw
margin (log-odds, before the sigmoid) to a calibrated probability.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np


class Calibrator(Protocol):
    kind: str

    def predict(self, margin: np.ndarray) -> np.ndarray: ...

    def to_dict(self) -> dict[str, Any]: ...


@dataclass(frozen=True)
class IsotonicCalibrator:
    """Piecewise-linear, non-decreasing map through the fitted isotonic thresholds (clipped at the ends)."""

    x: tuple[float, ...]
    y: tuple[float, ...]
    kind: str = "isotonic"

    def predict(self, margin: np.ndarray) -> np.ndarray:
        return np.interp(np.asarray(margin, dtype=float), self.x, self.y)

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "x": list(self.x), "y": list(self.y)}


@dataclass(frozen=True)
class SigmoidCalibrator:
    """Platt scaling: p = 1 / (1 + exp(-(slope · margin + intercept)))."""

    slope: float
    intercept: float
    kind: str = "sigmoid"

    def predict(self, margin: np.ndarray) -> np.ndarray:
        z = self.slope * np.asarray(margin, dtype=float) + self.intercept
        return 1.0 / (1.0 + np.exp(-z))

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "slope": self.slope, "intercept": self.intercept}


def calibrator_from_dict(data: dict[str, Any]) -> IsotonicCalibrator | SigmoidCalibrator:
    if data["kind"] == "isotonic":
        return IsotonicCalibrator(tuple(map(float, data["x"])), tuple(map(float, data["y"])))
    if data["kind"] == "sigmoid":
        return SigmoidCalibrator(float(data["slope"]), float(data["intercept"]))
    raise ValueError(f"unknown calibrator kind {data['kind']!r}")
