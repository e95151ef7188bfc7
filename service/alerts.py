"""Alerts: tell subscribers when a household's risk rises or a batch job ends (webhooks with an outbox).

A subscription names a URL, the events it wants (`EVENTS`) and the region it may hear about (inside its key's).
The dispatcher reads what was stored since its cursor — the score feed (`service.feed`) and the jobs that ended —
and writes one delivery per (event, subscription) into the outbox in the same transaction that moves the cursor,
so an alert is queued exactly once whichever road stored the score (a document, a department event, a job).
`service.deliveries` sends them as signed CloudEvents, retried, in order per household, and dead-letters those
whose attempts run out. Only the holder of the job runner's lease dispatches (service.job_runner), between jobs,
so several service processes never send the same alert twice; alerts of scores stored during a long job go out
when it ends.

Each score is compared with the household's previous stored score in that village: "score.high" when it is high
and the previous was not (or there was none), "score.level_up" when its level is above the previous one's,
"score.rule_flag" when an official-rule flag is raised that the previous score did not raise (a first score has
nothing to compare with and raises none). Current monitoring objects are not alerted: their risk is no new
finding. Receivers must lie on a host the operator allowed (`alert_hosts`): the service never calls an address a
caller picked freely. Payloads carry pseudonyms, codes and figures, never names, ID numbers or event amounts.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Final
from urllib.parse import urlsplit

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from service._scores import ScoreView
from service.db import Database
from service.deliveries import MAX_ATTEMPTS, RETRY_BASE_S, Post, deliver_due, http_post
from service.errors import InvalidFieldError, NotFoundError
from service.feed import previous_values, scores_after
from service.keys import Caller
from service.scope import Scope
from service.tables import AlertCursor, Delivery, Job, JobStatus, RiskLevel, ScoreRecord, Subscription, utcnow

EVENTS: Final[dict[str, str]] = {
    "score.high": "a household's stored score becomes high (its previous score there was not high, or it had none)",
    "score.level_up": "a household's stored score is of a higher level than its previous score there",
    "score.rule_flag": "a household's stored score raises an official-rule flag its previous score there did not",
    "job.finished": "a batch job ends: done, failed or cancelled",
}
PAGE: Final = 1000
FINAL: Final = (JobStatus.DONE, JobStatus.FAILED, JobStatus.CANCELLED)
RANK: Final = {RiskLevel.LOW: 0, RiskLevel.MEDIUM: 1, RiskLevel.HIGH: 2}
__all__ = ["EVENTS", "MAX_ATTEMPTS", "RETRY_BASE_S", "Post", "deliver_due", "dispatch", "enqueue", "http_post"]


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
        with_previous = [view for view, previous in page.items if previous is not None]
        flags_before = previous_values(session, ScoreRecord.rule_flags, with_previous)
        for view, previous in page.items:
            if view.status_fields().get("monitoring_status") == "monitored":
                continue
            for event, extra in _triggers(view, previous, flags_before.get(view.id) or {}):
                payload = _score_payload(view, previous) | {"event": event} | extra
                queued += _queue(session, active, event, view.region_code, view.household_pseudonym, payload)
        cursor.score_id = int(page.cursor)
        if not page.more:
            break
    ended = _ended_since(select(Job), cursor).order_by(Job.updated_at)
    for job in session.scalars(ended):
        payload = {
            "event": "job.finished",
            "job_id": str(job.id),
            "status": job.status.value,
            "region_prefix": job.region_prefix,
            "households_done": job.rows_done,
        }
        queued += _queue(session, active, "job.finished", job.region_prefix, str(job.id), payload)
        cursor.jobs_after = job.updated_at
    return queued


def dispatch(database: Database, post: Post, *, now: datetime | None = None, max_attempts: int = MAX_ATTEMPTS) -> int:
    """One round: queue what is new, then send what is due. Returns the deliveries accepted."""
    if _anything_new(database):  # the write lock is taken only when there is something to queue
        with database.session() as session:
            enqueue(session)
    return deliver_due(database, post, now=now, max_attempts=max_attempts)


def _anything_new(database: Database) -> bool:
    """A score or an ended job stored since the cursor (or no cursor yet): a read, without the write lock."""
    with database.read_session() as session:
        cursor = session.get(AlertCursor, 1)
        if cursor is None:
            return True
        newer = select(ScoreRecord.id).where(ScoreRecord.id > cursor.score_id).limit(1)
        ended = _ended_since(select(Job.id), cursor).limit(1)
        return session.scalar(newer) is not None or session.scalar(ended) is not None


def _ended_since(query: Any, cursor: AlertCursor) -> Any:
    """`query` on jobs narrowed to those that ended since the cursor (all that ended, before the first)."""
    query = query.where(Job.status.in_(FINAL))
    return query if cursor.jobs_after is None else query.where(Job.updated_at > cursor.jobs_after)


def _triggers(
    view: ScoreView, previous: RiskLevel | None, flags_before: dict[str, Any]
) -> list[tuple[str, dict[str, Any]]]:
    """The score events a stored score raises, each with what its payload adds."""
    out: list[tuple[str, dict[str, Any]]] = []
    if view.level is RiskLevel.HIGH and previous is not RiskLevel.HIGH:
        out.append(("score.high", {}))
    if previous is not None and RANK[view.level] > RANK[previous]:
        out.append(("score.level_up", {}))
    if previous is not None:
        raised = sorted(
            name for name, on in view.rule_flags.items() if on is True and flags_before.get(name) is not True
        )
        if raised:
            out.append(("score.rule_flag", {"new_rule_flags": raised}))
    return out


def _score_payload(view: ScoreView, previous: RiskLevel | None) -> dict[str, Any]:
    return {
        "household_pseudonym": view.household_pseudonym,
        "region_code": view.region_code,
        "as_of": view.as_of.isoformat(),
        "probability": view.probability,
        "risk_level": view.level.value,
        "previous_level": previous.value if previous else None,
        "monitoring_status": view.monitoring_status,
        "model_version": view.model_version,
        "reasons": [r.get("key") for r in view.reasons[:3] if isinstance(r, dict)],
        "rule_flags": sorted(name for name, on in view.rule_flags.items() if on is True),
    }


def _queue(
    session: Session,
    active: Sequence[Subscription],
    event: str,
    region: str,
    subject: str,
    payload: dict[str, Any],
) -> int:
    count = 0
    for subscription in active:
        if event in subscription.events and Scope(subscription.region_prefix).contains(region):
            session.add(Delivery(subscription_id=subscription.id, event=event, payload=payload, subject=subject))
            count += 1
    return count


def _last_score_id(session: Session) -> int:
    return int(session.scalar(select(func.max(ScoreRecord.id))) or 0)
