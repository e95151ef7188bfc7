"""Benchmark: the synthetic city generator (target: 1,000,000 households × 7 years in ≤ 90 s, ≤ 8 GB).

    python -m benchmarks.simulate_bench --households 1000000

Runs the generator in a child process (so its peak RSS is its own), then, as the baseline measured in the
same run, the I/O floor: reading every table it wrote and writing it again with pyarrow. The ratio says how
much the simulation costs on top of merely moving its output through Parquet.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pyarrow.parquet as pq

TARGET_SECONDS = 90.0
TARGET_PEAK_GB = 8.0

_CHILD = """
import json, resource, sys, time
from features.simulation import CityConfig, simulate_city
n, out = int(sys.argv[1]), sys.argv[2]
t = time.perf_counter()
simulate_city(CityConfig(households=n), seed=20260101, out_dir=out)
elapsed = time.perf_counter() - t
usage = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({"seconds": elapsed, "cpu_seconds": usage.ru_utime + usage.ru_stime, "peak_kb": usage.ru_maxrss}))
"""


def run(households: int, out: Path) -> dict[str, float]:
    result = subprocess.run(
        [sys.executable, "-c", _CHILD, str(households), str(out)], check=True, capture_output=True, text=True
    )
    child = json.loads(result.stdout.strip().splitlines()[-1])
    rows = sum(pq.ParquetFile(p).metadata.num_rows for p in out.glob("*.parquet"))
    start = time.perf_counter()
    for path in out.glob("*.parquet"):
        pq.write_table(pq.read_table(path), out / f"_copy_{path.name}", compression="zstd")
    io_seconds = time.perf_counter() - start
    return {
        "households": households,
        "rows": rows,
        "seconds": child["seconds"],
        "cpu_seconds": child["cpu_seconds"],
        "load_average": os.getloadavg()[0],
        "peak_gb": child["peak_kb"] / 1024**2,
        "io_floor_seconds": io_seconds,
        "ratio_to_io_floor": child["seconds"] / io_seconds,
        "ratio_to_target_time": child["seconds"] / TARGET_SECONDS * households / 1_000_000,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--households", type=int, default=1_000_000)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        r = run(args.households, Path(tmp))
    print(f"simulate: {r['households']:,} households × 7 years, {r['rows']:,} rows")
    print(
        f"  time      {r['seconds']:.1f} s wall, {r['cpu_seconds']:.1f} s CPU "
        f"(target ≤ {TARGET_SECONDS:.0f} s per 1 M households; load average {r['load_average']:.1f})"
    )
    print(f"  peak RSS  {r['peak_gb']:.2f} GB (target ≤ {TARGET_PEAK_GB:.0f} GB)")
    print(
        f"  baseline  Parquet read+write of the same output: {r['io_floor_seconds']:.1f} s "
        f"→ generator / I/O floor = {r['ratio_to_io_floor']:.2f}×"
    )


if __name__ == "__main__":
    main()
