"""The registry's serving versions (champion, challenger) as plain folders, and registering them again.

A version is archived as its model folder (the MLflow model with the RiskModel files and their signed
manifest.json, byte for byte), its run's artifacts (model card, fairness and backtest tables: the promotion
gate reads them) and a `version.json` with what the registry says about it: aliases, tags, description, the run's
parameters and metrics. Registering them again into an empty registry keeps their version numbers: the service's
score history and audit log name versions by number, so a restored champion must answer under the number it
had. MLflow numbers versions one after another and never reuses a deleted one's number, so a gap (versions
archived before the champion) is kept by registering and deleting a placeholder in its place.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import mlflow
from mlflow import MlflowClient
from mlflow.entities import Metric, Param, RunTag
from mlflow.exceptions import MlflowException

from training.registry import CHALLENGER, CHAMPION

SERVING_ALIASES: Final = (CHAMPION, CHALLENGER)
VERSION_FILE: Final = "version.json"
MODEL_FOLDER: Final = "model"
RUN_FOLDER: Final = "run"

Progress = Callable[[str, int, int], None]


class RegistryArchiveError(RuntimeError):
    """The registry cannot take the archived versions back (it already has versions of the model)."""


@dataclass(frozen=True)
class ArchivedVersion:
    version: str
    aliases: list[str]
    folder: Path


def archive_serving_versions(
    client: MlflowClient, name: str, into: Path, progress: Progress | None = None
) -> list[ArchivedVersion]:
    """Write the versions that carry a serving alias into `into/v<version>/`; none when the model has none."""
    by_version: dict[str, list[str]] = {}
    for alias in SERVING_ALIASES:
        try:
            version = str(client.get_model_version_by_alias(name, alias).version)
        except MlflowException:
            continue
        by_version.setdefault(version, []).append(alias)
    archived = []
    for done, (version, aliases) in enumerate(sorted(by_version.items(), key=lambda item: int(item[0]))):
        if progress:
            progress(f"model version {version}", done, len(by_version))
        folder = into / f"v{version}"
        _archive_version(client, name, version, aliases, folder)
        archived.append(ArchivedVersion(version, aliases, folder))
    return archived


def _archive_version(client: MlflowClient, name: str, version: str, aliases: list[str], folder: Path) -> None:
    mv = client.get_model_version(name, version)
    folder.mkdir(parents=True, exist_ok=True)
    source = client.get_model_version_download_uri(name, version)
    _download(source, folder / MODEL_FOLDER)
    run: dict[str, Any] = {}
    if mv.run_id:
        data = client.get_run(mv.run_id)
        run = {
            "run_name": data.info.run_name,
            "params": dict(data.data.params),
            "metrics": dict(data.data.metrics),
            "tags": {k: v for k, v in data.data.tags.items() if not k.startswith("mlflow.")},
        }
        if client.list_artifacts(mv.run_id):
            _download(f"runs:/{mv.run_id}/", folder / RUN_FOLDER)
    record = {
        "name": name,
        "version": version,
        "aliases": aliases,
        "description": mv.description or "",
        "tags": dict(mv.tags),
        "run": run,
    }
    (folder / VERSION_FILE).write_text(json.dumps(record, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def _download(uri: str, target: Path) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        local = Path(mlflow.artifacts.download_artifacts(artifact_uri=uri, dst_path=tmp))
        shutil.copytree(local, target)


def registered_versions(client: MlflowClient, name: str) -> list[str]:
    """The versions of `name` in the registry (none when the model is not registered)."""
    return [str(mv.version) for mv in client.search_model_versions(f"name = '{name}'")]


def register_archived(
    client: MlflowClient,
    experiment_id: str,
    name: str,
    folders: list[Path],
    *,
    force: bool = False,
    progress: Progress | None = None,
) -> dict[str, str]:
    """Register the archived versions in `folders` again, with their runs, aliases and tags; returns the new
    number of each archived version. An empty registry gives every version its old number; a registry that
    already has versions of `name` is refused unless `force` (then new numbers follow the existing ones)."""
    existing = registered_versions(client, name)
    if existing and not force:
        raise RegistryArchiveError(
            f"the registry already has {len(existing)} version(s) of {name}; restore into an empty registry, "
            "or pass --force to add the archived versions after them"
        )
    try:
        client.get_registered_model(name)
    except MlflowException:
        client.create_registered_model(name)
    records = sorted((_record(folder) for folder in folders), key=lambda pair: int(pair[0]["version"]))
    numbers: dict[str, str] = {}
    last = 0  # the newest number handed out so far (an empty registry starts at 1)
    for done, (record, folder) in enumerate(records):
        if progress:
            progress(f"model version {record['version']}", done, len(records))
        run_id, source = _log_run(client, experiment_id, record, folder)
        if not existing:
            last = _skip_to(client, name, last, int(record["version"]), source, run_id)
        mv = client.create_model_version(name, source, run_id=run_id, description=record["description"] or None)
        for key, value in record["tags"].items():
            client.set_model_version_tag(name, mv.version, key, value)
        for alias in record["aliases"]:
            client.set_registered_model_alias(name, alias, mv.version)
        numbers[str(record["version"])] = str(mv.version)
        last = int(mv.version)
    return numbers


def _record(folder: Path) -> tuple[dict[str, Any], Path]:
    return json.loads((folder / VERSION_FILE).read_text(encoding="utf-8")), folder


def _log_run(client: MlflowClient, experiment_id: str, record: dict[str, Any], folder: Path) -> tuple[str, str]:
    """A finished run holding the version's parameters, metrics, run artifacts and model; returns its id and the
    model's artifact URI."""
    run_info = record["run"]
    tags = {**run_info.get("tags", {}), "relapse.restored_from_version": str(record["version"])}
    run = client.create_run(experiment_id, run_name=run_info.get("run_name"), tags=tags)
    run_id = run.info.run_id
    client.log_batch(
        run_id,
        metrics=[Metric(k, float(v), 0, 0) for k, v in run_info.get("metrics", {}).items()],
        params=[Param(k, str(v)) for k, v in run_info.get("params", {}).items()],
        tags=[RunTag(k, str(v)) for k, v in tags.items()],
    )
    if (folder / RUN_FOLDER).is_dir():
        client.log_artifacts(run_id, str(folder / RUN_FOLDER))
    client.log_artifacts(run_id, str(folder / MODEL_FOLDER), MODEL_FOLDER)
    client.set_terminated(run_id)
    return run_id, f"{run.info.artifact_uri}/{MODEL_FOLDER}"


def _skip_to(client: MlflowClient, name: str, last: int, version: int, source: str, run_id: str) -> int:
    """Register and delete placeholders after number `last` until the next number MLflow hands out is `version`;
    returns the last number handed out."""
    while last < version - 1:
        placeholder = client.create_model_version(name, source, run_id=run_id, description="placeholder")
        client.delete_model_version(name, placeholder.version)
        last = int(placeholder.version)
    return last
