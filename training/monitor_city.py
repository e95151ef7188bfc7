"""`relapse monitor --data DIR`: a registered model on a later extract of the source folder it was trained on.

The model's test rows were its training run's last labelled date (1 January of a year). A later extract adds a
year at a time; the checks fall on the same day of each later year (`check_dates`), so that seasonal features
compare like with like. On each date the households the label concerns are profiled with the training code and
scored by the version; their features and scores are compared with the reference distributions of the training
run (training.drift), and where the date's label window has closed inside the folder, the outcomes give the
realised figures (training.monitor.realised_performance). A date whose window is still open gets drift only.

One MLflow run per check (tag `monitor_source=data`) holds the dates as a time series: each date's metrics are
logged at step = years after the training test date, with the date as their timestamp, and `monitor.json` holds
the same figures, with the alert levels, for the model report.

The need label's observation weights are not applied: each observed household counts once (assumed, as in
`training.monitor_served`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

import mlflow
import numpy as np
import pandas as pd
from mlflow import MlflowClient

from features.reading.sources import Sources
from models.risk_model import RiskModel
from training.byod import ProfileTableError
from training.drift import ACT, WATCH, Drift, drift_against, level
from training.labels import LABEL_HORIZONS, LABELS, Label, build_snapshots
from training.monitor import MONITORED, Realised, monitored_version, realised_performance, stored_reference
from training.observation import WEIGHT_COLUMN
from training.pipeline import load_registered
from training.settings import TrainingSettings
from training.tracking import configure

MONITOR_FILE: Final = "monitor.json"
# Too few positives make every realised figure an interval from almost 0 to almost 1 (assumed floor).
MIN_POSITIVES: Final = 5


@dataclass(frozen=True)
class DateCheck:
    """One later date: its rows' drift, and the realised figures once the label window has closed."""

    as_of: pd.Timestamp
    step: int  # years after the training test date
    rows: int
    drift: Drift | None
    realised: Realised | None
    window_open: bool

    def retrain(self) -> list[str]:
        """The alert levels this date reached that call for retraining (empty: none)."""
        reasons = []
        if self.drift is not None and self.drift.score >= ACT:
            reasons.append(f"score PSI {self.drift.score:.3f} ≥ {ACT}")
        if self.realised is not None:
            reasons += [
                f"realised {m} worse than at training" for m in MONITORED if self.realised.verdict(m) == "worse"
            ]
        return reasons

    def summary(self) -> dict[str, Any]:
        """The JSON the model report reads."""
        out: dict[str, Any] = {
            "as_of": str(self.as_of.date()),
            "step": self.step,
            "rows": self.rows,
            "window_open": self.window_open,
            "retrain": self.retrain(),
        }
        if self.drift is not None:
            out["psi_score"] = self.drift.score
            out["score_level"] = level(self.drift.score)
            out["features_watch"] = sum(level(v) == "watch" for v in self.drift.features.values())
            out["features_act"] = sum(level(v) == "act" for v in self.drift.features.values())
            out["top_features"] = [[name, value, alert] for name, value, alert in self.drift.top(5)]
        if self.realised is not None:
            r = self.realised
            out["positives"] = r.positives
            out["realised"] = {
                m: {
                    "value": r.figures[m],
                    "low": r.intervals[m][0],
                    "high": r.intervals[m][1],
                    "training": r.at_training[m],
                    "training_low": r.training_intervals[m][0],
                    "training_high": r.training_intervals[m][1],
                    "verdict": r.verdict(m),
                }
                for m in MONITORED
            }
        return _finite(out)


@dataclass(frozen=True)
class CityMonitor:
    version: str
    label: str
    test_as_of: pd.Timestamp
    checks: list[DateCheck]
    run_id: str = ""


def check_dates(test: pd.Timestamp, end: pd.Timestamp, horizon_months: int) -> list[tuple[pd.Timestamp, int, bool]]:
    """(date, years after `test`, label window still open) for each anniversary of `test` up to `end`."""
    out = []
    years = 1
    while (day := test + pd.DateOffset(years=years)) <= end:
        out.append((day, years, day + pd.DateOffset(months=horizon_months) > end))
        years += 1
    return out


def check_date(
    sources: Sources,
    model: RiskModel,
    label: Label,
    day: pd.Timestamp,
    step: int,
    window_open: bool,
    reference: dict[str, Any] | None,
    training_metrics: dict[str, float],
    seed: int = 0,
) -> DateCheck:
    """The drift and, with a closed window, the realised figures of the version on one date's households."""
    rows = build_snapshots(sources, [day], label, allow_incomplete=window_open)
    absent = [n for n in model.feature_names if n not in rows.columns]
    if absent:
        raise ProfileTableError(f"the folder's profiles lack the model's feature(s) {', '.join(absent[:5])}")
    scores = model.predict_proba(rows)
    drift = drift_against(reference, rows, scores) if reference is not None else None
    realised = None
    if not window_open:
        y = rows["label"].to_numpy(int)
        if MIN_POSITIVES <= y.sum() < len(y):
            weights = rows[WEIGHT_COLUMN].to_numpy(float) if WEIGHT_COLUMN in rows else None
            realised = realised_performance(y, scores, training_metrics, seed=seed, weights=weights)
    return DateCheck(day, step, len(rows), drift, realised, window_open)


def monitor_city(settings: TrainingSettings, sources: Sources, version: str | None, seed: int = 0) -> CityMonitor:
    """Every later date of `sources` for a registered version trained on the same kind of folder, logged."""
    experiment_id = configure(settings)
    client = MlflowClient()
    name = settings.registered_model
    chosen = monitored_version(client, name, version)
    model = load_registered(client, settings, chosen)
    label, test = model.meta.get("label"), (model.meta.get("split") or {}).get("test")
    if label not in LABELS or not test:
        raise ProfileTableError(
            f"{name} version {chosen} was not trained on a source folder (no label or test date in its meta): "
            "monitor it with --profiles"
        )
    extract = sources.manifest.get("extract_date")
    if not extract:
        raise ProfileTableError("the folder's dataset.json has no extract_date: the dates to check are unknown")
    test_as_of = pd.Timestamp(test)
    dates = check_dates(test_as_of, pd.Timestamp(extract), LABEL_HORIZONS.get(label, 12))
    if not dates:
        raise ProfileTableError(
            f"the folder's data end on {extract}, less than a year after the version's test date {test_as_of.date()}: "
            "nothing later to check (extend the city, or wait for the next extract)"
        )
    run_id = client.get_model_version(name, chosen).run_id
    training = client.get_run(run_id).data.metrics if run_id else {}
    reference = stored_reference(run_id)
    checks = [check_date(sources, model, label, d, s, o, reference, training, seed) for d, s, o in dates]
    done = CityMonitor(chosen, label, test_as_of, checks)
    return CityMonitor(chosen, label, test_as_of, checks, _log(done, name, sources, experiment_id))


def _log(done: CityMonitor, name: str, sources: Sources, experiment_id: str) -> str:
    source = str(sources.manifest.get("extract_date", ""))
    with mlflow.start_run(experiment_id=experiment_id, run_name=f"monitor {name} v{done.version}") as run:
        mlflow.set_tags(
            {"monitor_of_model": name, "monitor_of_version": done.version, "kind": "monitor", "monitor_source": "data"}
        )
        mlflow.log_params({"model": name, "version": done.version, "extract_date": source, "label": done.label})
        for check in done.checks:
            metrics = {"rows": float(check.rows)}
            if check.drift is not None:
                metrics |= check.drift.flat()
            if check.realised is not None:
                metrics |= check.realised.flat()
            when = int(check.as_of.timestamp() * 1000)
            mlflow.log_metrics(_finite(metrics), step=check.step, timestamp=when)
        mlflow.log_dict(
            {
                "model": name,
                "version": done.version,
                "label": done.label,
                "training_test_as_of": str(done.test_as_of.date()),
                "extract_date": source,
                "levels": {"psi_watch": WATCH, "psi_act": ACT},
                "dates": [check.summary() for check in done.checks],
            },
            MONITOR_FILE,
        )
        return run.info.run_id


def _finite(values: dict[str, Any]) -> dict[str, Any]:
    """Without NaN: MLflow and JSON readers differ on it; a missing figure is left out."""
    out: dict[str, Any] = {}
    for key, value in values.items():
        if isinstance(value, dict):
            out[key] = _finite(value)
        elif isinstance(value, float) and not np.isfinite(value):
            continue
        else:
            out[key] = value
    return out
