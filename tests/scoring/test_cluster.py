"""Scoring on a real Dask LocalCluster (2 worker processes): the single-process table bitwise, even when a
worker process is killed in the middle of the job."""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pytest
from distributed import Client, LocalCluster

from scoring.cluster import DaskExecutor, dask_executor
from scoring.run import score_partitions
from tests.scoring.test_run import assert_same, first_run, job, partitioned

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture(scope="module")
def client() -> Iterator[Client]:
    with (
        LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster,
        Client(cluster) as connected,
    ):
        yield connected


def test_cluster_table_is_the_single_process_table_bitwise(client: Client) -> None:
    executor = DaskExecutor(client)
    assert executor.workers == 2
    results = list(score_partitions(job(), partitioned(), executor=executor, unit_households=1))
    assert [p.index for p, _ in results] == [p.index for p in partitioned().partitions]
    assert_same(pa.concat_tables([t for _, t in results]), first_run())  # scores, reasons, measures, sentences


def test_a_worker_killed_mid_job_loses_and_duplicates_no_rows(client: Client) -> None:
    executor = DaskExecutor(client)
    killed: list[int] = []

    def kill_a_busy_worker(step: str, done: int, total: int) -> None:
        if killed or done == 0:
            return
        busy = [address for address, tasks in client.processing().items() if tasks]
        if busy:
            pid = client.run(os.getpid, workers=[busy[0]])[busy[0]]
            os.kill(pid, signal.SIGKILL)
            killed.append(pid)

    results = list(
        score_partitions(
            job(), partitioned(), executor=executor, progress=kill_a_busy_worker, in_flight=4, unit_households=1
        )
    )
    assert killed, "no worker was busy when the first partition came back"
    table = pa.concat_tables([t for _, t in results])
    assert table.num_rows == 2_000 and len(set(table.column("household_id").to_pylist())) == 2_000
    assert_same(table, first_run())


def test_dask_executor_needs_exactly_one_target() -> None:
    with pytest.raises(ValueError, match="either"), dask_executor():
        pass
    with pytest.raises(ValueError, match="either"), dask_executor("tcp://127.0.0.1:1", local_cluster=1):
        pass


def test_work_nobody_collected_finishes_before_the_executor_is_left(client: Client, tmp_path: Path) -> None:
    # A warm-up is submitted and never collected; leaving must not cancel it mid-run (a worker busy with a
    # cancelled task when its cluster closes prints a traceback on the user's terminal).
    finished = tmp_path / "finished"
    with dask_executor(client.scheduler.address) as executor:
        executor.submit(subprocess.run, ["sh", "-c", f"sleep 1 && touch {finished}"])
    assert finished.exists()
