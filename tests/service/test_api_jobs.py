"""Batch jobs through the API: submit a folder or an upload, follow progress, fetch results; kill and resume."""
# ruff: noqa: F811 — the shared fixtures are imported by name, and tests take them as parameters of that name

from __future__ import annotations

import csv
import io
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from features.profiles.build import build_profiles, select_households
from features.pseudonyms.ingestion import ingest
from models.explain import explain_households
from service.app import create_app
from service.db import Database, open_database
from service.keys import create_key
from service.model_holder import ModelHolder
from service.tables import AuditEntry, JobChunk, Role, ScoreRecord
from tests.service.api_support import (
    AS_OF,
    COUNTY,
    KEY,
    Registered,
    bearer,
    county_households,
    service_settings,
    wait_for_job,
)


def test_a_folder_job_scores_every_household_once_like_the_batch_path(
    jobs_client: TestClient, db: Database, registered: Registered, holder: ModelHolder
) -> None:
    headers = bearer(db, Role.MONITOR, COUNTY)
    submitted = jobs_client.post("/v1/jobs", json={"path": "county", "as_of": AS_OF}, headers=headers)
    assert submitted.status_code == 202, submitted.text
    assert submitted.headers["Location"] == f"/v1/jobs/{submitted.json()['id']}"
    job = wait_for_job(jobs_client, submitted.json()["id"], headers)
    assert job["status"] == "done", job
    ids = county_households(registered)
    assert job["households_done"] == len(ids)
    assert job["done_chunks"] == job["total_chunks"] == -(-len(ids) // 150)  # one county, split in parts of 150
    assert job["progress"] == 1.0

    results = jobs_client.get(job["results"], headers=headers)
    assert results.status_code == 200
    table = pd.read_parquet(io.BytesIO(results.content))
    assert sorted(table["household_pseudonym"]) == sorted(ids)  # every household, once

    # Independent reference: the batch profiles and the one-household explanation path of models.explain.
    serving = holder.current
    assert serving is not None
    own = build_profiles(ingest(select_households(registered.city, ids), KEY), AS_OF)
    expected = pd.Series(serving.model.predict_proba(own), index=own["household_id"])
    got = table.set_index("household_pseudonym")["probability"]
    np.testing.assert_array_equal(got.loc[expected.index].to_numpy(), expected.to_numpy())
    sample = own.iloc[:25]
    for explanation in explain_households(serving.model, sample):
        row = table.loc[table["household_pseudonym"] == explanation.household_id].iloc[0]
        keys = [row[f"reason{k}_key"] for k in (1, 2, 3) if isinstance(row[f"reason{k}_key"], str)]
        assert keys == [r.key for r in explanation.reasons]
        if explanation.reasons:
            assert row["reason1_sentence_zh"] == explanation.reasons[0].sentence_zh
        else:  # nothing raises this household's risk: no reason, no sentence
            assert not isinstance(row["reason1_sentence_zh"], str)
        measures = [row[f"measure{k}_code"] for k in range(1, 7) if isinstance(row[f"measure{k}_code"], str)]
        assert measures == [p.measure for p in explanation.measures]

    # Scores and audit entries are stored, one per household.
    with db.session() as session:
        stored = session.scalar(select(func.count()).select_from(ScoreRecord).where(ScoreRecord.job_id.isnot(None)))
        audited = session.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.job_id.isnot(None)))
    assert stored == audited == len(ids)


def test_an_upload_job_accepts_contract_files_and_gives_csv(
    jobs_client: TestClient, db: Database, county_folder: Path, registered: Registered
) -> None:
    headers = bearer(db, Role.MONITOR, COUNTY)
    folder = county_folder / "county"
    files = [("files", (p.name, p.read_bytes(), "application/octet-stream")) for p in sorted(folder.glob("*.parquet"))]
    submitted = jobs_client.post("/v1/jobs", files=files, data={"as_of": AS_OF, "explain": "false"}, headers=headers)
    assert submitted.status_code == 202, submitted.text
    assert submitted.json()["source"].startswith("upload: ")
    job = wait_for_job(jobs_client, submitted.json()["id"], headers)
    assert job["status"] == "done", job
    text = jobs_client.get(job["results"], params={"format": "csv"}, headers=headers).text
    rows = list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))
    assert sorted(r["household_pseudonym"] for r in rows) == sorted(county_households(registered))
    assert all(r["reason1_sentence_zh"] == "" for r in rows)  # explain=false: no sentences
    assert {r["risk_level"] for r in rows} <= {"high", "medium", "low"}


def test_households_outside_the_key_scope_fail_the_job_naming_one(jobs_client: TestClient, db: Database) -> None:
    headers = bearer(db, Role.MONITOR, COUNTY)
    submitted = jobs_client.post("/v1/jobs", json={"path": "city", "as_of": AS_OF}, headers=headers)
    job = wait_for_job(jobs_client, submitted.json()["id"], headers)
    assert job["status"] == "failed"
    assert "households.region_code" in job["error"] and "outside" in job["error"]
    assert job["households_done"] == 0


def test_bad_submissions_name_the_field(jobs_client: TestClient, db: Database) -> None:
    headers = bearer(db, Role.MONITOR, COUNTY)
    outside = jobs_client.post("/v1/jobs", json={"path": "../..", "as_of": AS_OF}, headers=headers)
    assert outside.status_code == 422 and outside.json()["field"] == "path"
    # A NUL byte and a name longer than the file system allows name no folder: refused, not an OSError's 500.
    for path in ("county\u0000", "x" * 300):
        refused = jobs_client.post("/v1/jobs", json={"path": path, "as_of": AS_OF}, headers=headers)
        assert refused.status_code == 422 and refused.json()["field"] == "path", refused.text
    unknown = jobs_client.post("/v1/jobs", json={"path": "county", "colour": "red"}, headers=headers)
    assert unknown.status_code == 422 and unknown.json()["field"] == "colour"
    bad_file = jobs_client.post(
        "/v1/jobs", files=[("files", ("people.xlsx", b"x", "application/octet-stream"))], headers=headers
    )
    assert bad_file.status_code == 422 and bad_file.json()["field"] == "files"
    assert "people.xlsx" in bad_file.json()["detail"]
    official = bearer(db, Role.OFFICIAL, COUNTY)
    assert jobs_client.post("/v1/jobs", json={"path": "county"}, headers=official).status_code == 403


def test_jobs_of_another_region_do_not_exist_for_a_key(jobs_client: TestClient, db: Database) -> None:
    headers = bearer(db, Role.MONITOR, COUNTY)
    job = jobs_client.post("/v1/jobs", json={"path": "county", "as_of": AS_OF}, headers=headers).json()
    other = bearer(db, Role.MONITOR, "990102")
    assert jobs_client.get(f"/v1/jobs/{job['id']}", headers=other).status_code == 404
    assert jobs_client.get(f"/v1/jobs/{job['id']}/results", headers=other).status_code == 404
    assert job["id"] not in [j["id"] for j in jobs_client.get("/v1/jobs", headers=other).json()["jobs"]]
    assert job["id"] in [j["id"] for j in jobs_client.get("/v1/jobs", headers=headers).json()["jobs"]]


# --- kill and resume -------------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _serve(env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(
        [sys.executable, "-m", "relapse", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health/ready", timeout=2).status_code == 200:
                return process
        except httpx.TransportError:
            pass
        time.sleep(0.3)
    process.kill()
    raise AssertionError("the service did not get ready")


def _serve_env(registered: Registered, county_folder: Path, tmp_path: Path, **extra: str) -> dict[str, str]:
    """What `relapse serve` gets in these tests: SQLite in tmp_path, small chunks, no model polling."""
    env = {
        **os.environ,
        "RELAPSE_DATA_DIR": str(tmp_path),
        "RELAPSE_MLFLOW_URI": registered.tracking_uri,
        "RELAPSE_JOBS_ALLOWED_ROOT": str(county_folder),
        "RELAPSE_JOB_CHUNK_HOUSEHOLDS": "40",
        "RELAPSE_MODEL_POLL_S": "0",
        **registered.signing_env,
        **extra,
    }
    env.pop("RELAPSE_DATABASE_URL", None)
    return env


def _submit_county_job(database: Database, base: str, label: str) -> tuple[str, dict[str, str]]:
    """A monitor key for the county and the id of the county job it submitted."""
    with database.session() as session:
        created = create_key(session, role=Role.MONITOR, region_prefix=COUNTY, label=label)
    headers = {"Authorization": f"Bearer {created.plaintext}"}
    job_id = httpx.post(f"{base}/v1/jobs", json={"path": "county", "as_of": AS_OF}, headers=headers).json()["id"]
    return job_id, headers


def _poll(
    base: str,
    job_id: str,
    headers: dict[str, str],
    until: Callable[[dict[str, Any]], bool],
    timeout_s: float,
    pause: float,
) -> dict[str, Any]:
    """The job's status once `until` holds (or the last one seen when `timeout_s` ran out)."""
    deadline = time.monotonic() + timeout_s
    job: dict[str, Any] = {}
    while time.monotonic() < deadline:
        job = httpx.get(f"{base}/v1/jobs/{job_id}", headers=headers).json()
        if until(job):
            break
        time.sleep(pause)
    return job


def _finished(job: dict[str, Any]) -> bool:
    return job["status"] in ("done", "failed")


@pytest.mark.slow
@pytest.mark.integration
def test_a_job_killed_mid_way_resumes_without_lost_or_duplicated_rows(
    registered: Registered, county_folder: Path, tmp_path: Path
) -> None:
    port = _free_port()
    env = _serve_env(registered, county_folder, tmp_path)
    process = _serve(env, port)
    base = f"http://127.0.0.1:{port}"
    try:
        database = open_database(f"sqlite:///{tmp_path / 'service.db'}")
        job_id, headers = _submit_county_job(database, base, "kill test")
        job = _poll(base, job_id, headers, lambda j: j["done_chunks"] >= 2, timeout_s=120, pause=0.05)
        assert job["status"] == "running" and 2 <= job["done_chunks"] < job["total_chunks"], job
        process.send_signal(signal.SIGKILL)  # no shutdown, no chance to tidy up
        process.wait(timeout=30)

        # Restarted with another chunk size: the job keeps the partitioning it was created with.
        process = _serve({**env, "RELAPSE_JOB_CHUNK_HOUSEHOLDS": "57"}, port)
        job = _poll(base, job_id, headers, _finished, timeout_s=180, pause=0.2)
        assert job["status"] == "done", job
        ids = county_households(registered)
        table = pd.read_parquet(io.BytesIO(httpx.get(f"{base}{job['results']}", headers=headers).content))
        assert len(table) == len(ids) and sorted(table["household_pseudonym"]) == sorted(ids)
        with database.session() as session:
            chunks = session.scalar(select(func.count()).select_from(JobChunk))
            audited = session.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.job_id.isnot(None)))
        assert chunks == job["total_chunks"] == -(-len(ids) // 40) and audited == len(ids)
        database.dispose()
    finally:
        process.terminate()
        process.wait(timeout=30)


@pytest.mark.slow
def test_two_worker_processes_serve_and_run_each_job_once(
    registered: Registered, county_folder: Path, tmp_path: Path
) -> None:
    """`relapse serve` with RELAPSE_WORKERS=2: two uvicorn worker processes answer, one of them runs the job,
    every household of it is stored and audited once."""
    port = _free_port()
    process = _serve(_serve_env(registered, county_folder, tmp_path, RELAPSE_WORKERS="2"), port)
    base = f"http://127.0.0.1:{port}"
    try:
        children = Path(f"/proc/{process.pid}/task/{process.pid}/children").read_text().split()
        commands = [Path(f"/proc/{pid}/cmdline").read_bytes() for pid in children]
        assert sum(b"spawn_main" in command for command in commands) == 2  # the workers (not the resource tracker)
        database = open_database(f"sqlite:///{tmp_path / 'service.db'}")
        job_id, headers = _submit_county_job(database, base, "workers test")
        job = _poll(base, job_id, headers, _finished, timeout_s=180, pause=0.2)
        assert job["status"] == "done", job
        ids = county_households(registered)
        with database.session() as session:
            chunks = session.scalar(select(func.count()).select_from(JobChunk))
            audited = session.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.job_id.isnot(None)))
            stored = session.scalar(select(func.count()).select_from(ScoreRecord).where(ScoreRecord.job_id.isnot(None)))
        assert chunks == job["total_chunks"] and audited == stored == len(ids)
        database.dispose()
    finally:
        process.terminate()
        process.wait(timeout=30)


@pytest.mark.slow
@pytest.mark.integration
def test_jobs_run_on_a_dask_scheduler_with_the_same_scores(
    tmp_path: Path, holder: ModelHolder, county_folder: Path, registered: Registered
) -> None:
    from distributed import LocalCluster

    from service.migrate import upgrade_database

    url = f"sqlite:///{tmp_path / 'dask.db'}"
    upgrade_database(url)
    database = open_database(url)
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        settings = service_settings(
            tmp_path, database, jobs_allowed_root=county_folder, dask_scheduler=cluster.scheduler_address
        )
        with TestClient(create_app(settings, holder=holder, database=database, pseudonym_key=KEY)) as client:
            headers = bearer(database, Role.MONITOR, COUNTY)
            submitted = client.post("/v1/jobs", json={"path": "county", "as_of": AS_OF}, headers=headers)
            job = wait_for_job(client, submitted.json()["id"], headers, timeout_s=180)
            assert job["status"] == "done", job
            table = pd.read_parquet(io.BytesIO(client.get(job["results"], headers=headers).content))
    database.dispose()
    ids = county_households(registered)
    serving = holder.current
    assert serving is not None
    own = build_profiles(ingest(select_households(registered.city, ids), KEY), AS_OF)
    expected = pd.Series(serving.model.predict_proba(own), index=own["household_id"])
    got = table.set_index("household_pseudonym")["probability"]
    assert len(table) == len(ids)
    np.testing.assert_array_equal(got.loc[expected.index].to_numpy(), expected.to_numpy())


def test_a_key_revoked_mid_job_fails_it_before_its_next_chunk_and_keeps_the_chunks_before(
    tmp_path: Path, db: Database, holder: ModelHolder, county_folder: Path
) -> None:
    from service.job_runner import JobRunner
    from service.keys import Caller, revoke_key
    from service.scope import Scope
    from service.store import create_job, get_job
    from service.tables import JobStatus

    settings = service_settings(tmp_path, db, jobs_allowed_root=county_folder, job_chunk_households=40)
    with db.session() as session:
        key = create_key(session, role=Role.MONITOR, region_prefix=COUNTY, label="revoked mid-job").info
        caller = Caller(key.id, Role.MONITOR, Scope(COUNTY))
        options = {"folder": str(county_folder / "county"), "as_of": AS_OF, "explain": False}
        job_id = create_job(session, caller.scope, caller, source="county", options=options).id
    results: list[int] = []

    def revoke_at_the_second_chunk(step: str, done: int, total: int) -> None:
        results.append(done)
        if len(results) == 3:  # after "scoring" (0) and the first chunk's table: the second chunk's table is ready
            with db.session() as session:
                revoke_key(session, key.id)

    status = JobRunner(db, holder, settings, KEY).run(job_id, progress=revoke_at_the_second_chunk)
    assert status is JobStatus.FAILED, results
    assert len(results) == 3  # the job stopped at the chunk after the revocation
    with db.session() as session:
        job = get_job(session, Scope.everything(), job_id)
        chunks = session.scalar(select(func.count()).select_from(JobChunk).where(JobChunk.job_id == job_id))
        stored = session.scalar(select(func.count()).select_from(ScoreRecord).where(ScoreRecord.job_id == job_id))
    assert job.error is not None and "revoked" in job.error
    assert chunks == 1 and 0 < stored == results[1] < results[2]  # the first chunk stays, nothing after it


def test_an_upload_is_pseudonymised_on_arrival_and_leaves_no_raw_file(
    jobs_client: TestClient, db: Database, county_folder: Path, tmp_path: Path
) -> None:
    headers = bearer(db, Role.MONITOR, COUNTY)
    folder = county_folder / "county"
    members = pd.read_parquet(folder / "members.parquet")
    assert members["id_number"].notna().any(), "the test needs raw ID numbers"
    files = [("files", (p.name, p.read_bytes(), "application/octet-stream")) for p in sorted(folder.glob("*.parquet"))]
    submitted = jobs_client.post("/v1/jobs", files=files, data={"as_of": AS_OF}, headers=headers)
    assert submitted.status_code == 202, submitted.text
    wait_for_job(jobs_client, submitted.json()["id"], headers)
    uploads = tmp_path / "jobs" / "uploads"  # the service's data directory is the test's tmp_path
    kept = [path for path in uploads.rglob("*") if path.is_file()]
    assert kept and not [path for path in uploads.iterdir() if path.name.endswith(".raw")]
    for path in kept:
        assert path.stat().st_mode & 0o077 == 0, path  # only the service's user may read them
        if path.suffix == ".parquet":
            columns = pq.read_schema(path).names
            assert "id_number" not in columns and "name" not in columns, path
    ids = set(members["id_number"].dropna())
    for path in kept:
        assert not any(i.encode() in path.read_bytes() for i in list(ids)[:50]), path


def test_an_upload_with_a_bad_id_number_is_refused_at_once_naming_the_row(
    jobs_client: TestClient, db: Database, county_folder: Path, tmp_path: Path
) -> None:
    headers = bearer(db, Role.MONITOR, COUNTY)
    folder = county_folder / "county"
    members = pd.read_parquet(folder / "members.parquet")
    first = members["id_number"].first_valid_index()
    members.loc[first, "id_number"] = members.loc[first, "id_number"][:17] + (
        "0" if members.loc[first, "id_number"][17] != "0" else "1"
    )
    buffer = io.BytesIO()
    members.to_parquet(buffer, index=False)
    files = [
        (
            "files",
            (p.name, buffer.getvalue() if p.name == "members.parquet" else p.read_bytes(), "application/octet-stream"),
        )
        for p in sorted(folder.glob("*.parquet"))
    ]
    refused = jobs_client.post("/v1/jobs", files=files, data={"as_of": AS_OF}, headers=headers)
    assert refused.status_code == 422, refused.text
    assert refused.json()["field"] == "members.id_number" and refused.json()["row"] == int(first)
    assert str(members.loc[first, "id_number"]) not in refused.text
    uploads = tmp_path / "jobs" / "uploads"
    assert not uploads.exists() or not any(uploads.iterdir())  # nothing kept, raw or pseudonymised


def test_the_same_idempotency_key_and_request_give_the_first_job(
    jobs_client: TestClient, db: Database, county_folder: Path, tmp_path: Path
) -> None:
    headers = bearer(db, Role.MONITOR, COUNTY) | {"Idempotency-Key": "county-2025-07"}
    body = {"path": "county", "as_of": AS_OF}
    first = jobs_client.post("/v1/jobs", json=body, headers=headers)
    again = jobs_client.post("/v1/jobs", json=body, headers=headers)
    assert first.status_code == again.status_code == 202, (first.text, again.text)
    assert again.json()["id"] == first.json()["id"] and again.headers["Location"] == first.headers["Location"]
    other = jobs_client.post("/v1/jobs", json={"path": "county", "as_of": "2025-01-01"}, headers=headers)
    assert other.status_code == 422 and other.json()["field"] == "Idempotency-Key"
    files = [
        ("files", (p.name, p.read_bytes(), "application/octet-stream"))
        for p in sorted((county_folder / "county").glob("*.parquet"))
    ]
    upload_headers = bearer(db, Role.MONITOR, COUNTY) | {"Idempotency-Key": "upload-1"}
    uploads = [
        jobs_client.post("/v1/jobs", files=files, data={"as_of": AS_OF}, headers=upload_headers) for _ in range(2)
    ]
    assert [u.status_code for u in uploads] == [202, 202] and uploads[0].json()["id"] == uploads[1].json()["id"]
    assert len(list((tmp_path / "jobs" / "uploads").iterdir())) == 1  # the repeat kept no second copy
    listed = jobs_client.get("/v1/jobs", headers=headers).json()["jobs"]
    assert len(listed) == 2  # one path job, one upload job
    wait_for_job(jobs_client, first.json()["id"], headers)
    wait_for_job(jobs_client, uploads[0].json()["id"], headers)
