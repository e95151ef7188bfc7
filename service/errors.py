"""Typed errors of the `service` package.

The API maps them to RFC 9457 problem+json (docs/architecture.md, non-negotiable 8): `field` and `row` name what was
wrong. Messages never quote a personal value, and errors about data outside the caller's region never depend on
whether such data exists (non-negotiable 6).
"""

from __future__ import annotations


class ServiceError(Exception):
    """Base class of the errors raised by `service`."""


class DatabaseUnavailableError(ServiceError):
    """The database cannot be reached or is locked; nothing was written. The API answers 503 with Retry-After."""


class InvalidFieldError(ServiceError, ValueError):
    """A value breaks its field's rule; `row` is the 0-based position in a batch, `None` for a single value."""

    def __init__(self, field: str, message: str, row: int | None = None) -> None:
        where = f"row {row}, " if row is not None else ""
        super().__init__(f"{where}{field}: {message}")
        self.field = field
        self.row = row
        self.reason = message


class OutOfScopeError(ServiceError):
    """A region code lies outside the caller's region scope. Raised from the codes alone, never from the data."""

    def __init__(self, field: str, message: str, row: int | None = None) -> None:
        where = f"row {row}, " if row is not None else ""
        super().__init__(f"{where}{field}: {message}")
        self.field = field
        self.row = row


class AuthenticationError(ServiceError):
    """The presented API key is malformed, unknown, revoked or wrong — deliberately not saying which."""


class PermissionDeniedError(ServiceError):
    """The caller's role does not allow the action."""

    def __init__(self, role: str, permission: str) -> None:
        super().__init__(f"role {role!r} may not {permission!r}")
        self.role = role
        self.permission = permission


class NotFoundError(ServiceError):
    """Nothing with this id in the caller's scope (the same answer whether it exists elsewhere or not at all)."""


class KeyNotFoundError(NotFoundError):
    """No API key with this id."""


class JobNotFoundError(NotFoundError):
    """No batch job with this id in the caller's scope."""


class JobStateError(ServiceError):
    """A job's status does not allow the action (a finished job cannot restart, a cancelled one takes no chunks)."""

    def __init__(self, current: str, action: str) -> None:
        super().__init__(f"status: a {current} job cannot {action}")
        self.field = "status"
        self.current = current
        self.action = action


class IdempotencyInProgressError(ServiceError):
    """The first request with this `Idempotency-Key` is still running after a repeat waited for it (409)."""

    def __init__(self, header: str) -> None:
        super().__init__(f"{header}: a request with this key is still running; retry later")
        self.field = header
