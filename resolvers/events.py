from __future__ import annotations

from strawberry.types import Info

from domain.events.service import list_events
from schema.events import Event
from schema.pagination import Connection, paginate


async def events(
    info: Info, first: int | None = None, after: str | None = None, type: str | None = None,
    last: int | None = None, before: str | None = None,
) -> Connection[Event]:
    return await paginate("Query.events", first, after, last, before,
                          lambda req: list_events(req, type), Event.from_model)
