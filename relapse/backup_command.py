"""`relapse backup --out DIR` and `relapse restore DIR`: the service database, the registry's serving versions
and the key files, copied out consistently and brought back on an empty machine (docs/backups.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from relapse._progress import console, progress_bar

_PASSPHRASE_HELP = "File whose first line is the passphrase the keys are sealed with (at least 12 characters)."


def register(app: typer.Typer) -> None:
    """Add this module's commands to the app."""
    app.command("backup")(backup)
    app.command("restore")(restore)


def backup(
    out: Annotated[Path, typer.Option("--out", help="New (or empty) folder to write the backup into.")],
    passphrase_file: Annotated[
        Path | None, typer.Option("--passphrase-file", exists=True, dir_okay=False, help=_PASSPHRASE_HELP)
    ] = None,
    without_keys: Annotated[
        bool, typer.Option("--without-keys", help="Leave the pseudonym and model-signing keys out of the backup.")
    ] = False,
) -> None:
    """Back up the service database, the champion and challenger models and the key files (sealed)."""
    from features.sealed_secrets import read_passphrase
    from relapse._backup import NO_KEYS_NOTE, current_locations, write_backup

    if (passphrase_file is None) == (not without_keys):
        raise typer.BadParameter("pass --passphrase-file to seal the keys, or --without-keys to leave them out")
    passphrase = read_passphrase(passphrase_file) if passphrase_file is not None else None
    with progress_bar(f"backing up into {out}") as report:
        manifest = write_backup(out, current_locations(), passphrase, report)
    database = manifest["database"]
    versions = ", ".join(f"{v['version']} ({'/'.join(v['aliases'])})" for v in manifest["registry"]["versions"])
    console.print(
        f"[green]✓[/] backup in {escape(str(out))}: {database['backend']} database at schema revision "
        f"{database['alembic_revision']}, model versions "
        f"{versions or 'none'}, "
        f"keys {', '.join(manifest['keys'].get('names', [])) or 'none'}"
    )
    for note in manifest["notes"]:
        style = "bold red" if note == NO_KEYS_NOTE else "yellow"
        console.print(f"[{style}]! {escape(note)}[/]")


def restore(
    folder: Annotated[Path, typer.Argument(exists=True, file_okay=False, help="A folder written by `relapse backup`.")],
    passphrase_file: Annotated[
        Path | None, typer.Option("--passphrase-file", exists=True, dir_okay=False, help=_PASSPHRASE_HELP)
    ] = None,
    without_keys: Annotated[
        bool, typer.Option("--without-keys", help="Do not restore the backup's keys (configure them yourself).")
    ] = False,
    force: Annotated[
        bool, typer.Option("--force", help="Replace a database and key files that are already there.")
    ] = False,
) -> None:
    """Restore a backup onto this machine's configured database, registry and key files, which must be empty."""
    from features.sealed_secrets import read_passphrase
    from relapse._backup import current_locations
    from relapse._restore import restore_backup

    passphrase = read_passphrase(passphrase_file) if passphrase_file is not None else None
    with progress_bar(f"restoring {folder}") as report:
        restored = restore_backup(
            folder, current_locations(), passphrase, report, without_keys=without_keys, force=force
        )
    migrated = "" if restored.revision == restored.migrated_to else f", migrated to {restored.migrated_to}"
    renumbered = {old: new for old, new in restored.versions.items() if old != new}
    console.print(
        f"[green]✓[/] restored: database at schema revision {restored.revision}{migrated}, model versions "
        f"{', '.join(restored.versions) or 'none'}, keys {', '.join(restored.keys) or 'none'}"
    )
    if renumbered:
        pairs = ", ".join(f"{old} → {new}" for old, new in renumbered.items())
        console.print(f"[yellow]! the registry gave the model versions new numbers: {pairs}[/]")
    for note in restored.notes:
        console.print(f"[yellow]! {escape(note)}[/]")
