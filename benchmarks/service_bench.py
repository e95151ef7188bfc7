"""Benchmark: the scoring API under 8 concurrent clients (latency and throughput targets below).

    python -m benchmarks.service_bench                  # one uvicorn worker, `relapse serve`'s default
    python -m benchmarks.service_bench --workers 2      # `relapse serve --workers 2`: two worker processes
    python -m benchmarks.service_bench --workers 2 --against /tmp/previous   # this release beside another's tree

Targets, server-side (request arrival → response, in the server process, read from the `Server-Timing` header
the metrics middleware sets): `POST /v1/profiles:score` for one household with explanations p50 ≤ 5 ms,
p99 ≤ 20 ms; `POST /v1/households:score` for one household document (profile built per request) p50 ≤ 15 ms,
p99 ≤ 50 ms. Throughput of `profiles:score` with explanations ≥ 10× that of `mlflow models serve` on the same
registered model (which returns probabilities only), measured in the same run.

The model is trained as `relapse train` trains it (`train_and_register` on the demo-sized city of the other
benchmarks, 20,000 households, seed 1) and registered and promoted in an MLflow registry cached under
`$RELAPSE_DATA_DIR/bench/`. The service is the real one: `relapse serve --workers N` (uvicorn), loading the
champion from that registry, on a fresh SQLite database in a temporary folder, every decision audited; the
clients hold an API key of role `monitor`. `mlflow models serve -m models:/relapse-risk@champion --env-manager
local` (one uvicorn worker, its default) serves the same version. Requests cycle through --households-sampled
households of the city as of --as-of. The clients are 8 threads with one keep-alive connection each (plain
`http.client`, the cheapest Python client: client and server share the 2 cores). Throughput rounds alternate
between our service and MLflow so that load from other jobs falls on both alike.
"""

from __future__ import annotations

import argparse
import http.client
import json
import math
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

TARGETS = {
    "profiles": (5.0, 20.0),  # ms, p50 and p99
    "households": (15.0, 50.0),
}
TARGET_RATIO = 10.0
MODEL_NAME = "relapse-risk"
PSEUDONYM_KEY = "benchmark-pseudonym-key-0123456789abcdef0123456789"


# --- the registered model -----------------------------------------------------------------------------------
def registry(households: int, seed: int) -> str:
    """Tracking URI of a registry whose champion was trained on the cached city (trained on first use)."""
    from mlflow import MlflowClient

    from benchmarks.profiles_bench import city_folder
    from features.reading.sources import read_sources
    from training.fit import TrainConfig
    from training.pipeline import data_from_sources, train_and_register
    from training.registry import promote
    from training.settings import TrainingSettings

    folder = Path(os.environ.get("RELAPSE_DATA_DIR", "data")) / "bench" / f"service-registry-{households}-seed{seed}"
    settings = TrainingSettings(data_dir=folder.resolve(), mlflow_uri=None)
    ready = folder / "ready.json"
    if ready.is_file():
        return settings.tracking_uri
    # MLflow stores absolute artifact paths: train in place, and mark the folder complete at the end.
    shutil.rmtree(folder, ignore_errors=True)
    city = read_sources(city_folder(households, seed))
    outcome = train_and_register(data_from_sources(city), settings, TrainConfig(seed=seed), backtest=False)
    assert outcome.version is not None
    client = MlflowClient(tracking_uri=settings.tracking_uri)
    promote(client, settings, outcome.version, force=True, reason="service benchmark")
    ready.write_text(json.dumps({"version": outcome.version}))
    return settings.tracking_uri


# --- request bodies -----------------------------------------------------------------------------------------
def _plain(value: Any) -> Any:
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, pd.Timestamp):
        return value.date().isoformat()
    if isinstance(value, float | np.floating) and math.isnan(value):
        return None
    if isinstance(value, np.generic):
        return value.item()
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def _rows(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [{k: _plain(v) for k, v in row.items()} for row in frame.to_dict(orient="records")]


@dataclass
class Bodies:
    profiles: list[bytes]  # POST /v1/profiles:score, one household each, explanations on
    households: list[bytes]  # POST /v1/households:score, one household document each
    mlflow: list[bytes]  # POST /invocations, the same profiles (model features only)


def request_bodies(households: int, seed: int, as_of: str, count: int) -> Bodies:
    """Bodies for `count` households of the city drawn at random (the same households for every endpoint)."""
    from benchmarks.profiles_bench import city_folder
    from features.profiles.build import build_profiles, select_households
    from features.profiles.catalogue import FEATURES
    from features.pseudonyms.ingestion import ingest
    from features.pseudonyms.keys import PseudonymKey
    from features.reading.sources import read_sources

    city = read_sources(city_folder(households, seed))
    ids = city["households"]["household_id"].to_numpy()
    chosen = list(np.random.default_rng(seed).choice(ids, size=count, replace=False))
    subset = select_households(city, chosen)
    key = PseudonymKey.from_text(PSEUDONYM_KEY, "bench")
    profiles = build_profiles(ingest(subset, key), as_of).set_index("household_id").loc[chosen].reset_index()
    profile_rows = _rows(profiles)
    names = [f.name for f in FEATURES]
    bodies = Bodies([], [], [])
    for household, row in zip(chosen, profile_rows, strict=True):
        bodies.profiles.append(json.dumps({"profiles": [row], "explain": True}).encode())
        bodies.mlflow.append(
            json.dumps({"dataframe_split": {"columns": names, "data": [[row[n] for n in names]]}}).encode()
        )
        bodies.households.append(json.dumps({"households": [_document(subset, household)], "as_of": as_of}).encode())
    return bodies


def _document(city: Any, household_id: str) -> dict[str, Any]:
    """A household's source records in the contract's shape, as a source system would send them."""
    out: dict[str, Any] = {}
    households = city["households"]
    out["household"] = _rows(households[households["household_id"] == household_id])[0]
    members = city["members"][city["members"]["household_id"] == household_id]
    for name in ("members", "income", "events", "assistance", "housing_checks", "water_checks", "identifications"):
        frame = city[name]
        out[name] = _rows(frame[frame["household_id"] == household_id])
    status = city["member_status"]
    out["member_status"] = _rows(status[status["member_id"].isin(members["member_id"])])
    villages = city["villages"]
    out["village"] = _rows(villages[villages["region_code"] == out["household"]["region_code"]])[0]
    return out


# --- servers ------------------------------------------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    name: str
    port: int
    process: subprocess.Popen[bytes]
    headers: dict[str, str] = field(default_factory=dict)

    def cpu_seconds(self) -> float:
        """CPU time of the server and its worker processes so far (user + system)."""
        total = 0.0
        for pid in [self.process.pid, *_children(self.process.pid)]:
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        return total


def _children(pid: int) -> list[int]:
    try:
        found = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return []
    return [int(child) for child in found]


def _wait_ready(port: int, path: str, process: subprocess.Popen[bytes], log: Path, timeout_s: float = 180) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited ({process.returncode}):\n{log.read_text()[-3000:]}")
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            connection.request("GET", path)
            if connection.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"server not ready after {timeout_s:.0f} s:\n{log.read_text()[-3000:]}")


@contextmanager
def our_service(
    tracking_uri: str,
    folder: Path,
    workers: int,
    settings_env: dict[str, str] | None = None,
    checkout: Path | None = None,
) -> Iterator[Server]:
    from models.signing import signing_key
    from service.db import open_database
    from service.keys import create_key
    from service.migrate import upgrade_database
    from service.settings import ServiceSettings

    settings = ServiceSettings(data_dir=folder, database_url="", mlflow_uri=tracking_uri)
    upgrade_database(settings.database_url)
    database = open_database(settings.database_url, settings)
    with database.session() as session:
        key = create_key(session, role="monitor", region_prefix="99", label="service benchmark").plaintext
    database.dispose()
    env = {
        **os.environ,
        "RELAPSE_DATA_DIR": str(folder),
        "RELAPSE_DATABASE_URL": settings.database_url,
        "RELAPSE_MLFLOW_URI": tracking_uri,
        "RELAPSE_MODEL_POLL_S": "0",
        "RELAPSE_PSEUDONYM_KEY": PSEUDONYM_KEY,
        # The key the benchmark's registry signed its model with (models.signing): its store is two folders up.
        "RELAPSE_MODEL_SIGNING_KEY": signing_key(
            Path(tracking_uri.removeprefix("sqlite:///")).parent.parent
        ).secret.decode(),
        **(settings_env or {}),
    }
    port = _free_port()
    log = folder / "uvicorn.log"
    # Started as operators start it: `relapse serve` (migrations, keys, then uvicorn with N worker processes).
    command = [sys.executable, "-m", "relapse", "serve", "--host", "127.0.0.1", "--port", str(port)]
    command += ["--workers", str(workers)]
    # From `checkout` (another release's working tree), `-m relapse` imports that tree's packages: its cwd comes
    # first on the path.
    with log.open("wb") as out:
        process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=checkout)
    try:
        _wait_ready(port, "/health/ready", process, log)
        yield Server("ours" if checkout is None else str(checkout), port, process, {"Authorization": f"Bearer {key}"})
    finally:
        process.terminate()
        process.wait(timeout=60)


@contextmanager
def mlflow_serve(tracking_uri: str, folder: Path) -> Iterator[Server]:
    # `mlflow models serve` runs `uvicorn` from the PATH: the one of this environment.
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    env = {**os.environ, "PATH": path, "MLFLOW_TRACKING_URI": tracking_uri, "MLFLOW_REGISTRY_URI": tracking_uri}
    port = _free_port()
    log = folder / "mlflow-serve.log"
    mlflow = Path(sys.executable).with_name("mlflow")
    command = [str(mlflow), "models", "serve", "-m", f"models:/{MODEL_NAME}@champion", "--env-manager", "local"]
    command += ["--host", "127.0.0.1", "--port", str(port)]
    with log.open("wb") as out:
        process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        _wait_ready(port, "/ping", process, log)
        yield Server("mlflow", port, process)
    finally:
        with suppress(ProcessLookupError):
            os.killpg(process.pid, 15)  # its own process group: the CLI and the uvicorn server it starts
        process.wait(timeout=60)


# --- load ---------------------------------------------------------------------------------------------------
@dataclass
class Phase:
    requests: int
    wall_s: float
    server_ms: np.ndarray  # from the Server-Timing header (empty for MLflow, which sets none)
    client_ms: np.ndarray
    server_cpu_s: float
    client_cpu_s: float
    load_before: float
    load_after: float

    @property
    def throughput(self) -> float:
        return self.requests / self.wall_s

    def server_p(self, q: float) -> float:
        return float(np.percentile(self.server_ms, q))

    def client_p(self, q: float) -> float:
        return float(np.percentile(self.client_ms, q))


def load_average() -> float:
    return float(Path("/proc/loadavg").read_text().split()[0])


def run_phase(server: Server, path: str, bodies: list[bytes], requests: int, clients: int) -> Phase:
    """`requests` POSTs spread over `clients` threads, each on its own keep-alive connection."""
    counter = iter(range(requests))
    lock = threading.Lock()
    server_ms: list[float] = []
    client_ms: list[float] = []
    errors: list[str] = []
    headers = {"Content-Type": "application/json", **server.headers}

    def client() -> None:
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
        mine_server, mine_client = [], []
        while True:
            with lock:
                i = next(counter, None)
            if i is None:
                break
            start = time.perf_counter()
            connection.request("POST", path, body=bodies[i % len(bodies)], headers=headers)
            response = connection.getresponse()
            payload = response.read()
            mine_client.append((time.perf_counter() - start) * 1000)
            if response.status != 200:
                errors.append(f"{response.status}: {payload[:500]!r}")
                break
            timing = response.getheader("Server-Timing")
            if timing:
                mine_server.append(server_ms(timing))
        connection.close()
        with lock:
            server_ms.extend(mine_server)
            client_ms.extend(mine_client)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    load_before, cpu_before, own_before = load_average(), server.cpu_seconds(), time.process_time()
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - start
    if errors:
        raise RuntimeError(f"{server.name} {path}: {errors[0]}")
    return Phase(
        requests,
        wall,
        np.array(server_ms),
        np.array(client_ms),
        server.cpu_seconds() - cpu_before,
        time.process_time() - own_before,
        load_before,
        load_average(),
    )


def server_ms(timing: str) -> float:
    """The app's duration from a `Server-Timing: app;dur=…` header (service.metrics sets it)."""
    return float(timing.split("dur=")[1].split(",")[0].split(";")[0])


def interleaved(servers: list[Server], path: str, bodies: list[bytes], requests: int) -> list[np.ndarray]:
    """Server-side ms of `requests` POSTs to each server from one client that sends each body to every server in
    turn, the order alternating: on a machine whose speed drifts from minute to minute (a shared virtual machine),
    both releases see the same machine, request by request."""
    headers = [{"Content-Type": "application/json", **server.headers} for server in servers]
    connections = [http.client.HTTPConnection("127.0.0.1", server.port, timeout=60) for server in servers]
    out: list[list[float]] = [[] for _ in servers]
    for i in range(requests):
        order = range(len(servers)) if i % 2 == 0 else reversed(range(len(servers)))
        for k in order:
            connections[k].request("POST", path, body=bodies[i % len(bodies)], headers=headers[k])
            response = connections[k].getresponse()
            payload = response.read()
            if response.status != 200:
                raise RuntimeError(f"{servers[k].name} {path}: {response.status}: {payload[:500]!r}")
            out[k].append(server_ms(response.getheader("Server-Timing") or ""))
    for connection in connections:
        connection.close()
    return [np.array(values) for values in out]


def side_by_side(tracking_uri: str, bodies: Bodies, args: argparse.Namespace) -> None:
    """This checkout and `--against` (another release's tree) served at once, one client interleaving requests."""
    other = Path(args.against).resolve()
    with (
        tempfile.TemporaryDirectory() as tmp,
        our_service(tracking_uri, Path(tmp) / "this", args.workers) as this,
        our_service(tracking_uri, Path(tmp) / "other", args.workers, checkout=other) as that,
    ):
        print(f"  one client, requests interleaved between this checkout and {other}; server-side ms:")
        for endpoint, endpoint_bodies in (("profiles:score", bodies.profiles), ("households:score", bodies.households)):
            path = f"/v1/{endpoint}"
            interleaved([this, that], path, endpoint_bodies, min(len(endpoint_bodies), 100))  # warm both
            mine, theirs = interleaved([this, that], path, endpoint_bodies, args.requests // 4)
            ratio = float(np.median(mine / theirs))
            print(
                f"    {endpoint:<17} p50 {np.median(mine):6.2f} vs {np.median(theirs):6.2f}  p90 "
                f"{np.percentile(mine, 90):6.2f} vs {np.percentile(theirs, 90):6.2f}  median ratio of pairs "
                f"{ratio:.3f} ({len(mine)} pairs)",
                flush=True,
            )


def http_floor_ms(server: Server, requests: int) -> float:
    """Server CPU per `GET /health/live` from one client: what uvicorn, routing and the middleware cost a request
    that does no work (the part of every request's budget no scoring change can remove)."""
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    before = server.cpu_seconds()
    for _ in range(requests):
        connection.request("GET", "/health/live")
        connection.getresponse().read()
    connection.close()
    return (server.cpu_seconds() - before) / requests * 1000


# --- report -------------------------------------------------------------------------------------------------
def _latency_line(label: str, phase: Phase, target: tuple[float, float]) -> str:
    p50, p99 = phase.server_p(50), phase.server_p(99)
    ok = "met" if p50 <= target[0] and p99 <= target[1] else "MISSED"
    return (
        f"  {label:<34} {p50:7.2f} {p99:8.2f}   ≤ {target[0]:.0f} / ≤ {target[1]:.0f} {ok:<7}"
        f"{phase.client_p(50):8.2f} {phase.client_p(99):8.2f} {phase.throughput:9.0f} "
        f"{phase.server_cpu_s / phase.requests * 1000:8.2f}   {phase.load_before:.1f}→{phase.load_after:.1f}"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--households", type=int, default=20_000, help="city size (model and requests)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--as-of", default="2025-01-01")
    parser.add_argument("--sampled", type=int, default=200, help="distinct households the requests cycle through")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--requests", type=int, default=4000, help="timed requests per latency phase")
    parser.add_argument("--throughput-requests", type=int, default=1000, help="per throughput round")
    parser.add_argument("--rounds", type=int, default=3, help="alternating throughput rounds")
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes of our service")
    parser.add_argument("--no-mlflow", action="store_true", help="skip the comparison with `mlflow models serve`")
    parser.add_argument(
        "--compare",
        metavar="VARIABLE=A,B[,…]",
        help="both endpoints under the clients in fresh services with the service's environment variable at each "
        "value in turn (--rounds rounds), e.g. RELAPSE_COALESCE_ROWS=0,16,64",
    )
    parser.add_argument(
        "--compare-coalescing",
        action="store_true",
        help="--compare RELAPSE_COALESCE_ROWS=0,64: with and without the scoring lane",
    )
    parser.add_argument(
        "--against",
        metavar="CHECKOUT",
        help="another release's working tree (e.g. a `git worktree` of the previous release): both served at once, "
        "one client interleaving requests, the same registered model",
    )
    args = parser.parse_args(argv)
    if args.compare_coalescing:
        args.compare = "RELAPSE_COALESCE_ROWS=0,64"
    if args.compare:
        variable, _, listed = args.compare.partition("=")
        values = [value for value in listed.split(",") if value]
        if not variable.startswith("RELAPSE_") or len(values) < 2:
            parser.error(f"--compare {args.compare!r}: give RELAPSE_<SETTING>=A,B (two values or more)")

    tracking_uri = registry(args.households, args.seed)
    bodies = request_bodies(args.households, args.seed, args.as_of, args.sampled)
    print(
        f"service: {args.clients} concurrent clients, {args.workers} uvicorn worker(s) of ours, "
        f"{os.cpu_count()} cores; model trained on the {args.households:,}-household city (seed {args.seed}); "
        f"{args.sampled} households as of {args.as_of}",
        flush=True,
    )
    if args.compare:
        compare(tracking_uri, bodies, args, variable, values)
        return
    if args.against:
        side_by_side(tracking_uri, bodies, args)
        return
    with tempfile.TemporaryDirectory() as tmp, our_service(tracking_uri, Path(tmp), args.workers) as ours:
        warm = min(len(bodies.profiles), 200)
        run_phase(ours, "/v1/profiles:score", bodies.profiles, warm, args.clients)
        run_phase(ours, "/v1/households:score", bodies.households, warm, args.clients)
        profiles = run_phase(ours, "/v1/profiles:score", bodies.profiles, args.requests, args.clients)
        households = run_phase(ours, "/v1/households:score", bodies.households, args.requests // 2, args.clients)
        # One client, for reference: the work per request without queueing behind the other clients.
        profiles_alone = run_phase(ours, "/v1/profiles:score", bodies.profiles, args.requests // 4, 1)
        households_alone = run_phase(ours, "/v1/households:score", bodies.households, args.requests // 8, 1)
        print(
            f"  {'server-side latency, ms':<34} {'p50':>7} {'p99':>8}   {'target':<18}"
            f"{'client p50':>10} {'p99':>7} {'req/s':>9} {'CPU ms/req':>10}  load"
        )
        print(_latency_line(f"profiles:score + explanations ({profiles.requests})", profiles, TARGETS["profiles"]))
        print(_latency_line(f"households:score ({households.requests})", households, TARGETS["households"]))
        print("  one client at a time (reference, no queueing):")
        print(_latency_line(f"profiles:score ({profiles_alone.requests})", profiles_alone, TARGETS["profiles"]))
        print(_latency_line(f"households:score ({households_alone.requests})", households_alone, TARGETS["households"]))
        print(
            f"  the clients used {profiles.client_cpu_s / profiles.requests * 1000:.2f} ms CPU per profiles:score "
            "request (they share the cores with the server)",
            flush=True,
        )
        floor_ms = http_floor_ms(ours, args.requests // 4)
        print(f"  the HTTP floor: GET /health/live costs the server {floor_ms:.2f} ms CPU per request", flush=True)
        if args.no_mlflow:
            return
        ours_rounds: list[Phase] = []
        mlflow_rounds: list[Phase] = []
        with mlflow_serve(tracking_uri, Path(tmp)) as theirs:
            run_phase(theirs, "/invocations", bodies.mlflow, warm, args.clients)
            for _ in range(args.rounds):
                n = args.throughput_requests
                ours_rounds.append(run_phase(ours, "/v1/profiles:score", bodies.profiles, n, args.clients))
                mlflow_rounds.append(run_phase(theirs, "/invocations", bodies.mlflow, n, args.clients))
    ours_tp = statistics.median(r.throughput for r in ours_rounds)
    theirs_tp = statistics.median(r.throughput for r in mlflow_rounds)
    ratio = ours_tp / theirs_tp
    print(f"  throughput, {args.rounds} alternating rounds of {args.throughput_requests} requests (median):")
    print(
        f"    profiles:score + explanations    {ours_tp:8.0f} req/s  "
        f"(rounds {', '.join(f'{r.throughput:.0f}' for r in ours_rounds)}; server CPU "
        f"{statistics.median(r.server_cpu_s / r.requests * 1000 for r in ours_rounds):.2f} ms/req)"
    )
    print(
        f"    mlflow models serve /invocations {theirs_tp:8.0f} req/s  "
        f"(rounds {', '.join(f'{r.throughput:.0f}' for r in mlflow_rounds)}; server CPU "
        f"{statistics.median(r.server_cpu_s / r.requests * 1000 for r in mlflow_rounds):.2f} ms/req; "
        "probabilities only)"
    )
    print(f"    ratio {ratio:.1f}× (target ≥ {TARGET_RATIO:.0f}×) — {'met' if ratio >= TARGET_RATIO else 'MISSED'}")
    print(f"  load average at the end {load_average():.1f} on {os.cpu_count()} cores")


def compare(tracking_uri: str, bodies: Bodies, args: argparse.Namespace, variable: str, values: list[str]) -> None:
    """Both endpoints under the clients with the service's environment `variable` at each of `values`, alternating
    in fresh services: the same machine state for each."""
    endpoints = {
        "profiles:score": (bodies.profiles, args.requests),
        "households:score": (bodies.households, args.requests // 2),
    }
    results: dict[tuple[str, str], list[Phase]] = {(e, value): [] for e in endpoints for value in values}
    for _ in range(args.rounds):
        for value in values:
            env = {variable: value}
            with tempfile.TemporaryDirectory() as tmp, our_service(tracking_uri, Path(tmp), args.workers, env) as ours:
                for endpoint, (endpoint_bodies, requests) in endpoints.items():
                    path = f"/v1/{endpoint}"
                    run_phase(ours, path, endpoint_bodies, min(len(endpoint_bodies), 200), args.clients)
                    results[(endpoint, value)].append(run_phase(ours, path, endpoint_bodies, requests, args.clients))
    for endpoint in endpoints:
        print(f"  {endpoint}, {args.rounds} alternating rounds, server-side p50 / p99 / max:")
        for value in values:
            rounds = "; ".join(
                f"{p.server_p(50):.1f} / {p.server_p(99):.1f} / {p.server_p(100):.0f} ms, {p.throughput:.0f} req/s, "
                f"{p.server_cpu_s / p.requests * 1000:.2f} CPU ms/req"
                for p in results[(endpoint, value)]
            )
            print(f"    {variable}={value}: {rounds}")
        medians = [
            f"{variable}={value}: p50 {statistics.median(p.server_p(50) for p in phases):.1f}, p99 "
            f"{statistics.median(p.server_p(99) for p in phases):.1f}, max "
            f"{statistics.median(p.server_p(100) for p in phases):.0f} ms, "
            f"{statistics.median(p.throughput for p in phases):.0f} req/s"
            for value in values
            for phases in [results[(endpoint, value)]]
        ]
        print(f"    medians: {'; '.join(medians)}")


if __name__ == "__main__":
    main()
