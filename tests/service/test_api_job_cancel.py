"""Cancelling a batch job: a queued job never runs, a running one stops before its next chunk with the chunks
before it kept whole, a finished one cannot be cancelled, and other regions' jobs do not exist for the caller."""
# ruff: noqa: F811 — the shared fixtures are imported by name, and tests take them as parameters of that name

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from service.app import create_app
from service.db import Database
from service.job_runner import JobRunner
from service.keys import Caller, create_key
from service.model_holder import ModelHolder
from service.scope import Scope
from service.store import create_job, get_job, update_job
from service.tables import AuditEntry, JobChunk, JobStatus, Role
from tests.service.api_support import AS_OF, COUNTY, KEY, bearer, service_settings
from tests.service.test_api_access import OTHER_COUNTY


def _job(db: Database, county_folder: Path) -> tuple[str, dict[str, str]]:
    """A queued job over the county folder, and the headers of the monitor key that submitted it."""
    with db.session() as session:
        created = create_key(session, role=Role.MONITOR, region_prefix=COUNTY, label="cancel test")
        caller = Caller(created.info.id, Role.MONITOR, Scope(COUNTY))
        options = {"folder": str(county_folder / "county"), "as_of": AS_OF, "explain": False, "chunk_households": 40}
        job_id = create_job(session, caller.scope, caller, source="county", options=options).id
    return str(job_id), {"Authorization": f"Bearer {created.plaintext}"}


@pytest.fixture
def quiet_client(tmp_path: Path, db: Database, holder: ModelHolder, county_folder: Path) -> Iterator[TestClient]:
    """The app without a job runner: jobs stay where the test puts them."""
    settings = service_settings(tmp_path, db, jobs_allowed_root=county_folder, job_runner=False)
    with TestClient(create_app(settings, holder=holder, database=db, pseudonym_key=KEY)) as client:
        yield client


def test_a_queued_job_is_cancelled_once_and_never_runs(
    quiet_client: TestClient, db: Database, holder: ModelHolder, county_folder: Path, tmp_path: Path
) -> None:
    job_id, headers = _job(db, county_folder)
    assert (
        quiet_client.post(f"/v1/jobs/{job_id}:cancel", headers=bearer(db, Role.MONITOR, OTHER_COUNTY)).status_code
        == 404
    )
    assert quiet_client.post(f"/v1/jobs/{job_id}:cancel", headers=bearer(db, Role.OFFICIAL)).status_code == 403
    cancelled = quiet_client.post(f"/v1/jobs/{job_id}:cancel", headers=headers)
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    again = quiet_client.post(f"/v1/jobs/{job_id}:cancel", headers=headers)  # cancelling is idempotent
    assert again.status_code == 200 and again.json()["status"] == "cancelled"
    runner = JobRunner(db, holder, service_settings(tmp_path, db), KEY)
    assert runner.run_next() is False  # nothing queued: the cancelled job is not picked up
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(JobChunk)) == 0


@pytest.mark.slow
def test_a_running_job_stops_before_its_next_chunk_and_keeps_what_it_committed(
    quiet_client: TestClient, db: Database, holder: ModelHolder, county_folder: Path, tmp_path: Path
) -> None:
    job_id, headers = _job(db, county_folder)
    seen: list[int] = []

    def cancel_after_the_first_chunk(step: str, done: int, total: int) -> None:
        seen.append(done)
        if len(seen) == 3:  # the first chunk is committed, the second chunk's table is ready
            assert quiet_client.post(f"/v1/jobs/{job_id}:cancel", headers=headers).status_code == 200

    runner = JobRunner(db, holder, service_settings(tmp_path, db), KEY)
    assert runner.run(uuid.UUID(job_id), progress=cancel_after_the_first_chunk) is JobStatus.CANCELLED
    with db.session() as session:
        job = get_job(session, Scope.everything(), job_id)
        chunks = session.execute(select(func.count(), func.sum(JobChunk.rows)).where(JobChunk.job_id == job.id)).one()
        audited = session.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.job_id == job.id))
    assert job.status is JobStatus.CANCELLED and job.total_chunks is not None and job.total_chunks > 2
    assert chunks[0] == 1 and audited == chunks[1] > 0
    shown = quiet_client.get(f"/v1/jobs/{job_id}", headers=headers).json()
    assert shown["status"] == "cancelled" and shown["results"] is None


def test_a_finished_job_cannot_be_cancelled(quiet_client: TestClient, db: Database, county_folder: Path) -> None:
    job_id, headers = _job(db, county_folder)
    with db.session() as session:
        for status in (JobStatus.RUNNING, JobStatus.DONE):
            update_job(session, Scope.everything(), job_id, status=status)
    refused = quiet_client.post(f"/v1/jobs/{job_id}:cancel", headers=headers)
    assert refused.status_code == 409 and refused.json()["field"] == "status" and "done" in refused.json()["detail"]
