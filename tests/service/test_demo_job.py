"""`relapse demo` scores the demo city once: an interrupted run resumes its own job, and a running service that
holds the runner lease is left to run it (`relapse.demo_command.run_demo_job`)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from relapse.demo_command import demo_jobs, run_demo_job
from service._runner_lease import RunnerLease
from service.db import Database
from service.job_runner import JobRunner
from service.model_holder import ModelHolder
from service.tables import JobChunk, JobStatus, ScoreRecord
from tests.service.api_support import AS_OF, KEY, Registered, county_households, service_settings

CHUNK = 60


@pytest.fixture
def demo_folder(registered: Registered, county_folder: Path) -> tuple[Path, int]:
    """A small demo city's source tables (the test city's county) and its number of households."""
    return county_folder / "county", len(county_households(registered))


def _runner(db: Database, holder: ModelHolder, tmp_path: Path) -> JobRunner:
    """A runner as a separate `relapse demo` process would make it (its own lease)."""
    return JobRunner(db, holder, service_settings(tmp_path, db, job_chunk_households=CHUNK), KEY)


def _stored(db: Database) -> tuple[int, int]:
    """Scores and committed chunks of all jobs."""
    with db.session() as session:
        scores = session.scalar(select(func.count()).select_from(ScoreRecord))
        chunks = session.scalar(select(func.count()).select_from(JobChunk))
    return int(scores or 0), int(chunks or 0)


def test_a_demo_run_stopped_midway_is_resumed_by_the_next_one_without_duplicates(
    db: Database, holder: ModelHolder, tmp_path: Path, demo_folder: tuple[Path, int]
) -> None:
    folder, households = demo_folder
    assert households > 2 * CHUNK  # several chunks, so that the stop falls between two of them
    options = {"folder": str(folder), "as_of": AS_OF, "explain": False}
    chunks_seen: list[int] = []

    def ctrl_c_after_the_first_chunk(step: str, done: int, total: int) -> None:
        chunks_seen.append(done)
        if len(chunks_seen) == 3:  # "scoring" (0), the first chunk's table (then committed), the second's table
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_demo_job(_runner(db, holder, tmp_path), options, progress=ctrl_c_after_the_first_chunk)
    (stopped,) = demo_jobs(db, [JobStatus.RUNNING])  # what a killed process leaves behind
    scores_before, chunks_before = _stored(db)
    assert chunks_before == 1 and 0 < scores_before < households

    job_id, status = run_demo_job(_runner(db, holder, tmp_path), options)

    assert (job_id, status) == (stopped.id, JobStatus.DONE)  # the same job, not a second one
    assert [job.id for job in demo_jobs(db, list(JobStatus))] == [stopped.id]
    scores, chunks = _stored(db)
    assert scores == households  # every household once: the first chunk kept, the rest added
    assert chunks == -(-households // CHUNK)


def test_a_service_holding_the_runner_lease_is_left_to_run_the_demo_job(
    db: Database, holder: ModelHolder, tmp_path: Path, demo_folder: tuple[Path, int]
) -> None:
    folder, households = demo_folder
    options = {"folder": str(folder), "as_of": AS_OF, "explain": False}
    service = RunnerLease(db)
    assert service.acquire()
    try:
        first = run_demo_job(_runner(db, holder, tmp_path), options)
        again = run_demo_job(_runner(db, holder, tmp_path), options)
        assert first[1] is again[1] is JobStatus.QUEUED and first[0] == again[0]  # one job, queued for the service
        assert _stored(db) == (0, 0)  # nothing scored in this process
    finally:
        service.release()
    # The service exits: the next demo run takes the lease and runs that job.
    job_id, status = run_demo_job(_runner(db, holder, tmp_path), options)
    assert (job_id, status) == (first[0], JobStatus.DONE)
    assert _stored(db)[0] == households


def test_an_unfinished_demo_job_with_other_options_is_cancelled_not_resumed(
    db: Database, holder: ModelHolder, tmp_path: Path, demo_folder: tuple[Path, int]
) -> None:
    folder, households = demo_folder
    old = {"folder": str(folder), "as_of": "2024-06-30", "explain": False}  # before the city was regenerated
    service = RunnerLease(db)
    assert service.acquire()
    stale_id, _ = run_demo_job(_runner(db, holder, tmp_path), old)  # left queued
    service.release()

    job_id, status = run_demo_job(_runner(db, holder, tmp_path), {**old, "as_of": AS_OF})

    assert job_id != stale_id and status is JobStatus.DONE
    assert [job.id for job in demo_jobs(db, [JobStatus.CANCELLED])] == [stale_id]
    assert _stored(db)[0] == households  # only the new job's scores
