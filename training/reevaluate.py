"""Evaluate a registered model version again on the latest period of some data (`relapse evaluate`).

With `record=True` the figures and a fresh comparison with the current champion are written back to the
version's training run, which is what the promotion gate reads.
"""

from __future__ import annotations

from dataclasses import dataclass

import mlflow
from mlflow import MlflowClient

from training.evaluate import Evaluation, evaluate
from training.pipeline import TrainingData, compare_with_champion, load_registered
from training.settings import TrainingSettings
from training.split import latest_split
from training.tracking import configure


@dataclass
class Reevaluation:
    version: str
    evaluation: Evaluation
    comparison: dict[str, float]
    champion: str | None


def evaluate_version(
    data: TrainingData, settings: TrainingSettings, version: str, *, record: bool = False, seed: int = 0
) -> Reevaluation:
    configure(settings)
    client = MlflowClient()
    model = load_registered(client, settings, version)
    split = latest_split(data.snapshots["as_of"], data.horizon_months)
    mask = split.test_mask(data.snapshots).to_numpy()
    test = data.snapshots[mask]
    y = test["label"].to_numpy(int)
    p = model.predict_proba(test)
    rules = data.rules[mask] if data.rules is not None else None
    evaluation = evaluate(y, p, rules, data.groups[mask], seed=seed)
    comparison, champion = compare_with_champion(client, settings, test, y, p, seed, exclude=version)
    if record:
        run_id = str(client.get_model_version(settings.registered_model, version).run_id)
        with mlflow.start_run(run_id=run_id):
            mlflow.log_metrics(evaluation.flat())
            if champion is not None:
                mlflow.set_tag("compared_with_champion_version", champion)
                mlflow.log_metrics(comparison)
    return Reevaluation(version, evaluation, comparison, champion)
