"""A start while the registry is unreachable (docs/operations.md, "When the registry or the database is down"): the
last cached model serves, the service says it is degraded, and /metrics shows the cached source."""
# ruff: noqa: F811 — the shared fixtures are imported by name, and tests take them as parameters of that name

from __future__ import annotations

from pathlib import Path

import pandas as pd
from fastapi.testclient import TestClient

from service.app import create_app
from service.db import Database
from service.model_holder import ModelHolder, RegistrySource
from service.settings import ServiceSettings
from service.tables import Role
from tests.service.api_support import KEY, Registered, bearer, profile_row


def test_a_start_without_the_registry_serves_the_cached_model_and_says_so(
    registered: Registered, settings: ServiceSettings, db: Database, batch_profiles: pd.DataFrame, tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    online = ModelHolder(RegistrySource(registered.tracking_uri), cache, registered.signing)
    online.start()
    assert online.current is not None and online.current.source == "registry"

    offline = ModelHolder(RegistrySource(f"sqlite:///{tmp_path / 'gone' / 'mlflow.db'}"), cache, registered.signing)
    offline.start()
    assert offline.current is not None and offline.current.source == "cache"
    assert offline.current.version == online.current.version
    assert offline.degraded is not None and offline.degraded.startswith(
        f"serving cached version {online.current.version}"
    )

    app = create_app(settings, holder=offline, database=db, pseudonym_key=KEY)
    with TestClient(app) as client:
        ready = client.get("/health/ready")
        assert ready.status_code == 200 and ready.json()["degraded"] == offline.degraded
        scored = client.post(
            "/v1/profiles:score",
            json={"profiles": [profile_row(batch_profiles, 0)]},
            headers=bearer(db, Role.ADMIN, ""),
        )
        assert scored.status_code == 200 and scored.json()["model_version"] == online.current.version
        metrics = client.get("/metrics").text
        assert f'relapse_model_info{{source="cache",version="{online.current.version}"}} 1.0' in metrics
