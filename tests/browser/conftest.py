"""A running service (uvicorn on a free port, SQLite, the test registry's champion) and headless Chromium.

Chromium comes from the OS packages (`scripts/os-deps.sh`), driven by Playwright through `executable_path`:
Playwright never downloads a browser here. Without a `chromium` on the PATH the browser tests are skipped with
that reason on a developer's machine, and fail under CI, which installs it.
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest
import uvicorn

from service.app import create_app
from service.db import open_database
from service.keys import create_key
from service.migrate import upgrade_database
from service.model_holder import ModelHolder
from service.settings import ServiceSettings
from service.tables import Role
from tests.service.api_support import KEY, batch_profiles, holder, registered  # noqa: F401 — fixtures
from tests.service.test_api_scores import profile_row

COUNTY = "990101"
OTHER_COUNTY = "990102"


def chromium_path() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        message = "no `chromium` on the PATH (Debian package chromium, installed by scripts/os-deps.sh)"
        if os.environ.get("CI"):
            pytest.fail(f"{message}; CI must run the browser tests", pytrace=False)
        pytest.skip(message)
    return path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True)
class Service:
    url: str
    official_key: str
    scientist_key: str
    # scored items of the official's county that the work list can hold (no current monitoring objects), highest
    # probability first
    own_households: list[dict[str, Any]]
    other_household: str  # a scored household of another county


def _score(url: str, key: str, profiles: pd.DataFrame, prefix: str, n: int) -> list[dict[str, Any]]:
    matches = [i for i, code in enumerate(profiles["region_code"].astype(str)) if code.startswith(prefix)][:n]
    items: list[dict[str, Any]] = []
    for as_of in ("2024-07-01", "2025-07-01"):
        rows = [{**profile_row(profiles, i), "as_of": as_of} for i in matches]
        response = httpx.post(
            f"{url}/v1/profiles:score", json={"profiles": rows}, headers={"Authorization": f"Bearer {key}"}, timeout=120
        )
        assert response.status_code == 200, response.text
        items = response.json()["items"]
    return sorted(items, key=lambda item: -item["probability"])


@pytest.fixture(scope="module")
def service(
    holder: ModelHolder,  # noqa: F811
    batch_profiles: pd.DataFrame,  # noqa: F811
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Service]:
    """The real app served by uvicorn on a free port in a background thread, with the session's model."""
    chromium_path()
    folder = tmp_path_factory.mktemp("browser-service")
    settings = ServiceSettings(data_dir=folder, model_poll_s=0)
    upgrade_database(settings.database_url)
    database = open_database(settings.database_url, settings)
    with database.session() as session:
        keys = {
            name: create_key(session, role=role, region_prefix=prefix, label=f"browser {name}").plaintext
            for name, role, prefix in (
                ("monitor", Role.MONITOR, "9901"),
                ("official", Role.OFFICIAL, COUNTY),
                ("scientist", Role.SCIENTIST, COUNTY),
            )
        }
    app = create_app(settings, holder=holder, database=database, pseudonym_key=KEY)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=_free_port(), log_level="warning"))
    thread = threading.Thread(target=server.run, name="report-service", daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not server.started and thread.is_alive() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert server.started, "the service did not start"
        url = f"http://127.0.0.1:{server.config.port}"
        own = [
            i for i in _score(url, keys["monitor"], batch_profiles, COUNTY, 25) if i["monitoring_status"] != "monitored"
        ]
        other = _score(url, keys["monitor"], batch_profiles, OTHER_COUNTY, 1)[0]["household_pseudonym"]
        yield Service(url, keys["official"], keys["scientist"], own, other)
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        database.dispose()


@pytest.fixture(scope="module")
def browser(service: Service) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium_path())
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture(scope="module")
def screenshots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where screenshots go: RELAPSE_SCREENSHOT_DIR (CI keeps it as an artifact) or a temporary folder."""
    configured = os.environ.get("RELAPSE_SCREENSHOT_DIR")
    folder = Path(configured) if configured else tmp_path_factory.mktemp("screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder
