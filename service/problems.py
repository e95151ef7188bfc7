"""RFC 9457 problem details (`application/problem+json`) for every error the API answers with.

Each problem names what was wrong: `field` and, in a list body, `row` (the 0-based index in the list), so a
caller can fix the exact cell (docs/architecture.md, non-negotiable 8). Details never quote a submitted value (it may be
personal) and errors about another region never depend on whether its data exists (non-negotiable 6).
"""

from __future__ import annotations

from typing import Any, Final

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from features.contract.monitoring_lines import MissingYearError
from features.errors import SourceDataError
from features.profiles.build import ProfileError
from features.validation.report import describe_reason
from service.documents import DocumentViolationsError
from service.errors import (
    AuthenticationError,
    DatabaseUnavailableError,
    IdempotencyInProgressError,
    InvalidFieldError,
    JobStateError,
    NotFoundError,
    OutOfScopeError,
    PermissionDeniedError,
)
from service.limits import RateLimitedError
from service.references import InvalidReferenceError

MEDIA_TYPE: Final = "application/problem+json"
MAX_LISTED_ERRORS: Final = 50


class ModelUnavailableError(Exception):
    """No model is loaded (the registry was unreachable at start and nothing was cached)."""


def problem(
    status: int, title: str, detail: str, *, headers: dict[str, str] | None = None, **extra: Any
) -> JSONResponse:
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail}
    body.update({key: value for key, value in extra.items() if value is not None})
    return JSONResponse(body, status_code=status, media_type=MEDIA_TYPE, headers=headers)


def validation_errors(errors: Any) -> list[dict[str, Any]]:
    """Pydantic errors as {field, row, message}; `row` is the first list index in the location."""
    out = []
    for error in list(errors)[:MAX_LISTED_ERRORS]:
        loc = [part for part in error.get("loc", ()) if part not in ("body", "query", "path", "header")]
        row = next((part for part in loc if isinstance(part, int)), None)
        if row is not None:
            loc = loc[loc.index(row) + 1 :] if len(loc) > loc.index(row) + 1 else loc[: loc.index(row)]
        field = ".".join(str(part) for part in loc) or "body"
        out.append({"field": field, "row": row, "message": str(error.get("msg", "invalid"))})
    return out


# --- one handler per error type: the problem+json each one answers -------------------------------------


async def on_validation(_: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RequestValidationError)
    errors = validation_errors(error.errors())
    first = errors[0] if errors else {"field": "body", "row": None, "message": "invalid"}
    where = f"row {first['row']}, " if first["row"] is not None else ""
    return problem(
        422,
        "Invalid request",
        f"{where}{first['field']}: {first['message']}",
        field=first["field"],
        row=first["row"],
        errors=errors,
    )


async def on_invalid_field(_: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, InvalidFieldError)
    return problem(422, "Invalid field", str(error), field=error.field, row=error.row)


async def on_source_data(_: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, SourceDataError)
    # Violation rows are 1-based within a table; the problem names the table, column and reason, never the value.
    errors = [
        {"field": f"{v.table}.{v.column}", "row": None if v.row is None else v.row - 1, "message": v.reason}
        for v in error.violations[:MAX_LISTED_ERRORS]
    ]
    first = errors[0] if errors else {"field": "body", "row": None}
    return problem(
        422,
        "Invalid source data",
        str(error).splitlines()[0],
        field=first["field"],
        row=first["row"],
        errors=errors,
    )


async def on_documents(_: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, DocumentViolationsError)
    # Every violation the contract's validator found, located in the request; never the submitted value.
    errors = [
        {
            "field": v.field,
            "row": v.row,
            "table": v.table,
            "item": v.item,
            "column": v.column,
            "reason": v.reason,
            "message": v.message,
        }
        for v in error.violations
    ]
    first = errors[0]
    return problem(
        422,
        "Invalid source data",
        str(error),
        field=first["field"],
        row=first["row"],
        count=error.total,
        errors=errors,
    )


async def on_reference(_: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, InvalidReferenceError)
    violations = [v for v in error.report.violations if v.table == "villages"]
    errors = [
        {
            "field": f"villages.{v.column}",
            "row": None if v.row is None else v.row - 1,
            "reason": v.reason,
            "message": describe_reason(v.reason),
        }
        for v in violations
    ]
    first = errors[0] if errors else {"field": "villages", "row": None}
    return problem(
        422,
        "Invalid villages table",
        f"{error.report.total} violations of the source-data contract",
        field=first["field"],
        row=first["row"],
        errors=errors,
    )


async def on_profile(_: Request, error: Exception) -> JSONResponse:
    return problem(422, "Invalid household documents", str(error), field="households")


async def on_missing_year(_: Request, error: Exception) -> JSONResponse:
    # The records' year lies outside the deployment's yearly tables: named for the operator to add, never
    # answered with another year's line or standard.
    assert isinstance(error, MissingYearError)
    return problem(422, "Year outside the reference tables", str(error), field=error.table, year=error.year)


async def on_out_of_scope(_: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, OutOfScopeError)
    return problem(403, "Outside your region", str(error), field=error.field, row=error.row)


async def on_authentication(_: Request, error: Exception) -> JSONResponse:
    return problem(401, "Not authenticated", str(error), headers={"WWW-Authenticate": "Bearer"})


async def on_permission(_: Request, error: Exception) -> JSONResponse:
    return problem(403, "Forbidden", str(error))


async def on_not_found(_: Request, error: Exception) -> JSONResponse:
    return problem(404, "Not found", str(error))


async def on_job_state(_: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, JobStateError)
    return problem(409, "Conflict", str(error), field=error.field)


async def on_in_progress(_: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, IdempotencyInProgressError)
    return problem(409, "Conflict", str(error), field=error.field)


async def on_rate_limited(_: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RateLimitedError)
    return problem(429, "Too many requests", str(error), headers={"Retry-After": str(error.retry_after_s)})


async def on_http(_: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, StarletteHTTPException)
    if error.status_code == 400 and isinstance(error.__cause__, UnicodeDecodeError):
        # FastAPI answers a body that is not UTF-8 with a bare 400, one that is not JSON with a 422: both are an
        # invalid request body, answered alike with the status the OpenAPI document lists.
        message = "the body is not JSON in UTF-8"
        return problem(
            422,
            "Invalid request",
            f"body: {message}",
            field="body",
            row=None,
            errors=[{"field": "body", "row": None, "message": message}],
        )
    headers = dict(error.headers) if error.headers else None
    return problem(error.status_code, str(error.detail), str(error.detail), headers=headers)


def install_problem_handlers(app: FastAPI, retry_after_s: int) -> None:
    """Register the handlers: typed service and features errors, validation, HTTP errors."""

    async def on_database(_: Request, error: Exception) -> JSONResponse:
        return problem(
            503,
            "Database unavailable",
            "the database cannot be reached; nothing was decided or stored, try again later",
            headers={"Retry-After": str(retry_after_s)},
        )

    async def on_model(_: Request, error: Exception) -> JSONResponse:
        return problem(503, "No model", str(error), headers={"Retry-After": str(retry_after_s)})

    handlers = {
        RequestValidationError: on_validation,
        InvalidFieldError: on_invalid_field,
        SourceDataError: on_source_data,
        DocumentViolationsError: on_documents,
        InvalidReferenceError: on_reference,
        ProfileError: on_profile,
        MissingYearError: on_missing_year,
        OutOfScopeError: on_out_of_scope,
        AuthenticationError: on_authentication,
        PermissionDeniedError: on_permission,
        NotFoundError: on_not_found,
        JobStateError: on_job_state,
        IdempotencyInProgressError: on_in_progress,
        DatabaseUnavailableError: on_database,
        RateLimitedError: on_rate_limited,
        ModelUnavailableError: on_model,
        StarletteHTTPException: on_http,
    }
    for kind, handler in handlers.items():
        app.add_exception_handler(kind, handler)


class BodyLimitMiddleware:
    """413 for bodies over `max_bytes`: by the declared Content-Length, or while reading a chunked body."""

    def __init__(self, app: ASGIApp, max_bytes: int, larger: dict[str, int] | None = None) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.larger = dict(larger or {})  # path → its own limit (uploads)

    def limit(self, path: str) -> int:
        return self.larger.get(path, self.max_bytes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit(scope.get("path", ""))
        declared = dict(scope.get("headers", [])).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await self._too_large(scope, receive, send, limit)
            return
        if declared is not None:
            await self.app(scope, receive, send)  # the server stops reading at Content-Length
            return
        # Chunked body: read it here, up to the limit, then hand it on whole (memory stays below `max_bytes`).
        chunks: list[bytes] = []
        seen = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunk = message.get("body", b"")
            seen += len(chunk)
            if seen > limit:
                await self._too_large(scope, receive, send, limit)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _too_large(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        response = problem(413, "Request too large", f"the request body exceeds {limit} bytes")
        await response(scope, receive, send)
