"""Batch jobs: submit source tables (upload or a path under the allowed root), follow progress, fetch results.

    POST /v1/jobs                 multipart upload of contract tables (`files`, named `<table>.parquet|csv`)
                                  or JSON {"path": "...", "as_of": "YYYY-MM-DD", "explain": true} → 202 + job
    GET  /v1/jobs                 the caller's region's jobs, newest first
    GET  /v1/jobs/{id}            status and progress (chunks and households committed)
    GET  /v1/jobs/{id}/results    the stored scores of a finished job, `?format=parquet` (default) or `csv`

A job is scored in the background by `service.job_runner` and stored chunk by chunk with its audit entries.
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any, BinaryIO, Final, Literal

import pyarrow as pa
import pyarrow.parquet as pq
from fastapi import APIRouter, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError
from starlette.datastructures import UploadFile

from features.contract.tables import TABLES
from features.profiles.status import DATE_COLUMNS
from features.pseudonyms.ingestion import ingest
from features.pseudonyms.keys import PseudonymKey
from features.reading.sources import MANIFEST, read_sources, write_sources
from models.record import (
    EXPECTED_TYPE_FIELDS,
    READINESS_FIELDS,
    READINESS_NUMBERS,
    STATUS_FIELDS,
    flat_cells,
    flat_expected_type,
    flat_readiness,
    flat_status,
    measure_columns,
    nested_expected_type,
    reason_columns,
)
from service.db import Database
from service.deps import CallerDep, DatabaseDep, PseudonymKeyDep, SettingsDep
from service.errors import InvalidFieldError, JobStateError
from service.idempotency import REPLAYED, Claim, key_of, run_once
from service.keys import Caller, Permission
from service.paging import CursorQuery, decode_cursor, page_of
from service.schemas import AsOf, check_as_of
from service.settings import ServiceSettings
from service.store import JobView, ScoreView, create_job, get_job, iter_job_scores, list_jobs, update_job
from service.tables import JobStatus

router = APIRouter(prefix="/v1/jobs", tags=["jobs"])

UPLOAD_NAMES: Final = frozenset({f"{name}{ext}" for name in TABLES for ext in (".parquet", ".csv")} | {MANIFEST})
RESULT_REASONS: Final = 3
RESULT_MEASURES: Final = 6


class JobFromPath(BaseModel):
    """A job over a source folder the service can read: `path` is relative to the configured allowed root."""

    model_config = ConfigDict(extra="forbid")
    path: str = Field(min_length=1, max_length=1000)
    as_of: AsOf | None = None
    explain: bool = True


class JobOut(BaseModel):
    id: uuid.UUID
    status: str
    created_at: datetime
    updated_at: datetime
    region_prefix: str
    source: str
    as_of: date | None
    explain: bool
    total_chunks: int | None
    done_chunks: int
    households_done: int
    progress: float | None = Field(description="Share of chunks committed (null until the job is partitioned)")
    error: str | None
    results: str | None = Field(description="Where the results are, once the job is done")


class JobList(BaseModel):
    jobs: list[JobOut]  # newest first
    cursor: str | None = Field(description="ask again with ?cursor=<this> for the next page")
    more: bool = Field(description="more jobs follow this page")


_JOB: Final = TypeAdapter(JobOut)


def job_out(view: JobView) -> JobOut:
    as_of = view.options.get("as_of")
    return JobOut(
        id=view.id,
        status=view.status.value,
        created_at=view.created_at,
        updated_at=view.updated_at,
        region_prefix=view.region_prefix,
        source=view.source,
        as_of=date.fromisoformat(as_of) if as_of else None,
        explain=bool(view.options.get("explain", True)),
        total_chunks=view.total_chunks,
        done_chunks=view.done_chunks,
        households_done=view.rows_done,
        progress=view.progress if view.status is not JobStatus.DONE else 1.0,
        error=view.error,
        results=f"/v1/jobs/{view.id}/results" if view.status is JobStatus.DONE else None,
    )


@router.post(
    "",
    status_code=202,
    response_model=JobOut,
    openapi_extra={
        "requestBody": {
            "content": {
                "application/json": {"schema": JobFromPath.model_json_schema()},
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "properties": {
                            "files": {"type": "array", "items": {"type": "string", "format": "binary"}},
                            "as_of": {"type": "string", "format": "date"},
                            "explain": {"type": "boolean"},
                        },
                        "required": ["files"],
                    }
                },
            },
            "required": True,
        }
    },
)
async def submit_job(
    request: Request,
    caller: CallerDep,
    database: DatabaseDep,
    settings: SettingsDep,
    key: PseudonymKeyDep,
) -> Response:
    """Queue a batch job over uploaded source tables or a folder under the allowed root (202 + the job).

    With an `Idempotency-Key` header, submitting the same request again with the same key answers the first job
    instead of queuing another; the same key with another request is 422."""
    caller.require(Permission.SCORE)
    key_of(request)  # a malformed key is refused before an upload is read
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("multipart/form-data"):
        folder, source, as_of, explain, digest = await _save_upload(request, settings, key)
    elif content_type.startswith("application/json"):
        body = await request.body()
        folder, source, as_of, explain = _from_path(body, settings)
        digest = hashlib.sha256(body).hexdigest()
    else:
        raise InvalidFieldError("content-type", "must be multipart/form-data (upload) or application/json (path)")
    options: dict[str, Any] = {
        "folder": str(folder),
        "as_of": (as_of or date.today()).isoformat(),
        "explain": explain,
        "chunk_households": settings.job_chunk_households,  # fixed with the job: a resume cuts the same chunks
    }

    def create(claim: Claim | None) -> Response:
        with database.session() as session:
            view = create_job(session, caller.scope, caller, source=source, options=options)
            response = Response(
                _JOB.dump_json(job_out(view)),
                status_code=202,
                media_type="application/json",
                headers={"Location": f"/v1/jobs/{view.id}"},
            )
            if claim is not None:
                claim.record(session, response)  # the answer commits with the job, or neither does
            return response

    async def produce(claim: Claim | None) -> Response:
        return await run_in_threadpool(create, claim)

    created = False
    try:
        response = await run_once(request, caller, database, settings, digest.encode(), produce)
        created = REPLAYED not in response.headers
    finally:
        if not created and source.startswith("upload"):
            shutil.rmtree(folder, ignore_errors=True)  # refused, or a repeat: the first job keeps its own input
    runner = getattr(request.app.state, "job_runner", None)
    if runner is not None:
        runner.wake()
    return response


async def _save_upload(
    request: Request, settings: ServiceSettings, key: PseudonymKey | None
) -> tuple[Path, str, date | None, bool, str]:
    """The uploaded tables, pseudonymised on arrival: the job's folder holds no ID number and no name."""
    form = await request.form(max_files=len(UPLOAD_NAMES), max_fields=10)
    files = [item for item in form.getlist("files") if isinstance(item, UploadFile)]
    if not files:
        raise InvalidFieldError("files", "upload at least the households table (households.parquet or .csv)")
    names = [Path(item.filename or "").name for item in files]
    for i, name in enumerate(names):
        if name not in UPLOAD_NAMES:
            raise InvalidFieldError("files", f"{name!r} is not <table>.parquet or <table>.csv of the contract", i)
    if len(set(names)) != len(names) or len({n.split(".")[0] for n in names}) != len(names):
        raise InvalidFieldError("files", "each table may be uploaded once, as Parquet or as CSV")
    if not any(name.startswith("households.") for name in names):
        raise InvalidFieldError("files", "the households table is required")
    folder = settings.data_dir / "jobs" / "uploads" / uuid.uuid4().hex
    raw = folder.with_name(folder.name + ".raw")
    raw.mkdir(mode=0o700, parents=True)
    digest = hashlib.sha256()
    try:
        for item, name in zip(files, names, strict=True):
            digest.update(name.encode() + b"\0")
            with private_file(raw / name) as out:
                while chunk := item.file.read(1 << 20):
                    digest.update(chunk)
                    out.write(chunk)
        await run_in_threadpool(pseudonymise_upload, raw, folder, key)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    finally:
        shutil.rmtree(raw, ignore_errors=True)  # the raw tables (ID numbers, names) never outlive the request
    as_of = _form_date(form.get("as_of"))
    explain = str(form.get("explain", "true")).lower() not in ("false", "0", "no")
    digest.update(f"\0{as_of}\0{explain}".encode())
    return folder, f"upload: {', '.join(sorted(names))}", as_of, explain, digest.hexdigest()


def _form_date(value: object) -> date | None:
    if value is None or value == "":
        return None
    try:
        return check_as_of(date.fromisoformat(str(value)))
    except ValueError as error:
        reason = str(error) if str(error).startswith("must") else "must be a date (YYYY-MM-DD)"
        raise InvalidFieldError("as_of", reason) from None


def _from_path(body: bytes, settings: ServiceSettings) -> tuple[Path, str, date | None, bool]:
    try:
        request = JobFromPath.model_validate_json(body)
    except ValidationError as error:
        first = error.errors()[0]
        raise InvalidFieldError(".".join(str(p) for p in first["loc"]) or "body", first["msg"]) from None
    if settings.jobs_allowed_root is None:
        raise InvalidFieldError("path", "jobs over server folders are disabled (no RELAPSE_JOBS_ALLOWED_ROOT); upload")
    root = settings.jobs_allowed_root.resolve()
    try:
        folder = (root / request.path).resolve()
        inside = folder.is_relative_to(root)
        is_folder = inside and folder.is_dir()
    except (OSError, ValueError):  # a NUL byte or a name the file system cannot hold: no folder has that name
        raise InvalidFieldError("path", "is not a folder under the allowed root") from None
    if not inside:
        raise InvalidFieldError("path", "must lie under the allowed root")
    if not is_folder:
        raise InvalidFieldError("path", "is not a folder under the allowed root")
    return folder, f"path: {folder.relative_to(root)}", request.as_of, request.explain


@router.get("", response_model=JobList)
def read_jobs(
    caller: CallerDep,
    database: DatabaseDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
    cursor: CursorQuery = None,
) -> JobList:
    """Jobs in the caller's region scope, newest first, a page at a time (`cursor` of the previous page)."""
    caller.require(Permission.READ)
    after = decode_cursor(cursor, (datetime, str))
    try:
        position = None if after is None else (after[0], uuid.UUID(after[1]))
    except ValueError:
        raise InvalidFieldError("cursor", "is not a cursor this list gave") from None
    with database.read_session() as session:
        views = list_jobs(session, caller.scope, limit=limit + 1, after=position)
    page = page_of(views, lambda view: (view.created_at, str(view.id)), limit, cursor)
    return JobList(jobs=[job_out(view) for view in page.items], cursor=page.cursor, more=page.more)


@router.get("/{job_id}", response_model=JobOut)
def read_job(job_id: str, caller: CallerDep, database: DatabaseDep) -> JobOut:
    """A job's status and progress; 404 alike for unknown jobs and other regions' jobs."""
    caller.require(Permission.READ)
    with database.read_session() as session:
        return job_out(get_job(session, caller.scope, job_id))


@router.post("/{job_id}:cancel", response_model=JobOut)
def cancel_job(job_id: str, caller: CallerDep, database: DatabaseDep) -> JobOut:
    """Cancel a queued or running job (roles that may score, inside their region). A running job stops after the
    chunk it is scoring; the chunks committed before stay stored (they are audited decisions). A finished job
    answers 409; 404 alike for unknown jobs and other regions'."""
    caller.require(Permission.SCORE)
    with database.session() as session:
        return job_out(update_job(session, caller.scope, job_id, status=JobStatus.CANCELLED))


@router.get(
    "/{job_id}/results",
    response_model=None,
    response_class=Response,
    responses={
        200: {
            "description": "The results table, as Parquet or as CSV (`format`)",
            "content": {
                "application/vnd.apache.parquet": {"schema": {"type": "string", "format": "binary"}},
                "text/csv": {"schema": {"type": "string"}},
            },
        }
    },
)
def read_results(
    job_id: str,
    caller: CallerDep,
    database: DatabaseDep,
    format: Annotated[Literal["parquet", "csv"], Query(description="parquet (default) or csv")] = "parquet",
) -> Response:
    """The scores of a finished job, one row per household (reasons, measures and rule flags flattened)."""
    caller.require(Permission.READ)
    with database.read_session() as session:
        view = get_job(session, caller.scope, job_id)
    if view.status is not JobStatus.DONE:
        raise JobStateError(view.status.value, "give results before it is done")
    name = f"job-{view.id}"
    if format == "csv":
        return StreamingResponse(
            _csv_lines(database, caller, view.id),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
        )
    return Response(
        _parquet_bytes(database, caller, view.id),
        media_type="application/vnd.apache.parquet",
        headers={"Content-Disposition": f'attachment; filename="{name}.parquet"'},
    )


def result_columns() -> list[str]:
    columns = ["household_pseudonym", "region_code", "as_of", "probability", "identification_probability"]
    columns += ["risk_level", *STATUS_FIELDS]
    columns += EXPECTED_TYPE_FIELDS
    columns += READINESS_FIELDS
    columns += ["model_version"]
    columns += ["synthetic", "scored_at", "context_version", "rule_flags"]
    return [*columns, *reason_columns(RESULT_REASONS), *measure_columns(RESULT_MEASURES)]


def result_row(view: ScoreView) -> dict[str, Any]:
    row: dict[str, Any] = {
        "household_pseudonym": view.household_pseudonym,
        "region_code": view.region_code,
        "as_of": view.as_of,
        "probability": view.probability,
        "identification_probability": view.identification_probability,
        "risk_level": view.level.value,
        "model_version": view.model_version,
        "synthetic": view.synthetic,
        "scored_at": view.scored_at,
        "context_version": view.context_version,
        "rule_flags": ",".join(name for name, raised in view.rule_flags.items() if raised),
    } | flat_status(view.status_fields())
    row |= flat_expected_type(nested_expected_type(view.expected_monitoring_type))
    row |= flat_readiness(view.elimination_readiness)
    return row | flat_cells(view.reasons, view.measures, RESULT_REASONS, RESULT_MEASURES)


def _rows(database: Database, caller: Caller, job_id: uuid.UUID) -> Iterator[dict[str, Any]]:
    with database.read_session() as session:
        for view in iter_job_scores(session, caller.scope, job_id):
            yield result_row(view)


def _csv_lines(database: Database, caller: Caller, job_id: uuid.UUID) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=result_columns())
    buffer.write("\ufeff")  # a BOM, so that spreadsheet programs read the Chinese text as UTF-8
    writer.writeheader()
    for i, row in enumerate(_rows(database, caller, job_id)):
        writer.writerow(row)
        if i % 2000 == 1999:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def _parquet_bytes(database: Database, caller: Caller, job_id: uuid.UUID, batch: int = 20_000) -> bytes:
    schema = _result_schema()
    sink = io.BytesIO()
    with pq.ParquetWriter(sink, schema, compression="zstd") as writer:
        rows: list[dict[str, Any]] = []
        for row in _rows(database, caller, job_id):
            rows.append(row)
            if len(rows) == batch:
                writer.write_table(pa.Table.from_pylist(rows, schema=schema))
                rows = []
        writer.write_table(pa.Table.from_pylist(rows, schema=schema))
    return sink.getvalue()


def _result_schema() -> pa.Schema:
    fields = []
    for name in result_columns():
        if name == "as_of" or name in DATE_COLUMNS:
            kind: pa.DataType = pa.date32()
        elif name == "scored_at":
            kind = pa.timestamp("us")
        elif name == "synthetic":
            kind = pa.bool_()
        elif name in {"probability", "identification_probability", *READINESS_NUMBERS} or name.endswith(
            ("_points", "_probability_after")
        ):
            kind = pa.float64()
        else:
            kind = pa.string()
        fields.append(pa.field(name, kind))
    return pa.schema(fields)


def pseudonymise_upload(raw: Path, folder: Path, key: PseudonymKey | None) -> None:
    """Read the raw upload, replace ID numbers by pseudonyms and drop names (`features.pseudonyms.ingestion`), and
    write the result, owner-only, to `folder`. Invalid ID numbers refuse the upload (422 naming each row)."""
    sources = ingest(read_sources(raw), key)
    folder.mkdir(mode=0o700)
    write_sources(sources, folder)
    for path in folder.iterdir():
        path.chmod(0o600)


@contextmanager
def private_file(path: Path) -> Iterator[BinaryIO]:
    """A new file only its owner can read, whatever the process umask."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as out:
        yield out
