from __future__ import annotations

from strawberry.types import Info

from domain.events.service import list_events
from schema.events import Event
from schema.pagination import Connection, connection, decode_cursor, page_size


async def events(
    info: Info, first: int | None = 20, after: str | None = None, type: str | None = None
) -> Connection[Event]:
    size = page_size(first)
    rows = await list_events(size, decode_cursor(after), type)
    return connection(rows, size, Event.from_model, lambda e: e.id)
