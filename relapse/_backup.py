"""Backups of one installation: the service database, the registry's serving versions and the secret key files,
in one folder with a manifest; and restoring such a folder on an empty machine.

The folder:

    manifest.json              what, when, which release and schema revision, the SHA-256 of every other file
    database/service.sqlite    (or service.pgdump) a consistent copy of the service database
    registry/v<N>/             each version with the champion or challenger alias (training.registry_archive)
    keys/keys.sealed           the key files, encrypted under a passphrase (features.sealed_secrets)

Restoring checks every digest before it changes anything, then refuses to overwrite a database, a registry or
a key file that is already there unless forced, and refuses a model whose signed manifest does not check out
under the restored (or configured) model-signing key, naming the version.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any, Final

from pydantic import SecretStr

FORMAT: Final = "relapse-backup"
FORMAT_VERSION: Final = 1
MANIFEST: Final = "manifest.json"
SEALED_KEYS: Final = "keys/keys.sealed"
NO_KEYS_NOTE: Final = (
    "the pseudonym and model-signing keys are NOT in this backup: without the pseudonym key, every stored "
    "pseudonym is orphaned and new ID numbers get other pseudonyms; keep the key files safe separately"
)

Progress = Callable[[str, int, int], None]


class BackupError(Exception):
    """A backup that cannot be written or restored; the message names the file or the thing in the way."""


@dataclass(frozen=True)
class Locations:
    """Where this installation keeps what a backup holds (from the settings of the packages)."""

    database_url: str
    tracking_uri: str
    registered_model: str
    key_files: dict[str, Path]  # name in the backup → file on this machine
    configured_keys: dict[str, str] = field(default_factory=dict)  # name → environment variable that holds it
    signing_key: SecretStr | None = None  # RELAPSE_MODEL_SIGNING_KEY, when set


def current_locations() -> Locations:
    from features.settings import get_settings as features_settings
    from models.signing import key_file
    from service.settings import get_settings as service_settings
    from training.settings import get_settings as training_settings

    features, training, service = features_settings(), training_settings(), service_settings()
    configured = {}
    if features.pseudonym_key is not None:
        configured["pseudonym.key"] = "RELAPSE_PSEUDONYM_KEY"
    if training.model_signing_key is not None:
        configured["model-signing.key"] = "RELAPSE_MODEL_SIGNING_KEY"
    if service.reports_secret:
        configured["reports.key"] = "RELAPSE_REPORTS_SECRET"
    return Locations(
        database_url=service.database_url,
        tracking_uri=training.tracking_uri,
        registered_model=training.registered_model,
        key_files={
            "pseudonym.key": features.pseudonym_key_file,
            "model-signing.key": key_file(training.data_dir),
            "reports.key": service.data_dir / "secrets" / "reports.key",
        },
        configured_keys=configured,
        signing_key=training.model_signing_key,
    )


def write_backup(out: Path, where: Locations, passphrase: bytes | None, progress: Progress) -> dict[str, Any]:
    """Write a backup of `where` into the empty or new folder `out`; returns its manifest. Keys are sealed
    under `passphrase`, or left out when it is None."""
    from mlflow import MlflowClient

    from features.sealed_secrets import seal
    from service.database_backup import backend_of, snapshot_database
    from service.migrate import current_revision
    from training.registry_archive import archive_serving_versions

    if out.exists() and any(out.iterdir()):
        raise BackupError(f"{out} is not empty; back up into a new folder")
    out.mkdir(parents=True, exist_ok=True)
    notes: list[str] = []

    progress("database", 0, 3)
    revision = current_revision(where.database_url)
    snapshot = snapshot_database(where.database_url, out / "database")

    progress("registry", 1, 3)
    versions = []
    if _registry_exists(where.tracking_uri):
        client = MlflowClient(tracking_uri=where.tracking_uri, registry_uri=where.tracking_uri)
        versions = archive_serving_versions(client, where.registered_model, out / "registry")
    if not versions:
        notes.append(f"the registry has no champion or challenger of {where.registered_model}")

    progress("keys", 2, 3)
    keys: dict[str, Any] = {"included": passphrase is not None}
    if passphrase is None:
        keys["note"] = NO_KEYS_NOTE
        notes.append(NO_KEYS_NOTE)
    else:
        present = {name: path.read_bytes() for name, path in where.key_files.items() if path.is_file()}
        (out / SEALED_KEYS).parent.mkdir(parents=True, exist_ok=True)
        (out / SEALED_KEYS).write_bytes(seal(present, passphrase))
        keys |= {"file": SEALED_KEYS, "names": sorted(present)}
        missing = sorted(set(where.key_files) - set(present) - set(where.configured_keys))
        if missing:
            notes.append(f"no key file for {', '.join(missing)} on the machine backed up: not in this backup")
    for name, variable in sorted(where.configured_keys.items()):
        notes.append(f"{name} is configured by {variable}, not a file: it is not in this backup, keep it yourself")

    manifest = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "relapse_version": _release(),
        "database": {
            "backend": backend_of(where.database_url),
            "file": snapshot.relative_to(out).as_posix(),
            "alembic_revision": revision,
        },
        "registry": {
            "name": where.registered_model,
            "versions": [
                {"version": v.version, "aliases": v.aliases, "folder": v.folder.relative_to(out).as_posix()}
                for v in versions
            ],
        },
        "keys": keys,
        "notes": notes,
        "files": _digests(out),
    }
    (out / MANIFEST).write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    progress("done", 3, 3)
    return manifest


def _registry_exists(tracking_uri: str) -> bool:
    """False for an embedded SQLite store that was never created: opening one would create it, empty."""
    prefix = "sqlite:///"
    return not tracking_uri.startswith(prefix) or Path(tracking_uri.removeprefix(prefix)).is_file()


def read_verified(folder: Path) -> dict[str, Any]:
    """The manifest of the backup in `folder`, after every file it lists was found with its digest."""
    path = folder / MANIFEST
    if not path.is_file():
        raise BackupError(f"{folder} holds no {MANIFEST}: not a relapse backup")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
        files = dict(manifest["files"])
    except (ValueError, KeyError, TypeError) as error:
        raise BackupError(f"{path} cannot be read ({type(error).__name__})") from None
    if manifest.get("format") != FORMAT or manifest.get("format_version") != FORMAT_VERSION:
        raise BackupError(f"{path} is not a {FORMAT} manifest of version {FORMAT_VERSION}")
    for name, expected in sorted(files.items()):
        file = folder / name
        if not file.is_file():
            raise BackupError(f"backup file {name} is missing")
        if _sha256(file) != expected:
            raise BackupError(f"backup file {name} is corrupted (its SHA-256 differs from the manifest)")
    return dict(manifest)


def _digests(folder: Path) -> dict[str, str]:
    return {
        path.relative_to(folder).as_posix(): _sha256(path)
        for path in sorted(folder.rglob("*"))
        if path.is_file() and path != folder / MANIFEST
    }


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _release() -> str:
    try:
        return metadata.version("relapse-risk")
    except metadata.PackageNotFoundError:
        return "unknown"
