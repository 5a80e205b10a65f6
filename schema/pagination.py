"""Relay connections in both directions (https://relay.dev/graphql/connections.htm).

Every connection takes `first`/`after` (forward) and `last`/`before` (backward); the keyset work
is domain/pagination.py. Cursors are opaque: base64url of JSON `[tag, values]`, where the tag
names the list (and its sort) so a cursor from another list is refused instead of silently
positioning a different order.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Awaitable, Callable
from typing import Any, Generic, TypeVar

import strawberry

from domain.pagination import BadCursor, Page, PageRequest
from schema.errors import bad_input

MAX_PAGE = 100
DEFAULT_PAGE = 20
MAX_CURSOR = 1000  # characters; a real one is well under 200
N = TypeVar("N")
M = TypeVar("M")


@strawberry.type(description="Where a page sits in its list (Relay PageInfo).")
class PageInfo:
    has_next_page: bool = strawberry.field(description="Items follow the last edge of this page.")
    end_cursor: str | None = strawberry.field(description="The last edge's cursor (null on an empty page).")
    has_previous_page: bool = strawberry.field(description="Items precede the first edge of this page.")
    start_cursor: str | None = strawberry.field(description="The first edge's cursor (null on an empty page).")


@strawberry.type
class Edge(Generic[N]):
    node: N = strawberry.field(description="The item at this position of the list.")
    cursor: str = strawberry.field(description="Opaque position of this item: pass it as after or before to page from here (only in this list).")


@strawberry.type
class Connection(Generic[N]):
    edges: list[Edge[N]] = strawberry.field(description="This page's items in list order, at most 100 (20 by default).")
    page_info: PageInfo = strawberry.field(description="Whether more items precede or follow this page, and its first and last cursors.")
    counter: strawberry.Private[Callable[[], Awaitable[int]] | None] = None

    @strawberry.field(description=(
        "How many items the whole list holds (every page). Null on lists that are not counted "
        "because counting them is not cheap (see README, Pagination)."))
    async def total_count(self) -> int | None:
        return await self.counter() if self.counter is not None else None


def page_size(first: int | None, default: int = DEFAULT_PAGE, name: str = "first") -> int:
    if first is None:
        return default
    if first < 0:
        raise bad_input(f"{name} must not be negative")
    return min(first, MAX_PAGE)


def page_request(
    tag: str, first: int | None, after: str | None, last: int | None, before: str | None,
) -> PageRequest:
    """Validates the four Relay arguments. Neither first nor last: the first 20."""
    if first is not None and last is not None:
        # The spec allows both but strongly discourages it (the page is ambiguous); refusing is
        # clearer than guessing.
        raise bad_input("Give first (with after) or last (with before), not both first and last")
    after_values = decode_cursor(after, tag, "after")
    before_values = decode_cursor(before, tag, "before")
    if last is not None:
        return PageRequest(size=page_size(last, name="last"), backward=True, after=after_values, before=before_values)
    return PageRequest(size=page_size(first), after=after_values, before=before_values)


def encode_cursor(tag: str, values: list[Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps([tag, values], separators=(",", ":")).encode()).decode()


def decode_cursor(cursor: str | None, tag: str, name: str) -> list[Any] | None:
    if cursor is None:
        return None
    try:
        if len(cursor) > MAX_CURSOR:
            raise ValueError
        decoded = json.loads(base64.urlsafe_b64decode(cursor.encode("ascii")))
        if not (isinstance(decoded, list) and len(decoded) == 2 and decoded[0] == tag):
            raise ValueError
        values = decoded[1]
        if not (isinstance(values, list) and values and all(
                isinstance(v, int) and -(2**63) <= v < 2**63 for v in values)):
            raise ValueError
        # Only the exact text this API issues: lenient base64 would also read a cursor with
        # junk after its padding.
        if encode_cursor(tag, values) != cursor:
            raise ValueError
        return values
    except (ValueError, UnicodeError, binascii.Error):
        # json.JSONDecodeError is a ValueError.
        raise bad_input(f"{name} is not a cursor this API issued for this list") from None


def connection(tag: str, page: Page, to_node: Callable[[M], N]) -> Connection[N]:
    edges = [Edge(node=to_node(row), cursor=encode_cursor(tag, key)) for row, key in zip(page.rows, page.keys)]
    return Connection(
        edges=edges,
        page_info=PageInfo(
            has_next_page=page.has_next, end_cursor=edges[-1].cursor if edges else None,
            has_previous_page=page.has_previous, start_cursor=edges[0].cursor if edges else None,
        ),
        counter=page.count,
    )


async def paginate(
    tag: str, first: int | None, after: str | None, last: int | None, before: str | None,
    fetch: Callable[[PageRequest], Awaitable[Page]], to_node: Callable[[M], N],
) -> Connection[N]:
    """One connection page: `tag` names the list (and sort) its cursors belong to; `fetch` is
    the domain query that reads the page."""
    request = page_request(tag, first, after, last, before)
    try:
        page = await fetch(request)
    except BadCursor as e:
        raise bad_input(f"{e.argument} is not a cursor this API issued for this list") from None
    return connection(tag, page, to_node)
