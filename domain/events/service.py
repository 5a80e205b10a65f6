"""Writing and reading domain events (the outbox).

`record_event` hands the event to the bus (domain/events/bus.py), which writes the row in
the caller's transaction and runs the subscribers wired in composition/subscribers.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from domain.events.bus import event_bus
from domain.events.models import Event
from domain.pagination import NEWEST_ID, Page, PageRequest, keyset_page


def message(event: Event) -> dict[str, Any]:
    return {"id": event.id, "type": event.type, "createdAt": event.created_at.isoformat(),
            "memberId": event.member_id, "data": event.payload}


async def record_event(type_: str, payload: dict[str, Any], member_id: int | None = None) -> Event:
    """Call inside the write_transaction that makes the change, so both commit or neither
    does (domain/events/bus.py; outside one it raises)."""
    return await event_bus.record(type_, payload, member_id)


async def record_events(type_: str, items: Sequence[tuple[dict[str, Any], int | None]]) -> list[Event]:
    """Many events of one type, (payload, member_id) each, in bulk: what as many record_event
    calls would write, in a few INSERTs (domain/events/bus.py record_many). For waves of
    changes (the tier review)."""
    return await event_bus.record_many(type_, items)


async def list_events(request: PageRequest, type_: str | None, member_id: int | None = None) -> Page[Event]:
    qs = Event.all()
    if type_:
        qs = qs.filter(type=type_)
    if member_id is not None:
        qs = qs.filter(member_id=member_id)
    return await keyset_page(qs, NEWEST_ID, request)
