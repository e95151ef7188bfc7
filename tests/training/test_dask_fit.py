"""Training with lightgbm.dask on a LocalCluster of 2 worker processes: a calibrated model cut at its best round."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from scoring.cluster import dask_executor
from tests.models.explain_fixtures import snapshots
from training.dask_fit import fit_risk_model_dask
from training.fit import TrainConfig, fit_risk_model
from training.pipeline import catalogue_features
from training.split import latest_split

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_dask_training_gives_a_calibrated_model_about_as_good_as_one_machine() -> None:
    data = snapshots()
    features = catalogue_features()
    split = latest_split(data["as_of"])
    config = TrainConfig(seed=1, num_threads=1)
    with dask_executor(local_cluster=2) as executor:
        fit = fit_risk_model_dask(data, features, split, config, {"note": "test"}, client=executor.client, rounds=60)
    assert 1 <= fit.best_iteration <= 60
    assert fit.model.booster.num_trees() == fit.best_iteration
    assert fit.model.meta["note"] == "test" and "dask" in fit.model.meta["trained_on"]
    test = data[split.test_mask(data)]
    p = fit.model.predict_proba(test)
    assert np.all((p >= 0) & (p <= 1))
    y = test["label"].to_numpy(int)
    local = fit_risk_model(data, features, split, config).model.predict_proba(test)
    assert roc_auc_score(y, p) > 0.6
    assert roc_auc_score(y, p) > roc_auc_score(y, local) - 0.1
    assert abs(p.mean() - y.mean()) < 0.05  # calibrated to the base rate
