"""The batch-job runner: scores queued jobs partition by partition and commits each partition as one chunk.

A job names a source folder (an upload kept under `data_dir/jobs/<id>/sources`, or a folder under the allowed
root). The runner reads it once with Arrow, splits it into partitions (`features.reading.partitions`, at most
`job_chunk_households` households each, in a fixed order), and streams the partitions through the batch
scorer (`scoring.run`, the same profiles and explanations as `relapse score`). Each partition's scores,
their audit entries and the chunk's marker are written in one transaction (`service.store.commit_chunk`), so a
job stopped at any moment — process killed, machine restarted — resumes after its last committed chunk with
no duplicated and no lost rows: chunks already committed are skipped, and a chunk committed twice is written once.

Every service process has a runner thread, but only the one holding the database's runner lease
(`service._runner_lease`: an advisory lock on PostgreSQL, a file lock next to an SQLite file) works: it first
puts back in the queue the jobs a dead process left running, then works through queued jobs oldest first. The
others wait for the lease and take over when its holder exits, so `relapse serve --workers N` (or several
machines on one PostgreSQL) runs each job once. Independently of the lease, a runner starts a job only by
claiming it — one conditional UPDATE from queued to running — so two runners never start the same job.
The job acts for the key that created it: its audit entries name that key, and every household must lie in
the key's region scope (checked before anything is scored; the job fails naming the first household outside).
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from datetime import date
from pathlib import Path
from typing import Any, Final

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import update

from features.errors import FeaturesError
from features.profiles.rules import RULES
from features.pseudonyms.keys import PseudonymKey
from features.reading.partitions import PartitionedSources
from features.reading.sources import arrow_to_frame
from models.batch import BatchOptions
from models.record import (
    EXPECTED_TYPE,
    READINESS_FIELDS,
    STATUS_FIELDS,
    nested_measures,
    nested_readiness,
    nested_reasons,
    nested_status,
    optional_number,
)
from scoring.job import ScoringJob
from scoring.results import RULE_PREFIX
from scoring.run import Progress, score_partitions
from service._identifications import count_identifications, store_identification_counts
from service._runner_lease import RunnerLease
from service._runner_wake import WakeSignal
from service.alerts import dispatch, http_post
from service.db import Database, sqlite_file
from service.errors import JobStateError, ServiceError
from service.input_hash import from_profile_hash
from service.keys import caller_of_key
from service.model_holder import ModelHolder
from service.references import InvalidReferenceError, ReferenceHolder, store_reference
from service.scope import Scope
from service.scoring import risk_level, thresholds
from service.settings import ServiceSettings
from service.store import ScoreInput, commit_chunk, committed_chunks, get_job, list_jobs, update_job
from service.tables import Job, JobStatus, utcnow

log = logging.getLogger(__name__)
EVERYWHERE: Final = Scope.everything()
IDLE_WAIT_S: Final = 2.0


def _wake_path(database: Database, settings: ServiceSettings) -> Path | None:
    """The wake file: next to an SQLite database file, else in the data directory (None for an SQLite database in
    memory, which one process holds)."""
    url = database.engine.url
    if url.get_backend_name() == "sqlite":
        file = sqlite_file(url)
        return file.with_name(file.name + ".job-runner.wake") if file is not None else None
    return settings.data_dir / "job-runner.wake"


class JobFailed(Exception):
    """A job cannot go on; the message is shown to its caller (field and row, never personal values)."""


class JobRunner:
    """Runs queued jobs in a background thread (module docstring)."""

    def __init__(
        self,
        database: Database,
        holder: ModelHolder,
        settings: ServiceSettings,
        key: PseudonymKey | None,
        *,
        executor_factory: Callable[[], AbstractContextManager[Any]] | None = None,
        references: ReferenceHolder | None = None,
    ) -> None:
        self.database = database
        self.holder = holder
        self.references = references
        self.settings = settings
        self.key = key
        self.executor_factory = executor_factory
        self._wake = WakeSignal(_wake_path(database, settings))
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.lease = RunnerLease(database)
        self.post = http_post()  # how alerts reach subscribers (service.alerts)

    # --- lifecycle ------------------------------------------------------------------------------------------
    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="job-runner", daemon=True)
        self._thread.start()

    def wake(self) -> None:
        """A job was queued or scores were stored: the lease holder, in this process or another of this machine,
        looks now rather than at its next poll."""
        self._wake.set()

    def stop(self, timeout_s: float = 30.0) -> None:
        """Stop after the chunk in progress; an unfinished job goes back to the queue."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
            if not self._thread.is_alive():
                self.lease.release()

    def requeue_interrupted(self) -> list[uuid.UUID]:
        """Jobs left running by a process that died go back to the queue (they resume after their last chunk)."""
        with self.database.session() as session:
            running = list_jobs(session, EVERYWHERE, statuses=[JobStatus.RUNNING], limit=1000)
            for job in running:
                update_job(session, EVERYWHERE, job.id, status=JobStatus.QUEUED)
        return [job.id for job in running]

    def _loop(self) -> None:
        requeued = False
        while not self._stop.is_set():
            seen = self._wake.stamp()  # a wake from now on, during the work below, is not missed
            try:
                if not self.lease.acquire():  # another process runs the jobs; look again after the wait
                    requeued = False
                    ran = False
                else:
                    if not requeued:  # first thing as the lease holder, and again until the database answers
                        self.requeue_interrupted()
                        requeued = True
                    ran = self.run_next()
                    self.dispatch_alerts()
            except Exception:  # noqa: BLE001 — the runner outlives any one job's failure (database down, …)
                log.exception("job runner: unexpected error; retrying")
                ran = False
            if not ran:
                self._wake.wait(seen, IDLE_WAIT_S)

    def dispatch_alerts(self) -> None:
        """Queue and send alerts (service.alerts): only the lease holder does, between jobs."""
        if self.settings.alert_hosts:
            dispatch(self.database, self.post, max_attempts=self.settings.alert_max_attempts)

    # --- one job --------------------------------------------------------------------------------------------
    def run_next(self) -> bool:
        """Run the oldest queued job this runner can claim to its end (or until stopped); False when none."""
        with self.database.read_session() as session:  # a look only: no write lock (the claim takes it)
            queued = list_jobs(session, EVERYWHERE, statuses=[JobStatus.QUEUED], limit=1000)
        for job in reversed(queued):  # list_jobs is newest first
            if self.claim(job.id):
                self._run_claimed(job.id)
                return True
        return False

    def claim(self, job_id: uuid.UUID) -> bool:
        """Move the job from queued to running if it is still queued: True for exactly one of any number of
        runners asking at once (one conditional UPDATE; the database serialises the writers)."""
        with self.database.session() as session:
            claimed = session.execute(
                update(Job)
                .where(Job.id == job_id, Job.status == JobStatus.QUEUED)
                .values(status=JobStatus.RUNNING, updated_at=utcnow())
                .execution_options(synchronize_session=False)
            )
            return bool(getattr(claimed, "rowcount", 0) == 1)

    def run(self, job_id: uuid.UUID, progress: Progress | None = None) -> JobStatus:
        """Claim the queued job and run it to its end (or until stopped); its status afterwards."""
        if not self.claim(job_id):
            with self.database.session() as session:
                status = get_job(session, EVERYWHERE, job_id).status
            raise JobStateError(status.value, "be started: another runner claimed it, or it is not queued")
        return self._run_claimed(job_id, progress)

    def _run_claimed(self, job_id: uuid.UUID, progress: Progress | None = None) -> JobStatus:
        with self.database.session() as session:
            job = get_job(session, EVERYWHERE, job_id)
            caller = caller_of_key(session, job.caller_key_id)
            done = committed_chunks(session, EVERYWHERE, job_id)
        log.info("job %s: running (%d chunks committed before)", job_id, len(done))
        try:
            finished = self._score(job_id, job.region_prefix, job.options, caller, done, progress)
        except (JobFailed, FeaturesError, ServiceError) as error:
            self._finish(job_id, JobStatus.FAILED, str(error))
            return JobStatus.FAILED
        if finished is JobStatus.CANCELLED:
            log.info("job %s: cancelled; stopped between chunks", job_id)
            return JobStatus.CANCELLED
        if finished is JobStatus.QUEUED:
            self._finish(job_id, JobStatus.QUEUED)
            return JobStatus.QUEUED
        self._finish(job_id, JobStatus.DONE)
        return JobStatus.DONE

    def _score(
        self,
        job_id: uuid.UUID,
        region_prefix: str,
        options: dict[str, Any],
        caller: Any,
        done: set[int],
        progress: Progress | None = None,
    ) -> JobStatus:
        """Score the job's chunks not yet committed; DONE when all are, QUEUED when the runner was stopped
        (a restart resumes it), CANCELLED when a caller cancelled it (checked before each chunk is committed)."""
        serving = self.holder.current
        if serving is None:
            raise JobFailed("no model is loaded; the job runs once the service has a model")
        folder = Path(options["folder"])
        # The partitioning is part of the job: committed chunks are numbered by it, so a resumed job must cut its
        # households as it did when it started, whatever the setting is now (jobs of older releases: the setting).
        chunk = int(options.get("chunk_households") or self.settings.job_chunk_households)
        partitioned = PartitionedSources.read(folder, max_households=chunk)
        _check_scope(partitioned, region_prefix)
        context_version = self._store_villages(partitioned, job_id)
        as_of = date.fromisoformat(options["as_of"])
        counts = count_identifications(partitioned.tables, as_of)
        if counts is not None:  # past years' identifications, shown next to the expected new ones
            with self.database.session() as session:
                store_identification_counts(session, counts, as_of, job_id)
        with self.database.session() as session:
            update_job(session, EVERYWHERE, job_id, total_chunks=len(partitioned))
        scoring = ScoringJob(
            serving.model,
            serving.version,
            as_of,
            BatchOptions(sentences=bool(options.get("explain", True))),
            key=self.key,
            cache_dir=self.settings.data_dir / "explanation-cache",
            synthetic=serving.synthetic or bool(partitioned.manifest.get("synthetic", False)),
            explainer=serving.explainer,
        )
        scope = Scope(region_prefix)
        levels = thresholds(self.settings, serving.model.label)
        with self.executor_factory() if self.executor_factory is not None else nullcontext() as executor:
            for partition, table in score_partitions(
                scoring,
                partitioned,
                skip=done,
                executor=executor,
                progress=progress,
                unit_households=chunk,  # one chunk per unit of work: progress moves
            ):
                rows = score_inputs(table, levels, context_version)
                with self.database.session() as session:
                    caller_of_key(session, caller.key_id)  # a key revoked mid-job fails it before its next chunk
                    if get_job(session, EVERYWHERE, job_id).status is JobStatus.CANCELLED:
                        return JobStatus.CANCELLED
                    commit_chunk(session, scope, caller, job_id, partition.index, rows)
                if self._stop.is_set():
                    return JobStatus.QUEUED
        return JobStatus.DONE

    def _store_villages(self, partitioned: PartitionedSources, job_id: uuid.UUID) -> str | None:
        """The job's villages table becomes the service's villages reference (a new version when it differs), so
        that documents scored later get the context this job's households got; the version its scores record."""
        villages = partitioned.tables.get("villages")
        if villages is None or not villages.num_rows:
            return None
        try:
            version, _ = store_reference(self.database, arrow_to_frame(villages), origin=f"job {job_id}")
        except InvalidReferenceError as error:
            raise JobFailed(str(error).splitlines()[0]) from None
        if self.references is not None:
            self.references.refresh()
        return f"villages-v{version}"

    def _finish(self, job_id: uuid.UUID, status: JobStatus, error: str | None = None) -> None:
        """Record how the run ended, unless a caller cancelled the job meanwhile (cancelled is final)."""
        with self.database.session() as session:
            if get_job(session, EVERYWHERE, job_id).status is not JobStatus.CANCELLED:
                update_job(session, EVERYWHERE, job_id, status=status, error=error)
            view = get_job(session, EVERYWHERE, job_id)
        log.info("job %s: %s after %d rows", job_id, status.value, view.rows_done)


def job_executor(settings: ServiceSettings) -> Callable[[], AbstractContextManager[Any]] | None:
    """Where job partitions run: in the runner's thread (None), or on the Dask scheduler of `dask_scheduler`
    (connected for each job, so that a scheduler restarted between jobs is found again)."""
    if not settings.dask_scheduler:
        return None
    from scoring.cluster import dask_executor

    address = settings.dask_scheduler
    return lambda: dask_executor(address)


def _check_scope(partitioned: PartitionedSources, region_prefix: str) -> None:
    """Every household must lie inside the job's region scope; the first one outside is named by its row."""
    if not region_prefix:
        return
    households = partitioned.tables["households"]
    region = pc.fill_null(households.column("region_code").cast("string"), "")
    inside = pc.starts_with(region, region_prefix).to_numpy(zero_copy_only=False)
    if not inside.all():
        first = int(np.flatnonzero(~inside)[0])
        household = households.column("household_id")[first].as_py()
        raise JobFailed(
            f"households.region_code of household {household}: {int((~inside).sum())} households lie outside "
            f"the key's region scope {region_prefix}; nothing was scored"
        )


def score_inputs(table: pa.Table, levels: tuple[float, float], context_version: str | None = None) -> list[ScoreInput]:
    """The rows to store for one result table of `scoring.run` (reasons and measures as JSON objects), with risk
    levels by `levels` (`service.scoring.thresholds`)."""
    column = {name: table.column(name).to_pylist() for name in table.column_names}  # plain Python, column-wise
    reasons = nested_reasons(column, len(table))
    measures = nested_measures(column, len(table))
    flags = [(rule.name, column[RULE_PREFIX + rule.name]) for rule in RULES]
    return [
        ScoreInput(
            household_pseudonym=str(column["household_id"][i]),
            region_code=str(column["region_code"][i]),
            as_of=column["as_of"][i],
            model_version=str(column["model_version"][i]),
            probability=float(probability),
            level=risk_level(float(probability), levels),
            input_hash=from_profile_hash(str(column["profile_hash"][i])),
            identification_probability=optional_number(column["identification_probability"][i]),
            reasons=reasons[i],
            measures=measures[i],
            rule_flags={name: bool(values[i]) for name, values in flags},
            synthetic=bool(column["synthetic"][i]),
            context_version=context_version,
            status=nested_status({name: column[name][i] for name in STATUS_FIELDS}),
            expected_type=column[EXPECTED_TYPE][i],
            readiness=nested_readiness({name: column[name][i] for name in READINESS_FIELDS}),
        )
        for i, probability in enumerate(column["probability"])
    ]
