"""Benchmark: a batch job of 100,000 households end to end (target ≤ 60 s), stored with its audit entries.

    python -m benchmarks.jobs_bench --households 100000

A model is trained on a small city (20,000 households) and registered in a temporary MLflow registry; the
service loads it by alias as in production (`service.model_holder`). The timed step is one job of the runner
(`service.job_runner`) over a separate city of N households: source tables → partitions → profiles → scores →
reasons, measures, what-if → scores and audit entries committed chunk by chunk to a fresh SQLite database.
The baseline measured in the same run is the same scoring written to a Parquet file (`scoring`, what
`relapse score` does) — the ratio is the cost of storing every decision with its audit entry.
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from datetime import date
from pathlib import Path

TARGET_SECONDS = 60.0
AS_OF = date(2026, 1, 1)


def main(argv: list[str] | None = None) -> None:
    from mlflow import MlflowClient
    from sqlalchemy import func, select

    from features.pseudonyms.keys import PseudonymKey
    from features.reading.partitions import PartitionedSources
    from features.reading.sources import read_sources
    from features.simulation import CityConfig, simulate_city
    from scoring.job import ScoringJob
    from scoring.results import write_scores
    from scoring.run import score_partitions
    from service.db import open_database
    from service.job_runner import JobRunner
    from service.keys import Caller
    from service.migrate import upgrade_database
    from service.model_holder import ModelHolder, RegistrySource
    from service.scope import Scope
    from service.settings import ServiceSettings
    from service.store import create_job
    from service.tables import AuditEntry
    from training.fit import TrainConfig
    from training.pipeline import data_from_sources, model_signing_key, train_and_register
    from training.registry import promote
    from training.settings import TrainingSettings

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--households", type=int, default=100_000)
    parser.add_argument("--chunk", type=int, default=5_000, help="households per committed chunk")
    args = parser.parse_args(argv)
    key = PseudonymKey.from_text("benchmark-pseudonym-key-0123456789abcdef", "b1")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        simulate_city(CityConfig(households=20_000), seed=7, out_dir=root / "train-city")
        training = TrainingSettings(data_dir=root / "store")
        outcome = train_and_register(
            data_from_sources(read_sources(root / "train-city")), training, TrainConfig(num_threads=2), backtest=False
        )
        version = str(outcome.version)
        promote(MlflowClient(tracking_uri=training.tracking_uri), training, version, force=True, reason="bench")
        simulate_city(CityConfig(households=args.households), seed=20_261_128, out_dir=root / "city")

        holder = ModelHolder(RegistrySource(training.tracking_uri), root / "model-cache", model_signing_key(training))
        holder.start()
        serving = holder.current
        assert serving is not None, holder.degraded

        url = f"sqlite:///{root / 'service.db'}"
        upgrade_database(url)
        settings = ServiceSettings(data_dir=root / "service", database_url=url, job_chunk_households=args.chunk)
        database = open_database(url, settings)
        runner = JobRunner(database, holder, settings, key)
        options = {"folder": str(root / "city"), "as_of": AS_OF.isoformat(), "explain": True}
        with database.session() as session:
            job = create_job(session, Scope.everything(), Caller.local_operator(), source="bench", options=options)
        start = time.perf_counter()
        status = runner.run(job.id)
        job_seconds = time.perf_counter() - start
        with database.session() as session:
            audited = session.scalar(select(func.count()).select_from(AuditEntry))
        peak_job_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2

        start = time.perf_counter()
        partitioned = PartitionedSources.read(root / "city", max_households=args.chunk)
        scoring = ScoringJob(serving.model, serving.version, AS_OF, key=key, explainer=serving.explainer)
        rows = write_scores(score_partitions(scoring, partitioned), root / "scores.parquet")
        baseline_seconds = time.perf_counter() - start
        database.dispose()

    print(f"batch job: {args.households:,} households, chunks of {args.chunk:,}, status {status.value}")
    print(
        f"  job end to end (read → profiles → scores → reasons → stored with audit): {job_seconds:.1f} s "
        f"({args.households / job_seconds:,.0f} households/s) — target ≤ {TARGET_SECONDS:.0f} s per 100,000"
    )
    print(f"  audit entries written: {audited:,}; peak RSS {peak_job_gb:.2f} GB")
    print(f"  baseline, same scoring to Parquet without the database: {baseline_seconds:.1f} s ({rows:,} rows)")
    print(f"  ratio job / baseline: {job_seconds / baseline_seconds:.2f}×")


if __name__ == "__main__":
    main()
