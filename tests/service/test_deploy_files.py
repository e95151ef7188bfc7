"""The production files in deploy/ agree with the service they configure: every setting is in the example
environment file and nothing there is unknown, nginx's body limits are the service's, the ports and the data
folder match, and systemd accepts every unit."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from features.settings import FeaturesSettings
from service.settings import ServiceSettings

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
# Read by uvicorn itself, not by the service's settings.
UVICORN_ENV = {"FORWARDED_ALLOW_IPS"}


def _env_lines(name: str) -> tuple[dict[str, str], set[str]]:
    """The set variables of an example environment file, and the names of the commented-out ones."""
    values, commented = {}, set()
    for line in (DEPLOY / name).read_text().splitlines():
        if match := re.fullmatch(r"([A-Z][A-Z0-9_]*)=(.*)", line):
            values[match[1]] = match[2]
        elif match := re.fullmatch(r"#([A-Z][A-Z0-9_]*)=.*", line):
            commented.add(match[1])
    return values, commented


def _env_name(field: str) -> str:
    return f"RELAPSE_{field.upper()}"


def test_the_example_environment_names_every_service_setting_and_only_known_ones() -> None:
    values, commented = _env_lines("relapse.env.example")
    known = {_env_name(f) for f in [*ServiceSettings.model_fields, *FeaturesSettings.model_fields]}
    named = set(values) | commented
    assert {_env_name(f) for f in ServiceSettings.model_fields} - named == set()
    assert named - known - UVICORN_ENV == set()


def test_the_example_environment_is_a_valid_production_configuration(monkeypatch: pytest.MonkeyPatch) -> None:
    values, _ = _env_lines("relapse.env.example")
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    settings = ServiceSettings(_env_file=None)  # type: ignore[call-arg]
    assert settings.database_url.startswith("postgresql+psycopg://")
    assert settings.mlflow_uri.startswith("http://127.0.0.1:")
    assert settings.reports_cookie_secure is True
    assert settings.alert_hosts and settings.host == "127.0.0.1"
    assert settings.workers == int(values["RELAPSE_WORKERS"])


def _nginx_size(text: str) -> int:
    number, unit = re.fullmatch(r"(\d+)([kmg]?)", text).groups()  # type: ignore[union-attr]
    return int(number) * {"": 1, "k": 2**10, "m": 2**20, "g": 2**30}[unit]


def test_nginx_body_limits_and_upstream_are_the_services() -> None:
    site = (DEPLOY / "nginx-relapse.conf").read_text()
    defaults = ServiceSettings(_env_file=None)  # type: ignore[call-arg]
    sizes = re.findall(r"client_max_body_size (\w+);", site)
    assert [_nginx_size(s) for s in sizes] == [defaults.max_body_bytes, defaults.max_upload_bytes]
    upload_block = site[site.index("location = /v1/jobs") :]
    assert f"client_max_body_size {sizes[1]};" in upload_block
    values, _ = _env_lines("relapse.env.example")
    assert f"server {values['RELAPSE_HOST']}:{values['RELAPSE_PORT']};" in site


def test_the_service_unit_writes_only_to_the_configured_data_folder() -> None:
    unit = (DEPLOY / "relapse.service").read_text()
    values, _ = _env_lines("relapse.env.example")
    assert f"ReadWritePaths={values['RELAPSE_DATA_DIR']}\n" in unit
    assert f"WorkingDirectory={values['RELAPSE_DATA_DIR']}\n" in unit
    for setting in ("UMask=0077", "ProtectSystem=strict", "Restart=on-failure", "EnvironmentFile=/etc/relapse/"):
        assert setting in unit
    assert "relapse serve --workers ${RELAPSE_WORKERS}" in unit


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
def test_systemd_accepts_every_unit(tmp_path: Path) -> None:
    # The units name the release's virtual environment; here it is this interpreter's.
    venv = str(Path(sys.executable).parent.parent)
    names = ("relapse.service", "mlflow.service", "relapse-monitor.service", "relapse-monitor.timer")
    for name in names:
        (tmp_path / name).write_text((DEPLOY / name).read_text().replace("/opt/relapse/.venv", venv))
    result = subprocess.run(
        ["systemd-analyze", "verify", *(str(tmp_path / n) for n in names)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr


def test_the_monitor_unit_runs_the_tested_command_over_the_last_30_days() -> None:
    """The shell line of the unit, once systemd has turned `$$` and `%%` into `$` and `%`, gives the date."""
    unit = (DEPLOY / "relapse-monitor.service").read_text()
    (line,) = [x.removeprefix("ExecStart=") for x in unit.splitlines() if x.startswith("ExecStart=")]
    assert "relapse monitor --from-service --since" in line
    script = line.split("'", 1)[1].rsplit("'", 1)[0].replace("$$", "$").replace("%%", "%")
    shown = subprocess.run(["/bin/sh", "-c", script.replace("exec ", "echo ", 1)], capture_output=True, text=True)
    day = (datetime.now(UTC) - timedelta(days=30)).date().isoformat()
    assert shown.stdout.split() == ["/opt/relapse/.venv/bin/relapse", "monitor", "--from-service", "--since", day]
    assert "EnvironmentFile=/etc/relapse/relapse.env" in unit and "ReadWritePaths=/var/lib/relapse" in unit
