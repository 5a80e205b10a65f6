"""Relay connections with keyset cursors (opaque base64 of the sort key)."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

import strawberry

from schema.errors import bad_input

MAX_PAGE = 100
N = TypeVar("N")
M = TypeVar("M")


@strawberry.type
class PageInfo:
    has_next_page: bool
    end_cursor: str | None
    has_previous_page: bool = False
    start_cursor: str | None = None


@strawberry.type
class Edge(Generic[N]):
    node: N
    cursor: str


@strawberry.type
class Connection(Generic[N]):
    edges: list[Edge[N]]
    page_info: PageInfo


def page_size(first: int | None, default: int = 20) -> int:
    if first is None:
        return default
    if first < 0:
        raise bad_input("first must not be negative")
    return min(first, MAX_PAGE)


def encode_cursor(key: int) -> str:
    return base64.urlsafe_b64encode(f"k:{key}".encode()).decode()


def decode_cursor(cursor: str | None) -> int | None:
    if not cursor:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor.encode()).decode()
        prefix, _, value = raw.partition(":")
        if prefix != "k" or not 0 <= int(value) <= 2**63 - 1:
            raise ValueError
        return int(value)
    except (ValueError, UnicodeDecodeError):
        raise bad_input("after is not a cursor this API issued") from None


def encode_values(values: list) -> str:
    """A cursor for a composite sort key (JSON-safe values)."""
    return base64.urlsafe_b64encode(("v:" + json.dumps(values, separators=(",", ":"))).encode()).decode()


def decode_values(cursor: str | None, length: int) -> list | None:
    if not cursor:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor.encode()).decode()
        if not raw.startswith("v:"):
            raise ValueError
        values = json.loads(raw[2:])
        if not isinstance(values, list) or len(values) != length or not all(
            isinstance(v, (int, bool)) and abs(int(v)) <= 2**63 - 1 for v in values
        ):
            raise ValueError
        return values
    except (ValueError, UnicodeDecodeError):
        raise bad_input("after is not a cursor this API issued for this sort") from None


def connection(
    rows: Sequence[M], first: int, to_node: Callable[[M], N], key: Callable[[M], int],
    cursor: Callable[[M], str] | None = None,
) -> Connection[N]:
    """`rows` holds up to first + 1 items; the extra one only tells there is a next page."""
    page = list(rows[:first])
    make_cursor = cursor or (lambda r: encode_cursor(key(r)))
    edges = [Edge(node=to_node(r), cursor=make_cursor(r)) for r in page]
    return Connection(
        edges=edges,
        page_info=PageInfo(
            has_next_page=len(rows) > first,
            end_cursor=edges[-1].cursor if edges else None,
            start_cursor=edges[0].cursor if edges else None,
        ),
    )
