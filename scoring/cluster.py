"""Scoring partitions on a Dask cluster: the same `scoring.run` unit of work on `dask.distributed` workers.

`dask_executor(scheduler="tcp://host:8786")` connects to a running scheduler; `dask_executor(local_cluster=N)`
starts a `LocalCluster` of N single-threaded worker processes on this machine. Either yields a `DaskExecutor`,
whose `submit` hands one partition (its Arrow IPC bytes, the job, the earlier rows of its households) to the
cluster; `scoring.run.score_partitions` keeps a bounded number of partitions in flight and collects
results in partition order, so the output is the single-process table, row for row.

Failure: a task's inputs travel inside the task, never as data scattered to one worker, so when a worker
dies mid-partition the scheduler runs that partition again elsewhere from its own copy (up to
`distributed.scheduler.allowed-failures` times) and nothing is lost; a partition's result is collected once,
from one future, so nothing is written twice.
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from distributed import Client, Future, LocalCluster, wait

# How long leaving the executor waits for work nobody collected (a warm-up still building its explainer).
SETTLE_S = 120.0


class DaskExecutor:
    """`submit` on a `distributed.Client`, in the shape `score_partitions` uses (concurrent.futures-like).

    It holds every future it hands out: a future nobody holds is cancelled by the scheduler, and a worker
    still running one when the cluster closes logs a traceback on the user's terminal (`settle`)."""

    def __init__(self, client: Client) -> None:
        self.client = client
        self.futures: list[Future] = []
        self._lock = threading.Lock()  # `warm_up` submits from its own thread

    @property
    def workers(self) -> int:
        """Threads across the cluster's workers (how many partitions run at once)."""
        info = self.client.scheduler_info()["workers"]
        return sum(int(w.get("nthreads", 1)) for w in info.values()) or 1

    def submit(self, fn: Callable[..., Any], /, *args: Any) -> Future:
        with warnings.catch_warnings():
            # A partition is tens of MB by design; it travels in the task so that a lost worker loses nothing.
            warnings.filterwarnings("ignore", message=".*[Ll]arge (graph|object).*")
            future = self.client.submit(fn, *args, pure=False)
        with self._lock:
            self.futures = [f for f in self.futures if not f.done()]
            self.futures.append(future)
        return future

    def settle(self, failed: bool) -> None:
        """Before the cluster closes: wait for the work still running (cancel it if the caller failed), so
        that no worker is mid-task when its scheduler goes away."""
        with self._lock:
            running, self.futures = [f for f in self.futures if not f.done()], []
        if failed:
            self.client.cancel(running)
        elif running:
            wait(running, timeout=SETTLE_S)


@contextmanager
def dask_executor(
    scheduler: str | None = None,
    *,
    local_cluster: int | None = None,
    memory_limit: str | None = None,
) -> Iterator[DaskExecutor]:
    """A connected DaskExecutor (module docstring); the local cluster, if started here, stops on exit."""
    if (scheduler is None) == (local_cluster is None):
        raise ValueError("give either a scheduler address or a local cluster size")
    if local_cluster is not None:
        if local_cluster < 1:
            raise ValueError("a local cluster needs at least one worker")
        with (
            LocalCluster(
                n_workers=local_cluster,
                threads_per_worker=1,
                processes=True,
                dashboard_address=None,
                memory_limit=memory_limit or "auto",
            ) as cluster,
            Client(cluster) as client,
        ):
            yield from _settled(DaskExecutor(client))
        return
    with Client(scheduler) as client:
        yield from _settled(DaskExecutor(client))


def _settled(executor: DaskExecutor) -> Iterator[DaskExecutor]:
    failed = True
    try:
        yield executor
        failed = False
    finally:
        executor.settle(failed)
