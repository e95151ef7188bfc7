"""The model registry: a new model becomes `challenger`; `promote` moves `champion` through a gate.

The gate: on the latest period the challenger is not worse than the champion in PR-AUC and in
recall at 5 % beyond bootstrap noise (the 95 % interval of the paired difference reaches zero or above),
its expected calibration error and its fairness gaps are within their limits or within what they would read by
chance on a test set of this size (training.chance), and its run has a model card. The comparison with the
champion is computed at training time on the challenger's test period and recorded with the champion's version;
if the champion changed since, the gate refuses and asks for a new evaluation.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from training.chance import passes
from training.model_card import CARD_FILE
from training.settings import TrainingSettings

CHAMPION, CHALLENGER = "champion", "challenger"


@dataclass
class GateResult:
    version: str
    checks: list[tuple[str, bool, str]] = field(default_factory=list)  # (name, passed, explanation)

    @property
    def passed(self) -> bool:
        return all(ok for _, ok, _ in self.checks)

    def failures(self) -> list[str]:
        return [f"{name}: {why}" for name, ok, why in self.checks if not ok]


def alias_version(client: MlflowClient, name: str, alias: str) -> str | None:
    try:
        return str(client.get_model_version_by_alias(name, alias).version)
    except MlflowException:
        return None


def check_gate(client: MlflowClient, settings: TrainingSettings, version: str) -> GateResult:
    name = settings.registered_model
    mv = client.get_model_version(name, version)
    run_id = str(mv.run_id)
    run = client.get_run(run_id)
    metrics = run.data.metrics
    result = GateResult(version)

    artifacts = {a.path for a in client.list_artifacts(run_id)}
    result.checks.append(
        ("model card", CARD_FILE in artifacts, "present" if CARD_FILE in artifacts else f"the run has no {CARD_FILE}")
    )
    ece = metrics.get("test_ece", float("inf"))
    result.checks.append(
        ("calibration", *_against(ece, settings.gate_max_ece, metrics.get("chance_ece"), "ECE", 4, metrics))
    )
    for key, value in sorted(metrics.items()):
        if not key.startswith("fairness_tpr_gap_"):
            continue
        attribute = key.removeprefix("fairness_tpr_gap_")
        limit = settings.gate_max_tpr_gap_county if attribute == "county" else settings.gate_max_tpr_gap
        chance = metrics.get(f"chance_tpr_gap_{attribute}")
        judged = _against(value, limit, chance, "true-positive-rate gap", 3, metrics, attribute)
        result.checks.append((f"fairness {attribute}", *judged))

    champion = alias_version(client, name, CHAMPION)
    if champion is None or champion == version:
        result.checks.append(("versus champion", True, "no champion yet" if champion is None else "is champion"))
        return result
    compared = run.data.tags.get("compared_with_champion_version")
    if compared != champion:
        result.checks.append(
            (
                "versus champion",
                False,
                f"the run was compared with version {compared}, the champion is now {champion}: "
                "run `relapse evaluate` or train again",
            )
        )
        return result
    if metrics.get("vs_champion_incomparable"):
        result.checks.append(
            (
                "versus champion",
                False,
                f"not comparable: the challenger's test rows lack features the champion (version {champion}) "
                "reads, so the two cannot be scored on the same households; promote with --force --reason if "
                "the change of features is intended",
            )
        )
        return result
    for metric in ("pr_auc", "recall_at_5pct"):
        upper = metrics.get(f"vs_champion_{metric}_diff_ci_high", float("-inf"))
        diff = metrics.get(f"vs_champion_{metric}_diff", float("nan"))
        result.checks.append(
            (
                f"versus champion: {metric}",
                upper >= 0.0,
                f"challenger − champion {diff:+.4f}, 95 % interval up to {upper:+.4f}",
            )
        )
    return result


def _against(
    value: float,
    limit: float,
    chance: float | None,
    what: str,
    digits: int,
    metrics: dict[str, float],
    attribute: str | None = None,
) -> tuple[bool, str]:
    """A figure fails only above its limit *and* above what it reads by chance on this test set (training.chance);
    runs recorded before chance levels existed are judged by the limit alone."""
    interval = ""
    if what == "ECE" and "test_ece_ci_low" in metrics:
        interval = f", 95 % interval {metrics['test_ece_ci_low']:.{digits}f}–{metrics['test_ece_ci_high']:.{digits}f}"
    if attribute is not None and f"tpr_gap_ci_low_{attribute}" in metrics:
        low, high = metrics[f"tpr_gap_ci_low_{attribute}"], metrics[f"tpr_gap_ci_high_{attribute}"]
        interval = f", 95 % interval {low:.{digits}f}–{high:.{digits}f}"
    if chance is None:
        return value <= limit, f"{what} {value:.{digits}f}{interval} (limit {limit})"
    text = f"{what} {value:.{digits}f}{interval} (limit {limit}; by chance alone up to {chance:.{digits}f})"
    if value > limit and passes(value, limit, chance):
        return True, f"{text}: above the limit but within chance at this sample size, so not judged a failure"
    return passes(value, limit, chance), text


def promote(
    client: MlflowClient, settings: TrainingSettings, version: str, *, force: bool = False, reason: str | None = None
) -> GateResult:
    """Move `champion` to `version` if it passes the gate (or if forced, with the reason recorded)."""
    name = settings.registered_model
    result = check_gate(client, settings, version)
    if not result.passed and not force:
        return result
    if force and not reason:
        raise ValueError("--force needs --reason: the registry records why the gate was overridden")
    previous = alias_version(client, name, CHAMPION)
    client.set_registered_model_alias(name, CHAMPION, version)
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    client.set_model_version_tag(name, version, "promoted_at", stamp)
    client.set_model_version_tag(name, version, "replaced_champion", previous or "none")
    client.set_model_version_tag(name, version, "gate", "passed" if result.passed else "overridden")
    if force and not result.passed:
        client.set_model_version_tag(name, version, "forced_promotion_reason", reason or "")
    if alias_version(client, name, CHALLENGER) == version:
        client.delete_registered_model_alias(name, CHALLENGER)
    if previous:
        client.set_model_version_tag(name, previous, "retired_at", stamp)
    return result
