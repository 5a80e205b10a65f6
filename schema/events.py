"""Event types (the outbox, as admins see it)."""

from __future__ import annotations

import strawberry

from domain.events.models import Event as EventModel
from schema.common import JSON, global_id
from schema.node import Node


@strawberry.type
class Event(Node):
    type: str
    payload: JSON
    created_at: str

    @classmethod
    def from_model(cls, e: EventModel) -> Event:
        return cls(id=global_id("Event", e.id), type=e.type, payload=e.payload, created_at=e.created_at.isoformat())
