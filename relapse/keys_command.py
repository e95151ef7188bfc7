"""`relapse keys create|list|revoke`: API keys of the scoring service (stored hashed, shown once)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

console = Console()  # stdout: the new key, so that scripts can capture it
errors = Console(stderr=True)

keys_app = typer.Typer(help="Create, list and revoke API keys of the scoring service.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    """Add this module's commands to the app."""
    app.add_typer(keys_app, name="keys")


def _database_url() -> str:
    from service.migrate import upgrade_database
    from service.settings import get_settings

    url = get_settings().database_url
    upgrade_database(url)  # a fresh machine has no tables yet; cheap when they exist
    return url


@keys_app.command("create")
def create(
    role: Annotated[str, typer.Option(help="monitor (score, read) | official (read, reports) | scientist | admin.")],
    region: Annotated[
        str, typer.Option(help='Administrative-code prefix the key may see, e.g. 990101 (county); "" = all (admin).')
    ],
    label: Annotated[str, typer.Option(help="Who or what holds the key (no personal data).")] = "",
) -> None:
    """Create a key and print it once; only its hash is stored."""
    from service.db import open_database
    from service.errors import InvalidFieldError
    from service.keys import create_key

    database = open_database(_database_url())
    try:
        with database.session() as session:
            created = create_key(session, role=role, region_prefix=region, label=label)
    except InvalidFieldError as error:
        errors.print(f"[red]✗[/] {escape(str(error))}")
        raise typer.Exit(2) from error
    finally:
        database.dispose()
    info = created.info
    errors.print(
        f"[green]✓[/] key {info.id} ({info.role}, region {info.region_prefix or 'all'}) — "
        "copy it now, it is not shown again:"
    )
    console.print(created.plaintext, highlight=False, soft_wrap=True)


@keys_app.command("list")
def list_(
    active: Annotated[bool, typer.Option("--active", help="Hide revoked keys.")] = False,
) -> None:
    """List keys (never their secrets)."""
    from service.db import open_database
    from service.keys import list_keys

    database = open_database(_database_url())
    try:
        with database.session() as session:
            keys = list_keys(session, include_revoked=not active)
    finally:
        database.dispose()
    table = Table(title=f"{len(keys)} API keys")
    for column in ("id", "prefix", "role", "region", "label", "created (UTC)", "revoked (UTC)"):
        table.add_column(column, no_wrap=column in ("id", "prefix", "role", "region"))
    for key in keys:
        table.add_row(
            str(key.id),
            key.key_prefix,
            key.role.value,
            key.region_prefix or "all",
            escape(key.label),
            f"{key.created_at:%Y-%m-%d %H:%M}",
            f"{key.revoked_at:%Y-%m-%d %H:%M}" if key.revoked_at else "",
        )
    console.print(table)


@keys_app.command("revoke")
def revoke(key_id: Annotated[int, typer.Argument(help="The key's id (see `relapse keys list`).")]) -> None:
    """Revoke a key: requests with it are refused from now on."""
    from service.db import open_database
    from service.errors import KeyNotFoundError
    from service.keys import revoke_key

    database = open_database(_database_url())
    try:
        with database.session() as session:
            info = revoke_key(session, key_id)
    except KeyNotFoundError as error:
        errors.print(f"[red]✗[/] {escape(str(error))}")
        raise typer.Exit(1) from error
    finally:
        database.dispose()
    errors.print(f"[green]✓[/] key {info.id} ({info.key_prefix}) revoked at {info.revoked_at:%Y-%m-%d %H:%M} UTC")
