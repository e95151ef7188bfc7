"""Deliveries: the outbox of alerts (service.alerts) sent to subscribers as signed CloudEvents, retried, dead-lettered.

Each delivery is POSTed as one CloudEvent in structured mode (CloudEvents 1.0, JSON event format):

    Content-Type: application/cloudevents+json
    {"specversion": "1.0", "id": "<delivery id>", "source": "/relapse-risk/alerts", "type": "cn.relapse.score.high",
     "subject": "<household pseudonym or job id>", "time": "<when it was queued>",
     "datacontenttype": "application/json", "data": {...}}

with the headers

    X-Relapse-Timestamp: <unix seconds of this attempt>
    X-Relapse-Key-Id: <the subscription's key id>
    X-Relapse-Signature: sha256=<HMAC-SHA256 of "<timestamp>." + body under the subscription's secret>

The id is the delivery's: the same on every retry and replay, so a receiver drops repeats by it (delivery is at
least once). The timestamp is signed with the body, so a receiver refuses an old message replayed by someone who
recorded it (assumed window: five minutes). The key id names the secret, so a receiver holding several knows which
to check; it is derived from the secret (its SHA-256, shortened), and changes with it.

A subject's deliveries to one subscription go out in the order they were queued: one is sent only when no earlier
one of the same subject is still pending. A failed attempt is retried after a doubling wait (`RETRY_BASE_S` …
`RETRY_MAX_S`) shortened by a random quarter at most, so receivers that failed together are not hit together again;
after the configured number of attempts (`RELAPSE_ALERT_MAX_ATTEMPTS`) the delivery is dead: it blocks its subject
no longer, is listed as `dead`, and an admin may replay it (it then arrives after the later alerts of its subject).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import random
from collections.abc import Callable
from datetime import datetime, timedelta
from functools import cache
from typing import Any, Final, Literal

from sqlalchemy import and_, bindparam, exists, select
from sqlalchemy.orm import Session, aliased

from service.db import Database
from service.errors import InvalidFieldError, NotFoundError
from service.tables import Delivery, Subscription, utcnow

MAX_ATTEMPTS: Final = 8
RETRY_BASE_S: Final = 10.0
RETRY_MAX_S: Final = 3600.0
JITTER: Final = 0.25  # a retry waits between (1 - JITTER) and 1 times its doubling wait
SOURCE: Final = "/relapse-risk/alerts"
TYPE_PREFIX: Final = "cn.relapse."
MEDIA_TYPE: Final = "application/cloudevents+json"

State = Literal["pending", "delivered", "dead"]
STATES: Final[tuple[State, ...]] = ("pending", "delivered", "dead")

# (url, body, headers) → the receiver's HTTP status; raises on a network error.
Post = Callable[[str, bytes, dict[str, str]], int]


def key_id(secret: str) -> str:
    """The name of a subscription's secret that deliveries carry: the first 16 hex digits of its SHA-256."""
    return hashlib.sha256(secret.encode()).hexdigest()[:16]


def sign(secret: str, timestamp: int, body: bytes) -> str:
    message = str(timestamp).encode() + b"." + body
    return "sha256=" + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def cloud_event(delivery: Delivery) -> bytes:
    """The delivery as a structured-mode CloudEvent: the same bytes on every attempt."""
    event: dict[str, Any] = {
        "specversion": "1.0",
        "id": str(delivery.id),
        "source": SOURCE,
        "type": TYPE_PREFIX + delivery.event,
        "time": delivery.created_at.isoformat().replace("+00:00", "Z"),
        "datacontenttype": "application/json",
        "data": delivery.payload,
    }
    if delivery.subject is not None:
        event["subject"] = delivery.subject
    return json.dumps(event, ensure_ascii=False, sort_keys=True).encode()


def state_of(delivery: Delivery) -> State:
    if delivery.delivered_at is not None:
        return "delivered"
    return "dead" if delivery.gave_up_at is not None else "pending"


def deliver_due(
    database: Database,
    post: Post,
    *,
    now: datetime | None = None,
    limit: int = 100,
    max_attempts: int = MAX_ATTEMPTS,
) -> int:
    """POST the deliveries that are due and first in line for their subject, up to `limit` attempts; returns how
    many were accepted. Each round's attempts put the next of their subjects first in line, so the rounds go on
    until none is due: one household's alerts of one score leave in one call, still in order."""
    now = now or utcnow()
    attempted = accepted = 0
    while attempted < limit:
        with database.read_session() as session:  # a look only: the round's outcome is written below
            due = list(session.scalars(_due(), {"now": now, "limit": limit - attempted}))
            targets = {
                s.id: s
                for s in session.scalars(
                    select(Subscription).where(Subscription.id.in_({d.subscription_id for d in due}))
                )
            }
        if not due:
            break
        statuses = [_attempt(post, delivery, targets[delivery.subscription_id]) for delivery in due]
        # One transaction records the round: a process that dies before it sends the round again (at least
        # once, under the same ids).
        with database.session() as session:
            rows = {
                row.id: row for row in session.scalars(select(Delivery).where(Delivery.id.in_([d.id for d in due])))
            }
            for delivery, status in zip(due, statuses, strict=True):
                accepted += _record(rows[delivery.id], status, targets[delivery.subscription_id], now, max_attempts)
        attempted += len(due)
    return accepted


def _attempt(post: Post, delivery: Delivery, subscription: Subscription) -> int | None:
    """One POST of the delivery: the receiver's status, None when it could not be reached."""
    body = cloud_event(delivery)
    stamp = int(utcnow().timestamp())
    headers = {
        "Content-Type": MEDIA_TYPE,
        "X-Relapse-Event": delivery.event,
        "X-Relapse-Delivery": str(delivery.id),
        "X-Relapse-Timestamp": str(stamp),
        "X-Relapse-Key-Id": key_id(subscription.secret),
        "X-Relapse-Signature": sign(subscription.secret, stamp, body),
    }
    try:
        return post(subscription.url, body, headers)
    except Exception:  # noqa: BLE001 — a receiver that cannot be reached is retried like one that fails
        return None


def _record(row: Delivery, status: int | None, subscription: Subscription, now: datetime, max_attempts: int) -> int:
    """An attempt's outcome on the delivery: 1 if the receiver accepted it."""
    row.attempts += 1
    row.last_status = status
    if status is not None and 200 <= status < 300:
        row.delivered_at = now
        return 1
    if row.attempts >= max_attempts or subscription.ended_at is not None:
        row.gave_up_at = now
    else:
        wait = min(RETRY_MAX_S, RETRY_BASE_S * 2 ** (row.attempts - 1))
        row.next_attempt_at = now + timedelta(seconds=wait * random.uniform(1 - JITTER, 1))  # noqa: S311
    return 0


@cache
def _due() -> Any:
    """Pending deliveries due at `:now` with no earlier pending one of the same subject and subscription, the
    first `:limit` (built once: the dispatcher asks several times a second under load)."""
    earlier = aliased(Delivery)
    blocked = exists().where(
        and_(
            earlier.subscription_id == Delivery.subscription_id,
            earlier.subject == Delivery.subject,
            earlier.id < Delivery.id,
            earlier.delivered_at.is_(None),
            earlier.gave_up_at.is_(None),
        )
    )
    return (
        select(Delivery)
        .where(Delivery.delivered_at.is_(None), Delivery.gave_up_at.is_(None))
        .where(Delivery.next_attempt_at <= bindparam("now"))
        .where(~blocked)
        .order_by(Delivery.id)
        .limit(bindparam("limit"))
    )


def deliveries_of(
    session: Session, subscription: Subscription, state: State | None, after: int | None, limit: int
) -> list[Delivery]:
    """Up to `limit + 1` of the subscription's deliveries in `state` (all without), oldest first, after id `after`."""
    query = select(Delivery).where(Delivery.subscription_id == subscription.id)
    if state == "delivered":
        query = query.where(Delivery.delivered_at.is_not(None))
    elif state == "dead":
        query = query.where(Delivery.delivered_at.is_(None), Delivery.gave_up_at.is_not(None))
    elif state == "pending":
        query = query.where(Delivery.delivered_at.is_(None), Delivery.gave_up_at.is_(None))
    if after is not None:
        query = query.where(Delivery.id > after)
    return list(session.scalars(query.order_by(Delivery.id).limit(limit + 1)))


def replay(session: Session, delivery: Delivery, subscription: Subscription, now: datetime | None = None) -> None:
    """A dead delivery pending again, due now, with its attempts counted afresh (its id stays)."""
    if state_of(delivery) != "dead":
        raise InvalidFieldError("delivery", f"is {state_of(delivery)}; only a dead delivery is replayed")
    if subscription.ended_at is not None:
        raise NotFoundError("the delivery's subscription has ended")
    delivery.gave_up_at = None
    delivery.attempts = 0
    delivery.last_status = None
    delivery.next_attempt_at = now or utcnow()


def http_post(timeout_s: float = 10.0) -> Post:
    """POST through one client kept for the dispatcher's life: connections to a receiver are reused, and the TLS
    context is built once rather than per alert."""
    import httpx

    client = httpx.Client(timeout=timeout_s, follow_redirects=False)

    def post(url: str, body: bytes, headers: dict[str, str]) -> int:
        return client.post(url, content=body, headers=headers).status_code

    return post
