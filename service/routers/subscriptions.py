"""Alert subscriptions (service.alerts): subscribe a URL to events of your region, list them, end one; list a
subscription's deliveries by state and replay a dead one (service.deliveries)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from service.alerts import EVENTS, end_subscription, subscribe, subscriptions_of
from service.deliveries import SOURCE, TYPE_PREFIX, State, deliveries_of, key_id, replay, state_of
from service.deps import CallerDep, DatabaseDep, SettingsDep
from service.errors import NotFoundError, PermissionDeniedError
from service.keys import Caller, Permission
from service.paging import MAX_PAGE, CursorQuery, decode_cursor, page_after, page_of
from service.tables import Delivery, Role, Subscription

router = APIRouter(prefix="/v1/subscriptions", tags=["alerts"])
replays = APIRouter(prefix="/v1/deliveries", tags=["alerts"])
# A row id the database can hold (BIGINT on PostgreSQL): a larger one is a 422 naming the parameter, not a 500.
RowId = Annotated[int, Path(ge=1, le=2**63 - 1)]


class SubscriptionIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"url": "https://alerts.county.example/hook", "events": ["score.high", "job.finished"]}]
        },
    )

    url: str = Field(max_length=2000, description="where alerts are POSTed; its host must be one the operator allows")
    events: list[str] = Field(min_length=1, max_length=len(EVENTS), description=", ".join(EVENTS))
    region: str | None = Field(default=None, description="a region inside your key's; default: all of it")


class SubscriptionOut(BaseModel):
    id: int
    url: str
    events: list[str]
    region_prefix: str
    created_at: datetime
    key_id: str  # names the secret in every delivery's X-Relapse-Key-Id


class CreatedSubscription(SubscriptionOut):
    secret: str  # signs every delivery (X-Relapse-Signature); shown this once


class DeliveryOut(BaseModel):
    id: int  # the CloudEvent's id: the same on every attempt and replay
    type: str  # the CloudEvent's type, e.g. cn.relapse.score.high
    source: str
    subject: str | None  # the household pseudonym (or job id) the alert is about
    state: State  # pending: being sent or waiting for a retry; dead: its attempts ran out
    created_at: datetime
    attempts: int
    next_attempt_at: datetime | None  # pending only
    delivered_at: datetime | None
    dead_at: datetime | None
    last_status: int | None  # the receiver's last HTTP status; None: no answer (unreachable, timed out)
    data: dict[str, Any]


class DeliveryList(BaseModel):
    deliveries: list[DeliveryOut]  # oldest first
    cursor: str | None  # ask again with ?cursor=<this> for the next page
    more: bool  # more deliveries follow this page


class SubscriptionList(BaseModel):
    subscriptions: list[SubscriptionOut]  # oldest first
    cursor: str | None  # ask again with ?cursor=<this> for the next page
    more: bool  # more subscriptions follow this page


def _out(row: Subscription) -> SubscriptionOut:
    return SubscriptionOut(
        id=row.id,
        url=row.url,
        events=list(row.events),
        region_prefix=row.region_prefix,
        created_at=row.created_at,
        key_id=key_id(row.secret),
    )


def _delivery_out(row: Delivery) -> DeliveryOut:
    state = state_of(row)
    return DeliveryOut(
        id=row.id,
        type=TYPE_PREFIX + row.event,
        source=SOURCE,
        subject=row.subject,
        state=state,
        created_at=row.created_at,
        attempts=row.attempts,
        next_attempt_at=row.next_attempt_at if state == "pending" else None,
        delivered_at=row.delivered_at,
        dead_at=row.gave_up_at if state == "dead" else None,
        last_status=row.last_status,
        data=row.payload,
    )


def _visible(session: Any, caller: Caller, subscription_id: int) -> Subscription:
    mine = {s.id: s for s in subscriptions_of(session, caller)}
    if subscription_id not in mine:
        raise NotFoundError("no subscription with this id for your key")
    return mine[subscription_id]


@router.post("", response_model=CreatedSubscription, status_code=201)
def create_subscription(
    body: SubscriptionIn, caller: CallerDep, database: DatabaseDep, settings: SettingsDep
) -> CreatedSubscription:
    """Subscribe a URL to alerts of your region; the answer holds the signing secret, shown only now."""
    caller.require(Permission.READ)
    with database.session() as session:
        row = subscribe(session, caller, body.url, body.events, body.region, settings.alert_hosts)
        return CreatedSubscription(**_out(row).model_dump(), secret=row.secret)


@router.get("", response_model=SubscriptionList)
def read_subscriptions(
    caller: CallerDep,
    database: DatabaseDep,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
    cursor: CursorQuery = None,
) -> SubscriptionList:
    """Your key's active subscriptions (an admin's: all inside its region), oldest first, a page at a time."""
    caller.require(Permission.READ)
    after = decode_cursor(cursor, (int,))
    with database.read_session() as session:
        rows = subscriptions_of(session, caller)
    page = page_after(rows, lambda row: (row.id,), after, limit, cursor, ascending=True)
    return SubscriptionList(subscriptions=[_out(row) for row in page.items], cursor=page.cursor, more=page.more)


@router.delete("/{subscription_id}", status_code=204)
def delete_subscription(subscription_id: RowId, caller: CallerDep, database: DatabaseDep) -> Response:
    """End a subscription: nothing more is sent to it, pending deliveries included."""
    caller.require(Permission.READ)
    with database.session() as session:
        end_subscription(session, caller, subscription_id)
    return Response(status_code=204)


@router.get("/{subscription_id}/deliveries", response_model=DeliveryList)
def read_deliveries(
    subscription_id: RowId,
    caller: CallerDep,
    database: DatabaseDep,
    state: State | None = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
    cursor: CursorQuery = None,
) -> DeliveryList:
    """A subscription's deliveries (yours, or any inside an admin's region), oldest first, a page at a time;
    `state=dead` lists those whose attempts ran out."""
    caller.require(Permission.READ)
    after = decode_cursor(cursor, (int,))
    with database.read_session() as session:
        subscription = _visible(session, caller, subscription_id)
        rows = deliveries_of(session, subscription, state, None if after is None else int(after[0]), limit)
    page = page_of(rows, lambda row: (row.id,), limit, cursor)
    return DeliveryList(deliveries=[_delivery_out(row) for row in page.items], cursor=page.cursor, more=page.more)


@replays.post("/{delivery_id}:replay", response_model=DeliveryOut)
def replay_delivery(delivery_id: RowId, caller: CallerDep, database: DatabaseDep) -> DeliveryOut:
    """Admin: send a dead delivery again, under its own id, with its attempts counted afresh; 422 unless dead."""
    if caller.role is not Role.ADMIN:
        raise PermissionDeniedError(caller.role.value, "replay deliveries")
    with database.session() as session:
        row = session.get(Delivery, delivery_id, with_for_update=True)
        mine = {s.id: s for s in subscriptions_of(session, caller)}
        if row is None or row.subscription_id not in mine:
            raise NotFoundError("no delivery with this id in your region")
        replay(session, row, mine[row.subscription_id])
        session.flush()
        return _delivery_out(row)
