"""Reloading under load: a new version takes over, and every response is answered entirely by one version."""
# ruff: noqa: F811 — the shared fixtures are imported by name, and tests take them as parameters of that name

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from mlflow import MlflowClient

from service.app import create_app
from service.db import Database
from service.model_holder import ModelHolder, RegistrySource
from service.settings import ServiceSettings
from service.tables import Role
from tests.service.api_support import KEY, Registered, bearer
from tests.service.test_api_scores import _household_in, profile_row
from training.fit import TrainConfig
from training.pipeline import train_and_register

ALIAS = "reload-test"  # its own alias: the champion other tests load stays where it is


@pytest.fixture(scope="module")
def second_version(registered: Registered) -> str:
    """Another version of the registered model (fewer trees: different scores), not promoted."""
    outcome = train_and_register(
        registered.data, registered.settings, TrainConfig(num_boost_round=20, early_stopping_rounds=10), backtest=False
    )
    assert outcome.version is not None
    return str(outcome.version)


@pytest.mark.slow
def test_reload_swaps_versions_without_mixing_requests(
    registered: Registered,
    second_version: str,
    settings: ServiceSettings,
    db: Database,
    batch_profiles: pd.DataFrame,
    tmp_path: Path,
) -> None:
    client_mlflow = MlflowClient(tracking_uri=registered.tracking_uri, registry_uri=registered.tracking_uri)
    name = registered.settings.registered_model
    client_mlflow.set_registered_model_alias(name, ALIAS, "1")
    holder = ModelHolder(RegistrySource(registered.tracking_uri, name, ALIAS), tmp_path / "cache")
    holder.start()
    assert holder.current is not None and holder.current.version == "1"
    models = {"1": holder.current.model}
    indices = [_household_in(batch_profiles, "990101", k) for k in range(4)]
    rows = [profile_row(batch_profiles, i) for i in indices]
    answers: list[dict[str, Any]] = []
    failures: list[str] = []
    stop = threading.Event()
    app = create_app(settings, holder=holder, database=db, pseudonym_key=KEY)
    with TestClient(app) as client:
        monitor, admin = bearer(db, Role.MONITOR), bearer(db, Role.ADMIN, "")

        def keep_scoring() -> None:
            while not stop.is_set():
                response = client.post("/v1/profiles:score", json={"profiles": rows}, headers=monitor)
                if response.status_code != 200:
                    failures.append(response.text)
                    return
                answers.append(response.json())

        workers = [threading.Thread(target=keep_scoring) for _ in range(4)]
        for worker in workers:
            worker.start()
        while len(answers) < 4 and not failures:  # some answers from version 1 before the swap
            stop.wait(0.02)
        client_mlflow.set_registered_model_alias(name, ALIAS, second_version)
        reload = client.post("/v1/admin/model:reload", headers=admin)
        assert holder.current is not None
        models[second_version] = holder.current.model
        after = len(answers)
        while len(answers) < after + 8 and not failures:
            stop.wait(0.05)
        stop.set()
        for worker in workers:
            worker.join()
    assert not failures, failures[:1]
    assert reload.status_code == 200 and reload.json() == {"changed": True, "version": second_version}
    seen = set()
    for answer in answers:
        version = answer["model_version"]
        seen.add(version)
        assert {item["model_version"] for item in answer["items"]} == {version}
        expected = models[version].predict_proba(batch_profiles.iloc[indices])
        assert [item["probability"] for item in answer["items"]] == pytest.approx(list(expected), abs=1e-12)
    assert seen == {"1", second_version}


def test_worker_processes_loading_at_once_share_one_complete_model_cache(
    registered: Registered, tmp_path: Path
) -> None:
    """`relapse serve --workers N` starts N holders on one cache folder at the same moment: every one serves the
    registry's model (none falls back degraded on a clash in the cache), and the copy left behind loads."""
    cache = tmp_path / "model-cache"
    holders = [ModelHolder(RegistrySource(registered.tracking_uri), cache) for _ in range(4)]
    start = threading.Barrier(len(holders))

    def load(holder: ModelHolder) -> None:
        start.wait()
        holder.start()

    threads = [threading.Thread(target=load, args=(holder,)) for holder in holders]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    versions = {holder.current.version if holder.current else None for holder in holders}
    assert [holder.degraded for holder in holders] == [None] * len(holders)
    assert len(versions) == 1 and None not in versions
    cached = ModelHolder(RegistrySource(registered.tracking_uri), cache)._load_cached()  # as a start offline
    assert cached is not None and cached.source == "cache" and cached.version in versions
    assert sorted(p.name for p in cache.iterdir()) == sorted([*versions, "latest.json"])  # no staging leftovers


@pytest.mark.slow
def test_a_version_with_a_broken_calibrator_is_refused_with_409_and_the_old_model_keeps_serving(
    registered: Registered, settings: ServiceSettings, db: Database, batch_profiles: pd.DataFrame, tmp_path: Path
) -> None:
    client_mlflow = MlflowClient(tracking_uri=registered.tracking_uri, registry_uri=registered.tracking_uri)
    name = registered.settings.registered_model
    alias = "broken-calibrator-test"
    client_mlflow.set_registered_model_alias(name, alias, "1")
    holder = ModelHolder(RegistrySource(registered.tracking_uri, name, alias), tmp_path / "cache")
    holder.start()
    assert holder.current is not None and holder.current.version == "1"

    # A version whose files arrive intact but whose calibrator is not one: registered like any other version.
    folder, _ = holder.source.download("1", tmp_path / "copy")
    (folder / "calibrator.json").write_text('{"kind": "isotonic"}', encoding="utf-8")
    default = client_mlflow.get_experiment_by_name("Default")
    run = client_mlflow.create_run(default.experiment_id if default is not None else "0")
    client_mlflow.log_artifacts(run.info.run_id, str(folder), artifact_path="model")
    client_mlflow.set_terminated(run.info.run_id)
    broken = client_mlflow.create_model_version(name, f"runs:/{run.info.run_id}/model", run_id=run.info.run_id)
    client_mlflow.set_registered_model_alias(name, alias, broken.version)

    row = profile_row(batch_profiles, _household_in(batch_profiles, "990101"))
    app = create_app(settings, holder=holder, database=db, pseudonym_key=KEY)
    with TestClient(app) as client:
        reloaded = client.post("/v1/admin/model:reload", headers=bearer(db, Role.ADMIN, ""))
        assert reloaded.status_code == 409, reloaded.text
        assert f"version {broken.version} cannot be loaded" in reloaded.json()["detail"]
        answer = client.post("/v1/profiles:score", json={"profiles": [row]}, headers=bearer(db, Role.MONITOR))
        assert answer.status_code == 200 and answer.json()["model_version"] == "1"
