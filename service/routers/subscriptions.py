"""Alert subscriptions (service.alerts): subscribe a URL to events of your region, list them, end one."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from service.alerts import EVENTS, end_subscription, subscribe, subscriptions_of
from service.deps import CallerDep, DatabaseDep, SettingsDep
from service.keys import Permission
from service.paging import MAX_PAGE, CursorQuery, decode_cursor, page_after
from service.tables import Subscription

router = APIRouter(prefix="/v1/subscriptions", tags=["alerts"])


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


class CreatedSubscription(SubscriptionOut):
    secret: str  # signs every delivery (X-Relapse-Signature); shown this once


class SubscriptionList(BaseModel):
    subscriptions: list[SubscriptionOut]  # oldest first
    cursor: str | None  # ask again with ?cursor=<this> for the next page
    more: bool  # more subscriptions follow this page


def _out(row: Subscription) -> SubscriptionOut:
    return SubscriptionOut(
        id=row.id, url=row.url, events=list(row.events), region_prefix=row.region_prefix, created_at=row.created_at
    )


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
def delete_subscription(subscription_id: int, caller: CallerDep, database: DatabaseDep) -> Response:
    """End a subscription: nothing more is sent to it, pending deliveries included."""
    caller.require(Permission.READ)
    with database.session() as session:
        end_subscription(session, caller, subscription_id)
    return Response(status_code=204)
