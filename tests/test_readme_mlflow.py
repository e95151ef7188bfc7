"""The README's plain-MLflow serving commands, read from README.md and run as written on a registered champion.

The test builds the folder layout the README assumes (`.venv/` and `data/mlflow/` under the working directory)
from symlinks to the test's venv and registry, runs the block with bash from a PATH without the venv and without
MLFLOW_TRACKING_URI, and only swaps the port for a free one so parallel runs do not collide.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from mlflow import MlflowClient

from tests.service.api_support import Registered, registered  # noqa: F401 — fixture
from training.pipeline import load_registered
from training.tracking import configure

ROOT = Path(__file__).resolve().parents[1]
VENV = Path(sys.executable).parent.parent
README_PORT = "--port 5001"


def serve_block() -> str:
    """The ```bash block of the "Command line" section that starts the MLflow model server."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    body = text.split("\n## Command line\n", 1)[1].split("\n## ", 1)[0]
    blocks = [b for b in re.findall(r"```bash\n(.*?)```", body, re.DOTALL) if "mlflow models serve" in b]
    assert len(blocks) == 1, blocks
    return blocks[0]


def test_the_block_sets_the_store_and_the_venv_itself() -> None:
    block = serve_block()
    assert "export MLFLOW_TRACKING_URI=sqlite:///$PWD/data/mlflow/mlflow.db" in block
    assert "PATH=$PWD/.venv/bin:$PATH mlflow models serve" in block
    assert block.count(README_PORT) == 1


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_for_ping(port: int, server: subprocess.Popen[bytes], timeout_s: float = 180) -> None:
    deadline = time.time() + timeout_s
    while True:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/ping", timeout=2)
            return
        except OSError:
            if server.poll() is not None:
                raise AssertionError(f"the server exited with {server.returncode}") from None
            if time.time() > deadline:
                raise
            time.sleep(1)


@pytest.mark.slow
@pytest.mark.integration
def test_the_readme_serve_commands_answer_invocations(registered: Registered, tmp_path: Path) -> None:  # noqa: F811
    (tmp_path / ".venv").symlink_to(VENV, target_is_directory=True)
    (tmp_path / "data").symlink_to(registered.store, target_is_directory=True)
    port = _free_port()
    script = serve_block().replace(README_PORT, f"--port {port}")
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    env["PATH"] = os.pathsep.join(p for p in env["PATH"].split(os.pathsep) if Path(p) != VENV / "bin")
    # A session of its own: the server's workers are stopped with it, as one process group.
    server = subprocess.Popen(
        ["bash", "-c", script],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        _wait_for_ping(port, server)
        configure(registered.settings)  # `models:/` downloads go through the process-wide registry URI
        client = MlflowClient(tracking_uri=registered.tracking_uri, registry_uri=registered.tracking_uri)
        champion = client.get_model_version_by_alias(registered.settings.registered_model, "champion")
        model = load_registered(client, registered.settings, champion.version)
        row = registered.data.snapshots.tail(1)[model.feature_names]
        body = json.dumps({"dataframe_split": json.loads(row.to_json(orient="split", index=False))})
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/invocations", data=body.encode(), headers={"Content-Type": "application/json"}
        )
        answer = json.loads(urllib.request.urlopen(request, timeout=30).read())
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
    predicted = np.asarray(answer["predictions"], dtype=float)
    assert predicted.shape == (1,) and 0.0 < predicted[0] < 1.0
    np.testing.assert_allclose(predicted, model.predict_proba(row), atol=1e-9)
