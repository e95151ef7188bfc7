"""What the model report shows about the serving model, read from what the service can see.

The serving model (`service.model_holder.ServingModel`: version, meta, metrics and model card fetched at load)
and the MLflow registry the holder loads from, through the MLflow client: the run's `fairness.csv`,
`backtest.csv` and `reference_distributions.json` (the score distribution on the run's test rows, against which
the served scores' drift is measured) artifacts and every registered version's tags (`promoted_at`, `gate`,
`replaced_champion`, `retired_at`, `forced_promotion_reason`, written by `training.registry.promote`), and the
`monitor.json` of the version's latest `relapse monitor --data` run. Artifacts of a version never change, so they
are cached per run; the promotion history and the monitor runs are re-read after `HISTORY_TTL_S`.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

log = logging.getLogger(__name__)

HISTORY_TTL_S: Final = 60.0
# Written by training with every run (training.drift); the service reads it as data, never importing training.
REFERENCE_FILE: Final = "reference_distributions.json"
# Written by `relapse monitor --data` (training.monitor_city) to each monitor run: per later date, drift and the
# realised figures beside those at training, with the alert levels.
MONITOR_FILE: Final = "monitor.json"


@dataclass(frozen=True)
class VersionHistory:
    version: str
    created_at: datetime | None
    aliases: list[str]
    promoted_at: str | None
    replaced: str | None
    gate: str | None
    reason: str | None
    retired_at: str | None


@dataclass(frozen=True)
class RunArtifacts:
    fairness: list[dict[str, str]] = field(default_factory=list)
    backtest: list[dict[str, str]] = field(default_factory=list)
    readable: bool = True
    # The score's bins on the run's test rows ({"edges", "counts"}) and their number of rows, from the run's
    # `reference_distributions.json`; None for a run trained before it was stored.
    score_reference: dict[str, Any] | None = None
    reference_rows: int = 0


def _rows(text: str | None) -> list[dict[str, str]]:
    if not text:
        return []
    return list(csv.DictReader(io.StringIO(text)))


class RegistryReader:
    """Reads run artifacts and version history from the MLflow registry (thread-safe, cached)."""

    def __init__(self, tracking_uri: str, model_name: str) -> None:
        self.tracking_uri = tracking_uri
        self.model_name = model_name
        self._artifacts: dict[str, RunArtifacts] = {}
        self._history: tuple[float, list[VersionHistory]] | None = None
        self._monitors: dict[str, tuple[float, dict[str, Any] | None]] = {}
        self._lock = threading.Lock()

    def run_artifacts(self, run_id: str | None) -> RunArtifacts:
        if not run_id:
            return RunArtifacts(readable=False)
        with self._lock:
            cached = self._artifacts.get(run_id)
        if cached is not None:
            return cached
        from mlflow import MlflowClient

        client = MlflowClient(tracking_uri=self.tracking_uri)
        texts: dict[str, str | None] = {}
        readable = True
        for name in ("fairness.csv", "backtest.csv", REFERENCE_FILE):
            try:
                texts[name] = _artifact_text(client, run_id, name)
            except Exception as error:  # noqa: BLE001 — a missing artifact is shown as missing
                log.info("run %s has no %s (%s)", run_id, name, type(error).__name__)
                texts[name] = None
                readable = readable and name != "fairness.csv"
        reference = json.loads(texts[REFERENCE_FILE] or "null")
        artifacts = RunArtifacts(
            _rows(texts["fairness.csv"]),
            _rows(texts["backtest.csv"]),
            readable,
            reference.get("score") if isinstance(reference, dict) else None,
            int(reference.get("rows", 0)) if isinstance(reference, dict) else 0,
        )
        with self._lock:
            self._artifacts[run_id] = artifacts
        return artifacts

    def label(self, alias: str) -> str | None:
        """The label the alias's version was trained on (what its probabilities estimate); None when the alias
        names no version or the store cannot be read."""
        from mlflow import MlflowClient
        from mlflow.exceptions import MlflowException

        client = MlflowClient(tracking_uri=self.tracking_uri, registry_uri=self.tracking_uri)
        try:
            version = client.get_model_version_by_alias(self.model_name, alias)
            label = client.get_run(str(version.run_id)).data.params.get("label")
        except (MlflowException, OSError) as error:
            log.info("no label for alias %s (%s)", alias, type(error).__name__)
            return None
        return str(label) if label else None

    def latest_monitor(self, version: str) -> dict[str, Any] | None:
        """The `monitor.json` of the version's latest `relapse monitor --data` run; None when it has none or the
        store cannot be read. Re-read after `HISTORY_TTL_S`: a monitor run may come any time."""
        now = time.monotonic()
        with self._lock:
            cached = self._monitors.get(version)
            if cached is not None and now - cached[0] < HISTORY_TTL_S:
                return cached[1]
        from mlflow import MlflowClient

        found: dict[str, Any] | None = None
        try:
            client = MlflowClient(tracking_uri=self.tracking_uri)
            experiments = [e.experiment_id for e in client.search_experiments()]
            runs = client.search_runs(
                experiments,
                f"tags.monitor_of_model = '{self.model_name}' and tags.monitor_of_version = '{version}' "
                "and tags.monitor_source = 'data'",
                order_by=["attributes.start_time DESC"],
                max_results=1,
            )
            if runs:
                loaded = json.loads(_artifact_text(client, runs[0].info.run_id, MONITOR_FILE))
                found = loaded if isinstance(loaded, dict) else None
        except Exception as error:  # noqa: BLE001 — the report says no monitor run can be shown
            log.info("no monitor run readable for version %s (%s)", version, type(error).__name__)
        with self._lock:
            self._monitors[version] = (now, found)
        return found

    def history(self) -> list[VersionHistory] | None:
        """Every registered version, newest first; None when the registry cannot be read."""
        now = time.monotonic()
        with self._lock:
            if self._history is not None and now - self._history[0] < HISTORY_TTL_S:
                return self._history[1]
        from mlflow import MlflowClient

        try:
            client = MlflowClient(tracking_uri=self.tracking_uri, registry_uri=self.tracking_uri)
            versions = client.search_model_versions(f"name='{self.model_name}'")
            # search results may leave `aliases` empty; the registered model lists them all
            aliases: dict[str, str] = dict(getattr(client.get_registered_model(self.model_name), "aliases", {}) or {})
        except Exception as error:  # noqa: BLE001 — the report says the history cannot be read
            log.warning("registry history unavailable: %s", type(error).__name__)
            return None
        by_version: dict[str, list[str]] = {}
        for alias, version in aliases.items():
            by_version.setdefault(str(version), []).append(alias)
        items = [_version_history(v, by_version.get(str(v.version), [])) for v in versions]
        items.sort(key=lambda v: int(v.version) if v.version.isascii() and v.version.isdigit() else 0, reverse=True)
        with self._lock:
            self._history = (now, items)
        return items


def _version_history(version: Any, aliases: list[str]) -> VersionHistory:
    tags: dict[str, str] = dict(getattr(version, "tags", {}) or {})
    created = getattr(version, "creation_timestamp", None)
    return VersionHistory(
        version=str(version.version),
        created_at=datetime.fromtimestamp(created / 1000, UTC) if created else None,
        aliases=sorted({*aliases, *(getattr(version, "aliases", []) or [])}),
        promoted_at=tags.get("promoted_at"),
        replaced=tags.get("replaced_champion"),
        gate=tags.get("gate"),
        reason=tags.get("forced_promotion_reason"),
        retired_at=tags.get("retired_at"),
    )


def _artifact_text(client: Any, run_id: str, name: str) -> str:
    """A run's text artifact, downloaded to a temporary folder and read (raises when the run has none)."""
    with tempfile.TemporaryDirectory() as tmp:
        return Path(client.download_artifacts(run_id, name, tmp)).read_text(encoding="utf-8")
