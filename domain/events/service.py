"""Writing and reading domain events (the outbox)."""

from __future__ import annotations

from typing import Any

from domain import clock
from domain.events.models import Event

EVENT_TYPES = (
    "member.created",
    "member.updated",
    "member.anonymized",
    "member.tier_changed",
    "order.recorded",
    "order.refunded",
    "points.earned",
    "points.released",
    "points.redeemed",
    "points.expired",
    "points.reversed",
    "points.adjusted",
)


async def record_event(type_: str, payload: dict[str, Any], member_id: int | None = None) -> Event:
    """Call inside the transaction that makes the change, so both commit or neither does."""
    return await Event.create(
        type=type_, payload=payload, member_id=member_id, created_at=clock.now()
    )


async def list_events(
    first: int, after_id: int | None, type_: str | None, member_id: int | None = None
) -> list[Event]:
    qs = Event.all().order_by("-id")
    if after_id is not None:
        qs = qs.filter(id__lt=after_id)
    if type_:
        qs = qs.filter(type=type_)
    if member_id is not None:
        qs = qs.filter(member_id=member_id)
    return await qs.limit(first + 1)
