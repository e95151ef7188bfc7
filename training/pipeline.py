"""`relapse train`: snapshots → time-based split → fit → evaluate → backtest → MLflow run → `challenger`.

Two ways in, one way through: the demo city (or any source folder in the contract's shape) is turned into
labelled snapshots with the same profile builder the service uses; a data scientist's own profile table comes
in through a YAML feature spec (docs/profiles.md). Either way the result is a `TrainingData`, and everything
after that is shared.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import mlflow
import numpy as np
import pandas as pd
from mlflow import MlflowClient

from features.profiles.catalogue import FEATURES, catalogue_version
from features.profiles.rules import rule_scores
from features.reading.sources import Sources
from models.risk_model import FeatureSpec, RiskModel, model_folders
from models.signing import SigningKey, signing_key, verify_folder
from training import plots
from training.drift import REFERENCE_FILE, reference_distributions
from training.evaluate import Evaluation, evaluate, rank_scores_as_unit_interval
from training.fingerprint import data_fingerprint
from training.fit import FitResult, TrainConfig, fit_risk_model
from training.labels import DEFAULT_LABEL, IDENTIFIED_COLUMN, LABEL_HORIZONS, Label, build_snapshots
from training.metrics import bootstrap_ci, ranking_metrics, recall_at
from training.model_card import CARD_FILE, render_model_card
from training.observation import WEIGHT_COLUMN
from training.outcomes import MIN_SELECTION_PROBABILITY, OUTCOME_LABELS, OutcomesError, add_outcomes
from training.registry import CHALLENGER, CHAMPION, alias_version
from training.settings import DEFAULT_SNAPSHOT_MONTHS, TrainingSettings
from training.split import TimeSplit, latest_split, rolling_origin
from training.tracking import configure, log_risk_model

Progress = Callable[[str, int, int], None]
# fit_risk_model (the default) or training.dask_fit's fit on a cluster, with the same arguments.
FitModel = Callable[..., FitResult]
STEPS = 7


@dataclass
class TrainingData:
    snapshots: pd.DataFrame  # features + household_id + as_of + label
    features: tuple[FeatureSpec, ...]
    groups: pd.DataFrame  # fairness attributes, aligned with snapshots
    rules: np.ndarray | None  # official-rule scores, aligned with snapshots (None without a rule baseline)
    label: str
    synthetic: bool
    catalogue_version: str | None
    feature_groups: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    # Label horizon: the split purges training dates whose label window reaches the validation date.
    horizon_months: int = 12
    # Folds drawn at random and marked with pseudo dates (training.byod): no time order to describe.
    random_split: bool = False
    # need_12m: every snapshot row not under monitoring, labelled with identification (`identified_12m`), for the
    # need model's identification companion (models.risk_model); None for the other labels.
    identification: pd.DataFrame | None = None


@dataclass
class TrainOutcome:
    run_id: str
    version: str | None
    evaluation: Evaluation
    backtest: pd.DataFrame
    model: RiskModel
    notes: tuple[str, ...] = ()  # what the run noticed beyond the data's own notes (printed by `relapse train`)


def catalogue_features() -> tuple[FeatureSpec, ...]:
    return tuple(FeatureSpec(f.name, f.kind, f.direction, f.categories) for f in FEATURES)


def fairness_groups(profiles: pd.DataFrame) -> pd.DataFrame:
    """Head's gender, minority head, disability in the household, household type (former poor or ordinary) and
    county: the groups the fairness gate checks."""
    return pd.DataFrame(
        {
            "head_gender": profiles["head_male"].astype("Float64").map({1.0: "male", 0.0: "female"}),
            "minority": profiles["minority_head"].astype("Float64").map({1.0: "minority", 0.0: "han"}),
            "disability_in_household": np.where(profiles["disabled_count"].fillna(0) > 0, "yes", "no"),
            "household_type": np.where(profiles["poverty_alleviated"].fillna(0) > 0, "former_poor", "ordinary"),
            "county": profiles["county_code"].astype("string"),
        },
        index=profiles.index,
    )


def default_as_of_dates(sources: Sources, months: int = DEFAULT_SNAPSHOT_MONTHS) -> list[pd.Timestamp]:
    """Reference dates every `months` months (quarterly by default), from 1 January of the second year to the
    last date whose 12-month label window ends inside the data.

    Quarterly snapshots are the default because households are scored all year round and a shock (hail in
    June, an accident in March) leads to identification within weeks: on yearly 1 January snapshots such a
    household has mostly been identified already (and left the population) or recovered, so the model never
    sees a recent shock before the identification it causes, never learns it, and its exact explanations
    cannot name it (docs/model-quality.md, "Faithfulness of reasons"). The held-out test date stays 1 January
    (training/split.py), where the quality bars are measured. The first year is skipped: a new monitoring
    system first finds its standing stock of households in need, which is not what the model should learn to
    predict.
    """
    income = sources["income"]
    first = int(income["income_year"].min())
    end = pd.Timestamp(sources.manifest.get("extract_date") or f"{int(income['income_year'].max()) + 1}-01-01")
    dates = pd.date_range(f"{first + 1}-01-01", end, freq=pd.DateOffset(months=months))
    return [pd.Timestamp(d) for d in dates if d + pd.DateOffset(months=12) <= end]


def data_from_sources(
    sources: Sources,
    as_of_dates: list[pd.Timestamp] | None = None,
    *,
    snapshot_months: int = DEFAULT_SNAPSHOT_MONTHS,
    label: Label = DEFAULT_LABEL,
    outcomes: pd.DataFrame | None = None,
    min_selection_probability: float = MIN_SELECTION_PROBABILITY,
) -> TrainingData:
    """Labelled snapshots of a source folder with the catalogue's features, fairness groups and rule scores.

    `label` is one of training.labels.LABELS; need_12m's snapshots carry observation weights (column `weight`),
    which the fit uses. `outcomes` (service.outcomes' table) adds home-visit outcomes as training rows weighted by
    their inverse selection probability (training.outcomes).
    """
    dates = as_of_dates or default_as_of_dates(sources, snapshot_months)
    notes: list[str] = []
    if outcomes is not None and label not in OUTCOME_LABELS:
        raise OutcomesError(f"visit outcomes label households not under monitoring: use {' or '.join(OUTCOME_LABELS)}")
    # need_12m drops the rows whose label is unobserved; identification and a home visit still label them.
    everyone = build_snapshots(sources, dates, label, keep_unobserved=label == "need_12m")
    identification = identification_rows(everyone) if label == "need_12m" else None
    if outcomes is not None:
        added = add_outcomes(
            everyone, outcomes, LABEL_HORIZONS.get(label, 12), min_probability=min_selection_probability
        )
        everyone = added.snapshots
        notes.append(added.note())
    snapshots = everyone[everyone["label"].notna()].reset_index(drop=True)
    snapshots["label"] = snapshots["label"].astype(np.int8)
    return TrainingData(
        snapshots=snapshots,
        features=catalogue_features(),
        groups=fairness_groups(snapshots),
        rules=rule_scores(snapshots).to_numpy(dtype=float),
        label=label,
        synthetic=sources.synthetic,
        catalogue_version=catalogue_version(),
        feature_groups={f.name: f.group for f in FEATURES},
        horizon_months=LABEL_HORIZONS.get(label, 12),
        notes=notes,
        identification=identification,
    )


def identification_rows(need_snapshots: pd.DataFrame) -> pd.DataFrame:
    """need_12m snapshots with every row kept, relabelled with identification and unweighted: identification is
    recorded for every household, so no row is unobserved and none needs an observation weight."""
    rows = need_snapshots.drop(columns=[WEIGHT_COLUMN, "label"], errors="ignore")
    return rows.rename(columns={IDENTIFIED_COLUMN: "label"}).reset_index(drop=True)


def train_and_register(
    data: TrainingData,
    settings: TrainingSettings,
    config: TrainConfig | None = None,
    *,
    split: TimeSplit | None = None,
    backtest: bool = True,
    register: bool = True,
    run_name: str | None = None,
    progress: Progress | None = None,
    fit_model: FitModel = fit_risk_model,
) -> TrainOutcome:
    report = progress or (lambda *_: None)
    config = config or TrainConfig()
    snapshots = data.snapshots
    split = split or latest_split(snapshots["as_of"], data.horizon_months)
    report("fitting", 1, STEPS)
    fingerprint = data_fingerprint(
        snapshots[[*(f.name for f in data.features), "household_id", "as_of", "label"]], synthetic=data.synthetic
    )
    meta = {
        "catalogue_version": data.catalogue_version,
        "label": data.label,
        "synthetic": data.synthetic,
        "split": split.describe(),
        "data_content_sha256": fingerprint["content_sha256"],
    }
    fit = fit_model(snapshots, data.features, split, config, meta)
    model = fit.model
    companion = _identification_companion(data, split, config, meta, fit_model)
    model.identification = companion.model if companion is not None else None
    notes: list[str] = []
    unused = split.unused_visits(snapshots)
    if unused:
        notes.append(
            f"visit outcomes: {unused} fall on the validation or test date or a purged date and are used nowhere "
            "(the evaluation keeps to the record labels, which no list chose)"
        )

    report("evaluating", 2, STEPS)
    test_mask = split.test_mask(snapshots).to_numpy()
    test = snapshots[test_mask]
    y = test["label"].to_numpy(int)
    p = model.predict_proba(test)
    rules = data.rules[test_mask] if data.rules is not None else None
    weights = test[WEIGHT_COLUMN].to_numpy(dtype=float) if WEIGHT_COLUMN in test else None
    evaluation = evaluate(y, p, rules, data.groups[test_mask], seed=config.seed, weights=weights)

    report("backtest", 3, STEPS)
    table = run_backtest(snapshots, data, config, fit_model) if backtest else pd.DataFrame()

    experiment_id = configure(settings)
    client = MlflowClient()
    report("comparing with the champion", 4, STEPS)
    comparison, champion = compare_with_champion(client, settings, test, y, p, config.seed)

    report("logging to MLflow", 5, STEPS)
    with mlflow.start_run(experiment_id=experiment_id, run_name=run_name) as run:
        mlflow.log_params({k: v for k, v in fit.params.items() if k != "monotone_constraints"})
        mlflow.log_params(
            {
                "label": data.label,
                "split_train": split.describe()["train"],
                "split_valid": split.describe()["valid"],
                "split_test": split.describe()["test"],
                "calibrator": model.meta["calibrator"],
                "best_iteration": fit.best_iteration,
                "n_features": len(data.features),
                "catalogue_version": data.catalogue_version,
            }
        )
        tags = {"synthetic_data": str(data.synthetic).lower(), "notes": " | ".join([*data.notes, *notes])[:5000]}
        mlflow.set_tags(tags)
        mlflow.log_metrics(evaluation.flat())
        mlflow.log_metrics({f"calibration_brier_{k}": v for k, v in fit.calibrator_scores.items()})
        if companion is not None:
            mlflow.log_metrics(companion.metrics)
        if champion is not None:
            mlflow.set_tag("compared_with_champion_version", champion)
            mlflow.log_metrics(comparison)
        mlflow.log_dict(fingerprint, "data_fingerprint.json")
        mlflow.log_dict(reference_distributions(test, model.features, p), REFERENCE_FILE)
        mlflow.log_dict(
            {"features": [asdict(f) for f in data.features], "groups": data.feature_groups}, "feature_catalogue.json"
        )
        report("plots", 6, STEPS)
        _log_plots(model, test, y, p, rules, table, data)
        with tempfile.TemporaryDirectory() as tmp:
            evaluation.fairness.to_csv(Path(tmp) / "fairness.csv", index=False)
            mlflow.log_artifact(str(Path(tmp) / "fairness.csv"))
            if len(table):
                table.to_csv(Path(tmp) / "backtest.csv", index=False)
                mlflow.log_artifact(str(Path(tmp) / "backtest.csv"))
        card = render_model_card(
            evaluation=evaluation,
            fingerprint=fingerprint,
            split=split.describe(),
            params=fit.params,
            backtest=table,
            label=data.label,
            catalogue_version=data.catalogue_version,
            own_data=None if data.catalogue_version else settings.registered_model,
            random_split=data.random_split,
            companion=companion.metrics if companion is not None else None,
        )
        mlflow.log_text(card, CARD_FILE)
        report("registering", 7, STEPS)
        info = log_risk_model(model, test, settings.registered_model if register else None, model_signing_key(settings))
        version = str(info.registered_model_version) if register and info.registered_model_version else None
        if version:
            client.set_registered_model_alias(settings.registered_model, CHALLENGER, version)
            client.set_model_version_tag(
                settings.registered_model, version, "synthetic_data", str(data.synthetic).lower()
            )
        return TrainOutcome(run.info.run_id, version, evaluation, table, model, tuple(notes))


@dataclass(frozen=True)
class Companion:
    model: RiskModel
    metrics: dict[str, float]  # its held-out figures, logged as identification_test_*


def _identification_companion(
    data: TrainingData, split: TimeSplit, config: TrainConfig, meta: dict[str, Any], fit_model: FitModel
) -> Companion | None:
    """The need model's identification companion, fitted on the same dates and split, with its held-out figures;
    None for a model of another label."""
    rows = data.identification
    if rows is None:
        return None
    fit = fit_model(rows, data.features, split, config, meta | {"label": IDENTIFIED_COLUMN})
    test = rows[split.test_mask(rows).to_numpy()]
    y, p = test["label"].to_numpy(int), fit.model.predict_proba(test)
    return Companion(fit.model, {f"identification_test_{name}": v for name, v in ranking_metrics(y, p).items()})


def run_backtest(
    snapshots: pd.DataFrame, data: TrainingData, config: TrainConfig, fit_model: FitModel = fit_risk_model
) -> pd.DataFrame:
    """Rolling origin: for each test date, train on everything before its validation date."""
    rows = []
    for split in rolling_origin(snapshots["as_of"], data.horizon_months):
        fit = fit_model(snapshots, data.features, split, config)
        mask = split.test_mask(snapshots).to_numpy()
        y = snapshots.loc[mask, "label"].to_numpy(int)
        m = ranking_metrics(y, fit.model.predict_proba(snapshots[mask]))
        row = {
            "test_year": split.test.year,
            "train_dates": len(split.train),
            "households": int(mask.sum()),
            "base_rate": m["base_rate"],
            "roc_auc": m["roc_auc"],
            "pr_auc": m["pr_auc"],
            "recall_at_5pct": m["recall_at_5pct"],
            "ece": m["ece"],
        }
        if data.rules is not None:
            r = data.rules[mask]
            rm = ranking_metrics(y, rank_scores_as_unit_interval(r))
            row.update({"rules_pr_auc": rm["pr_auc"], "rules_recall_at_5pct": rm["recall_at_5pct"]})
        rows.append(row)
    return pd.DataFrame(rows)


def compare_with_champion(
    client: MlflowClient,
    settings: TrainingSettings,
    test: pd.DataFrame,
    y: np.ndarray,
    p: np.ndarray,
    seed: int,
    exclude: str | None = None,
) -> tuple[dict[str, float], str | None]:
    """Paired bootstrap of challenger − champion on the challenger's test period."""
    champion = alias_version(client, settings.registered_model, CHAMPION)
    if champion is None or champion == exclude:
        return {}, None
    champion_model = load_registered(client, settings, champion)
    missing = [n for n in champion_model.feature_names if n not in test.columns]
    if missing:
        return {"vs_champion_incomparable": 1.0}, champion
    q = champion_model.predict_proba(test)
    out: dict[str, float] = {}
    for name, metric in (
        ("pr_auc", lambda a, b: ranking_metrics(a, b)["pr_auc"]),
        ("recall_at_5pct", lambda a, b: recall_at(a, b, 0.05)),
    ):
        diff = _paired_difference(metric)
        both = np.column_stack([p, q])
        lo, hi = bootstrap_ci(y, both, diff, seed=seed)
        out[f"vs_champion_{name}_diff"] = diff(y, both)
        out[f"vs_champion_{name}_diff_ci_low"], out[f"vs_champion_{name}_diff_ci_high"] = lo, hi
    return out, champion


def _paired_difference(metric: Callable[[np.ndarray, np.ndarray], float]) -> Callable[[np.ndarray, np.ndarray], float]:
    return lambda y, both: metric(y, both[:, 0]) - metric(y, both[:, 1])


def model_signing_key(settings: TrainingSettings) -> SigningKey:
    """The key this installation signs its models with (created on first use when none is configured)."""
    return signing_key(settings.data_dir, settings.model_signing_key, create=True)


def load_registered(client: MlflowClient, settings: TrainingSettings, version: str) -> RiskModel:
    """The RiskModel files of a registered version (downloaded from the artifact store), read only once their
    signature checks out (models.signing: `ModelIntegrityError` otherwise)."""
    # The version's own storage location, from the client's registry: not `models:/…`, which MLflow resolves
    # through the process-wide registry URI, possibly another store's.
    uri = client.get_model_version_download_uri(settings.registered_model, version)
    with tempfile.TemporaryDirectory() as tmp:
        local = mlflow.artifacts.download_artifacts(artifact_uri=uri, dst_path=tmp)
        folder = model_folders(Path(local))[0]
        verify_folder(folder, model_signing_key(settings))
        return RiskModel.load(folder)


def _log_plots(
    model: RiskModel,
    test: pd.DataFrame,
    y: np.ndarray,
    p: np.ndarray,
    rules: np.ndarray | None,
    table: pd.DataFrame,
    data: TrainingData,
) -> None:
    figures = {
        "plots/roc_pr.png": plots.roc_pr(y, p, rules),
        "plots/calibration.png": plots.calibration(y, p),
        "plots/lift_vs_rules.png": plots.lift_vs_rules(y, p, rules),
    }
    if len(table) and "rules_pr_auc" in table:
        figures["plots/backtest.png"] = plots.backtest(table)
    sample = test.sample(min(len(test), 5_000), random_state=0)
    contrib = model.booster.predict(model.prepare(sample), pred_contrib=True)
    frame = pd.DataFrame(np.asarray(contrib)[:, :-1], columns=model.feature_names)
    groups = data.feature_groups or dict.fromkeys(model.feature_names, "feature")
    figures["plots/shap_summary.png"] = plots.shap_summary(frame, groups)
    for name, fig in figures.items():
        mlflow.log_figure(fig, name)
        plt.close(fig)
