"""Event types (the outbox, as admins see it)."""

from __future__ import annotations

import strawberry

from domain.events.models import Event as EventModel
from schema.common import JSON, global_id
from schema.node import Node


@strawberry.type
class Event(Node):
    type: str = strawberry.field(description="The event type, e.g. points.earned or review.published.")
    payload: JSON = strawberry.field(description="The event's data (a JSON object; its fields depend on the type).")
    created_at: str = strawberry.field(description="When the event was written (UTC, ISO 8601).")

    @classmethod
    def from_model(cls, e: EventModel) -> Event:
        return cls(id=global_id("Event", e.id), type=e.type, payload=e.payload, created_at=e.created_at.isoformat())
