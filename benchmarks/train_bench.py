"""Benchmark: training on 1,000,000 labelled snapshots with the full catalogue, calibration included.

Target: ≤ 5 minutes on 2 cores per 1,000,000 snapshots, including calibration.

    python -m benchmarks.train_bench --households 200000

A city of N households gives about 5 × N labelled snapshots (yearly reference dates 2020–2025, households under
monitoring left out; the benchmark keeps yearly dates so that its figures stay comparable — the default training
uses quarterly ones, about 20 × N snapshots, so the same 1,000,000 come from a city of about 50,000).
The timed step is `fit_risk_model`: LightGBM with early stopping, then both calibrators fitted and one chosen.
The baseline measured in the same run is a plain `lightgbm.train` with LightGBM's default parameters for 100
rounds on the same matrix — what an analyst would run first.
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

import lightgbm as lgb

TARGET_SECONDS = 300.0


def main(argv: list[str] | None = None) -> None:
    from features.reading.sources import read_sources
    from features.simulation import CityConfig, simulate_city
    from training.fit import TrainConfig, fit_risk_model
    from training.pipeline import data_from_sources
    from training.split import latest_split

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--households", type=int, default=200_000)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        simulate_city(CityConfig(households=args.households), seed=20_260_101, out_dir=Path(tmp))
        start = time.perf_counter()
        data = data_from_sources(read_sources(Path(tmp)), snapshot_months=12)
        snapshot_seconds = time.perf_counter() - start
    snapshots = data.snapshots
    split = latest_split(snapshots["as_of"])
    start = time.perf_counter()
    result = fit_risk_model(snapshots, data.features, split, TrainConfig(num_threads=2))
    fit_seconds = time.perf_counter() - start

    train = snapshots[split.train_mask(snapshots)]
    x = result.model.prepare(train)
    start = time.perf_counter()
    lgb.train({"objective": "binary", "num_threads": 2, "verbosity": -1}, lgb.Dataset(x, train["label"]), 100)
    baseline_seconds = time.perf_counter() - start
    peak_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2

    print(
        f"train: {len(snapshots):,} labelled snapshots ({len(train):,} in the training period), "
        f"{len(data.features)} features"
    )
    print(f"  snapshots built in {snapshot_seconds:.1f} s")
    print(
        f"  fit + early stopping + calibration: {fit_seconds:.1f} s ({result.best_iteration} trees, "
        f"{result.model.meta['calibrator']}) — target ≤ {TARGET_SECONDS:.0f} s per 1 M snapshots "
        f"→ {fit_seconds * 1_000_000 / len(snapshots):.1f} s per 1 M"
    )
    print(
        f"  baseline: LightGBM defaults, 100 rounds on the training period: {baseline_seconds:.1f} s "
        f"→ ratio {fit_seconds / baseline_seconds:.2f}×"
    )
    print(f"  peak RSS {peak_gb:.2f} GB")


if __name__ == "__main__":
    main()
