"""The OpenAPI document as integrators need it: how to authenticate, and every error the API answers with.

FastAPI documents each route's success and a 422 in its own validation-error shape, which this API never sends
(errors are RFC 9457 problem+json, `service.problems`), and knows nothing of keys. This module completes the
generated document once, when it is first asked for:

- `securitySchemes`: the API key as a bearer token or in `X-API-Key`; every `/v1/` operation requires one;
- a `Problem` schema, and on every `/v1/` operation the problem answers it can give: 400 (a multipart upload that
  cannot be read or has too many parts), 401 (no or a bad key), 403 (role or region), 404 (where the path names a
  household, region or job), 409 (where a state can refuse: jobs, model reload), 413 (request bodies), 422, 429
  (per-key limits, with Retry-After) and 503 (database or model unavailable, with Retry-After);
- a request example on every POST that takes a body (`service.request_examples`, or the body model's own);
- on the POSTs that store (scoring, visits, jobs), the `Idempotency-Key` header, its 409 and `Idempotent-Replayed`;
- `/health/ready` answers 503 with the same body as 200 when the service is not ready.
"""

from __future__ import annotations

from typing import Any, Final

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from service.problems import MEDIA_TYPE
from service.request_examples import request_examples

PROBLEM: Final[dict[str, Any]] = {
    "type": "object",
    "title": "Problem",
    "description": "RFC 9457 problem details; `field` and `row` name what was wrong, never the submitted value.",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "field": {"type": "string"},
        "row": {"type": "integer"},
        "errors": {"type": "array", "items": {"type": "object"}},
    },
}
RETRY_AFTER: Final = {"Retry-After": {"description": "seconds to wait", "schema": {"type": "integer"}}}
_DESCRIPTIONS: Final = {
    "400": "a multipart form that cannot be read, or with more files or fields than the service accepts",
    "401": "no API key, or one that is malformed, unknown or revoked",
    "403": "the key's role may not do this, or the region lies outside the key's",
    "404": "nothing with this id in the key's region (the same answer whether it exists elsewhere or not)",
    "409": "the resource's state does not allow this (a finished job, a refused model)",
    "413": "the request body is larger than the service accepts",
    "422": "a field breaks its rule; `field`, `row` and `errors` say which",
    "429": "the key's request rate or requests in flight are over its limit",
    "503": "the database or the model is unavailable; retry after the given seconds",
}
_CONFLICTS: Final = (":cancel", "/results", "model:reload")
# The POSTs that store something and take an `Idempotency-Key` (service.idempotency).
IDEMPOTENT: Final = frozenset(
    {"/v1/events", "/v1/households:score", "/v1/profiles:score", "/v1/households/{pseudonym}/visits", "/v1/jobs"}
)
IDEMPOTENCY_KEY: Final[dict[str, Any]] = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": "a repeat of the same request with the same key (per API key, within the retention window) "
    "answers the first request's answer, with `Idempotent-Replayed: true`; the key with another request is 422",
    "schema": {"type": "string", "pattern": "^[!-~]{1,128}$"},
}


def install_openapi(app: FastAPI) -> None:
    """Replace the app's document builder with one that adds security and error answers (built once)."""

    def document() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title,
                version=app.version,
                summary=app.summary,
                description=app.description,
                routes=app.routes,
            )
            app.openapi_schema = complete(schema)
        return app.openapi_schema

    app.openapi = document  # type: ignore[method-assign]


def complete(schema: dict[str, Any]) -> dict[str, Any]:
    """The generated document with security schemes, the Problem schema and every operation's error answers."""
    components = schema.setdefault("components", {})
    components.setdefault("schemas", {})["Problem"] = PROBLEM
    components["securitySchemes"] = {
        "bearer": {"type": "http", "scheme": "bearer", "description": "an API key (`relapse keys create`)"},
        "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
    }
    examples = request_examples()
    for path, operations in schema.get("paths", {}).items():
        for method, operation in operations.items():
            for content_type, content in operation.get("requestBody", {}).get("content", {}).items():
                if method == "post" and (path, content_type) in examples:
                    content["example"] = examples[(path, content_type)]
            responses = operation.setdefault("responses", {})
            if path.startswith("/v1/"):
                operation["security"] = [{"bearer": []}, {"apiKey": []}]
                for status in _statuses(path, method):
                    responses[status] = _problem(status)
                if "multipart/form-data" in operation.get("requestBody", {}).get("content", {}):
                    responses["400"] = _problem("400")
                if method == "post" and path in IDEMPOTENT:
                    _idempotent(operation)
            elif "422" in responses:
                responses["422"] = _problem("422")
            if path == "/health/ready":
                responses["503"] = {**responses["200"], "description": "not ready (model, database or writes)"}
    text = str(schema["paths"])
    for unused in ("HTTPValidationError", "ValidationError"):  # FastAPI's 422 shape, which this API never sends
        if f"#/components/schemas/{unused}'" not in text:
            components["schemas"].pop(unused, None)
    return schema


def _idempotent(operation: dict[str, Any]) -> None:
    operation.setdefault("parameters", []).append(IDEMPOTENCY_KEY)
    operation["responses"]["409"] = {
        **_problem("409"),
        "description": "the first request with this Idempotency-Key is still running; retry later",
    }
    for status, answer in operation["responses"].items():
        if status.startswith("2"):
            answer.setdefault("headers", {})["Idempotent-Replayed"] = {
                "description": "`true` when this is the stored answer of an earlier request with the same key",
                "schema": {"type": "string", "enum": ["true"]},
            }


def _statuses(path: str, method: str) -> list[str]:
    statuses = ["401", "403", "422", "429", "503"]
    if "{" in path:
        statuses.append("404")
    if any(marker in path for marker in _CONFLICTS):
        statuses.append("409")
    if method in ("post", "put", "patch"):
        statuses.append("413")
    return sorted(statuses)


def _problem(status: str) -> dict[str, Any]:
    answer: dict[str, Any] = {
        "description": _DESCRIPTIONS[status],
        "content": {MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }
    if status in ("429", "503"):
        answer["headers"] = RETRY_AFTER
    return answer
