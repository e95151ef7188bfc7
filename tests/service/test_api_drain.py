"""A graceful stop (SIGTERM, as systemd and container runtimes send it): a request in flight is answered, the job
runner stops after its current chunk, and a restart finishes the job with every household exactly once."""
# ruff: noqa: F811 — the shared fixtures are imported by name, and tests take them as parameters of that name

from __future__ import annotations

import io
import json
import signal
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pandas as pd
import pytest
from sqlalchemy import func, select

from service.db import open_database
from service.tables import AuditEntry, JobChunk
from tests.service.api_support import Registered, county_households, document
from tests.service.test_api_jobs import _finished, _free_port, _poll, _serve, _serve_env, _submit_county_job


@pytest.mark.slow
@pytest.mark.integration
def test_sigterm_answers_the_request_in_flight_and_stops_the_job_between_chunks(
    registered: Registered, county_folder: Path, tmp_path: Path
) -> None:
    port = _free_port()
    env = _serve_env(registered, county_folder, tmp_path)
    process = _serve(env, port)
    base = f"http://127.0.0.1:{port}"
    database = open_database(f"sqlite:///{tmp_path / 'service.db'}")
    try:
        job_id, headers = _submit_county_job(database, base, "drain test")
        job = _poll(base, job_id, headers, lambda j: j["done_chunks"] >= 1, timeout_s=120, pause=0.05)
        assert job["status"] == "running" and job["done_chunks"] < job["total_chunks"], job

        # A scoring request whose body is half sent when the signal arrives: the server has begun it, so the
        # stop waits for it.
        body = json.dumps({"households": [document(registered, county_households(registered).iloc[0])]}).encode()
        release = threading.Event()

        def halves() -> Iterator[bytes]:
            yield body[: len(body) // 2]
            release.wait(30)
            yield body[len(body) // 2 :]

        answer: list[httpx.Response] = []
        sender = threading.Thread(
            target=lambda: answer.append(
                httpx.post(
                    f"{base}/v1/households:score",
                    content=halves(),
                    headers={**headers, "Content-Type": "application/json"},
                    timeout=60,
                )
            )
        )
        sender.start()
        time.sleep(0.5)
        process.send_signal(signal.SIGTERM)
        time.sleep(0.5)
        release.set()
        sender.join(60)
        # uvicorn finishes its shutdown, then re-raises the signal so that the exit status says what stopped it.
        assert process.wait(timeout=90) in (0, -signal.SIGTERM)
        assert answer and answer[0].status_code == 200, answer[0].text if answer else "no answer"

        # Stopped between chunks: what is stored is whole chunks, each audited once.
        with database.session() as session:
            committed = session.execute(
                select(func.count(), func.sum(JobChunk.rows)).where(JobChunk.job_id == uuid.UUID(job_id))
            ).one()
            audited = session.scalar(
                select(func.count()).select_from(AuditEntry).where(AuditEntry.job_id == uuid.UUID(job_id))
            )
        assert committed[0] >= 1 and audited == committed[1], (committed, audited)

        process = _serve(env, port)
        job = _poll(base, job_id, headers, _finished, timeout_s=180, pause=0.2)
        assert job["status"] == "done", job
        table = pd.read_parquet(io.BytesIO(httpx.get(f"{base}{job['results']}", headers=headers).content))
        assert sorted(table["household_pseudonym"]) == sorted(county_households(registered))
    finally:
        database.dispose()
        process.terminate()
        process.wait(timeout=30)
