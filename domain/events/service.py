"""Writing and reading domain events (the outbox).

`record_event` writes the row inside the caller's transaction and fans it out to webhook
deliveries there too. Subscribers (GraphQL subscriptions, the in-process webhook worker)
are told only after the transaction commits (`write_transaction` calls `after_commit`).
"""

from __future__ import annotations

import contextvars
from typing import Any

from domain import clock
from domain.db import newest_first
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
    "review.created",
    "review.published",
    "review.rejected",
    "review.unpublished",
    "review.deleted",
    "review.replied",
    "review.reply_overdue",
    "question.created",
    "question.answered",
    "reward.redeemed",
    "reward.code_used",
    "reward.code_use_undone",
    "reward.cancelled",
    "reward.code_expired",
    "subscription.created",
    "subscription.paused",
    "subscription.resumed",
    "subscription.skipped",
    "subscription.unskipped",
    "subscription.swapped",
    "subscription.interval_changed",
    "subscription.rescheduled",
    "subscription.cancelled",
    "subscription.retention_accepted",
    "subscription.renewal_due",
    "subscription.renewed",
    "subscription.renewal_failed",
    "subscription.past_due",
    "subscription.expired",
    "webhook.endpoint_disabled",
    "webhook.test",
)

_pending: contextvars.ContextVar[list[Event] | None] = contextvars.ContextVar("patron_pending_events", default=None)
# Called with each committed event: the bus publisher and the in-process webhook wake-up.
listeners: list[Any] = []


def message(event: Event) -> dict[str, Any]:
    return {"id": event.id, "type": event.type, "createdAt": event.created_at.isoformat(),
            "memberId": event.member_id, "data": event.payload}


async def record_event(type_: str, payload: dict[str, Any], member_id: int | None = None) -> Event:
    """Call inside the transaction that makes the change, so both commit or neither does."""
    from domain.webhooks.service import fan_out  # webhooks build on events, not the reverse

    event = await Event.create(type=type_, payload=payload, member_id=member_id, created_at=clock.now())
    await fan_out(event)
    pending = _pending.get()
    if pending is None:
        await _notify([event])
    else:
        pending.append(event)
    return event


def begin() -> contextvars.Token:
    return _pending.set([])


async def after_commit(token: contextvars.Token, committed: bool) -> None:
    events = _pending.get() or []
    _pending.reset(token)
    if committed and events:
        await _notify(events)


async def _notify(events: list[Event]) -> None:
    for listener in listeners:
        for event in events:
            await listener(event)


async def list_events(
    first: int, after_id: int | None, type_: str | None, member_id: int | None = None
) -> list[Event]:
    qs = Event.all()
    if type_:
        qs = qs.filter(type=type_)
    if member_id is not None:
        qs = qs.filter(member_id=member_id)
    return await newest_first(qs, first, after_id)
