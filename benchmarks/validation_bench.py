"""Benchmark: validating a large source folder (`relapse validate`, `features.validation.report.validate_sources`).

    python -m benchmarks.validation_bench --households 100000

A synthetic city of N households (2019–2025) is written to a temporary folder. The timed step is
`validate_sources(folder)`: reading and coercing every table, then every column check and row rule. The baseline
measured in the same run is `read_sources(folder)` alone — reading and coercing the same folder without checking
anything — so the ratio is what the checks cost on top of merely loading the data. Baseline and validation
alternate `--repeats` times (the first read warms the page cache for both); medians are reported, with CPU time
beside wall time because a busy machine inflates the latter.

Tests assert no time budget (they run on loaded machines); tests/features/test_validation.py checks what a large
folder reports, this measures how long it takes.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")


def _timed(call: Callable[[], T], wall: list[float], cpu: list[float]) -> T:
    """Run `call`, append its wall and CPU seconds to the two lists, return its result."""
    wall_start, cpu_start = time.perf_counter(), time.process_time()
    result = call()
    wall.append(time.perf_counter() - wall_start)
    cpu.append(time.process_time() - cpu_start)
    return result


def main(argv: list[str] | None = None) -> None:
    from features.reading.sources import read_sources
    from features.simulation import CityConfig, simulate_city
    from features.validation.report import validate_sources

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--households", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    today = date(2026, 1, 1)  # after the city's last year, as the tests use
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "city"
        simulate_city(CityConfig(households=args.households), seed=20_260_101, out_dir=folder)
        read_sources(folder)  # warm the page cache
        read_wall, read_cpu, check_wall, check_cpu = [], [], [], []
        for _ in range(args.repeats):
            _timed(lambda: read_sources(folder), read_wall, read_cpu)
            report = _timed(lambda: validate_sources(folder, today=today), check_wall, check_cpu)
    rows = sum(report.rows.values())
    read_s, check_s = statistics.median(read_wall), statistics.median(check_wall)
    print(f"validation: {args.households:,} households, {rows:,} rows in {len(report.rows)} tables")
    print(f"  report: {report}")
    print(
        f"  validate_sources  {check_s:.2f} s wall, {statistics.median(check_cpu):.2f} s CPU "
        f"({rows / check_s / 1e6:.2f} M rows/s; median of {args.repeats}, load average {os.getloadavg()[0]:.1f})"
    )
    print(
        f"  baseline          read_sources of the same folder: {read_s:.2f} s wall, "
        f"{statistics.median(read_cpu):.2f} s CPU"
    )
    print(f"  ratio validate / read: {check_s / read_s:.2f}× (checks add {check_s - read_s:.2f} s)")


if __name__ == "__main__":
    main()
