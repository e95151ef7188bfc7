"""Batch jobs in the database: they survive restarts and resume after the last committed chunk.

A runner scores a job chunk by chunk and hands each chunk to `commit_chunk`, which writes the chunk's scores,
their audit entries and the chunk's marker in the caller's transaction. A chunk committed twice (a runner killed
after its commit but before it noted the progress, then resumed) is written once: the marker's unique
(job, chunk) pair makes the second attempt a no-op, so a resumed job has no duplicated and no lost rows.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from service._scores import ScoreInput, ScoreView, prepare_rows, require_within, write_prepared
from service.errors import InvalidFieldError, JobNotFoundError, JobStateError
from service.keys import Caller, Permission
from service.scope import Scope
from service.tables import Job, JobChunk, JobStatus, ScoreRecord, utcnow

# Which status may follow which. A running job goes back to queued when its process died and it is resumed;
# a failed job may be queued again to retry from its last committed chunk. Done and cancelled are final.
TRANSITIONS: Final[dict[JobStatus, frozenset[JobStatus]]] = {
    JobStatus.QUEUED: frozenset({JobStatus.RUNNING, JobStatus.CANCELLED, JobStatus.FAILED}),
    JobStatus.RUNNING: frozenset({JobStatus.DONE, JobStatus.FAILED, JobStatus.CANCELLED, JobStatus.QUEUED}),
    JobStatus.FAILED: frozenset({JobStatus.QUEUED}),
    JobStatus.DONE: frozenset(),
    JobStatus.CANCELLED: frozenset(),
}
MAX_JOB_LIST: Final = 1000
MAX_ERROR_CHARS: Final = 2000


@dataclass(frozen=True)
class JobView:
    id: uuid.UUID
    created_at: datetime
    updated_at: datetime
    status: JobStatus
    caller_key_id: int | None
    region_prefix: str
    source: str
    total_chunks: int | None
    done_chunks: int
    rows_done: int
    error: str | None
    options: dict[str, Any]

    @property
    def progress(self) -> float | None:
        """Share of chunks committed, when the number of chunks is known."""
        if not self.total_chunks:
            return None
        return self.done_chunks / self.total_chunks

    @classmethod
    def of(cls, row: Job) -> JobView:
        return cls(
            row.id,
            row.created_at,
            row.updated_at,
            row.status,
            row.caller_key_id,
            row.region_prefix,
            row.source,
            row.total_chunks,
            row.done_chunks,
            row.rows_done,
            row.error,
            dict(row.options),
        )


def parse_job_id(value: uuid.UUID | str) -> uuid.UUID:
    if isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(value)
    except (ValueError, TypeError, AttributeError):
        raise InvalidFieldError("job_id", "must be a UUID") from None


def _job_row(session: Session, scope: Scope, job_id: uuid.UUID | str, *, lock: bool = False) -> Job:
    # One query with the scope in its WHERE clause: a job in another region is "not found", like a missing one.
    query = select(Job).where(Job.id == parse_job_id(job_id), scope.filter(Job.region_prefix))
    if lock:
        query = query.with_for_update()  # PostgreSQL serialises concurrent updates of one job; SQLite ignores it
    row = session.scalar(query)
    if row is None:
        raise JobNotFoundError(f"no job {job_id} in this region scope")
    return row


def create_job(
    session: Session,
    scope: Scope,
    caller: Caller,
    *,
    source: str = "",
    total_chunks: int | None = None,
    options: dict[str, Any] | None = None,
) -> JobView:
    """A queued job for the households of `scope` (which must lie inside the caller's scope)."""
    caller.require(Permission.SCORE)
    require_within(caller, scope)
    _check_total(total_chunks)
    now = utcnow()
    row = Job(
        id=uuid.uuid4(),
        created_at=now,
        updated_at=now,
        status=JobStatus.QUEUED,
        caller_key_id=caller.key_id,
        region_prefix=scope.region_prefix,
        source=source,
        total_chunks=total_chunks,
        done_chunks=0,
        rows_done=0,
        options=dict(options or {}),
    )
    session.add(row)
    session.flush()
    return JobView.of(row)


def _check_total(total_chunks: int | None) -> None:
    if total_chunks is not None and (isinstance(total_chunks, bool) or total_chunks < 0):
        raise InvalidFieldError("total_chunks", "must be a non-negative integer")


def get_job(session: Session, scope: Scope, job_id: uuid.UUID | str) -> JobView:
    """The job, or `JobNotFoundError` if it does not exist or lies outside `scope` (indistinguishably)."""
    return JobView.of(_job_row(session, scope, job_id))


def update_job(
    session: Session,
    scope: Scope,
    job_id: uuid.UUID | str,
    *,
    status: JobStatus | str | None = None,
    total_chunks: int | None = None,
    error: str | None = None,
) -> JobView:
    """Move the job to `status` (checked against `TRANSITIONS`), set its chunk count or its error text.

    Error texts are shown to callers: pass the typed error's message (field and row), never personal values.
    """
    row = _job_row(session, scope, job_id, lock=True)
    if status is not None:
        try:
            new = JobStatus(status)
        except ValueError:
            raise InvalidFieldError("status", f"must be one of {', '.join(s.value for s in JobStatus)}") from None
        if new is not row.status:
            if new not in TRANSITIONS[row.status]:
                raise JobStateError(row.status.value, f"become {new.value}")
            row.status = new
    if total_chunks is not None:
        _check_total(total_chunks)
        row.total_chunks = total_chunks
    if error is not None:
        row.error = error[:MAX_ERROR_CHARS]
    row.updated_at = utcnow()
    session.flush()
    return JobView.of(row)


def mark_chunk_committed(session: Session, scope: Scope, job_id: uuid.UUID | str, chunk_index: int, rows: int) -> bool:
    """Record that chunk `chunk_index` of the job holds `rows` stored rows; False (and no change) if it already
    did. Use `commit_chunk` to store the chunk's scores in the same transaction."""
    job = _job_row(session, scope, job_id)
    if job.status is not JobStatus.RUNNING:
        raise JobStateError(job.status.value, "commit chunks")
    if isinstance(chunk_index, bool) or chunk_index < 0:
        raise InvalidFieldError("chunk_index", "must be a non-negative integer")
    exists = select(JobChunk.id).where(JobChunk.job_id == job.id, JobChunk.chunk_index == chunk_index)
    if session.scalar(exists) is not None:
        return False
    try:
        # A savepoint, so that losing a race with another runner on the unique (job, chunk) pair rolls back only
        # this insert and leaves the caller's transaction usable.
        with session.begin_nested():
            session.add(JobChunk(job_id=job.id, chunk_index=chunk_index, rows=rows, committed_at=utcnow()))
    except IntegrityError:
        return False
    # Counters move in SQL, not from values read earlier, so concurrent chunk commits add up.
    session.execute(
        update(Job)
        .where(Job.id == job.id)
        .values(done_chunks=Job.done_chunks + 1, rows_done=Job.rows_done + rows, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    session.expire(job)
    return True


def commit_chunk(
    session: Session,
    scope: Scope,
    caller: Caller,
    job_id: uuid.UUID | str,
    chunk_index: int,
    rows: Sequence[ScoreInput],
) -> bool:
    """Store a chunk's scores and audit entries and mark the chunk committed, all in the session's transaction.

    Returns False and writes nothing if the chunk was committed before (idempotent per chunk). The rows must lie
    inside the job's region; they are checked before anything is written.
    """
    caller.require(Permission.SCORE)
    require_within(caller, scope)
    job = get_job(session, scope, job_id)
    prepared = prepare_rows(Scope(job.region_prefix), rows)
    if not mark_chunk_committed(session, scope, job.id, chunk_index, len(prepared)):
        return False
    write_prepared(session, caller, prepared, request_id=None, job_id=job.id)
    return True


def committed_chunks(session: Session, scope: Scope, job_id: uuid.UUID | str) -> set[int]:
    """Indexes of the job's committed chunks: a resumed runner skips these."""
    job = _job_row(session, scope, job_id)
    return set(session.scalars(select(JobChunk.chunk_index).where(JobChunk.job_id == job.id)))


def list_jobs(
    session: Session,
    scope: Scope,
    *,
    statuses: Collection[JobStatus | str] | None = None,
    limit: int = 50,
    after: tuple[datetime, uuid.UUID] | None = None,
) -> list[JobView]:
    """Jobs inside `scope`, newest first; `statuses` narrows them (e.g. queued and running ones to resume);
    `after` (created_at, id) starts after that job in this order (cursor paging)."""
    if not 1 <= limit <= MAX_JOB_LIST + 1:
        raise InvalidFieldError("limit", f"must lie between 1 and {MAX_JOB_LIST}")
    query = select(Job).where(scope.filter(Job.region_prefix))
    if statuses is not None:
        try:
            wanted = [JobStatus(status) for status in statuses]
        except ValueError:
            raise InvalidFieldError("status", f"must be one of {', '.join(s.value for s in JobStatus)}") from None
        query = query.where(Job.status.in_(wanted))
    if after is not None:
        created, job_id = after
        query = query.where((Job.created_at < created) | ((Job.created_at == created) & (Job.id > job_id)))
    query = query.order_by(Job.created_at.desc(), Job.id).limit(limit)
    return [JobView.of(row) for row in session.scalars(query)]


def iter_job_scores(
    session: Session, scope: Scope, job_id: uuid.UUID | str, *, batch_size: int = 5000
) -> Iterator[ScoreView]:
    """The job's stored scores in the order they were written, streamed (for `GET /v1/jobs/{id}/results`)."""
    job = _job_row(session, scope, job_id)
    query = (
        select(ScoreRecord)
        .where(ScoreRecord.job_id == job.id, scope.filter(ScoreRecord.region_code))
        .order_by(ScoreRecord.id)
        .execution_options(yield_per=batch_size)
    )
    for row in session.scalars(query):
        yield ScoreView.of(row)
