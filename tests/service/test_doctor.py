"""`relapse doctor`: a healthy production configuration passes; each problem is one line that names it. The
database checks run on SQLite and PostgreSQL, the registry checks against a real MLflow registry."""
# ruff: noqa: F811 — the shared fixtures are imported by name, and tests take them as parameters of that name

from __future__ import annotations

import os
import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from features.secret_files import create_secret_file
from features.settings import FeaturesSettings
from service.doctor import Report, check_configuration
from service.migrate import upgrade_database
from service.settings import ServiceSettings
from tests.service.api_support import Registered
from tests.service.conftest import BACKENDS, _empty_database

RELAPSE = Path(sys.executable).with_name("relapse")


@dataclass
class Config:
    """A production-like configuration in a temporary folder, changed by each test in one respect."""

    data: Path
    service: dict[str, Any]

    def check(self, **overrides: Any) -> Report:
        service = ServiceSettings(_env_file=None, **{**self.service, **overrides})  # type: ignore[call-arg]
        features = FeaturesSettings(_env_file=None, data_dir=self.data, pseudonym_key=None)  # type: ignore[call-arg]
        return check_configuration(service, features)

    @property
    def secrets(self) -> Path:
        return self.data / "secrets"


def _healthy(registered: Registered, folder: Path, database_url: str) -> Config:
    """As the service leaves things under `UMask=0077`: migrated database, the trainer's key, private files."""
    data = folder / "data"
    data.mkdir(mode=0o700)
    create_secret_file(data / "secrets" / "pseudonym.key")
    signing = data / "secrets" / "model-signing.key"
    signing.write_bytes(registered.signing.secret)
    signing.chmod(0o600)
    upgrade_database(database_url)
    if database_url.startswith("sqlite:///"):
        Path(database_url.removeprefix("sqlite:///")).chmod(0o600)
    (folder / "sources").mkdir()
    service = {
        "data_dir": data,
        "database_url": database_url,
        "mlflow_uri": registered.tracking_uri,
        "model_signing_key": None,
        "reports_cookie_secure": True,
        "host": "127.0.0.1",
        "alert_hosts": ["alerts.county.example"],
        "jobs_allowed_root": folder / "sources",
    }
    return Config(data, service)


@pytest.fixture
def config(registered: Registered, tmp_path: Path) -> Config:
    return _healthy(registered, tmp_path, f"sqlite:///{tmp_path / 'service.db'}")


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _one_problem(report: Report, *fragments: str) -> str:
    assert len(report.problems) == 1, report.problems
    for fragment in fragments:
        assert fragment in report.problems[0], report.problems[0]
    return report.problems[0]


@pytest.mark.slow
@pytest.mark.parametrize("backend", BACKENDS)
def test_the_database_checks_on_each_backend(backend: str, registered: Registered, tmp_path: Path) -> None:
    with _empty_database(backend, tmp_path) as url:
        config = _healthy(registered, tmp_path, url)
        healthy = config.check()
        assert healthy.problems == [], healthy.problems
        assert any(p.startswith("database at ") for p in healthy.passed)
    with _empty_database(backend, tmp_path) as empty:
        if backend == "sqlite":
            Path(empty.removeprefix("sqlite:///")).touch(mode=0o600)
        _one_problem(config.check(database_url=empty), "database:", "is not migrated")
    if backend == "sqlite":
        missing = f"sqlite:///{tmp_path / 'nowhere' / 'service.db'}"
        _one_problem(config.check(database_url=missing), "database:", "does not exist")
        assert not (tmp_path / "nowhere").exists()  # the doctor created nothing
    else:
        unreachable = f"postgresql+psycopg://relapse:not-this-password@127.0.0.1:{_closed_port()}/relapse"
        line = _one_problem(config.check(database_url=unreachable), "database:", "is unreachable")
        assert "not-this-password" not in line


@pytest.mark.slow
def test_a_champion_that_is_missing_or_signed_with_another_key_is_named(config: Config) -> None:
    _one_problem(config.check(model_alias="nobody-promoted-this"), "registry:", "'nobody-promoted-this'")
    (config.secrets / "model-signing.key").write_text("another-key-" + "0" * 40)
    _one_problem(config.check(), "registry:", "refused", "signature does not match")


def test_an_unreachable_registry_is_named(config: Config, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "5")
    uri = f"http://127.0.0.1:{_closed_port()}"
    _one_problem(config.check(mlflow_uri=uri), f"registry: {uri} is unreachable")


@pytest.mark.slow
@pytest.mark.parametrize("name", ["pseudonym.key", "model-signing.key"])
def test_a_key_file_readable_by_others_is_named(config: Config, name: str) -> None:
    (config.secrets / name).chmod(0o644)
    _one_problem(config.check(), f"{config.secrets / name}", "mode 0644", f"chmod 600 {config.secrets / name}")


@pytest.mark.slow
def test_an_open_key_folder_and_missing_keys_are_named(config: Config) -> None:
    config.secrets.chmod(0o755)
    _one_problem(config.check(), f"key folder {config.secrets}", "chmod 700")
    config.secrets.chmod(0o700)

    (config.secrets / "pseudonym.key").unlink()
    _one_problem(config.check(), "pseudonym key:", "orphan")
    create_secret_file(config.secrets / "pseudonym.key")

    (config.secrets / "model-signing.key").unlink()
    report = config.check()
    # The registry check cannot verify the champion without the key either; both say so.
    assert any(p.startswith("model-signing key: no model-signing key") for p in report.problems), report.problems
    assert all("model-signing key" in p for p in report.problems), report.problems


@pytest.mark.slow
@pytest.mark.parametrize(
    ("overrides", "fragment"),
    [
        ({"reports_cookie_secure": False}, "RELAPSE_REPORTS_COOKIE_SECURE is off"),
        ({"host": "0.0.0.0"}, "RELAPSE_HOST=0.0.0.0 listens beyond loopback"),
        ({"alert_hosts": ["https://alerts.county.example/hook"]}, "RELAPSE_ALERT_HOSTS: 'https://"),
        ({"jobs_allowed_root": Path("/nonexistent/sources")}, "RELAPSE_JOBS_ALLOWED_ROOT: /nonexistent/sources"),
    ],
)
def test_inconsistent_settings_are_named(config: Config, overrides: dict[str, Any], fragment: str) -> None:
    _one_problem(config.check(**overrides), fragment)


@pytest.mark.slow
def test_the_command_prints_one_line_per_problem_and_exits_1(config: Config, tmp_path: Path) -> None:
    env_file = tmp_path / "relapse.env"
    values = {**config.service, "alert_hosts": '["alerts.county.example"]', "model_signing_key": None}
    env_file.write_text(
        "".join(f"RELAPSE_{name.upper()}={value}\n" for name, value in values.items() if value is not None)
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("RELAPSE_")}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        command = [str(RELAPSE), "doctor", "--env-file", str(env_file), *args]
        return subprocess.run(command, capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300, check=False)

    healthy = run()
    assert healthy.returncode == 0, healthy.stdout + healthy.stderr
    assert healthy.stdout.startswith("ok: database at ") and "champion version" in healthy.stdout

    (config.secrets / "pseudonym.key").chmod(0o640)
    sick = run("--no-tls")
    env_file.write_text(
        env_file.read_text()
        .replace("RELAPSE_REPORTS_COOKIE_SECURE=True\n", "")
        .replace("RELAPSE_HOST=127.0.0.1", "RELAPSE_HOST=0.0.0.0")
    )
    sicker = run()
    assert sick.returncode == 1 and sicker.returncode == 1, sick.stdout + sick.stderr
    assert sick.stdout.splitlines() == [
        f"✗ key file {config.secrets / 'pseudonym.key'} is open to other users "
        f"(mode 0640): chmod 600 {config.secrets / 'pseudonym.key'} and check who has "
        "read it"
    ]
    assert len(sicker.stdout.splitlines()) == 3, sicker.stdout
    assert "COOKIE_SECURE" in sicker.stdout and "RELAPSE_HOST=0.0.0.0" in sicker.stdout
    assert "Downloading" not in sicker.stderr
