"""`relapse validate`, `relapse ingest` and `relapse docs` (source-data contract)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

if TYPE_CHECKING:
    from features.validation.report import ValidationReport

console = Console()
errors = Console(stderr=True)

# How many example violations the terminal shows; the counts always cover all of them.
SHOWN_VIOLATIONS = 30


def register(app: typer.Typer) -> None:
    """Add this module's commands to the app."""
    app.command("validate")(validate)
    app.command("ingest")(ingest)
    app.command("docs")(docs)


def validate(
    path: Annotated[Path, typer.Argument(help="Source folder: one <table>.parquet or <table>.csv per table.")],
    max_per_kind: Annotated[
        int,
        typer.Option(min=1, help="Examples kept per (table, column, reason); counts are always complete."),
    ] = 1_000,
) -> None:
    """Check a source folder against the data contract and list every violation."""
    from features.errors import SourceFolderError
    from features.validation.report import validate_sources

    try:
        report = validate_sources(path, max_per_kind=max_per_kind)
    except SourceFolderError as error:
        errors.print(f"[red]✗ {escape(str(error))}[/red]")
        raise typer.Exit(2) from error
    _print_report(report)
    if not report.ok:
        raise typer.Exit(1)


def ingest(
    src: Annotated[Path, typer.Argument(help="Source folder with raw tables (may hold ID numbers and names).")],
    out: Annotated[Path, typer.Option("--out", help="Folder to write the pseudonymised tables to.")],
    fmt: Annotated[str, typer.Option("--format", help="parquet or csv")] = "parquet",
) -> None:
    """Validate, pseudonymise ID numbers, drop names and write the tables to --out."""
    from features.errors import FeaturesError, SourceDataError
    from features.pseudonyms.ingestion import ingest as ingest_sources
    from features.pseudonyms.keys import ensure_local_key
    from features.reading.sources import read_sources, write_sources
    from features.validation.report import validate_sources

    if fmt not in ("parquet", "csv"):
        raise typer.BadParameter("use parquet or csv", param_hint="--format")
    try:
        sources = read_sources(src)
        report = validate_sources(sources)
        if not report.ok:
            _print_report(report)
            errors.print("[red]✗ nothing was ingested[/red]")
            raise typer.Exit(1)
        key, created = ensure_local_key()
        if created:
            console.print(
                f"[yellow]Created a new pseudonym key at {key.origin} (mode 0600); keep it secret and "
                "back it up — pseudonyms made with another key will not match.[/yellow]"
            )
        ingested = ingest_sources(sources, key)
    except SourceDataError as error:
        for violation in error.violations:
            errors.print(f"[red]✗[/red] {escape(violation.describe())}")
        raise typer.Exit(1) from error
    except FeaturesError as error:
        errors.print(f"[red]✗ {escape(str(error))}[/red]")
        raise typer.Exit(2) from error
    write_sources(ingested, out, "csv" if fmt == "csv" else "parquet")
    rows = sum(len(f) for f in ingested.tables.values())
    console.print(
        f"[green]✓[/green] ingested {len(ingested.tables)} tables, {rows} rows into {out} (pseudonym key {key.version})"
    )


def docs(
    path: Annotated[Path | None, typer.Option(help="Where to write the contract doc.")] = None,
) -> None:
    """Regenerate docs/data-contract.md from the contract."""
    from features.contract_doc import DOC_PATH, write_contract_doc

    written = write_contract_doc(path or DOC_PATH)
    console.print(f"[green]✓[/green] wrote {written}")


def _print_report(report: ValidationReport) -> None:
    for warning in report.warnings:
        console.print(f"[yellow]! {escape(warning)}[/yellow]")
    if report.ok:
        rows = sum(report.rows.values())
        console.print(f"[green]✓ {len(report.rows)} tables, {rows:,} rows valid[/green]")
        return
    summary = Table(title=f"{report.total:,} violations", title_justify="left")
    for name in ("table", "column", "reason"):
        summary.add_column(name)
    summary.add_column("count", justify="right")
    for record in report.summary().itertuples(index=False):
        summary.add_row(*(escape(str(x)) for x in record[:3]), f"{record.count:,}")
    console.print(summary)
    examples = Table(title=f"first {min(SHOWN_VIOLATIONS, len(report.violations))} violations", title_justify="left")
    for name in ("table", "row key", "row", "column", "reason", "value"):
        examples.add_column(name, justify="right" if name == "row" else "left")
    for v in report.violations[:SHOWN_VIOLATIONS]:
        row = "" if v.row is None else str(v.row)
        cells = (v.table, v.row_key, row, v.column, v.reason, "" if v.value is None else v.value)
        examples.add_row(*(escape(c) for c in cells))  # data may contain [brackets]
    console.print(examples)
