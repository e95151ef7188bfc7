"""Evaluate a registered model version again on the latest period of some data (`relapse evaluate`).

With `record=True` the figures and a fresh comparison with the current champion are written back to the
version's training run, which is what the promotion gate reads. The data must carry the label the version was
trained on (`version_label` reads it from the version's run).
"""

from __future__ import annotations

from dataclasses import dataclass

import mlflow
from mlflow import MlflowClient

from training.evaluate import Evaluation, evaluate
from training.labels import LABELS
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


def version_label(client: MlflowClient, settings: TrainingSettings, version: str) -> str | None:
    """The label a registered version was trained on, as its training run logged it."""
    run_id = client.get_model_version(settings.registered_model, version).run_id
    return client.get_run(str(run_id)).data.params.get("label") if run_id else None


def evaluate_version(
    data: TrainingData, settings: TrainingSettings, version: str, *, record: bool = False, seed: int = 0
) -> Reevaluation:
    configure(settings)
    client = MlflowClient()
    model = load_registered(client, settings, version)
    trained_on = model.meta.get("label")
    if trained_on in LABELS and trained_on != data.label:
        raise ValueError(
            f"model version {version} was trained on the label {trained_on!r}, the data has {data.label!r}"
        )
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
