"""Benchmark: streaming batch scoring in one process, in a process pool and on a Dask LocalCluster.

Targets: 1,000,000 households in ≤ 120 s and ≤ 6 GB on 2 cores; a re-run after 10 % of households changed in
≤ 30 s.

    python -m benchmarks.scoring_bench --households 100000 300000 1000000
    python -m benchmarks.scoring_bench --households 1000000 --modes single --rerun
    python -m benchmarks.scoring_bench --households 1000000 --modes pool --rerun --baseline 0  # as relapse score does

Cities are generated once and cached under `$RELAPSE_DATA_DIR/bench/` (as for the profiles benchmark); the
model is trained once as `relapse train` trains it (`fit_risk_model`, latest time split, seed 1, the need model
and its identification companion) on the 20,000-household bench city and cached there as a RiskModel folder.
Each run is a child process doing what `relapse score` does without the registry: read and partition the source
tables (`PartitionedSources`), validate, pseudonymise, build profiles, score, explain (3 reasons, 6 measures with
what-if, zh/en sentences) and write Parquet (`scoring`). A sampler thread adds up the resident memory and CPU time
of the child and every process under it (LocalCluster workers included), so peak memory is the whole job's.

`--rerun` changes 10 % of the households (their income records: +1,000 yuan local wages; households
without income records stay unchanged) in a copy of the city and scores it again with the first run's file
as `previous`. The baseline, measured in the same run, is the per-household reference
`models.explain.explain_households` on 200 profiles, one at a time, extrapolated to the city.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

TARGET_SECONDS = 120.0
TARGET_PEAK_GB = 6.0
TARGET_RERUN_SECONDS = 30.0
MODEL_HOUSEHOLDS = 20_000

_CHILD = r"""
import json, os, sys, threading, time
from datetime import date
from pathlib import Path
import psutil

folder, model_dir, mode, workers, out, previous, owner_cache = sys.argv[1:8]
me = psutil.Process()
peak = {"rss": 0}
cpu = {}
stop = threading.Event()

def sample():
    while not stop.is_set():
        total = 0
        for p in [me, *me.children(recursive=True)]:
            try:
                total += p.memory_info().rss
                t = p.cpu_times()
                cpu[p.pid] = t.user + t.system + getattr(t, "children_user", 0) + getattr(t, "children_system", 0)
            except psutil.Error:
                pass
        peak["rss"] = max(peak["rss"], total)
        stop.wait(0.2)

threading.Thread(target=sample, daemon=True).start()
started = time.perf_counter()
from features.reading.partitions import PartitionedSources
from features.pseudonyms.keys import PseudonymKey
from models.risk_model import RiskModel
from scoring.job import ScoringJob
from scoring.results import write_scores
from scoring.reuse import Earlier
from scoring.run import score_partitions

model = RiskModel.load(Path(model_dir))
key = PseudonymKey.from_text("benchmark-key-" * 3, "v1")
job = ScoringJob(model, "bench", date(2024, 1, 1), key=key, synthetic=True)
t = time.perf_counter()
import multiprocessing, tempfile
from scoring.pool import process_pool, warm_up
spill = tempfile.TemporaryDirectory(prefix="relapse-partitions-") if mode == "pool" else None  # as relapse score
pool = process_pool(int(workers)) if mode == "pool" else None  # as relapse score
if pool is not None:
    warm_up(pool, model)
earlier = Earlier.read(Path(previous)) if previous != "-" else None  # as relapse score: before the sources
settled = earlier.settled(job) if earlier is not None else None
partitioned = PartitionedSources.read(
    folder,
    digests=True,
    spill=Path(spill.name) if spill else None,
    settled=settled,
    owner_cache=Path(owner_cache) if owner_cache != "-" else None,
)
read_s = time.perf_counter() - t
t = time.perf_counter()
if mode == "cluster":
    from scoring.cluster import dask_executor
    with dask_executor(local_cluster=int(workers)) as executor:
        rows = write_scores(score_partitions(job, partitioned, previous=earlier, executor=executor), Path(out))
elif mode == "pool":
    with pool as executor:
        rows = write_scores(score_partitions(job, partitioned, previous=earlier, executor=executor), Path(out))
else:
    rows = write_scores(score_partitions(job, partitioned, previous=earlier), Path(out))
score_s = time.perf_counter() - t
total_s = time.perf_counter() - started
stop.set()
print(json.dumps({
    "rows": rows, "partitions": len(partitioned), "read_s": read_s, "score_s": score_s, "total_s": total_s,
    "peak_gb": peak["rss"] / 1024**3, "cpu_s": sum(cpu.values()), "load_average": os.getloadavg()[0],
}))
"""

_BASELINE = r"""
import json, sys, time
from pathlib import Path
from features.pseudonyms.ingestion import ingest
from features.reading.partitions import PartitionedSources
from features.profiles.build import build_profiles
from features.pseudonyms.keys import PseudonymKey
from models.explain import explain_households
from models.reasons import default_explainer
from models.risk_model import RiskModel

folder, model_dir, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
model = RiskModel.load(Path(model_dir))
partitioned = PartitionedSources.read(folder)
key = PseudonymKey.from_text("benchmark-key-" * 3, "v1")
profiles = build_profiles(ingest(partitioned.sources(0), key), "2024-01-01").iloc[:n]
explainer = default_explainer(model.booster)
explain_households(model, profiles.iloc[:1], explainer=explainer)
t = time.perf_counter()
for i in range(len(profiles)):
    explain_households(model, profiles.iloc[[i]], explainer=explainer)
print(json.dumps({"per_household_ms": (time.perf_counter() - t) / len(profiles) * 1000}))
"""


def bench_root() -> Path:
    return Path(os.environ.get("RELAPSE_DATA_DIR", "data")) / "bench"


def bench_model(seed: int = 1) -> Path:
    """The bench RiskModel folder, trained once like `relapse train` on the 20,000-household bench city: the need
    model with its identification companion, whose probability every result row carries."""
    folder = bench_root() / f"scoring-model-{MODEL_HOUSEHOLDS}-seed{seed}-with-identification"
    if (folder / "booster.txt").is_file():
        return folder
    from benchmarks.profiles_bench import city_folder
    from features.reading.sources import read_sources
    from training.fit import TrainConfig, fit_risk_model
    from training.pipeline import data_from_sources
    from training.split import latest_split

    data = data_from_sources(read_sources(city_folder(MODEL_HOUSEHOLDS, seed)))
    split = latest_split(data.snapshots["as_of"])
    model = fit_risk_model(data.snapshots, data.features, split, TrainConfig(seed=seed)).model
    if data.identification is not None:
        model.identification = fit_risk_model(data.identification, data.features, split, TrainConfig(seed=seed)).model
    model.save(folder)
    return folder


def changed_city(folder: Path, share: float = 0.10, seed: int = 7) -> Path:
    """A copy of the city (symlinks) whose income table adds 1,000 yuan local wages for `share` of households."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    out = folder.with_name(f"{folder.name}-changed{int(share * 100)}")
    if (out / "income.parquet").is_file():
        return out
    out.mkdir(parents=True, exist_ok=True)
    for path in folder.iterdir():
        if path.is_file() and path.name != "income.parquet" and not (out / path.name).exists():
            (out / path.name).symlink_to(path.resolve())
    households = pq.read_table(folder / "households.parquet", columns=["household_id"]).column(0)
    rng = np.random.default_rng(seed)
    picked = pa.array(rng.choice(households.to_numpy(zero_copy_only=False), int(len(households) * share), False))
    income = pq.read_table(folder / "income.parquet")
    hit = pc.is_in(income.column("household_id"), value_set=picked)
    wages = income.column("wage_local_yuan")
    raised = pc.if_else(hit, pc.add(pc.fill_null(wages, 0), pa.scalar(1_000.0, wages.type)), wages)
    income = income.set_column(income.column_names.index("wage_local_yuan"), "wage_local_yuan", raised)
    pq.write_table(income, out / "income.partial.parquet")
    (out / "income.partial.parquet").rename(out / "income.parquet")
    return out


def child(
    folder: Path,
    model: Path,
    mode: str,
    workers: int,
    out: Path,
    previous: Path | None,
    owner_cache: Path | None = None,
) -> dict[str, float]:
    args = [str(folder), str(model), mode, str(workers), str(out), str(previous or "-"), str(owner_cache or "-")]
    result = subprocess.run([sys.executable, "-c", _CHILD, *args], check=True, capture_output=True, text=True)
    return dict(json.loads(result.stdout.strip().splitlines()[-1]))


def baseline(folder: Path, model: Path, n: int) -> float:
    result = subprocess.run(
        [sys.executable, "-c", _BASELINE, str(folder), str(model), str(n)], check=True, capture_output=True, text=True
    )
    return float(json.loads(result.stdout.strip().splitlines()[-1])["per_household_ms"])


def line(label: str, households: int, r: dict[str, float]) -> str:
    per_core = households / max(r["cpu_s"], 1e-9)
    return (
        f"  {label:<22} {r['total_s']:7.1f} s (read {r['read_s']:.1f} s, score {r['score_s']:.1f} s), "
        f"peak {r['peak_gb']:.2f} GB, CPU {r['cpu_s']:.0f} s → {per_core:,.0f} households per CPU-second, "
        f"{r['partitions']:.0f} partitions, load average {r['load_average']:.1f}"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--households", type=int, nargs="+", default=[100_000, 300_000, 1_000_000])
    parser.add_argument("--modes", nargs="+", choices=["single", "pool", "cluster"], default=["single", "cluster"])
    parser.add_argument("--workers", type=int, default=2, help="worker processes of the pool and cluster modes")
    parser.add_argument("--rerun", action="store_true", help="also time a re-run after 10 %% of households changed")
    parser.add_argument("--baseline", type=int, default=200, help="profiles explained one by one (0: skip)")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    from benchmarks.profiles_bench import city_folder

    model = bench_model(args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        for households in args.households:
            folder = city_folder(households, args.seed)
            print(f"scoring: {households:,} households (seed {args.seed}) on {os.cpu_count()} cores", flush=True)
            first: Path | None = None
            for mode in args.modes:
                out = Path(tmp) / f"{households}-{mode}.parquet"
                # Each first run starts with an empty row-owner cache (as on a first run of `relapse score`)
                # and fills it; the re-run finds there the tables whose files did not change.
                r = child(folder, model, mode, args.workers, out, None, Path(tmp) / f"owners-{households}-{mode}")
                label = {"single": "one process", "pool": f"process pool, {args.workers} workers"}.get(
                    mode, f"LocalCluster, {args.workers} workers"
                )
                print(line(label, households, r), flush=True)
                first = first or out
            if first is not None and len(args.modes) == 2:
                import pyarrow.parquet as pq

                same = pq.read_table(Path(tmp) / f"{households}-single.parquet").equals(
                    pq.read_table(Path(tmp) / f"{households}-cluster.parquet")
                )
                print(f"  cluster table identical to the one-process table: {same}", flush=True)
            if args.rerun and first is not None:
                changed = changed_city(folder)
                owners = Path(tmp) / f"owners-{households}-{args.modes[0]}"
                r = child(changed, model, args.modes[0], args.workers, Path(tmp) / "rerun.parquet", first, owners)
                print(line("re-run, 10 % changed", households, r) + f" (target ≤ {TARGET_RERUN_SECONDS:.0f} s)")
            print(f"  targets at 1 M: ≤ {TARGET_SECONDS:.0f} s, ≤ {TARGET_PEAK_GB:.0f} GB", flush=True)
        if args.baseline:
            per = baseline(city_folder(args.households[0], args.seed), model, args.baseline)
            biggest = max(args.households)
            print(
                f"  baseline  explain_households one household at a time: {per:.1f} ms per household → "
                f"{per * biggest / 1000:,.0f} s for {biggest:,}"
            )


if __name__ == "__main__":
    main()
