"""The production layout of docs/operations.md without nginx (tests/service/test_nginx_tls.py adds it): the MLflow
tracking server started with deploy/mlflow.service's own command line, a model trained into it over HTTP and
promoted, `relapse doctor` passing on the service database and that registry, and `relapse serve` getting ready
on them. The database is SQLite and PostgreSQL; the MLflow backend store the same backend."""
# ruff: noqa: F811 — the shared fixtures are imported by name, and tests take them as parameters of that name

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from mlflow import MlflowClient
from pydantic import SecretStr

from features.secret_files import create_secret_file
from features.settings import FeaturesSettings
from service.doctor import check_configuration
from service.migrate import upgrade_database
from service.settings import ServiceSettings
from tests.service.api_support import FAST, Registered
from tests.service.conftest import BACKENDS, _empty_database
from tests.service.test_api_jobs import _free_port
from training.pipeline import train_and_register
from training.registry import promote
from training.settings import TrainingSettings

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


def mlflow_command(unit: str, *, venv: Path, state: Path, port: int) -> list[str]:
    """ExecStart of the MLflow unit with this machine's virtual environment, state folder and port."""
    line = next(line for line in unit.splitlines() if line.startswith("ExecStart="))
    for old, new in (
        ("/opt/relapse/.venv", str(venv)),
        ("/var/lib/mlflow", str(state)),
        ("--port 5000", f"--port {port}"),
    ):
        assert old in line, f"mlflow.service: ExecStart has no {old!r}"
        line = line.replace(old, new)
    return shlex.split(line.removeprefix("ExecStart="))


@pytest.fixture
def tracking_server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """An MLflow server as the unit starts it, on an empty backend store; yields its URL and the backend."""
    backend = request.param
    state = tmp_path / "mlflow"
    state.mkdir()
    port = _free_port()
    with _empty_database(backend, tmp_path) as store:
        command = mlflow_command(
            (DEPLOY / "mlflow.service").read_text(), venv=Path(sys.executable).parent.parent, state=state, port=port
        )
        env = {
            **os.environ,
            "MLFLOW_BACKEND_STORE_URI": store if backend == "postgresql" else f"sqlite:///{state}/mlflow.db",
        }
        server = subprocess.Popen(command, env=env, cwd=state, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        url = f"http://127.0.0.1:{port}"
        try:
            _wait(server, f"{url}/health")
            yield url, backend
        finally:
            server.terminate()
            server.wait(timeout=60)


def _wait(process: subprocess.Popen[bytes], url: str, timeout_s: float = 180) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    stderr = process.stderr.read().decode()[-2000:] if process.poll() is not None and process.stderr else ""
    raise AssertionError(f"{url} did not answer: {stderr}")


@pytest.mark.slow
@pytest.mark.integration
@pytest.mark.parametrize("tracking_server", BACKENDS, indirect=True)
def test_doctor_passes_and_the_service_gets_ready_on_the_mlflow_server_and_the_database(
    tracking_server: tuple[str, str], registered: Registered, tmp_path: Path
) -> None:
    url, backend = tracking_server
    signing = SecretStr(registered.signing.secret.decode())
    trainer = TrainingSettings(data_dir=tmp_path / "trainer", mlflow_uri=url, model_signing_key=signing)
    outcome = train_and_register(registered.data, trainer, FAST, backtest=False)
    assert outcome.version is not None
    promote(MlflowClient(tracking_uri=url), trainer, outcome.version, force=True, reason="production stack test")

    data = tmp_path / "service"
    data.mkdir(mode=0o700)
    create_secret_file(data / "secrets" / "pseudonym.key")
    with _empty_database(backend, tmp_path) as database_url:
        upgrade_database(database_url)
        if backend == "sqlite":
            Path(database_url.removeprefix("sqlite:///")).chmod(0o600)
        settings = ServiceSettings(  # type: ignore[call-arg]
            _env_file=None,
            data_dir=data,
            database_url=database_url,
            mlflow_uri=url,
            model_signing_key=signing,
            reports_cookie_secure=True,
            alert_hosts=[],
        )
        report = check_configuration(settings, FeaturesSettings(_env_file=None, data_dir=data, pseudonym_key=None))  # type: ignore[call-arg]
        assert report.problems == [], report.problems
        assert f"champion version {outcome.version} verified" in report.passed

        port = _free_port()
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("RELAPSE_")},
            "RELAPSE_DATA_DIR": str(data),
            "RELAPSE_DATABASE_URL": database_url,
            "RELAPSE_MLFLOW_URI": url,
            "RELAPSE_MODEL_SIGNING_KEY": signing.get_secret_value(),
            "RELAPSE_MODEL_POLL_S": "0",
        }
        service = subprocess.Popen(
            [sys.executable, "-m", "relapse", "serve", "--port", str(port), "--workers", "2"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        try:
            _wait(service, f"http://127.0.0.1:{port}/health/ready")
            ready = httpx.get(f"http://127.0.0.1:{port}/health/ready").json()
            assert ready["model_version"] == outcome.version and ready["degraded"] is None
        finally:
            service.terminate()
            service.wait(timeout=60)
