"""Benchmark: household profiles (targets: 1,000,000 households in ≤ 60 s and ≤ 8 GB; one in ≤ 10 ms).

    python -m benchmarks.profiles_bench --households 1000000

The city is generated once with `simulate_city` and cached under `$RELAPSE_DATA_DIR/bench/` (default
`data/bench/`). A child process (so that its peak RSS is its own) reads the tables as `read_sources` types
them, builds every profile as of --as-of, then times the API path — `build_profile` on one household's own
records — for 200 households. The baseline, measured in the same run, is the obvious pandas code: one
household at a time, boolean masks over the full tables, for four of the ~100 features; its time per
household is extrapolated to the whole city.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

TARGET_SECONDS = 60.0
TARGET_PEAK_GB = 8.0
TARGET_SINGLE_MS = 10.0

_CHILD = r"""
import json, resource, sys, time
from pathlib import Path
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from features.contract.tables import TABLES
from features.profiles.build import build_profile, build_profiles, select_households
from features.reading.sources import Sources

folder, as_of, samples, baseline_n = Path(sys.argv[1]), pd.Timestamp(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])

def rss_gb():
    return int(Path("/proc/self/statm").read_text().split()[1]) * 4096 / 1024**3

# The dtypes `features.reading.sources.read_sources` gives (nullable ints/booleans, Arrow strings, datetimes),
# read straight from Parquet so that the figure measures the profiles, not the reader.
mapping = {pa.int64(): pd.Int64Dtype(), pa.bool_(): pd.BooleanDtype(), pa.string(): pd.StringDtype(),
           pa.large_string(): pd.StringDtype()}
t = time.perf_counter()
tables = {}
for name in TABLES:
    path = folder / f"{name}.parquet"
    if path.exists():
        tables[name] = pq.read_table(path).to_pandas(
            types_mapper=mapping.get, date_as_object=False, self_destruct=True, split_blocks=True)
sources = Sources(tables, {"synthetic": True})
load_s, rss_loaded = time.perf_counter() - t, rss_gb()

t = time.perf_counter()
profiles = build_profiles(sources, as_of)
batch_s = time.perf_counter() - t
peak_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2

rng = np.random.default_rng(1)
ids = list(rng.choice(profiles["household_id"].to_numpy(), samples, replace=False))
subset = select_households(sources, ids)  # what the API's database query returns, for 200 households
indexed = profiles.set_index("household_id")
latencies, cpu = [], []
for i, household in enumerate(ids):
    own = select_households(subset, [household])
    t, c = time.perf_counter(), time.process_time()
    one = build_profile(own, as_of)
    latencies.append((time.perf_counter() - t) * 1000)
    cpu.append((time.process_time() - c) * 1000)
    if i < 20:  # no skew between the two paths
        pd.testing.assert_frame_equal(one, indexed.loc[[household]].reset_index())

# Baseline: per household, boolean masks over the full tables (the code one writes first).
members, events, income, assistance = (sources[n] for n in ("members", "events", "income", "assistance"))
day = as_of.to_datetime64()
t = time.perf_counter()
for household in ids[:baseline_n]:
    own = members[members["household_id"] == household]
    alive = int((own["birth_date"] < day).sum())
    ev = events[(events["household_id"] == household) & (events["event_date"] < day)
                & (events["event_date"] >= day - np.timedelta64(365, "D")) & (events["event_type"] == "hospital_stay")]
    oop = float(ev["oop_cost_yuan"].sum())
    inc = income[(income["household_id"] == household) & (income["recorded_date"] < day)]
    last = inc.sort_values("income_year").tail(1)
    sp = assistance[(assistance["household_id"] == household) & (assistance["start_date"] < day)]
    dibao = bool(((sp["measure"] == "dibao") & (sp["end_date"].isna() | (sp["end_date"] >= day))).any())
baseline_per_household_s = (time.perf_counter() - t) / baseline_n

print(json.dumps({
    "households": len(profiles), "rows": int(sum(len(f) for f in tables.values())),
    "load_s": load_s, "rss_loaded_gb": rss_loaded, "batch_s": batch_s, "peak_gb": peak_gb,
    "single_median_ms": float(np.median(latencies)), "single_p99_ms": float(np.percentile(latencies, 99)),
    "single_cpu_median_ms": float(np.median(cpu)), "load_average": float(Path("/proc/loadavg").read_text().split()[0]),
    "baseline_per_household_ms": baseline_per_household_s * 1000,
    "baseline_extrapolated_s": baseline_per_household_s * len(profiles),
}))
"""


def city_folder(households: int, seed: int) -> Path:
    """The cached city, generated on first use (written to a temporary name, then renamed)."""
    from features.simulation import CityConfig, simulate_city

    root = Path(os.environ.get("RELAPSE_DATA_DIR", "data")) / "bench"
    folder = root / f"city-{households}-seed{seed}"
    if not (folder / "dataset.json").is_file():
        partial = root / f"{folder.name}.partial"
        simulate_city(CityConfig(households=households), seed=seed, out_dir=partial)
        partial.rename(folder)
    return folder


def run(households: int, seed: int, as_of: str, samples: int, baseline: int) -> dict[str, float]:
    folder = city_folder(households, seed)
    result = subprocess.run(
        [sys.executable, "-c", _CHILD, str(folder), as_of, str(samples), str(baseline)],
        check=True,
        capture_output=True,
        text=True,
    )
    return dict(json.loads(result.stdout.strip().splitlines()[-1]))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--households", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--as-of", default="2024-01-01")
    parser.add_argument("--samples", type=int, default=200, help="households timed one by one")
    parser.add_argument("--baseline", type=int, default=20, help="households in the naive per-household loop")
    args = parser.parse_args(argv)
    r = run(args.households, args.seed, args.as_of, args.samples, args.baseline)
    scale = r["households"] / 1_000_000
    print(f"profiles: {r['households']:,} households as of {args.as_of} from {r['rows']:,} source rows")
    print(f"  read      {r['load_s']:.1f} s, {r['rss_loaded_gb']:.2f} GB resident after reading")
    print(f"  batch     {r['batch_s']:.1f} s   (target ≤ {TARGET_SECONDS * scale:.1f} s at this size)")
    print(f"  peak RSS  {r['peak_gb']:.2f} GB (reading + building; target ≤ {TARGET_PEAK_GB:.0f} GB)")
    print(
        f"  single    median {r['single_median_ms']:.2f} ms, p99 {r['single_p99_ms']:.2f} ms "
        f"over {args.samples} households (target ≤ {TARGET_SINGLE_MS:.0f} ms); CPU time median "
        f"{r['single_cpu_median_ms']:.2f} ms; load average {r['load_average']:.1f} on {os.cpu_count()} cores"
    )
    print(
        f"  baseline  naive per-household pandas loop (4 features): {r['baseline_per_household_ms']:.1f} ms "
        f"per household → {r['baseline_extrapolated_s']:,.0f} s for all; batch is "
        f"{r['baseline_extrapolated_s'] / r['batch_s']:,.0f}× faster, single "
        f"{r['baseline_per_household_ms'] / r['single_median_ms']:.1f}× faster"
    )


if __name__ == "__main__":
    main()
