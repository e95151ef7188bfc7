"""Cursor paging for the API's lists, with the feed's convention: `?cursor=&limit=` in, `cursor` and `more` out.

A list is read in a fixed order; a page's `cursor` is the sort key of its last item, so the next page starts
right after it whatever was stored in between (no item skipped or repeated, unlike offsets). Cursors are opaque to
callers: URL-safe base64 of the key's values as JSON. A cursor that does not decode to a key of the list's shape
is a 422 naming `cursor`.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Annotated, Any, Final, Generic, TypeVar

from fastapi import Query

from service.errors import InvalidFieldError

T = TypeVar("T")
Key = tuple[Any, ...]
MAX_CURSOR_CHARS: Final = 400
MAX_PAGE: Final = 1000
CursorQuery = Annotated[
    str | None, Query(max_length=MAX_CURSOR_CHARS, description="the `cursor` of the previous page; none: the first")
]


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    cursor: str | None  # the last item's position (the request's cursor on an empty page)
    more: bool  # items follow this page


def encode_cursor(key: Key) -> str:
    values = [v.isoformat() if isinstance(v, date | datetime) else v for v in key]
    return base64.urlsafe_b64encode(json.dumps(values, separators=(",", ":")).encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None, kinds: Sequence[type]) -> Key | None:
    """The sort key a cursor names, its values read as `kinds` (str, int, date, datetime); None: from the start."""
    if not cursor:
        return None
    try:
        if len(cursor) > MAX_CURSOR_CHARS:
            raise ValueError
        values = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if not isinstance(values, list) or len(values) != len(kinds):
            raise ValueError
        return tuple(_read(value, kind) for value, kind in zip(values, kinds, strict=True))
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError):
        raise InvalidFieldError("cursor", "is not a cursor this list gave") from None


def _read(value: Any, kind: type) -> Any:
    if kind is int and isinstance(value, int) and not isinstance(value, bool):
        return value
    if kind is str and isinstance(value, str):
        return value
    if kind is datetime and isinstance(value, str):
        parsed = datetime.fromisoformat(value)
        if parsed.tzinfo is None:
            raise ValueError
        return parsed
    if kind is date and isinstance(value, str):
        return date.fromisoformat(value)
    raise ValueError


def page_after(
    items: Sequence[T],
    key: Callable[[T], Key],
    after: Key | None,
    limit: int,
    cursor: str | None,
    *,
    ascending: bool = False,
) -> Page[T]:
    """A page of `items`, in descending (or ascending) order of `key`, starting after the item whose key is `after`."""
    rest = [item for item in items if after is None or (key(item) > after if ascending else key(item) < after)]
    return page_of(rest, key, limit, cursor)


def page_of(fetched: Sequence[T], key: Callable[[T], Key], limit: int, cursor: str | None) -> Page[T]:
    """The page from up to `limit + 1` items read in list order (one more than the page, to tell `more`)."""
    items = list(fetched[:limit])
    return Page(items, encode_cursor(key(items[-1])) if items else cursor, len(fetched) > limit)
