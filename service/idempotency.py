"""`Idempotency-Key` on the POSTs that store something: visits, scoring (every score is a stored, audited
decision) and batch jobs.

A request carrying the header first *claims* its key, scoped to the caller's API key, in a row of its own
(`idempotency_keys`, unique by API key and key). The claim that inserts the row runs the request and stores its
answer; a repeat finds the row and

- gets the stored answer (same status, body and `Location`, plus `Idempotent-Replayed: true`) when the first has
  finished and the method, path and body are the same;
- waits for the first to finish (up to `RELAPSE_IDEMPOTENCY_WAIT_S`, then 409) while it still runs, so two
  identical requests sent together store once;
- is refused with 422 naming the header when the key was used for another request.

Only successful answers are kept: a request that failed releases its claim, so the caller can retry with the same
key. The unique row decides between concurrent claims on every backend (SQLite's write lock, PostgreSQL's unique
index); a claim whose request never finished (its process died) is taken over after `RELAPSE_IDEMPOTENCY_STALE_S`.
Answers are kept for `RELAPSE_IDEMPOTENCY_RETENTION_HOURS`; an older row no longer counts and is deleted.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Final

import anyio
from fastapi import Request, Response
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import Select, delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from service.db import Database
from service.errors import IdempotencyInProgressError, InvalidFieldError
from service.keys import Caller
from service.settings import ServiceSettings
from service.tables import IdempotencyRecord, utcnow

HEADER: Final = "Idempotency-Key"
REPLAYED: Final = "Idempotent-Replayed"
MAX_KEY_CHARS: Final = 128
# How often a repeat looks whether the first request has finished.
POLL_S: Final = 0.05


def key_of(request: Request) -> str | None:
    """The request's `Idempotency-Key`, checked: 1-128 printable ASCII characters without spaces."""
    value = request.headers.get(HEADER)
    if value is None:
        return None
    if not 1 <= len(value) <= MAX_KEY_CHARS or not all("!" <= c <= "~" for c in value):
        raise InvalidFieldError(HEADER, f"must be 1-{MAX_KEY_CHARS} printable ASCII characters without spaces")
    return value


def fingerprint(method: str, path: str, body: bytes) -> str:
    """What a repeat must match: method, path and the body's bytes (a re-encoded body is another request)."""
    digest = hashlib.sha256(f"{method}\0{path}\0".encode())
    digest.update(body)
    return digest.hexdigest()


class _Held:
    """Another request holds the key and has not finished."""


HELD: Final = _Held()


@dataclass(frozen=True)
class StoredAnswer:
    status: int
    body: bytes
    media_type: str | None
    location: str | None

    def response(self) -> Response:
        headers = {REPLAYED: "true"} | ({"Location": self.location} if self.location else {})
        return Response(self.body, status_code=self.status, media_type=self.media_type, headers=headers)


@dataclass
class Claim:
    """One request's hold on its key: `acquire`, then run the request and `record` (in the request's own
    transaction, where it has one) or `finish` its answer; `release` if it failed."""

    database: Database
    key_id: int
    key: str
    fingerprint: str
    recorded: bool = field(default=False, init=False)
    _claimed_at: datetime | None = field(default=None, init=False)

    def acquire(self, settings: ServiceSettings) -> StoredAnswer | None:
        """None: this request holds the key and must run. A stored answer: replay it. Waits while another
        request holds the key, up to the configured wait (then `IdempotencyInProgressError`)."""
        deadline = time.monotonic() + settings.idempotency_wait_s
        while True:
            state = self._try(settings)
            if not isinstance(state, _Held):
                return state
            if time.monotonic() >= deadline:
                raise IdempotencyInProgressError(HEADER)
            time.sleep(POLL_S)

    def _try(self, settings: ServiceSettings) -> StoredAnswer | _Held | None:
        """None: claimed; a stored answer; `HELD`: another request holds the key."""
        now = utcnow()
        try:
            with self.database.session() as session:
                session.execute(
                    delete(IdempotencyRecord).where(
                        IdempotencyRecord.created_at < now - timedelta(hours=settings.idempotency_retention_hours)
                    )
                )
                row = session.scalar(self._select())
                if row is None:
                    session.add(self._new_row(now))
                    session.flush()
                    self._claimed_at = now
                    return None
                return self._existing(session, row, now, settings)
        except IntegrityError:
            return HELD  # another request inserted the row first; look again (and find it)

    def _existing(
        self, session: Session, row: IdempotencyRecord, now: datetime, settings: ServiceSettings
    ) -> StoredAnswer | _Held | None:
        if row.fingerprint != self.fingerprint:
            raise InvalidFieldError(HEADER, "was used for another request; use a new key")
        if row.completed_at is not None and row.status is not None and row.body is not None:
            return StoredAnswer(row.status, row.body, row.media_type, row.location)
        if row.created_at >= now - timedelta(seconds=settings.idempotency_stale_s):
            return HELD
        # The request that claimed it never finished (its process died): take it over, one taker winning.
        taken = session.execute(
            update(IdempotencyRecord)
            .where(IdempotencyRecord.id == row.id, IdempotencyRecord.created_at == row.created_at)
            .values(created_at=now)
        )
        if taken.rowcount != 1:  # type: ignore[attr-defined]
            return HELD
        self._claimed_at = now
        return None

    def _select(self) -> Select[Any]:
        return select(IdempotencyRecord).where(
            IdempotencyRecord.key_id == self.key_id, IdempotencyRecord.idempotency_key == self.key
        )

    def _new_row(self, now: datetime) -> IdempotencyRecord:
        return IdempotencyRecord(
            key_id=self.key_id, idempotency_key=self.key, fingerprint=self.fingerprint, created_at=now
        )

    def record(self, session: Session, response: Response) -> None:
        """Store the answer in the caller's transaction, so that it commits (or not) with what the request stored."""
        session.execute(
            update(IdempotencyRecord)
            .where(IdempotencyRecord.key_id == self.key_id, IdempotencyRecord.idempotency_key == self.key)
            .values(
                completed_at=utcnow(),
                status=response.status_code,
                media_type=response.media_type,
                location=response.headers.get("location"),
                body=bytes(response.body),
            )
        )
        self.recorded = True

    def finish(self, response: Response) -> None:
        with self.database.session() as session:
            self.record(session, response)

    def release(self) -> None:
        """Give the key up after a failed request, so that the caller may retry with it (only this request's own
        unfinished claim: a key another request holds stays held)."""
        if self._claimed_at is None:
            return
        with self.database.session() as session:
            session.execute(
                delete(IdempotencyRecord).where(
                    IdempotencyRecord.key_id == self.key_id,
                    IdempotencyRecord.idempotency_key == self.key,
                    IdempotencyRecord.created_at == self._claimed_at,
                    IdempotencyRecord.completed_at.is_(None),
                )
            )
        self._claimed_at = None
        self.recorded = False


async def run_once(
    request: Request,
    caller: Caller,
    database: Database,
    settings: ServiceSettings,
    body: bytes,
    produce: Callable[[Claim | None], Awaitable[Response]],
) -> Response:
    """The answer of `produce`, or, for a repeat of a request with the same `Idempotency-Key`, the first one's.

    `produce` gets the claim (None without the header) and may `record` its answer in its own transaction; an
    answer it did not record is stored after it returns, if it is a success."""
    key = key_of(request)
    if key is None or caller.key_id is None:
        return await produce(None)
    claim = Claim(database, caller.key_id, key, fingerprint(request.method, request.url.path, body))
    try:
        stored = await anyio.to_thread.run_sync(claim.acquire, settings)
    except BaseException:
        # Cancelled (the client left) while the look-up ran: the thread finished first, and may have claimed.
        with anyio.CancelScope(shield=True):
            await run_in_threadpool(claim.release)
        raise
    if stored is not None:
        return stored.response()
    try:
        response = await produce(claim)
        if not claim.recorded:
            if 200 <= response.status_code < 300:
                await run_in_threadpool(claim.finish, response)
            else:
                await run_in_threadpool(claim.release)
    except BaseException:
        with anyio.CancelScope(shield=True):
            await run_in_threadpool(claim.release)
        raise
    return response
