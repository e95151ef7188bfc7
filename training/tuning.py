"""`relapse tune`: an Optuna search over LightGBM parameters, scored on the time-based validation period.

Each trial fits on the training period with `fit_risk_model` (which early-stops and calibrates on the
validation period) and is scored by PR-AUC on the validation period. The test period is never looked at: it is
what `relapse train` reports as the model's quality, and choosing parameters by it would make that figure
optimistic — the test period must stay unseen until the final evaluation. (The validation PR-AUC itself is
slightly optimistic, since early stopping watched it too; it is the same for every trial, so the ranking of
trials is fair.)

MLflow: one parent run ("tune") with one nested run per trial (its parameters and validation metrics); the
parent records the search, the best parameters (as params and as `best_params.json`) and a table of all trials.
The JSON is a flat dict of LightGBM parameters: `relapse train --params best_params.json` reads it into
`TrainConfig.params`, where it overrides `DEFAULT_PARAMS`.
"""

from __future__ import annotations

import json
import math
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import optuna
import pandas as pd

from training.fit import DEFAULT_PARAMS, TrainConfig, fit_risk_model
from training.metrics import ranking_metrics
from training.pipeline import TrainingData
from training.settings import TrainingSettings
from training.split import TimeSplit, latest_split
from training.tracking import configure

Progress = Callable[[str, int, int], None]
BEST_PARAMS_FILE = "best_params.json"
MAX_BINS = (31, 63, 127, 255)


@dataclass
class TuneOutcome:
    run_id: str  # the parent run
    best_params: dict[str, Any]  # flat LightGBM parameters, ready for TrainConfig.params
    best_value: float  # validation PR-AUC of the best trial
    best_trial: int
    trials: pd.DataFrame  # one row per finished trial: number, run_id, valid metrics, params


def default_min_data_in_leaf(train_rows: int) -> int:
    """What `fit_risk_model` uses when no parameter is given (0.25 % of the training rows, 20 to 800)."""
    return int(np.clip(train_rows // 400, 20, 800))


def suggest_params(trial: optuna.Trial, train_rows: int) -> dict[str, Any]:
    """The search space: around DEFAULT_PARAMS (small, strongly regularised trees), on log scales where the
    effect is multiplicative. Leaf sizes scale with the data so that a small table can still grow trees."""
    leaf_high = int(np.clip(train_rows // 50, 50, 2_000))
    return {
        "learning_rate": trial.suggest_float("learning_rate", 0.01, 0.2, log=True),
        "num_leaves": trial.suggest_int("num_leaves", 3, 63, log=True),
        "min_data_in_leaf": trial.suggest_int("min_data_in_leaf", 10, leaf_high, log=True),
        "feature_fraction": trial.suggest_float("feature_fraction", 0.3, 1.0),
        "bagging_fraction": trial.suggest_float("bagging_fraction", 0.5, 1.0),
        "lambda_l2": trial.suggest_float("lambda_l2", 0.1, 100.0, log=True),
        "max_bin": trial.suggest_categorical("max_bin", MAX_BINS),
        "cat_smooth": trial.suggest_float("cat_smooth", 1.0, 50.0, log=True),
    }


def default_trial(train_rows: int) -> dict[str, Any]:
    """The current defaults as the first trial, so the search never returns something worse on validation."""
    keys = ("learning_rate", "num_leaves", "feature_fraction", "bagging_fraction", "lambda_l2", "max_bin", "cat_smooth")
    return {**{k: DEFAULT_PARAMS[k] for k in keys}, "min_data_in_leaf": default_min_data_in_leaf(train_rows)}


def tune(
    data: TrainingData,
    settings: TrainingSettings,
    config: TrainConfig | None = None,
    *,
    trials: int,
    timeout: float | None = None,
    split: TimeSplit | None = None,
    out: Path | None = None,
    run_name: str = "tune",
    progress: Progress | None = None,
) -> TuneOutcome:
    """Search `trials` parameter sets (fewer if `timeout` seconds pass first); deterministic for `config.seed`."""
    report = progress or (lambda *_: None)
    config = config or TrainConfig()
    snapshots = data.snapshots
    split = split or latest_split(snapshots["as_of"], data.horizon_months)
    train_rows = int(split.train_mask(snapshots).sum())
    # Trials are scored on the validation period only. The test period is what `relapse train` reports as the
    # model's quality; choosing parameters by it would leak it into the choice and make that figure optimistic.
    valid = snapshots[split.valid_mask(snapshots)]
    y_valid = valid["label"].to_numpy(int)
    # The parent and every child go to the configured experiment explicitly: a nested run does not inherit it.
    experiment_id = configure(settings)

    def objective(trial: optuna.Trial) -> float:
        params = suggest_params(trial, train_rows)
        with mlflow.start_run(run_name=f"trial-{trial.number}", experiment_id=experiment_id, nested=True) as child:
            trial.set_user_attr("run_id", child.info.run_id)
            mlflow.log_params(params)
            fit = fit_risk_model(snapshots, data.features, split, replace(config, params={**config.params, **params}))
            metrics = ranking_metrics(y_valid, fit.model.predict_proba(valid))
            mlflow.log_metrics({f"valid_{k}": v for k, v in metrics.items() if not math.isnan(v)})
            mlflow.log_metric("best_iteration", fit.best_iteration)
            trial.set_user_attr("best_iteration", fit.best_iteration)
            for k in ("roc_auc", "recall_at_5pct", "ece"):
                trial.set_user_attr(f"valid_{k}", metrics[k])
        return metrics["pr_auc"]

    def after_trial(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        report(
            f"trial {trial.number}: PR-AUC {trial.value:.4f}, best {study.best_value:.4f}", len(study.trials), trials
        )

    sampler = optuna.samplers.TPESampler(seed=config.seed)
    study = optuna.create_study(direction="maximize", sampler=sampler, study_name=run_name)
    study.enqueue_trial(default_trial(train_rows))
    report("trial 0: current defaults", 0, trials)
    with mlflow.start_run(run_name=run_name, experiment_id=experiment_id) as parent:
        mlflow.log_params(
            {
                "trials": trials,
                "timeout_s": timeout,
                "sampler": "TPE",
                "seed": config.seed,
                "objective": "valid_pr_auc",
                "label": data.label,
                **{f"split_{k}": v for k, v in split.describe().items()},
            }
        )
        mlflow.set_tags({"synthetic_data": str(data.synthetic).lower(), "notes": " | ".join(data.notes)[:5000]})
        study.optimize(objective, n_trials=trials, timeout=timeout, callbacks=[after_trial])

        best = study.best_trial
        best_params = dict(best.params)
        table = _trials_table(study)
        mlflow.log_params({f"best_{k}": v for k, v in best_params.items()})
        mlflow.log_metrics(
            {
                "best_valid_pr_auc": float(best.value or 0.0),
                "best_trial": best.number,
                "trials_finished": len(table),
                "default_valid_pr_auc": float(study.trials[0].value or 0.0),
            }
        )
        mlflow.log_dict(best_params, BEST_PARAMS_FILE)
        with tempfile.TemporaryDirectory() as tmp:
            table.to_csv(Path(tmp) / "trials.csv", index=False)
            mlflow.log_artifact(str(Path(tmp) / "trials.csv"))
    if out is not None:
        write_params(best_params, out)
    return TuneOutcome(parent.info.run_id, best_params, float(best.value or 0.0), best.number, table)


def write_params(params: dict[str, Any], path: Path) -> Path:
    """The flat JSON that `relapse train --params` reads."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(params, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return path


def _trials_table(study: optuna.Study) -> pd.DataFrame:
    rows = [
        {"trial": t.number, "run_id": t.user_attrs.get("run_id"), "valid_pr_auc": t.value, **t.user_attrs, **t.params}
        for t in study.trials
        if t.state == optuna.trial.TrialState.COMPLETE
    ]
    return pd.DataFrame(rows)
