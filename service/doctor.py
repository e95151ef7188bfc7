"""Checks of a production configuration before the service starts (`relapse doctor`): one sentence per problem.

The checks only look: nothing is created, migrated or written, so a doctor run as the service's user on a live
machine changes nothing. Each problem names the setting or file and what to do; none repeats a secret or a
database password.
"""

from __future__ import annotations

import stat
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from sqlalchemy import make_url
from sqlalchemy.exc import SQLAlchemyError

from features.errors import PseudonymKeyError
from features.pseudonyms.keys import load_key
from features.settings import FeaturesSettings
from models.signing import ModelIntegrityError, SigningKey, signing_key
from service.db import is_sqlite, sqlite_file
from service.migrate import current_revision, head_revision
from service.model_holder import ModelLoadError, RegistrySource, load_checked
from service.settings import ServiceSettings

LOOPBACK: Final = {"127.0.0.1", "::1", "localhost"}
# Seconds to wait for the database server to accept a connection before calling it unreachable.
CONNECT_TIMEOUT_S: Final = 5


@dataclass
class Report:
    """What the checks found: problems, one sentence each, and what checked out (for the summary line)."""

    problems: list[str] = field(default_factory=list)
    passed: list[str] = field(default_factory=list)


def check_configuration(service: ServiceSettings, features: FeaturesSettings, *, behind_tls: bool = True) -> Report:
    """Run every check; `behind_tls`: the service is reached through a TLS proxy (deploy/nginx-relapse.conf)."""
    report = Report()
    checks: list[Callable[[Report], None]] = [
        lambda r: _check_database(service, r),
        lambda r: _check_key_files(service, features, r),
        lambda r: _check_registry(service, r),
        lambda r: _check_settings(service, behind_tls, r),
    ]
    for check in checks:
        check(report)
    return report


def _check_database(settings: ServiceSettings, report: Report) -> None:
    url = settings.database_url
    shown = make_url(url).render_as_string(hide_password=True)
    file = sqlite_file(url) if is_sqlite(url) else None
    if file is not None and not file.is_file():
        report.problems.append(f"database: {file} does not exist (`relapse serve` creates and migrates it)")
        return
    try:
        revision = current_revision(_with_connect_timeout(url))
    except SQLAlchemyError as error:
        reason = str(getattr(error, "orig", None) or error).strip().splitlines()[0]
        report.problems.append(f"database: {shown} is unreachable ({reason})")
        return
    head = head_revision()
    if revision is None:
        report.problems.append(f"database: {shown} is not migrated (no tables; `relapse serve` migrates it on start)")
    elif revision != head:
        report.problems.append(
            f"database: {shown} is at revision {revision}, this release's head is {head} "
            "(back it up, then `relapse serve` migrates it on start)"
        )
    else:
        report.passed.append(f"database at {head}")
    if file is not None:
        _check_private(file, 0o600, "database file (API key hashes, audit log)", report)


def _with_connect_timeout(url: str) -> str:
    parsed = make_url(url)
    if parsed.get_backend_name() != "postgresql" or "connect_timeout" in parsed.query:
        return url
    return parsed.update_query_dict({"connect_timeout": str(CONNECT_TIMEOUT_S)}).render_as_string(hide_password=False)


def _check_key_files(service: ServiceSettings, features: FeaturesSettings, report: Report) -> None:
    before = len(report.problems)
    secrets = service.data_dir / "secrets"
    if secrets.is_dir():
        _check_private(secrets, 0o700, "key folder", report)
    try:
        load_key(features)
    except PseudonymKeyError as error:
        report.problems.append(
            f"pseudonym key: {error}; a new key would orphan every pseudonym made with the old one "
            "(restore it from the backup, or create it deliberately with `relapse ingest` on a new installation)"
        )
    try:
        signing_key(service.data_dir, service.model_signing_key)
    except ModelIntegrityError as error:
        report.problems.append(f"model-signing key: {error}")
    for name in ("pseudonym.key", "model-signing.key", "reports.key"):
        if (secrets / name).is_file():
            _check_private(secrets / name, 0o600, "key file", report)
    if len(report.problems) == before:
        report.passed.append("key files private")


def _check_private(path: Path, mode: int, what: str, report: Report) -> None:
    actual = stat.S_IMODE(path.stat().st_mode)
    if actual & 0o077:
        report.problems.append(
            f"{what} {path} is open to other users (mode {actual:04o}): chmod {mode:o} {path}"
            + (" and check who has read it" if what == "key file" else "")
        )


def _check_registry(settings: ServiceSettings, report: Report) -> None:
    uri = settings.mlflow_uri
    if uri.startswith("sqlite:///") and not Path(uri.removeprefix("sqlite:///")).is_file():
        report.problems.append(f"registry: {uri} does not exist (set RELAPSE_MLFLOW_URI to the tracking server)")
        return
    source = RegistrySource(uri, settings.model_name, settings.model_alias)
    try:
        version = source.resolve()
    except Exception as error:  # noqa: BLE001 — a network or store error of any kind, or no such alias
        if _reachable(uri):
            report.problems.append(
                f"registry: {settings.model_name} has no version with alias {settings.model_alias!r} "
                "(promote one with `relapse promote`; the service would serve its cached copy or nothing)"
            )
        else:
            report.problems.append(f"registry: {uri} is unreachable ({_first_line(error)})")
        return
    try:
        key: SigningKey | None = signing_key(settings.data_dir, settings.model_signing_key)
    except ModelIntegrityError:
        key = None  # named by the key-file check
    with tempfile.TemporaryDirectory(prefix="relapse-doctor-") as tmp:
        try:
            folder, _ = source.download(version, Path(tmp))
            load_checked(version, folder, key)
        except ModelLoadError as error:
            report.problems.append(f"registry: {settings.model_name}@{settings.model_alias} {error}")
            return
        except Exception as error:  # noqa: BLE001
            report.problems.append(f"registry: version {version} cannot be downloaded ({_first_line(error)})")
            return
    report.passed.append(f"champion version {version} verified")


def _reachable(uri: str) -> bool:
    """Whether the registry answers at all: told apart from "no such alias", which MLflow's stores report with
    different error codes."""
    from mlflow import MlflowClient

    try:
        MlflowClient(tracking_uri=uri, registry_uri=uri).search_registered_models(max_results=1)
    except Exception:  # noqa: BLE001
        return False
    return True


def _check_settings(settings: ServiceSettings, behind_tls: bool, report: Report) -> None:
    before = len(report.problems)
    if behind_tls and not settings.reports_cookie_secure:
        report.problems.append(
            "RELAPSE_REPORTS_COOKIE_SECURE is off while the service is served over HTTPS: set it to true, "
            "so that browsers never send the report session over plain HTTP"
        )
    if behind_tls and settings.host not in LOOPBACK:
        report.problems.append(
            f"RELAPSE_HOST={settings.host} listens beyond loopback: clients could reach the service in plain HTTP "
            "past the TLS proxy (use 127.0.0.1)"
        )
    for host in settings.alert_hosts:
        if not host or any(c in host for c in "/:@ ") or host != host.lower():
            report.problems.append(
                f"RELAPSE_ALERT_HOSTS: {host!r} is not a host name (give names like alerts.county.example, "
                "without scheme, port or path)"
            )
    root = settings.jobs_allowed_root
    if root is not None and not root.is_dir():
        report.problems.append(f"RELAPSE_JOBS_ALLOWED_ROOT: {root} is not a folder")
    if len(report.problems) == before:
        report.passed.append("settings consistent")


def _first_line(error: BaseException) -> str:
    lines = str(error).strip().splitlines()
    return lines[0][:200] if lines else type(error).__name__
