"""Executors' workers for `score_partitions`: a process pool, warming its workers up, and counting them."""

from __future__ import annotations

import multiprocessing
import multiprocessing.forkserver
import threading
from concurrent.futures import ProcessPoolExecutor
from typing import Any, Final

from models.risk_model import RiskModel
from scoring.job import explainer_for

# The module whose import brings in everything a worker runs: `scoring.run._call`, which workers unpickle by
# this module path, and the scoring code it calls (tests/scoring/test_run.py checks the name).
WORKER_MODULE: Final = "scoring.run"


def process_pool(workers: int) -> ProcessPoolExecutor:
    """A pool of `workers` processes for `score_partitions`, forked from a server process that imported the
    scoring code once (`forkserver`: no worker imports it again, and none inherits this process's threads or
    LightGBM's OpenMP state); `spawn` where that server is unavailable or cannot start."""
    if "forkserver" in multiprocessing.get_all_start_methods():
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload([WORKER_MODULE])
        try:
            multiprocessing.forkserver.ensure_running()  # starts it (returns before it has imported anything)
            return ProcessPoolExecutor(workers, mp_context=context)
        except OSError:  # e.g. a temporary folder whose path is too long for the server's socket
            pass
    return ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"))


def warm_up(executor: Any, model: RiskModel) -> None:
    """Start an executor's workers now: each imports the scoring code and builds the model's explainer while
    the caller reads the sources. Nothing waits for it: the submissions run on a thread (a `process_pool`
    worker starts only once its server has imported the scoring code), and a worker that fails here fails its
    first unit too."""

    def submit() -> None:
        try:
            for _ in range(max(worker_count(executor), 1)):
                executor.submit(explainer_for, model)
        except RuntimeError:  # shut down (or broken) before it started: the caller's own submissions say why
            pass

    threading.Thread(target=submit, name="warm-up", daemon=True).start()


def worker_count(executor: Any) -> int:
    for name in ("workers", "_max_workers"):
        value = getattr(executor, name, None)
        if isinstance(value, int):
            return value
    return 1
