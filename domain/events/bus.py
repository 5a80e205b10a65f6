"""The event bus: domain code records events, subscribers react (the Vendure pattern).

`event_bus.record(type, payload)` writes the Event row (the outbox) inside the caller's
`write_transaction()`, so the change and its event commit together or not at all; outside
one it raises `OutsideTransaction`. Subscribers register for event types or patterns
("*", "points.*"), in one place (composition/subscribers.py), in one of two phases:

- in the transaction: outbox writers (the webhook fan-out queues delivery rows); a failure
  rolls the change back with them;
- after the commit: notifications (the real-time publish, waking the delivery loop); never
  told of a rolled-back change, and a failure there is logged, not raised.

`event_bus.record_many(type, [(payload, member_id), ...])` is the bulk path for waves of
one kind of change (the tier review changing thousands of members): the events are written
in multi-row INSERTs, and an in-transaction subscriber registered with a `batch` handler
gets them all in one call (the webhook fan-out queues every delivery in one INSERT); one
without runs per event, in order. The result is what as many `record` calls would leave:
the same rows in the same order (events by id, deliveries by event then endpoint), the
same after-commit notifications, event by event. Only the interleaving in the transaction
differs: every event row is written before the first subscriber runs.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from domain import clock, db
from domain.events.models import Event
from domain.events.types import EVENT_TYPES, matches

Handler = Callable[[Event], Awaitable[Any]]
BatchHandler = Callable[[list[Event]], Awaitable[Any]]
log = logging.getLogger("patron.events")


class UnknownEventType(ValueError):
    """An event type missing from domain/events/types.py: a programming error."""


@dataclass(frozen=True)
class Subscriber:
    pattern: str
    handler: Handler
    after_commit: bool
    batch: BatchHandler | None = None  # the same work for many events of one type at once


class EventBus:
    def __init__(self) -> None:
        self._subscribers: list[Subscriber] = []

    def subscribe(self, pattern: str, handler: Handler, *, after_commit: bool = False,
                  batch: BatchHandler | None = None) -> Callable[[], None]:
        """Register `handler` for the event types `pattern` names; returns the unsubscribe.
        `batch` (in-transaction only) does the handler's work for a list of events of one
        type, for record_many. Registering the same handler twice for the same pattern and
        phase is a no-op."""
        if not any(matches([pattern], t) for t in EVENT_TYPES):
            raise UnknownEventType(f"{pattern!r} matches no event type")
        if batch is not None and after_commit:
            raise ValueError("batch handlers run in the transaction; after-commit subscribers run per event")
        subscriber = Subscriber(pattern, handler, after_commit, batch)
        if subscriber not in self._subscribers:
            self._subscribers.append(subscriber)
        return functools.partial(self.unsubscribe, subscriber)

    def unsubscribe(self, subscriber: Subscriber) -> None:
        if subscriber in self._subscribers:
            self._subscribers.remove(subscriber)

    def subscribers(self, event_type: str, after_commit: bool) -> list[Subscriber]:
        return [s for s in self._subscribers if s.after_commit == after_commit and matches([s.pattern], event_type)]

    @staticmethod
    def _check(type_: str) -> None:
        if type_ not in EVENT_TYPES:
            raise UnknownEventType(f"{type_!r} is not in domain/events/types.py")
        if not db.in_write_transaction():
            raise db.OutsideTransaction(f"{type_} recorded outside write_transaction(): it could commit "
                                        "without its change, or be announced for a change that rolls back")

    async def record(self, type_: str, payload: dict[str, Any], member_id: int | None = None) -> Event:
        """Write the event in the caller's transaction and run the in-transaction subscribers."""
        self._check(type_)
        event = await Event.create(type=type_, payload=payload, member_id=member_id, created_at=clock.now())
        for subscriber in self.subscribers(type_, after_commit=False):
            await subscriber.handler(event)
        db.after_commit(functools.partial(self._committed, event))
        return event

    async def record_many(self, type_: str, items: Sequence[tuple[dict[str, Any], int | None]]) -> list[Event]:
        """Write one event per (payload, member_id) of `type_` in the caller's transaction, in
        multi-row INSERTs, and run each in-transaction subscriber once over the list (its batch
        handler) or per event in order; after the commit, the notifications per event."""
        self._check(type_)
        if not items:
            return []
        now = clock.now()
        rows = [{"type": type_, "payload": payload, "member_id": member_id, "created_at": now}
                for payload, member_id in items]
        # Ids in the order of `rows`: one session's ids grow statement after statement, and
        # both databases number a statement's rows in VALUES order (RETURNING's order is not promised).
        ids = sorted(id_ for (id_,) in await db.insert_rows(Event, rows, returning=("id",)))
        events = []
        for id_, row in zip(ids, rows, strict=True):
            event = Event(id=id_, **row)
            event._saved_in_db = True  # a later save() updates this row
            events.append(event)
        for subscriber in self.subscribers(type_, after_commit=False):
            if subscriber.batch is not None:
                await subscriber.batch(events)
            else:
                for event in events:
                    await subscriber.handler(event)
        db.after_commit(functools.partial(self._committed_many, events))
        return events

    async def _committed_many(self, events: list[Event]) -> None:
        for event in events:
            await self._committed(event)

    async def _committed(self, event: Event) -> None:
        for subscriber in self.subscribers(event.type, after_commit=True):
            try:
                await subscriber.handler(event)
            except Exception:  # noqa: BLE001 - the change is committed; one subscriber must not stop the rest
                log.exception("after-commit subscriber %s failed on %s", subscriber.handler, event.type)


event_bus = EventBus()
