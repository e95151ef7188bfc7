"""Shared pieces of the API tests: a real model registered in a temporary MLflow store, clients per role.

The model is trained once per session on a small synthetic city, registered and promoted to `champion`, and
loaded through `ModelHolder` from the registry, as the service loads it in production.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from mlflow import MlflowClient

from features.contract.tables import TABLES
from features.profiles.build import build_profiles, select_households
from features.pseudonyms.ingestion import ingest
from features.pseudonyms.keys import PseudonymKey
from features.reading.sources import Sources, read_sources, write_sources
from features.simulation import CityConfig, simulate_city
from models.signing import SigningKey, signing_key
from service.app import create_app
from service.db import Database
from service.keys import create_key
from service.model_holder import ModelHolder, RegistrySource
from service.settings import ServiceSettings
from service.tables import Role
from training.fit import TrainConfig
from training.pipeline import TrainingData, data_from_sources, train_and_register
from training.registry import promote
from training.settings import TrainingSettings

KEY = PseudonymKey.from_text("test-pseudonym-key-for-the-api-tests-0123456789", "t1")
AS_OF = "2025-07-01"
FAST = TrainConfig(num_boost_round=60, early_stopping_rounds=20)


@dataclass(frozen=True)
class Registered:
    tracking_uri: str
    city: Sources
    store: Path
    data: TrainingData
    settings: TrainingSettings

    @property
    def signing(self) -> SigningKey:
        """The key the registered models were signed with (the training store's local key)."""
        return signing_key(self.store)

    @property
    def signing_env(self) -> dict[str, str]:
        """The environment that gives a `relapse` process in another data folder the trainer's key."""
        return {"RELAPSE_MODEL_SIGNING_KEY": self.signing.secret.decode()}


@pytest.fixture(scope="session")
def registered(tmp_path_factory: pytest.TempPathFactory) -> Registered:
    folder = tmp_path_factory.mktemp("api-city")
    simulate_city(CityConfig(households=3_000), seed=11, out_dir=folder)
    city = read_sources(folder)
    store = tmp_path_factory.mktemp("api-store")
    settings = TrainingSettings(data_dir=store)
    data = data_from_sources(city)
    outcome = train_and_register(data, settings, FAST, backtest=False)
    promote(MlflowClient(tracking_uri=settings.tracking_uri), settings, outcome.version, force=True, reason="test")
    return Registered(settings.tracking_uri, city, store, data, settings)


# The county whose households the job tests (and `relapse demo`'s) score: a key for it may score them.
COUNTY = "990101"


@pytest.fixture(scope="session")
def county_folder(registered: Registered, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with the source tables of the city's households in `COUNTY` (`county/`) and of the whole city
    (`city/`)."""
    root = tmp_path_factory.mktemp("job-root")
    write_sources(select_households(registered.city, county_households(registered)), root / "county")
    write_sources(registered.city, root / "city")
    return root


def county_households(registered: Registered) -> pd.Series:
    households = registered.city["households"]
    return households.loc[households["region_code"].str.startswith(COUNTY), "household_id"]


@pytest.fixture(scope="session")
def holder(registered: Registered, tmp_path_factory: pytest.TempPathFactory) -> ModelHolder:
    loaded = ModelHolder(
        RegistrySource(registered.tracking_uri), tmp_path_factory.mktemp("model-cache"), registered.signing
    )
    loaded.start()
    assert loaded.current is not None, loaded.degraded
    return loaded


@pytest.fixture(scope="session")
def batch_profiles(registered: Registered) -> pd.DataFrame:
    """The batch path's profiles of the whole city (the reference the API must reproduce)."""
    return build_profiles(ingest(registered.city, KEY), AS_OF)


def service_settings(folder: Path, database: Database, **overrides: object) -> ServiceSettings:
    url = database.engine.url.render_as_string(hide_password=False)
    return ServiceSettings(data_dir=folder, database_url=url, **overrides)  # type: ignore[arg-type]


@pytest.fixture
def settings(tmp_path: Path, db: Database) -> ServiceSettings:
    return service_settings(tmp_path, db)


@pytest.fixture
def client(settings: ServiceSettings, holder: ModelHolder, db: Database) -> Iterator[TestClient]:
    app = create_app(settings, holder=holder, database=db, pseudonym_key=KEY)
    with TestClient(app) as test_client:
        yield test_client


def bearer(db: Database, role: Role, region_prefix: str = "990101") -> dict[str, str]:
    """Headers carrying a fresh key of `role` scoped to `region_prefix`."""
    with db.session() as session:
        created = create_key(session, role=role, region_prefix=region_prefix, label=f"api test {role}")
    return {"Authorization": f"Bearer {created.plaintext}"}


def _plain(value: Any) -> Any:
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, pd.Timestamp):
        return value.date().isoformat()
    if isinstance(value, float | np.floating) and math.isnan(value):
        return None
    if isinstance(value, np.generic):
        return value.item()
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def rows_of(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [{k: _plain(v) for k, v in row.items()} for row in frame.to_dict(orient="records")]


def document(registered: Registered, household_id: str) -> dict[str, Any]:
    """A household's source records in the contract's shape, as a source system would send them."""
    city = registered.city
    out: dict[str, Any] = {}
    households = city["households"]
    out["household"] = rows_of(households[households["household_id"] == household_id])[0]
    members = city["members"][city["members"]["household_id"] == household_id]
    for name in ("members", "income", "events", "assistance", "housing_checks", "water_checks", "identifications"):
        frame = city[name]
        out[name] = rows_of(frame[frame["household_id"] == household_id])
    status = city["member_status"]
    out["member_status"] = rows_of(status[status["member_id"].isin(members["member_id"])])
    if "civil_affairs" in city.tables:  # the source system holds the table: sent, even when empty
        frame = city["civil_affairs"]
        out["civil_affairs"] = rows_of(frame[frame["household_id"] == household_id])
    villages = city["villages"]
    out["village"] = rows_of(villages[villages["region_code"] == out["household"]["region_code"]])[0]
    for name, rows in out.items():
        table = TABLES["households" if name == "household" else "villages" if name == "village" else name]
        for row in rows if isinstance(rows, list) else [rows]:
            assert set(row) <= set(table.column_names)
    return out


def profile_row(profiles: pd.DataFrame, i: int) -> dict[str, Any]:
    return rows_of(profiles.iloc[[i]])[0]


@pytest.fixture
def jobs_client(tmp_path: Path, db: Database, holder: ModelHolder, county_folder: Path) -> Iterator[TestClient]:
    """The app with a job runner that may read the county folders, in chunks of 150 households."""
    settings = service_settings(tmp_path, db, jobs_allowed_root=county_folder, job_chunk_households=150)
    with TestClient(create_app(settings, holder=holder, database=db, pseudonym_key=KEY)) as client:
        yield client


def wait_for_job(client: TestClient, job_id: str, headers: dict[str, str], timeout_s: float = 120) -> dict[str, Any]:
    """The job once it is done or failed."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        job = client.get(f"/v1/jobs/{job_id}", headers=headers).json()
        if job["status"] in ("done", "failed"):
            return dict(job)
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} did not finish: {job}")
