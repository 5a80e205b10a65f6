"""Webhook endpoint and delivery types and inputs."""

from __future__ import annotations

import datetime as dt
from enum import Enum

import strawberry

from domain.webhooks.models import WebhookDelivery as DeliveryModel
from domain.webhooks.models import WebhookEndpoint as EndpointModel
from schema.common import global_id, legacy_int_id
from schema.errors import UserError
from schema.node import Node


@strawberry.enum
class DeliveryStatus(Enum):
    PENDING = "pending"
    IN_FLIGHT = "in_flight"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


@strawberry.type
class WebhookEndpoint(Node):
    endpoint_id: int = strawberry.field(deprecation_reason=legacy_int_id())
    url: str
    event_types: list[str]
    description: str | None
    enabled: bool
    disabled_reason: str | None
    failing_since: dt.datetime | None
    rotating_until: dt.datetime | None = strawberry.field(description="The previous secret also signs until then.")
    created_at: dt.datetime

    @classmethod
    def from_model(cls, e: EndpointModel) -> WebhookEndpoint:
        return cls(id=global_id("WebhookEndpoint", e.id), endpoint_id=e.id, url=e.url, event_types=list(e.event_types),
                   description=e.description, enabled=e.enabled, disabled_reason=e.disabled_reason,
                   failing_since=e.failing_since, rotating_until=e.previous_secret_expires_at, created_at=e.created_at)


@strawberry.type
class WebhookDelivery(Node):
    delivery_id: int = strawberry.field(deprecation_reason=legacy_int_id())
    endpoint_id: int = strawberry.field(deprecation_reason=legacy_int_id("endpointGlobalId"))
    event_id: int = strawberry.field(deprecation_reason=legacy_int_id("eventGlobalId"))
    event_type: str
    status: DeliveryStatus
    attempts: int
    next_attempt_at: dt.datetime | None
    last_status_code: int | None
    last_error: str | None
    request_excerpt: str | None
    response_excerpt: str | None
    duration_ms: int | None
    created_at: dt.datetime
    delivered_at: dt.datetime | None

    @classmethod
    def from_model(cls, d: DeliveryModel) -> WebhookDelivery:
        return cls(id=global_id("WebhookDelivery", d.id), delivery_id=d.id, endpoint_id=d.endpoint_id,
                   event_id=d.event_id, event_type=d.event.type, status=DeliveryStatus(d.status), attempts=d.attempts,
                   next_attempt_at=d.next_attempt_at if d.status == "pending" else None,
                   last_status_code=d.last_status_code, last_error=d.last_error, request_excerpt=d.request_excerpt,
                   response_excerpt=d.response_excerpt, duration_ms=d.duration_ms, created_at=d.created_at,
                   delivered_at=d.delivered_at)

    @strawberry.field(description="The global ID of the endpoint it goes to.")
    def endpoint_global_id(self) -> strawberry.ID:
        return global_id("WebhookEndpoint", self.endpoint_id)

    @strawberry.field(description="The global ID of the event it carries.")
    def event_global_id(self) -> strawberry.ID:
        return global_id("Event", self.event_id)


@strawberry.input
class CreateWebhookEndpointInput:
    url: str
    event_types: list[str] = strawberry.field(description='Event types; wildcards such as "points.*" or "*".')
    description: str | None = None


@strawberry.input
class UpdateWebhookEndpointInput:
    url: str | None = None
    event_types: list[str] | None = None
    description: str | None = None
    enabled: bool | None = None


@strawberry.type
class WebhookEndpointPayload:
    endpoint: WebhookEndpoint | None
    secret: str | None = strawberry.field(description="Shown once, at creation and rotation; stored encrypted.")
    errors: list[UserError]


@strawberry.type
class WebhookDeliveryPayload:
    delivery: WebhookDelivery | None
    errors: list[UserError]
