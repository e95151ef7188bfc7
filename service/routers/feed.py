"""`GET /v1/scores`: the feed of scores stored in the caller's region since a cursor (service.feed)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel

from service.deps import CallerDep, DatabaseDep
from service.feed import MAX_PAGE, scores_after
from service.keys import Permission
from service.routers.households import stored_score
from service.schemas import StoredScore

router = APIRouter(prefix="/v1", tags=["feed"])


class FeedItem(StoredScore):
    previous_level: str | None  # the household's level in its previous stored score there (None: first score)


class FeedResponse(BaseModel):
    items: list[FeedItem]  # oldest first
    cursor: str  # ask again with ?cursor=<this> for what comes next
    more: bool  # more scores were already stored after this page


@router.get("/scores", response_model=FeedResponse)
def read_feed(
    caller: CallerDep,
    database: DatabaseDep,
    cursor: Annotated[str | None, Query(description="the `cursor` of the previous page; none: from the start")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
) -> FeedResponse:
    """Scores stored in your region after `cursor`, in the order they were stored, each with the household's
    previous level: poll with the last cursor to miss nothing and see nothing twice."""
    caller.require(Permission.READ)
    with database.read_session() as session:
        page = scores_after(session, caller.scope, cursor, limit)
    items = [
        FeedItem(**stored_score(view).model_dump(), previous_level=previous.value if previous else None)
        for view, previous in page.items
    ]
    return FeedResponse(items=items, cursor=page.cursor, more=page.more)
