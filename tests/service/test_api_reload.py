"""Reloading under load: a new version takes over, and every response is answered entirely by one version."""
# ruff: noqa: F811 — the shared fixtures are imported by name, and tests take them as parameters of that name

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from mlflow import MlflowClient

from models.signing import MANIFEST, SigningKey, sign_folder
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
    holder = ModelHolder(RegistrySource(registered.tracking_uri, name, ALIAS), tmp_path / "cache", registered.signing)
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
    holders = [ModelHolder(RegistrySource(registered.tracking_uri), cache, registered.signing) for _ in range(4)]
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
    cached = ModelHolder(
        RegistrySource(registered.tracking_uri), cache, registered.signing
    )._load_cached()  # as a start offline
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
    holder = ModelHolder(RegistrySource(registered.tracking_uri, name, alias), tmp_path / "cache", registered.signing)
    holder.start()
    assert holder.current is not None and holder.current.version == "1"

    # A version whose calibrator is not one, signed with the trainer's key (as a broken training run would be):
    # the signature checks out, so parsing is what refuses it.
    def broken_calibrator(folder: Path) -> None:
        (folder / "calibrator.json").write_text('{"kind": "isotonic"}', encoding="utf-8")
        sign_folder(folder, registered.signing)

    broken = _register_changed_copy(holder, client_mlflow, alias, tmp_path, broken_calibrator)

    row = profile_row(batch_profiles, _household_in(batch_profiles, "990101"))
    app = create_app(settings, holder=holder, database=db, pseudonym_key=KEY)
    with TestClient(app) as client:
        reloaded = client.post("/v1/admin/model:reload", headers=bearer(db, Role.ADMIN, ""))
        assert reloaded.status_code == 409, reloaded.text
        assert f"version {broken} cannot be loaded" in reloaded.json()["detail"]
        answer = client.post("/v1/profiles:score", json={"profiles": [row]}, headers=bearer(db, Role.MONITOR))
        assert answer.status_code == 200 and answer.json()["model_version"] == "1"


def _register_changed_copy(
    holder: ModelHolder, client_mlflow: MlflowClient, alias: str, tmp_path: Path, change: Callable[[Path], None]
) -> str:
    """Register a copy of version 1's files after `change`, point `alias` at it, and return its version."""
    name = holder.source.name
    folder, _ = holder.source.download("1", tmp_path / f"copy-{uuid.uuid4().hex}")
    change(folder)
    default = client_mlflow.get_experiment_by_name("Default")
    run = client_mlflow.create_run(default.experiment_id if default is not None else "0")
    client_mlflow.log_artifacts(run.info.run_id, str(folder), artifact_path="model")
    client_mlflow.set_terminated(run.info.run_id)
    version = client_mlflow.create_model_version(name, f"runs:/{run.info.run_id}/model", run_id=run.info.run_id)
    client_mlflow.set_registered_model_alias(name, alias, version.version)
    return str(version.version)


def _truncate_booster(folder: Path) -> None:
    booster = folder / "booster.txt"
    booster.write_bytes(booster.read_bytes()[: booster.stat().st_size // 3])


def _flip_first_tree_and_redigest(folder: Path) -> None:
    """Negate one tree's leaf values and rewrite the manifest's digests, without the trainer's key."""
    lines = (folder / "booster.txt").read_text(encoding="utf-8").splitlines(keepends=True)
    at = next(i for i, line in enumerate(lines) if line.startswith("leaf_value="))
    values = lines[at].removeprefix("leaf_value=").split()
    lines[at] = "leaf_value=" + " ".join(repr(-float(v)) for v in values) + "\n"
    (folder / "booster.txt").write_text("".join(lines), encoding="utf-8")
    sign_folder(folder, SigningKey.from_text("an-attackers-own-signing-key-0123456789", "attacker"))


@pytest.mark.slow
@pytest.mark.parametrize(
    ("change", "refusal"),
    [
        (_truncate_booster, "booster.txt is not the file that was signed"),
        (_flip_first_tree_and_redigest, "signature does not match"),
        (lambda folder: (folder / MANIFEST).unlink(), "unsigned"),
    ],
    ids=["truncated-booster", "tampered-leaves", "unsigned"],
)
def test_a_corrupt_tampered_or_unsigned_version_is_refused_under_load_and_the_old_model_keeps_serving(
    registered: Registered,
    settings: ServiceSettings,
    db: Database,
    batch_profiles: pd.DataFrame,
    tmp_path: Path,
    change: Callable[[Path], None],
    refusal: str,
) -> None:
    client_mlflow = MlflowClient(tracking_uri=registered.tracking_uri, registry_uri=registered.tracking_uri)
    alias = f"integrity-{uuid.uuid4().hex[:8]}"
    client_mlflow.set_registered_model_alias(registered.settings.registered_model, alias, "1")
    holder = ModelHolder(
        RegistrySource(registered.tracking_uri, registered.settings.registered_model, alias),
        tmp_path / "cache",
        registered.signing,
    )
    holder.start()
    assert holder.current is not None and holder.current.version == "1"
    bad = _register_changed_copy(holder, client_mlflow, alias, tmp_path, change)

    rows = [profile_row(batch_profiles, _household_in(batch_profiles, "990101", k)) for k in range(3)]
    answers: list[int] = []
    failures: list[str] = []
    stop = threading.Event()
    app = create_app(settings, holder=holder, database=db, pseudonym_key=KEY)
    with TestClient(app) as client:
        monitor, admin = bearer(db, Role.MONITOR), bearer(db, Role.ADMIN, "")

        def keep_scoring() -> None:
            while not stop.is_set():
                response = client.post("/v1/profiles:score", json={"profiles": rows}, headers=monitor)
                if response.status_code != 200 or response.json()["model_version"] != "1":
                    failures.append(f"{response.status_code} {response.text[:200]}")
                    return
                answers.append(response.status_code)

        workers = [threading.Thread(target=keep_scoring) for _ in range(3)]
        for worker in workers:
            worker.start()
        while len(answers) < 3 and not failures:
            stop.wait(0.02)
        reloaded = client.post("/v1/admin/model:reload", headers=admin)
        during = len(answers)
        while len(answers) < during + 6 and not failures:
            stop.wait(0.02)
        stop.set()
        for worker in workers:
            worker.join()
        model = client.get("/v1/model", headers=admin).json()
        metrics = client.get("/metrics").text

    assert not failures, failures[:1]
    assert reloaded.status_code == 409, reloaded.text
    assert f"version {bad} is refused" in reloaded.json()["detail"] and refusal in reloaded.json()["detail"]
    assert model["version"] == "1" and refusal in (model["refused"] or "")
    assert "relapse_model_refusals 1.0" in metrics

    # A start with that version as the alias's: the cached copy of version 1 serves (degraded), nothing crashes;
    # with no cache there is no model, and the service says why.
    restarted = ModelHolder(holder.source, tmp_path / "cache", registered.signing)
    restarted.start()
    assert restarted.current is not None and restarted.current.version == "1" and restarted.current.source == "cache"
    assert restarted.degraded is not None and "refused" in restarted.degraded
    empty = ModelHolder(holder.source, tmp_path / "empty-cache", registered.signing)
    empty.start()
    assert empty.current is None and empty.degraded is not None and refusal in empty.degraded


def test_a_tampered_cached_copy_is_not_served_at_start(registered: Registered, tmp_path: Path) -> None:
    """The cache is checked like the registry: a truncated cached booster is refused, not parsed."""
    cache = tmp_path / "cache"
    ModelHolder(RegistrySource(registered.tracking_uri), cache, registered.signing).start()
    (version,) = [p for p in cache.iterdir() if p.is_dir()]
    _truncate_booster(version)
    offline = ModelHolder(RegistrySource(f"sqlite:///{tmp_path / 'gone' / 'mlflow.db'}"), cache, registered.signing)
    offline.start()
    assert offline.current is None
    assert offline.degraded is not None and "booster.txt is not the file that was signed" in offline.degraded


def test_a_holder_reads_its_own_registry_whatever_the_process_wide_one(registered: Registered, tmp_path: Path) -> None:
    """Training in the same process points MLflow's process-wide registry elsewhere; the holder must still load
    the version from its own store (its signature then checks out with its own key)."""
    import mlflow

    previous = mlflow.get_registry_uri()
    mlflow.set_registry_uri(f"sqlite:///{tmp_path / 'another' / 'mlflow.db'}")
    try:
        holder = ModelHolder(RegistrySource(registered.tracking_uri), tmp_path / "cache", registered.signing)
        holder.start()
    finally:
        mlflow.set_registry_uri(previous)
    assert holder.current is not None and holder.current.source == "registry", holder.degraded
