"""`relapse report household|region|model|drift`: the officials' reports from the command line.

The same pages as `/reports` (HTML or PDF, zh or en), written to a file. The command runs as the local operator
(admin over every region), reading the service database and the registry's champion as `relapse serve` does.
`relapse report drift` computes the model report's feature drift from a source-data folder.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated, Any, Literal

import typer
from rich.console import Console

errors = Console(stderr=True)

report_app = typer.Typer(
    help="Explanation reports for officials (household, region, model) as HTML or PDF.", no_args_is_help=True
)

FormatOption = Annotated[Literal["html", "pdf"], typer.Option("--format", help="html or pdf.")]
LangOption = Annotated[Literal["zh", "en"], typer.Option("--lang", help="zh (default) or en.")]
OutOption = Annotated[Path, typer.Option("--out", help="File to write.", dir_okay=False)]


def register(app: typer.Typer) -> None:
    """Add this module's commands to the app."""
    app.add_typer(report_app, name="report")


def _database() -> Any:
    from service.db import open_database
    from service.migrate import upgrade_database
    from service.settings import get_settings

    settings = get_settings()
    upgrade_database(settings.database_url)
    return open_database(settings.database_url, settings)


def _write(template: str, context: dict[str, Any], fmt: str, out: Path) -> None:
    from service.reports import html_to_pdf, render_page

    html = render_page(template, context)
    out.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "pdf":
        out.write_bytes(html_to_pdf(html))
    else:
        out.write_text(html, encoding="utf-8")
    errors.print(f"[green]✓[/] wrote {out} ({out.stat().st_size:,} bytes)")


def _run(make: Any) -> dict[str, Any]:
    """The context, or the service's error as a one-line message and exit code 1."""
    from service.errors import ServiceError

    try:
        context: dict[str, Any] = make()
        return context
    except ServiceError as error:
        errors.print(f"[red]{error}[/]")
        raise typer.Exit(1) from None


def _with_database(make: Any) -> dict[str, Any]:
    """`_run(make(database))` on the service database, closed afterwards."""
    database = _database()
    try:
        return _run(lambda: make(database))
    finally:
        database.dispose()


@report_app.command("household")
def household(
    pseudonym: Annotated[str, typer.Argument(help="The household's pseudonym (as stored with its scores).")],
    out: OutOption,
    fmt: FormatOption = "html",
    lang: LangOption = "zh",
) -> None:
    """One household's report from its stored scores."""
    from service.keys import Caller
    from service.reports import Messages, household_report

    label = _served_label()
    context = _with_database(lambda db: household_report(db, Caller.local_operator(), pseudonym, Messages(lang), label))
    _write("household", context, fmt, out)


RegionFormatOption = Annotated[
    Literal["html", "pdf", "xlsx", "csv"],
    typer.Option("--format", help="html or pdf: the whole report; xlsx or csv: one list alone (--list)."),
]
ListOption = Annotated[
    Literal["work", "hidden-need"],
    typer.Option("--list", help="xlsx or csv: the work list (default) or the hidden-need list."),
]


@report_app.command("region")
def region(
    code: Annotated[str, typer.Argument(help="Region code: 6-digit county, 9-digit township or 12-digit village.")],
    out: OutOption,
    fmt: RegionFormatOption = "html",
    lang: LangOption = "zh",
    visits_per_worker: Annotated[
        int | None, typer.Option(min=1, help="Work list: home visits one worker makes in a round.")
    ] = None,
    workers: Annotated[int | None, typer.Option(min=1, help="Work list: workers per village.")] = None,
    visits_per_village: Annotated[
        int | None, typer.Option(min=1, help="Work list: households per village, instead of the two above.")
    ] = None,
    listed: ListOption = "work",
    share: Annotated[
        float | None, typer.Option(help="Hidden-need list: its size as a share of each county (default 0.05).")
    ] = None,
) -> None:
    """A region's report — levels, trend, risk types, the work list per village, the hidden-need list, rules
    versus model — or, with --format xlsx or csv, one list alone: the work list (each village's
    highest-probability households, as many as its staff can visit: visits per worker × workers) or, with
    --list hidden-need, the hidden-need list (`share` of each county's households no rule flag raises)."""
    from service.keys import Caller
    from service.reports import Messages, region_report
    from service.reports.build import capacity_of, hidden_need_file, work_list_file
    from service.reports.hidden_need import DEFAULT_SHARE, check_share
    from service.settings import get_settings

    settings = get_settings()
    capacity = _run(lambda: {"capacity": capacity_of(settings, visits_per_worker, workers, visits_per_village)})[
        "capacity"
    ]
    share = _run(lambda: {"share": check_share(DEFAULT_SHARE if share is None else share)})["share"]
    if fmt in ("xlsx", "csv"):
        caller, messages = Caller.local_operator(), Messages(lang)
        if listed == "hidden-need":
            data = _with_database(lambda db: {"file": hidden_need_file(db, caller, code, share, messages, fmt)})["file"]
        else:
            data = _with_database(lambda db: {"file": work_list_file(db, caller, code, capacity, messages, fmt)})[
                "file"
            ]
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(data)
        errors.print(f"[green]✓[/] wrote {out} ({out.stat().st_size:,} bytes)")
        return
    label = _served_label()
    context = _with_database(
        lambda db: region_report(db, Caller.local_operator(), code, settings, Messages(lang), capacity, share, label)
    )
    _write("region", context, fmt, out)


def _served_label() -> str | None:
    """The label of the model the service serves (what the stored probabilities estimate), from the registry."""
    from service.reports._registry import RegistryReader
    from service.settings import get_settings

    settings = get_settings()
    return RegistryReader(settings.mlflow_uri, settings.model_name).label(settings.model_alias)


def _serving() -> Any:
    from service.app import build_holder
    from service.settings import get_settings

    holder = build_holder(get_settings())
    holder.start()
    if holder.current is None:
        errors.print(f"[red]no model: {holder.degraded}[/]")
        raise typer.Exit(1)
    return holder


@report_app.command("model")
def model(out: OutOption, fmt: FormatOption = "html", lang: LangOption = "zh") -> None:
    """The champion model's report: card, performance, calibration, fairness, drift, promotion history."""
    from service.keys import Caller
    from service.reports import Messages, model_report
    from service.reports._registry import RegistryReader
    from service.settings import get_settings

    holder = _serving()
    reader = RegistryReader(holder.source.tracking_uri, holder.source.name)
    context = _with_database(
        lambda database: model_report(
            holder.current,
            Caller.local_operator(),
            reader,
            get_settings(),
            Messages(lang),
            alias=holder.source.alias,
            degraded=holder.degraded,
            database=database,
        )
    )
    _write("model", context, fmt, out)


@report_app.command("drift")
def drift(
    data: Annotated[Path, typer.Option(help="Source-data folder (the contract's tables), e.g. the demo city.")],
    as_of: Annotated[str | None, typer.Option(help="Current date (YYYY-MM-DD); default today.")] = None,
) -> None:
    """Feature drift of the champion: PSI of every feature at AS_OF versus its last training date."""
    import pandas as pd

    from features.profiles.build import build_profiles
    from features.pseudonyms.ingestion import load_sources
    from features.pseudonyms.keys import ensure_local_key
    from service.reports.drift import compare, write_drift
    from service.settings import get_settings

    holder = _serving()
    serving = holder.current
    train = str(serving.model.meta.get("split", {}).get("train", ""))
    if not train:
        errors.print("[red]the model's meta names no training dates; drift needs a reference date[/]")
        raise typer.Exit(1)
    reference_as_of = train.split(",")[-1]
    current_as_of = as_of or date.today().isoformat()
    key, _ = ensure_local_key()
    sources = load_sources(data, key)
    with errors.status("building reference and current profiles"):
        reference = build_profiles(sources, pd.Timestamp(reference_as_of))
        current = build_profiles(sources, pd.Timestamp(current_as_of))
    report = compare(
        serving.version,
        [(f.name, "category" if f.kind == "category" else "numeric") for f in serving.model.features],
        reference,
        current,
        reference_as_of=reference_as_of,
        current_as_of=current_as_of,
        synthetic=bool(sources.synthetic),
    )
    path = write_drift(report, get_settings().data_dir)
    warnings = [f for f in report.features if f.psi >= get_settings().reports_psi_warning]
    errors.print(f"[green]✓[/] drift of version {serving.version}: {len(warnings)} features at warning level → {path}")
