"""`relapse score`: score every household of a source folder as of a date, partition by partition.

    relapse score --data DIR --as-of 2026-01-01 --out scores.parquet [--workers 2]
    relapse score ... --scheduler tcp://host:8786      # partitions on a Dask cluster
    relapse score ... --local-cluster 2                # on a Dask LocalCluster of 2 worker processes

Source tables are read once with Arrow and split by county (`features.reading.partitions`); each partition is
validated, pseudonymised, profiled, scored and explained (`scoring`) and appended to the Parquet
file, with a progress bar. A re-run reuses the earlier file's rows (`--previous`, by default `--out` itself)
for every household whose profile did not change under the same model version.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer

from relapse._progress import console, progress_bar
from relapse._registry import registered_model


def register(app: typer.Typer) -> None:
    """Add this module's commands to the app."""
    app.command("score")(score)


def score(
    out: Annotated[Path, typer.Option("--out", help="Result Parquet file (one row per household).")],
    data: Annotated[
        Path | None, typer.Option("--data", help="Source folder (contract tables). Default: the demo city.")
    ] = None,
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="Reference date (YYYY-MM-DD). Default: the data's extract date.")
    ] = None,
    version: Annotated[str | None, typer.Option(help="Model version (default: the champion).")] = None,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes for the partitions (1: this process).")] = 1,
    scheduler: Annotated[
        str | None, typer.Option(help="Run the partitions on a Dask cluster: its scheduler, e.g. tcp://host:8786.")
    ] = None,
    local_cluster: Annotated[
        int | None, typer.Option(min=1, help="Run the partitions on a Dask LocalCluster of N worker processes.")
    ] = None,
    partition_households: Annotated[
        int, typer.Option(min=1, help="Households per partition at most (counties are split above it).")
    ] = 50_000,
    previous: Annotated[
        Path | None, typer.Option(help="An earlier result file to reuse unchanged households from. Default: --out.")
    ] = None,
    sentences: Annotated[bool, typer.Option(help="Write the zh/en reason sentences.")] = True,
    top: Annotated[int, typer.Option(min=1, help="Reasons per household.")] = 3,
    shap_cache: Annotated[
        bool,
        typer.Option(
            help="Also keep SHAP values by (model version, profile hash) under the data directory "
            "(800 bytes a household and version; the earlier result file already serves unchanged households)."
        ),
    ] = False,
) -> None:
    """Score every household of a source folder: probability, reasons, measures and what-if, to Parquet."""
    import pandas as pd

    from features.pseudonyms.keys import ensure_local_key
    from features.reading.partitions import PartitionedSources
    from features.reading.sources import read_manifest
    from features.settings import get_settings
    from models.batch import BatchOptions
    from relapse.demo_command import demo_sources_dir
    from scoring.job import ScoringJob
    from scoring.partition import PartitionError
    from scoring.pool import warm_up
    from scoring.results import write_scores
    from scoring.reuse import Earlier
    from scoring.run import score_partitions

    if sum(bool(x) for x in (scheduler, local_cluster, workers > 1)) > 1:
        raise typer.BadParameter("choose one of --workers, --scheduler and --local-cluster", param_hint="--scheduler")
    settings = get_settings()
    folder = data or demo_sources_dir(settings.data_dir)
    if not folder.is_dir():
        raise typer.BadParameter(f"{folder} does not exist; run `relapse demo` or pass --data", param_hint="--data")
    started = time.perf_counter()
    key, _ = ensure_local_key(settings)
    # With worker processes, the sorted partitions go to a temporary folder the workers read them from (bounded
    # memory); the executor closes before the folder goes.
    with ExitStack() as stack:
        spill = stack.enter_context(tempfile.TemporaryDirectory(prefix="relapse-partitions-")) if workers > 1 else None
        # Workers start (imports, then the explainer) while this process finds the model and reads the sources.
        executor = stack.enter_context(_executor(workers, scheduler, local_cluster))
        model, model_version = registered_model(version)
        if executor is not None:
            warm_up(executor, model)
        manifest = read_manifest(folder)
        date = pd.Timestamp(as_of or manifest.get("extract_date") or pd.Timestamp.today().normalize())
        options = BatchOptions(top=top, sentences=sentences)
        job = ScoringJob(
            model,
            model_version,
            date.date(),
            options,
            key=key,
            cache_dir=settings.data_dir / "explanation-cache" if shap_cache else None,
            synthetic=bool(manifest.get("synthetic", False)),
        )
        earlier = Earlier.read(previous or out, options)
        with console.status(f"reading and partitioning {folder}"):
            partitioned = PartitionedSources.read(
                folder,
                max_households=partition_households,
                digests=True,
                spill=Path(spill) if spill else None,  # worker processes read their partitions from there
                settled=earlier.settled(job) if earlier is not None else None,  # unchanged households' rows left out
                owner_cache=settings.data_dir / "row-owner-cache",  # unchanged files are not matched or hashed again
            )
        for warning in partitioned.warnings:
            console.print(f"[yellow]warning:[/] {warning}")
        try:
            where = "" if executor is None else f" on {getattr(executor, 'workers', workers)} workers"
            title = f"{partitioned.households:,} households in {len(partitioned)} partitions{where}"
            with progress_bar(title) as report:
                rows = write_scores(
                    score_partitions(job, partitioned, previous=earlier, executor=executor, progress=report),
                    out,
                    options,
                )
        except PartitionError as error:
            console.print(f"[red]{error}[/]")
            raise typer.Exit(1) from None
        reused = "" if earlier is None else ", reusing unchanged households of the earlier run"
        console.print(
            f"scored {rows:,} households as of {date.date()} with model version {model_version} "
            f"in {time.perf_counter() - started:.1f} s{reused} → {out}"
        )
        if job.synthetic:
            console.print(
                "[bold yellow]SYNTHETIC DATA: a fictional city; the scores say nothing about real households.[/]"
            )


@contextmanager
def _executor(workers: int, scheduler: str | None, local_cluster: int | None) -> Iterator[Any]:
    """None (this process), a process pool, or a Dask cluster (scoring.cluster)."""
    if scheduler or local_cluster:
        from scoring.cluster import dask_executor

        with dask_executor(scheduler, local_cluster=local_cluster) as executor:
            yield executor
        return
    if workers == 1:
        yield None
        return
    from scoring.pool import process_pool

    pool = process_pool(workers)
    try:
        yield pool
    finally:
        pool.shutdown(cancel_futures=True)
