"""The evaluation plots draw what was computed: no official-rules curve for data without rules."""

from __future__ import annotations

from collections.abc import Callable

import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.figure import Figure

from training import plots


@pytest.mark.parametrize("draw", [plots.lift_vs_rules, plots.roc_pr])
def test_without_rules_no_rules_curve_is_drawn(draw: Callable[..., Figure]) -> None:
    rng = np.random.default_rng(0)
    y = (rng.random(400) < 0.2).astype(int)
    p = np.clip(y * 0.3 + rng.random(400) * 0.7, 0, 1)
    without = draw(y, p, None)
    with_rules = draw(y, p, rng.random(400))
    try:
        labels = {line.get_label() for ax in without.axes for line in ax.get_lines()}
        assert "model" in labels and "official rules" not in labels
        labels = {line.get_label() for ax in with_rules.axes for line in ax.get_lines()}
        assert "official rules" in labels
    finally:
        plt.close(without)
        plt.close(with_rules)
