"""`relapse train`, `evaluate`, `promote`, `sign`: the model lifecycle on the MLflow registry."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from relapse._progress import console, progress_bar
from training.settings import DEFAULT_SNAPSHOT_MONTHS

if TYPE_CHECKING:
    from training.cross_validation import CrossValidation
    from training.evaluate import Evaluation
    from training.fit import TrainConfig
    from training.pipeline import TrainingData
    from training.settings import TrainingSettings

DataOption = Annotated[
    Path | None, typer.Option("--data", help="Source folder (contract tables). Default: the demo city.")
]


def load_demo_or_folder(
    data: Path | None,
    snapshot_months: int = DEFAULT_SNAPSHOT_MONTHS,
    label: str | None = None,
    outcomes: Path | None = None,
    min_selection_probability: float | None = None,
) -> TrainingData:
    """Training data from a source folder, pseudonymised at ingestion like everything else; `label` names the
    label to build (training.labels; the default label when None); `outcomes`, a table of home-visit outcomes
    (`relapse visits export-outcomes`) added as weighted training rows (training.outcomes)."""
    from features.pseudonyms.ingestion import load_sources
    from features.pseudonyms.keys import ensure_local_key
    from features.settings import get_settings
    from relapse.demo_command import demo_sources_dir
    from training.labels import DEFAULT_LABEL, resolve_label
    from training.outcomes import MIN_SELECTION_PROBABILITY, OutcomesError, read_outcomes
    from training.pipeline import data_from_sources

    try:
        chosen = resolve_label(label) if label else DEFAULT_LABEL
    except ValueError as error:
        raise typer.BadParameter(str(error), param_hint="--label") from error
    extra: dict[str, Any] = {}
    if outcomes is not None:
        try:
            extra["outcomes"] = read_outcomes(outcomes)
        except OutcomesError as error:
            raise typer.BadParameter(str(error), param_hint="--outcomes") from error
        extra["min_selection_probability"] = min_selection_probability or MIN_SELECTION_PROBABILITY
    settings = get_settings()
    folder = data or demo_sources_dir(settings.data_dir)
    if not folder.is_dir():
        raise typer.BadParameter(f"{folder} does not exist; run `relapse demo` or pass --data", param_hint="--data")
    key, created = ensure_local_key(settings)
    if created:
        console.print(f"[yellow]created a local pseudonym key at {settings.pseudonym_key_file}[/]")
    with console.status(f"building labelled snapshots from {folder}"):
        try:
            return data_from_sources(load_sources(folder, key), snapshot_months=snapshot_months, label=chosen, **extra)
        except OutcomesError as error:
            raise typer.BadParameter(str(error), param_hint="--outcomes") from error


ModelNameOption = Annotated[
    str | None,
    typer.Option(help="Registered model to work with (default: RELAPSE_REGISTERED_MODEL; byod-<spec> for --profiles)."),
]


def training_settings(model_name: str | None = None) -> TrainingSettings:
    """The training settings, working on `model_name` when one is given (--model-name)."""
    from training.settings import get_settings

    settings = get_settings()
    return settings.model_copy(update={"registered_model": model_name}) if model_name else settings


def train(
    data: DataOption = None,
    profiles: Annotated[Path | None, typer.Option(help="Your own profile table (CSV/Parquet).")] = None,
    spec: Annotated[Path | None, typer.Option(help="YAML feature spec of --profiles (docs/profiles.md).")] = None,
    label: Annotated[
        str | None,
        typer.Option(
            help="Label column of --profiles; otherwise the label to build: need_12m (need: in need within 12 "
            "months, found or not), identified_12m (identified), income_below_line, eliminated_6m (eliminated: "
            "monitoring objects' risk eliminated within 6 months) or returned_12m (returned: eliminated households "
            "identified again within 12 months). Default: need_12m."
        ),
    ] = None,
    time: Annotated[str | None, typer.Option(help="Time column of --profiles (date or year).")] = None,
    group: Annotated[list[str] | None, typer.Option(help="Fairness group column of --profiles (repeatable).")] = None,
    horizon: Annotated[
        int,
        typer.Option(
            min=0, help="Months the --profiles label looks ahead of its row's date (purges overlapping windows)."
        ),
    ] = 0,
    params: Annotated[Path | None, typer.Option(help="JSON file of LightGBM parameters (from relapse tune).")] = None,
    seed: Annotated[
        int,
        typer.Option(help="Random seed of the split (without --time) and of training (deterministic with --threads)."),
    ] = 42,
    threads: Annotated[int, typer.Option(help="LightGBM threads.")] = 2,
    backtest: Annotated[bool, typer.Option(help="Run the rolling-origin backtest.")] = True,
    snapshot_months: Annotated[
        int, typer.Option(min=1, max=12, help="Months between reference dates of the training snapshots.")
    ] = DEFAULT_SNAPSHOT_MONTHS,
    dask_scheduler: Annotated[
        str | None, typer.Option(help="Train with lightgbm.dask on this Dask scheduler (tcp://host:8786).")
    ] = None,
    dask_local_cluster: Annotated[
        int | None, typer.Option(min=1, help="Train with lightgbm.dask on a LocalCluster of N workers.")
    ] = None,
    dask_rounds: Annotated[
        int, typer.Option(min=10, help="Boosting rounds on Dask (trees then cut at the best validation round).")
    ] = 600,
    model_name: ModelNameOption = None,
    cv: Annotated[
        int | None,
        typer.Option(
            min=2,
            help="Also cross-validate with K folds (time-ordered with dates, else stratified by household) and "
            "log mean ± sd; for small tables.",
        ),
    ] = None,
    outcomes: Annotated[
        Path | None,
        typer.Option(
            dir_okay=False,
            help="Home-visit outcomes (relapse visits export-outcomes) to add as training rows weighted by "
            "1 / selection probability (docs/domain.md §18); identified_12m and need_12m only.",
        ),
    ] = None,
    min_selection_probability: Annotated[
        float | None,
        typer.Option(min=1e-6, max=1.0, help="Floor of the selection probability (caps an outcome's weight)."),
    ] = None,
) -> None:
    """Train, evaluate and register a model; it becomes the `challenger` of its registered model.

    The demo city's (or a source folder's) models are registered as RELAPSE_REGISTERED_MODEL (`relapse-risk`, what
    the service serves); a model of your own profiles under a name of its own (`byod-<spec file name>` unless
    --model-name says otherwise), so that it never becomes a challenger of the production model."""
    from training.fit import TrainConfig
    from training.pipeline import train_and_register

    if profiles is not None:
        if spec is None or label is None:
            raise typer.BadParameter("--profiles needs --spec and --label", param_hint="--profiles")
        from training.byod import data_from_profile_table

        training_data = data_from_profile_table(
            profiles, spec, label, time, list(group or []), seed=seed, horizon_months=horizon
        )
        backtest = backtest and time is not None
        if outcomes is not None:
            raise typer.BadParameter("outcomes join source-table snapshots, not --profiles", param_hint="--outcomes")
    else:
        training_data = load_demo_or_folder(data, snapshot_months, label, outcomes, min_selection_probability)
    config = TrainConfig(seed=seed, num_threads=threads, params=json.loads(params.read_text()) if params else {})
    settings = training_settings(model_name or (f"byod-{spec.stem}" if profiles is not None and spec else None))
    with _fit_model(dask_scheduler, dask_local_cluster, dask_rounds) as fit_model:
        folds = _cross_validate(training_data, cv, config, fit_model) if cv else None
        with progress_bar("training") as report:
            outcome = train_and_register(
                training_data, settings, config, backtest=backtest, progress=report, **fit_model
            )
    if folds is not None:
        from training.cross_validation import log_cross_validation

        log_cross_validation(folds, outcome.run_id)
    for note in [*training_data.notes, *outcome.notes]:
        console.print(f"[yellow]note:[/] {note}")
    name = settings.registered_model
    print_evaluation(outcome.evaluation, title=f"{name} version {outcome.version} (challenger) — test period")
    if folds is not None:
        _print_cross_validation(folds)
    console.print(f"MLflow run {outcome.run_id}; tracking store {settings.tracking_uri}")
    hint = "" if name == training_settings().registered_model else f" --model-name {name}"
    console.print(f"Next: `relapse promote{hint}` moves `champion` of {name} to it if it passes the gate.")


def _cross_validate(data: TrainingData, k: int, config: TrainConfig, fit_model: dict[str, Any]) -> CrossValidation:
    from training.cross_validation import cross_validate

    with console.status(f"cross-validating with {k} folds"):
        return cross_validate(data, k, config, **fit_model)


def _print_cross_validation(result: CrossValidation) -> None:
    shown = {"pr_auc": "PR-AUC", "roc_auc": "ROC-AUC", "recall_at_5pct": "recall at 5 %", "ece": "ECE"}
    table = Table("fold", "test", "rows", "positives", *shown.values(), title="cross-validation")
    for row in result.folds.to_dict("records"):
        cells = [str(row[c]) for c in ("fold", "test", "rows", "positives")]
        table.add_row(*cells, *(f"{row[m]:.4f}" for m in shown))
    console.print(table)
    summary = result.summary()
    figures = ", ".join(f"{name} {summary[m][0]:.4f} ± {summary[m][1]:.4f}" for m, name in shown.items())
    console.print(f"cross-validation, {len(result.folds)} folds, mean ± sd: {figures}")


@contextmanager
def _fit_model(scheduler: str | None, local_cluster: int | None, rounds: int) -> Iterator[dict[str, Any]]:
    """No override (the default single-machine fit), or training.dask_fit's fit on a Dask cluster."""
    if scheduler is None and local_cluster is None:
        yield {}
        return
    from functools import partial

    from scoring.cluster import dask_executor
    from training.dask_fit import fit_risk_model_dask

    with dask_executor(scheduler, local_cluster=local_cluster) as executor:
        console.print(f"training with lightgbm.dask on {executor.workers} workers")
        yield {"fit_model": partial(fit_risk_model_dask, client=executor.client, rounds=rounds)}


def evaluate(
    data: DataOption = None,
    version: Annotated[str | None, typer.Option(help="Model version (default: the challenger).")] = None,
    record: Annotated[bool, typer.Option(help="Write the figures back to the version's run (for the gate).")] = True,
    model_name: ModelNameOption = None,
    profiles: Annotated[
        Path | None, typer.Option(help="Your own profile table, for a version trained on one (with --spec).")
    ] = None,
    spec: Annotated[Path | None, typer.Option(help="YAML feature spec of --profiles.")] = None,
    time: Annotated[str | None, typer.Option(help="Time column of --profiles (as at training).")] = None,
    horizon: Annotated[int, typer.Option(min=0, help="Label horizon of --profiles in months (as at training).")] = 0,
    seed: Annotated[int, typer.Option(help="Seed of the random split of --profiles without --time.")] = 42,
) -> None:
    """Evaluate a registered version on the latest period and compare it with the champion.

    A version trained on your own profiles is evaluated on them again (--profiles, --spec and the --time,
    --horizon and --seed it was trained with); its label column is read from its training run."""
    from mlflow import MlflowClient

    from training.reevaluate import evaluate_version, version_label
    from training.registry import CHALLENGER, alias_version
    from training.tracking import configure

    settings = training_settings(model_name)
    configure(settings)
    client = MlflowClient()
    version = version or alias_version(client, settings.registered_model, CHALLENGER)
    if version is None:
        raise typer.BadParameter("no challenger; train one or pass --version", param_hint="--version")
    # The version is judged on the label it was trained on (need_12m or identified_12m).
    from training.labels import LABELS

    label = version_label(client, settings, version)
    if label in LABELS or label is None:
        if profiles is not None:
            raise typer.BadParameter(
                f"version {version} of {settings.registered_model} was trained on source tables; use --data",
                param_hint="--profiles",
            )
        training_data = load_demo_or_folder(data, label=label)
    else:  # trained on a profile table of the user's own, whose label column the run names
        if profiles is None or spec is None:
            raise typer.BadParameter(
                f"version {version} of {settings.registered_model} was trained on your own profiles (label "
                f"{label!r}); pass --profiles and --spec",
                param_hint="--profiles",
            )
        from training.byod import data_from_profile_table

        training_data = data_from_profile_table(profiles, spec, label, time, [], seed=seed, horizon_months=horizon)
    result = evaluate_version(training_data, settings, version, record=record)
    print_evaluation(result.evaluation, title=f"model version {version} — latest period")
    if result.champion and result.comparison.get("vs_champion_incomparable"):
        console.print(
            f"versus champion v{result.champion}: not comparable (the champion reads features this version's test "
            "rows lack)"
        )
    elif result.champion:
        for key in ("pr_auc", "recall_at_5pct"):
            diff = result.comparison.get(f"vs_champion_{key}_diff", float("nan"))
            lo = result.comparison.get(f"vs_champion_{key}_diff_ci_low", float("nan"))
            hi = result.comparison.get(f"vs_champion_{key}_diff_ci_high", float("nan"))
            console.print(
                f"versus champion v{result.champion}, {key}: {diff:+.4f} (95 % interval {lo:+.4f} … {hi:+.4f})"
            )


def promote(
    version: Annotated[str | None, typer.Option(help="Model version (default: the challenger).")] = None,
    force: Annotated[bool, typer.Option(help="Promote even if the gate fails (needs --reason).")] = False,
    reason: Annotated[str | None, typer.Option(help="Why the gate is overridden (recorded as a tag).")] = None,
    model_name: ModelNameOption = None,
) -> None:
    """Move `champion` to the challenger if it passes the gate; otherwise explain which check failed."""
    from mlflow import MlflowClient

    from training.registry import CHALLENGER, alias_version
    from training.registry import promote as promote_version
    from training.tracking import configure

    settings = training_settings(model_name)
    configure(settings)
    client = MlflowClient()
    version = version or alias_version(client, settings.registered_model, CHALLENGER)
    if version is None:
        raise typer.BadParameter("no challenger to promote; train one or pass --version", param_hint="--version")
    if force and not reason:
        raise typer.BadParameter("--force needs --reason", param_hint="--reason")
    result = promote_version(client, settings, version, force=force, reason=reason)
    table = Table("check", "result", "detail", title=f"promotion gate for version {version}")
    for name, ok, why in result.checks:
        table.add_row(name, "[green]pass[/]" if ok else "[red]fail[/]", why)
    console.print(table)
    if result.passed:
        console.print(f"[green]✓ version {version} is now the champion[/]")
    elif force:
        console.print(f"[yellow]version {version} promoted by force; reason recorded: {reason}[/]")
    else:
        console.print(f"[red]✗ version {version} stays challenger:[/] " + "; ".join(result.failures()))
        raise typer.Exit(1)


def sign(
    version: Annotated[str, typer.Argument(help="The registered version to sign (one without manifest.json).")],
    yes: Annotated[
        bool, typer.Option("--yes", help="Sign: you vouch that the files shown are the model you trained.")
    ] = False,
    model_name: ModelNameOption = None,
) -> None:
    """Sign a version registered by a release that did not sign models, after showing its files' digests."""
    from mlflow import MlflowClient

    from training.legacy_signing import sign_version, unsigned_version
    from training.pipeline import model_signing_key
    from training.tracking import configure

    settings = training_settings(model_name)
    configure(settings)
    with unsigned_version(MlflowClient(), settings, version) as unsigned:
        console.print(f"{unsigned.name} version {version} (run {unsigned.run_id}), its files' SHA-256:")
        for name, digest in unsigned.files.items():  # one line each, unwrapped, to compare or copy whole
            console.print(f"  {digest}  {name} ({unsigned.sizes[name]:,} bytes)", soft_wrap=True, highlight=False)
        if not yes:
            console.print(
                "[yellow]not signed:[/] compare these digests with your own copy of the model, "
                "then run again with --yes to vouch for them"
            )
            raise typer.Exit(1)
        key = model_signing_key(settings)
        sign_version(unsigned, key)
    console.print(f"[green]✓ version {version} signed with the key from {key.origin}[/]; the service accepts it now")


def print_evaluation(evaluation: Evaluation, title: str) -> None:
    m, r, lift = evaluation.metrics, evaluation.rules, evaluation.lift
    table = Table("metric", "model", "95 % interval", "official rules", "model ÷ rules", title=title)
    rows = [
        ("ROC-AUC", "roc_auc"),
        ("PR-AUC", "pr_auc"),
        ("recall at 1 %", "recall_at_1pct"),
        ("recall at 5 %", "recall_at_5pct"),
        ("recall at 10 %", "recall_at_10pct"),
        ("precision at 5 %", "precision_at_5pct"),
        ("Brier", "brier"),
        ("ECE", "ece"),
    ]
    for label, key in rows:
        ci = evaluation.intervals.get(key)
        table.add_row(
            label,
            f"{m[key]:.4f}",
            f"{ci[0]:.4f} – {ci[1]:.4f}" if ci else "",
            f"{r[key]:.4f}" if key in r else "",
            f"{lift[key]:.2f}×" if key in lift else "",
        )
    console.print(table)
    gaps = ", ".join(f"{k} {v:.3f}" for k, v in evaluation.fairness_gaps.items())
    if gaps:  # no --group: no fairness figures to show
        console.print(f"fairness (true-positive-rate gap at 5 %): {gaps}")


def register(app: typer.Typer) -> None:
    """Add this module's commands to the app."""
    app.command()(train)
    app.command()(evaluate)
    app.command()(promote)
    app.command()(sign)
