"""`relapse simulate`: write the synthetic city's source tables."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated

import typer

from relapse._progress import console, progress_bar

HOUSEHOLDS, YEARS, SEED = 50_000, "2019-2025", 20_260_101


def _years(text: str) -> tuple[int, int]:
    match = re.fullmatch(r"(\d{4})-(\d{4})", text.strip())
    if not match or int(match[1]) > int(match[2]):
        raise typer.BadParameter(f"expected FIRST-LAST such as 2019-2025, got {text!r}")
    return int(match[1]), int(match[2])


def simulate(
    out: Annotated[Path, typer.Option("--out", help="Folder to write the source tables to.")],
    households: Annotated[int, typer.Option(min=100, help="Number of households.")] = HOUSEHOLDS,
    years: Annotated[
        str, typer.Option(help="Simulated years, FIRST-LAST (the tables hold 2019–2027; 2026 on assumed).")
    ] = YEARS,
    seed: Annotated[int, typer.Option(help="Random seed; the same seed gives the same city.")] = SEED,
    check: Annotated[bool, typer.Option(help="Print the calibration bands of docs/domain.md §9.")] = False,
    extend: Annotated[
        Path | None,
        typer.Option(
            help="A generated city's folder: write the same city one year longer to --out (households, years and "
            "seed from its dataset.json; its earlier years unchanged)."
        ),
    ] = None,
) -> None:
    """Generate a fictional prefecture-level city (region codes 99…) with all source tables."""
    from features.contract.monitoring_lines import MissingYearError
    from features.simulation import CityConfig, simulate_city
    from features.simulation.extend import ExtendError, extend_city

    if extend is not None and (households, years, seed) != (HOUSEHOLDS, YEARS, SEED):
        raise typer.BadParameter(
            "the extended city keeps the households, years and seed of its dataset.json: drop --households, "
            "--years and --seed",
            param_hint="--extend",
        )
    first, last = _years(years)
    try:
        config = CityConfig(households=households, first_year=first, last_year=last)
    except MissingYearError as error:
        raise typer.BadParameter(str(error), param_hint="--years") from None
    with progress_bar("simulating") as report:
        try:
            if extend is not None:
                manifest = extend_city(extend, out, progress=report)
            else:
                manifest = simulate_city(config, seed, out, progress=report)
        except (ExtendError, MissingYearError) as error:
            raise typer.BadParameter(str(error), param_hint="--extend") from None
    households, first, last, seed = (manifest[k] for k in ("households", "first_year", "last_year", "seed"))
    console.print(f"[green]✓[/] {households:,} households, {first}–{last}, seed {seed} → {out}")
    console.print(f"  {manifest['notice']}")
    if check:
        _print_calibration(out)


def _print_calibration(out: Path) -> None:
    from rich.table import Table

    from features.reading.sources import read_sources
    from features.simulation.calibration import compare, measure

    table = Table("quantity", "measured", "band", "inside", title="Calibration (docs/domain.md §9)")
    for row in compare(measure(read_sources(out))).itertuples():
        table.add_row(
            str(row.quantity),
            f"{row.measured:,.4g}",
            f"{row.low:,.4g} – {row.high:,.4g}",
            "✓" if row.inside else "✗",
        )
    console.print(table)


def register(app: typer.Typer) -> None:
    """Add this module's commands to the app."""
    app.command()(simulate)
