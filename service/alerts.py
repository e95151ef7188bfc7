"""Alerts: tell subscribers when a household crosses into high risk or a batch job ends (webhooks with an outbox).

A subscription names a URL, the events it wants (`EVENTS`) and the region it may hear about (inside its key's).
The dispatcher reads what was stored since its cursor — the score feed (`service.feed`) and the jobs that ended —
and writes one delivery per (event, subscription) into the outbox in the same transaction that moves the cursor,
so an alert is queued exactly once whichever road stored the score. Deliveries are then POSTed as JSON with

    X-Relapse-Event: score.high
    X-Relapse-Delivery: <delivery id>          (the same on every retry: receivers drop repeats by it)
    X-Relapse-Signature: sha256=<HMAC-SHA256 of the body under the subscription's secret>

until the receiver answers 2xx, retried with a doubling wait (`RETRY_BASE_S` … `RETRY_MAX_S`) and given up after
`MAX_ATTEMPTS`: delivery is at least once. Only the holder of the job runner's lease dispatches (service.job_runner),
between jobs, so several service processes never send the same alert twice; alerts of scores stored during a long
job go out when it ends.

"Crosses into high risk": the household's stored score is high and its previous stored score in that village was
not (or it had none). Current monitoring objects are not alerted: their high score is no new risk. Receivers must
lie on a host the operator allowed (`alert_hosts`): the service never calls an address a caller picked freely.
Payloads carry pseudonyms, codes and figures, never names or ID numbers.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any, Final
from urllib.parse import urlsplit

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from service.db import Database
from service.errors import InvalidFieldError, NotFoundError
from service.feed import scores_after
from service.keys import Caller
from service.scope import Scope
from service.tables import AlertCursor, Delivery, Job, JobStatus, RiskLevel, ScoreRecord, Subscription, utcnow

EVENTS: Final[dict[str, str]] = {
    "score.high": "a household's stored score becomes high (its previous score there was not high, or it had none)",
    "job.finished": "a batch job ends: done, failed or cancelled",
}
MAX_ATTEMPTS: Final = 8
RETRY_BASE_S: Final = 10.0
RETRY_MAX_S: Final = 3600.0
PAGE: Final = 1000
FINAL: Final = (JobStatus.DONE, JobStatus.FAILED, JobStatus.CANCELLED)

# (url, body, headers) → the receiver's HTTP status; raises on a network error.
Post = Callable[[str, bytes, dict[str, str]], int]


# --- subscriptions ------------------------------------------------------------------------------------------
def check_url(url: str, allowed_hosts: Sequence[str]) -> str:
    if not allowed_hosts:
        raise InvalidFieldError("url", "alerts are off on this service (the operator sets alert_hosts)")
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise InvalidFieldError("url", "must be an http(s) URL")
    if parts.hostname not in allowed_hosts:
        raise InvalidFieldError("url", "its host is not one the operator allows for alerts")
    return url


def subscribe(
    session: Session, caller: Caller, url: str, events: Sequence[str], region: str | None, allowed_hosts: Sequence[str]
) -> Subscription:
    """A new subscription inside the caller's region (narrowed to `region` when given); its secret is shown once."""
    check_url(url, allowed_hosts)
    unknown = sorted(set(events) - set(EVENTS))
    if not events or unknown:
        raise InvalidFieldError("events", f"name one or more of {', '.join(EVENTS)}")
    scope = caller.scope.narrow(region, field="region") if region else caller.scope
    row = Subscription(
        key_id=caller.key_id,
        region_prefix=scope.region_prefix,
        url=url,
        events=sorted(set(events)),
        secret=secrets.token_hex(32),
    )
    session.add(row)
    session.flush()
    return row


def subscriptions_of(session: Session, caller: Caller) -> list[Subscription]:
    """The caller's key's active subscriptions (an admin's: every one inside its scope)."""
    query = select(Subscription).where(Subscription.ended_at.is_(None), caller.scope.filter(Subscription.region_prefix))
    if caller.role.value != "admin":
        query = query.where(Subscription.key_id == caller.key_id)
    return list(session.scalars(query.order_by(Subscription.id)))


def end_subscription(session: Session, caller: Caller, subscription_id: int) -> None:
    mine = {s.id: s for s in subscriptions_of(session, caller)}
    if subscription_id not in mine:
        raise NotFoundError("no subscription with this id for your key")
    mine[subscription_id].ended_at = utcnow()


# --- dispatch -----------------------------------------------------------------------------------------------
def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def enqueue(session: Session) -> int:
    """Turn what was stored since the cursor into deliveries and move the cursor, in the caller's transaction."""
    cursor = session.get(AlertCursor, 1, with_for_update=True)
    if cursor is None:
        cursor = AlertCursor(id=1, score_id=_last_score_id(session), jobs_after=utcnow())
        session.add(cursor)  # alerts start now: nothing stored before the first dispatch is announced
        session.flush()
        return 0
    active = list(session.scalars(select(Subscription).where(Subscription.ended_at.is_(None))))
    queued = 0
    while True:
        page = scores_after(session, Scope.everything(), str(cursor.score_id), PAGE)
        for view, previous in page.items:
            if view.level is not RiskLevel.HIGH or previous is RiskLevel.HIGH:
                continue
            status = view.status_fields().get("monitoring_status")
            if status == "monitored":
                continue
            payload = {
                "event": "score.high",
                "household_pseudonym": view.household_pseudonym,
                "region_code": view.region_code,
                "as_of": view.as_of.isoformat(),
                "probability": view.probability,
                "risk_level": view.level.value,
                "previous_level": previous.value if previous else None,
                "monitoring_status": status,
                "model_version": view.model_version,
                "reasons": [r.get("key") for r in view.reasons[:3] if isinstance(r, dict)],
            }
            queued += _queue(session, active, "score.high", view.region_code, payload)
        cursor.score_id = int(page.cursor)
        if not page.more:
            break
    ended = select(Job).where(Job.status.in_(FINAL)).order_by(Job.updated_at)
    if cursor.jobs_after is not None:
        ended = ended.where(Job.updated_at > cursor.jobs_after)
    for job in session.scalars(ended):
        payload = {
            "event": "job.finished",
            "job_id": str(job.id),
            "status": job.status.value,
            "region_prefix": job.region_prefix,
            "households_done": job.rows_done,
        }
        queued += _queue(session, active, "job.finished", job.region_prefix, payload)
        cursor.jobs_after = job.updated_at
    return queued


def deliver_due(database: Database, post: Post, *, now: datetime | None = None, limit: int = 100) -> int:
    """POST the deliveries that are due; returns how many the receivers accepted."""
    now = now or utcnow()
    with database.session() as session:
        due = list(
            session.scalars(
                select(Delivery)
                .where(Delivery.delivered_at.is_(None), Delivery.gave_up_at.is_(None), Delivery.next_attempt_at <= now)
                .order_by(Delivery.id)
                .limit(limit)
            )
        )
        targets = {
            s.id: s
            for s in session.scalars(select(Subscription).where(Subscription.id.in_({d.subscription_id for d in due})))
        }
    accepted = 0
    for delivery in due:
        subscription = targets[delivery.subscription_id]
        body = json.dumps({"delivery": delivery.id, **delivery.payload}, ensure_ascii=False, sort_keys=True).encode()
        headers = {
            "Content-Type": "application/json",
            "X-Relapse-Event": delivery.event,
            "X-Relapse-Delivery": str(delivery.id),
            "X-Relapse-Signature": sign(subscription.secret, body),
        }
        try:
            status: int | None = post(subscription.url, body, headers)
        except Exception:  # noqa: BLE001 — a receiver that cannot be reached is retried like one that fails
            status = None
        with database.session() as session:
            row = session.get(Delivery, delivery.id)
            assert row is not None
            row.attempts += 1
            row.last_status = status
            if status is not None and 200 <= status < 300:
                row.delivered_at = now
                accepted += 1
            elif row.attempts >= MAX_ATTEMPTS or subscription.ended_at is not None:
                row.gave_up_at = now
            else:
                row.next_attempt_at = now + timedelta(seconds=min(RETRY_MAX_S, RETRY_BASE_S * 2 ** (row.attempts - 1)))
    return accepted


def dispatch(database: Database, post: Post, *, now: datetime | None = None) -> int:
    """One round: queue what is new, then send what is due. Returns the deliveries accepted."""
    with database.session() as session:
        enqueue(session)
    return deliver_due(database, post, now=now)


def http_post(timeout_s: float = 10.0) -> Post:
    import httpx

    def post(url: str, body: bytes, headers: dict[str, str]) -> int:
        return httpx.post(url, content=body, headers=headers, timeout=timeout_s, follow_redirects=False).status_code

    return post


def _queue(session: Session, active: Sequence[Subscription], event: str, region: str, payload: dict[str, Any]) -> int:
    count = 0
    for subscription in active:
        if event in subscription.events and Scope(subscription.region_prefix).contains(region):
            session.add(Delivery(subscription_id=subscription.id, event=event, payload=payload))
            count += 1
    return count


def _last_score_id(session: Session) -> int:
    return int(session.scalar(select(func.max(ScoreRecord.id))) or 0)
