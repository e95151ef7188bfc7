"""Restoring a backup written by `relapse._backup` onto this machine's configured locations.

Everything that can refuse is checked before anything is written: the digests, the schema revision, the
passphrase, what is already in the way (database, registry, key files) and the models' signatures. Only then are
the database, the registry versions and the key files put back, in that order.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from relapse._backup import SEALED_KEYS, BackupError, Locations, Progress, read_verified


@dataclass
class Restored:
    """What a restore put back: the database's schema revision before and after migrating to this release, the
    new number of each model version (equal to the old in an empty registry), the key files written."""

    revision: str | None
    migrated_to: str | None
    versions: dict[str, str]
    keys: list[str]
    notes: list[str] = field(default_factory=list)


def restore_backup(
    folder: Path,
    where: Locations,
    passphrase: bytes | None,
    progress: Progress,
    *,
    without_keys: bool = False,
    force: bool = False,
) -> Restored:
    from mlflow import MlflowClient

    from service.database_backup import backend_of, is_empty, restore_database
    from service.migrate import current_revision, upgrade_database
    from training.registry_archive import register_archived, registered_versions
    from training.settings import get_settings
    from training.tracking import configure

    progress("checking the backup's files", 0, 4)
    manifest = read_verified(folder)
    database = manifest["database"]
    _check_revision(database.get("alembic_revision"), str(manifest.get("relapse_version")))
    if database["backend"] != backend_of(where.database_url):
        raise BackupError(
            f"the backup holds a {database['backend']} database, this installation is configured for "
            f"{backend_of(where.database_url)} (RELAPSE_DATABASE_URL)"
        )
    secrets = _unsealed(folder, manifest, passphrase, without_keys)
    _check_keys_absent(secrets, where, force)
    if not force and not is_empty(where.database_url):
        raise BackupError("the database is not empty; restore into an empty one, or pass --force to replace it")
    client = MlflowClient(tracking_uri=where.tracking_uri, registry_uri=where.tracking_uri)
    existing = registered_versions(client, where.registered_model)
    if existing and not force:
        raise BackupError(
            f"the registry already has {len(existing)} version(s) of {where.registered_model}; restore into an "
            "empty registry, or pass --force to add the backup's versions after them"
        )
    versions = manifest["registry"]["versions"]
    _check_signed(folder, versions, secrets, where)

    progress("database", 1, 4)
    restore_database(where.database_url, folder / database["file"], force=force)
    upgrade_database(where.database_url)  # a backup of an earlier release's schema serves after migrating

    progress("registry", 2, 4)
    experiment_id = configure(get_settings())
    numbers = register_archived(
        client,
        experiment_id,
        where.registered_model,
        [folder / v["folder"] for v in versions],
        force=force,
    )

    progress("keys", 3, 4)
    from features.sealed_secrets import write_secret

    for name, secret in sorted(secrets.items()):
        target = where.key_files[name]
        if not (target.is_file() and target.read_bytes() == secret):
            write_secret(target, secret, replace=force)
    progress("done", 4, 4)
    notes = list(manifest.get("notes", []))
    if without_keys and manifest["keys"].get("included"):
        notes.append("the backup's keys were not restored (--without-keys): configure them before starting")
    return Restored(
        database.get("alembic_revision"), current_revision(where.database_url), numbers, sorted(secrets), notes
    )


def _check_revision(revision: str | None, release: str) -> None:
    """Refuse a database from a release newer than this one: its schema cannot be migrated, only downgraded."""
    from service.migrate import script_revision_known

    if revision is not None and not script_revision_known(revision):
        raise BackupError(
            f"the backup's database is at schema revision {revision}, which this release does not know "
            f"(written by relapse {release}): restore it with that release or a newer one"
        )


def _unsealed(folder: Path, manifest: dict[str, Any], passphrase: bytes | None, without_keys: bool) -> dict[str, bytes]:
    from features.sealed_secrets import unseal

    keys = manifest["keys"]
    if without_keys or not keys.get("included"):
        return {}
    if passphrase is None:
        raise BackupError("the backup holds sealed keys: pass --passphrase-file, or --without-keys to leave them out")
    return unseal((folder / SEALED_KEYS).read_bytes(), passphrase, SEALED_KEYS)


def _check_keys_absent(secrets: dict[str, bytes], where: Locations, force: bool) -> None:
    for name, secret in sorted(secrets.items()):
        target = where.key_files.get(name)
        if target is None:
            raise BackupError(f"the backup holds a key {name} this release has no place for")
        if not force and target.is_file() and target.read_bytes() != secret:
            raise BackupError(f"key file {target} exists with another key; move it away, or pass --force to replace it")


def _check_signed(folder: Path, versions: list[dict[str, Any]], secrets: dict[str, bytes], where: Locations) -> None:
    """Each archived model must pass the check the service makes before loading it, under the key it will use."""
    from models.risk_model import model_folders
    from models.signing import ModelIntegrityError, SigningKey, verify_folder

    if not versions:
        return
    key_text: str | None = None
    if "model-signing.key" in secrets:
        key_text = secrets["model-signing.key"].decode("utf-8")
    elif where.signing_key is not None:
        key_text = where.signing_key.get_secret_value()
    elif where.key_files["model-signing.key"].is_file():
        key_text = where.key_files["model-signing.key"].read_text(encoding="utf-8")
    for entry in versions:
        version = entry["version"]
        folders = model_folders(folder / entry["folder"])
        try:
            if key_text is None:
                raise ModelIntegrityError(
                    "no model-signing key to check it with (the backup has none; set RELAPSE_MODEL_SIGNING_KEY)"
                )
            if not folders:
                raise ModelIntegrityError("the backup holds no model files for it")
            verify_folder(folders[0], SigningKey.from_text(key_text, "the backup"))
        except ModelIntegrityError as error:
            raise BackupError(f"model version {version} in the backup is refused: {error}") from None
