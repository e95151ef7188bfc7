"""`relapse demo`: what the README's run command does — everything from nothing on one machine.

Today: create the local pseudonym key if none is configured, generate the demo city once in the data
directory, validate it and ingest it (pseudonymising ID numbers). Later starts reuse what exists.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from relapse._progress import console, progress_bar

DEMO_SEED = 20_260_101


def demo_sources_dir(data_dir: Path) -> Path:
    return data_dir / "demo" / "sources"


def demo(
    households: Annotated[int, typer.Option(min=100, help="Size of the demo city on first start.")] = 50_000,
    regenerate: Annotated[bool, typer.Option(help="Generate the demo city again even if it exists.")] = False,
) -> None:
    """Set up the demo on this machine: pseudonym key, synthetic city, validation, ingestion."""
    from features.ingestion import load_sources
    from features.pseudonyms import ensure_local_key
    from features.settings import get_settings
    from features.simulation import CityConfig, simulate_city
    from features.sources import MANIFEST
    from features.validation import validate_sources

    settings = get_settings()
    key, created = ensure_local_key(settings)
    if created:
        console.print(
            "[yellow]No RELAPSE_PSEUDONYM_KEY configured: created a local key at "
            f"{settings.pseudonym_key_file} "
            "(readable only by you). Keep it: pseudonyms made with another key will not match.[/]"
        )
    out = demo_sources_dir(settings.data_dir)
    if regenerate or not (out / MANIFEST).is_file():
        with progress_bar("demo city") as report:
            simulate_city(CityConfig(households=households), DEMO_SEED, out, progress=report)
        console.print(f"[green]✓[/] generated the demo city ({households:,} households) in {out}")
    else:
        console.print(f"[green]✓[/] reusing the demo city in {out}")
    report_ = validate_sources(out)
    if not report_.ok:
        console.print(str(report_))
        raise typer.Exit(1)
    sources = load_sources(out, key)
    rows = sum(len(frame) for frame in sources.tables.values())
    console.print(
        f"[green]✓[/] valid: {len(sources.tables)} tables, {rows:,} rows; ID numbers pseudonymised "
        f"with key version {key.version}"
    )
    console.print("SYNTHETIC DATA — a fictional city; no real person or place.")


def register(app: typer.Typer) -> None:
    """Add this module's commands to the app."""
    app.command()(demo)
