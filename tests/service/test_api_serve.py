"""`relapse serve` end to end: a real uvicorn process loads the champion from the registry and answers."""
# ruff: noqa: F811 — the shared fixtures are imported by name, and tests take them as parameters of that name

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.service.api_support import Registered


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.slow
def test_relapse_serve_starts_migrates_and_gets_ready(registered: Registered, tmp_path: Path) -> None:
    port = _free_port()
    env = {
        **os.environ,
        "RELAPSE_DATA_DIR": str(tmp_path),
        "RELAPSE_MLFLOW_URI": registered.tracking_uri,
        **registered.signing_env,
    }
    env.pop("RELAPSE_DATABASE_URL", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "relapse", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 90
        ready = None
        while time.monotonic() < deadline and process.poll() is None:
            try:
                ready = httpx.get(f"http://127.0.0.1:{port}/health/ready", timeout=2)
                break
            except httpx.TransportError:
                time.sleep(0.3)
        assert ready is not None, process.stderr.read().decode() if process.stderr else "no output"
        assert ready.status_code == 200 and ready.json()["ready"] is True
        assert httpx.get(f"http://127.0.0.1:{port}/openapi.json").json()["paths"]["/v1/households:score"]
        assert (tmp_path / "service.db").is_file()
    finally:
        process.terminate()
        process.wait(timeout=30)
