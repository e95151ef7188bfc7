"""Several service processes on one database run each batch job once: runners claim jobs atomically, and only the
holder of the runner lease requeues and runs jobs (`relapse serve --workers N`)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
import time
import uuid
from collections import Counter
from pathlib import Path

import pytest

from service._runner_lease import RunnerLease
from service.db import Database, open_database
from service.job_runner import JobRunner
from service.keys import Caller
from service.model_holder import ModelHolder, RegistrySource
from service.scope import Scope
from service.settings import ServiceSettings
from service.store import create_job, get_job, update_job
from service.tables import JobStatus

EVERYWHERE = Scope.everything()


def _url(db: Database) -> str:
    return db.engine.url.render_as_string(hide_password=False)


def _queued_jobs(db: Database, count: int) -> list[uuid.UUID]:
    with db.session() as session:
        return [
            create_job(session, EVERYWHERE, Caller.local_operator(), source=f"job {i}", options={}).id
            for i in range(count)
        ]


def _status(db: Database, job_id: uuid.UUID) -> JobStatus:
    with db.session() as session:
        return get_job(session, EVERYWHERE, job_id).status


def _runner(db: Database, tmp_path: Path) -> JobRunner:
    """A runner with a holder that has no model: any job it runs fails at once, naming why."""
    settings = ServiceSettings(data_dir=tmp_path, database_url=_url(db))
    holder = ModelHolder(RegistrySource("sqlite:///nowhere.db"), tmp_path / "model-cache", None)
    return JobRunner(db, holder, settings, None)


def test_runners_on_separate_connections_never_claim_the_same_job(db: Database, tmp_path: Path) -> None:
    jobs = _queued_jobs(db, 12)
    # Each runner has its own engine and pool, as a separate process would.
    databases = [open_database(_url(db), ServiceSettings(data_dir=tmp_path, database_url=_url(db))) for _ in range(3)]
    runners = [_runner(database, tmp_path) for database in databases]
    claims: Counter[uuid.UUID] = Counter()
    lock = threading.Lock()
    start = threading.Barrier(len(runners))

    def claim_all(runner: JobRunner) -> None:
        start.wait()
        for job_id in jobs:
            if runner.claim(job_id):
                with lock:
                    claims[job_id] += 1

    threads = [threading.Thread(target=claim_all, args=(runner,)) for runner in runners]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    for database in databases:
        database.dispose()
    assert claims == Counter(dict.fromkeys(jobs, 1))  # every job claimed, each exactly once
    assert {_status(db, job_id) for job_id in jobs} == {JobStatus.RUNNING}


def test_a_job_that_is_not_queued_cannot_be_claimed_or_run(db: Database, tmp_path: Path) -> None:
    (job_id,) = _queued_jobs(db, 1)
    runner = _runner(db, tmp_path)
    assert runner.claim(job_id) is True
    assert runner.claim(job_id) is False  # already running (here, or in another process)
    with pytest.raises(Exception, match="a running job cannot be started"):
        runner.run(job_id)


def test_one_lease_per_database_until_its_holder_lets_go(db: Database) -> None:
    first, second = RunnerLease(db), RunnerLease(db)
    try:
        assert first.acquire() is True
        assert first.acquire() is True  # held: asking again keeps it
        assert second.acquire() is False
        first.release()
        assert second.acquire() is True
        assert first.acquire() is False
    finally:
        first.release()
        second.release()


def test_the_lease_dies_with_the_process_holding_it(db: Database, tmp_path: Path) -> None:
    """A holder killed without any chance to tidy up (as a crashed worker) leaves the lease to the others."""
    script = textwrap.dedent(
        f"""
        import sys, time
        from service.db import open_database
        from service.settings import ServiceSettings
        from service._runner_lease import RunnerLease
        url = {_url(db)!r}
        lease = RunnerLease(open_database(url, ServiceSettings(data_dir={str(tmp_path)!r}, database_url=url)))
        print(lease.acquire(), flush=True)
        time.sleep(600)
        """
    )
    child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    lease = RunnerLease(db)
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "True"
        assert lease.acquire() is False
        child.kill()
        child.wait(30)
        deadline = time.monotonic() + 10  # PostgreSQL notices the closed connection within moments
        while not lease.acquire() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert lease.held
    finally:
        child.kill()
        lease.release()


def test_a_runner_without_the_lease_leaves_a_running_job_alone_then_takes_over(db: Database, tmp_path: Path) -> None:
    """Before the lease, a starting process put every running job back in the queue — including one another
    live process was scoring — and then ran it a second time."""
    (job_id,) = _queued_jobs(db, 1)
    holder_of_lease = RunnerLease(db)
    assert holder_of_lease.acquire()
    with db.session() as session:
        update_job(session, EVERYWHERE, job_id, status=JobStatus.RUNNING)  # being scored by the lease holder
    runner = _runner(db, tmp_path)
    runner.start()
    try:
        time.sleep(1.0)  # the runner's loop has asked for the lease and been refused
        assert not runner.lease.held
        assert _status(db, job_id) is JobStatus.RUNNING
        holder_of_lease.release()  # the holder's process exits: this runner takes over, requeues and runs the job
        runner.wake()
        deadline = time.monotonic() + 20
        while _status(db, job_id) is not JobStatus.FAILED and time.monotonic() < deadline:  # requeued, then run
            time.sleep(0.1)
        with db.session() as session:
            job = get_job(session, EVERYWHERE, job_id)
        assert job.status is JobStatus.FAILED and job.error is not None and "no model is loaded" in job.error
    finally:
        runner.stop()
        holder_of_lease.release()
