"""Inverse probability-of-observation weights for the `need_12m` label (training/need_label.py).

Whether a household's income is recorded in the label window depends on who it is: every year for former poor,
monitored and safety-net households, now and then for the others (docs/domain.md §6). Training only on the
observed rows would therefore over-represent the watched households. It also depends on the need itself: a
household that is identified has its income verified, so among ordinary households the observed ones are
needier than the rest. The weights handle both:

- rows whose outcome a deployment sees whatever their income records — households identified in the window and
  households whose need shows in department records (a hospital stay above the trigger, a failed check) — are
  *certain* and weigh 1;
- every other row is observed only when its income is recorded; among these, a logistic regression per
  reference date estimates π̂, the probability that the income is recorded, from what was known before `as_of`
  (OBSERVATION_FEATURES), and each observed row weighs 1 / π̂, standing for the households like it whose income
  was not recorded (inverse probability weighting). Unobserved rows weigh 0 and are left out.

This assumes that, outside identification and department records, whether the income is recorded does not
depend on the need once the features are known; the evaluation against the synthetic city's truth measures
what is left (docs/model-quality.md, "Need versus identification").
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression

# What a deployment knows before `as_of` that decides whether it records the household's income.
OBSERVATION_FEATURES = (
    "poverty_alleviated",
    "dibao_active",
    "tekun_active",
    "previously_identified",
    "income_record_age_years",
)
# Estimated probabilities are floored: a household observed against the odds must not carry the whole fit.
MIN_PROBABILITY = 0.05
WEIGHT_COLUMN = "weight"


def observation_matrix(profiles: pd.DataFrame) -> np.ndarray:
    """The observation features, with a column saying that no income was ever recorded before `as_of`."""
    columns = [pd.to_numeric(profiles[name], errors="coerce").to_numpy(dtype=float) for name in OBSERVATION_FEATURES]
    age = columns[-1]
    never = np.isnan(age)
    columns[-1] = np.where(never, 0.0, np.minimum(age, 5.0))
    filled = [np.nan_to_num(c, nan=0.0) for c in columns[:-1]]
    return np.column_stack([*filled, columns[-1], never.astype(float)])


def observation_probability(profiles: pd.DataFrame, observed: np.ndarray) -> np.ndarray:
    """π̂: the estimated probability that each row's income is recorded in its window (one reference date)."""
    observed = np.asarray(observed, dtype=bool)
    if observed.all() or not observed.any():
        return np.full(len(observed), float(observed.mean()) if len(observed) else 1.0)
    x = observation_matrix(profiles)
    model = LogisticRegression(C=1.0, max_iter=1_000).fit(x, observed)
    return np.clip(model.predict_proba(x)[:, 1], MIN_PROBABILITY, 1.0)


def observation_weights(profiles: pd.DataFrame, income_observed: np.ndarray, certain: np.ndarray) -> np.ndarray:
    """1 for certain rows; 1 / π̂ for the other rows whose income is observed (π̂ fitted on the rows that are not
    certain); 0 for the rest."""
    income_observed = np.asarray(income_observed, dtype=bool)
    certain = np.asarray(certain, dtype=bool)
    weights = np.where(certain, 1.0, 0.0)
    rest = ~certain
    if rest.any():
        probability = observation_probability(profiles[rest], income_observed[rest])
        observed = income_observed[rest]
        weights[rest] = np.divide(1.0, probability, out=np.zeros(len(probability)), where=observed)
    return weights
