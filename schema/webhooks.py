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
    endpoint_id: int = strawberry.field(
        deprecation_reason=legacy_int_id(), description="Deprecated legacy integer ID of the "
                                                        "endpoint; use id.")
    url: str = strawberry.field(
        description="The http(s) URL deliveries are POSTed to (at most 2000 characters; private "
                    "addresses refused).")
    event_types: list[str] = strawberry.field(
        description="The subscribed event type patterns, sorted; a wildcard (points.* or *) never "
                    "reaches past the owner key's scopes.")
    description: str | None = strawberry.field(
        description="Free text for people; null when not given.")
    enabled: bool = strawberry.field(
        description="False once disabled by hand, deleted, or disabled by Patron (410 Gone, or "
                    "failing longer than PATRON_WEBHOOK_DISABLE_AFTER_HOURS).")
    disabled_reason: str | None = strawberry.field(
        description="Why it was disabled: deleted, the receiver answered 410 Gone, or failing "
                    "continuously since a time; null while enabled or when disabled by hand.")
    failing_since: dt.datetime | None = strawberry.field(
        description="Start of the current run of failed attempts; null after a success.")
    rotating_until: dt.datetime | None = strawberry.field(description="The previous secret also signs until then.")
    created_at: dt.datetime = strawberry.field(description="When the endpoint was registered.")

    @classmethod
    def from_model(cls, e: EndpointModel) -> WebhookEndpoint:
        return cls(id=global_id("WebhookEndpoint", e.id), endpoint_id=e.id, url=e.url, event_types=list(e.event_types),
                   description=e.description, enabled=e.enabled, disabled_reason=e.disabled_reason,
                   failing_since=e.failing_since, rotating_until=e.previous_secret_expires_at, created_at=e.created_at)


@strawberry.type
class WebhookDelivery(Node):
    delivery_id: int = strawberry.field(
        deprecation_reason=legacy_int_id(), description="Deprecated legacy integer ID of the "
                                                        "delivery; use id.")
    endpoint_id: int = strawberry.field(
        deprecation_reason=legacy_int_id("endpointGlobalId"), description="Deprecated legacy "
                                                                          "integer ID of the "
                                                                          "endpoint; use "
                                                                          "endpointGlobalId.")
    event_id: int = strawberry.field(
        deprecation_reason=legacy_int_id("eventGlobalId"), description="Deprecated legacy integer "
                                                                       "ID of the event; use "
                                                                       "eventGlobalId.")
    event_type: str = strawberry.field(
        description="Type of the event delivered, e.g. points.earned or webhook.test.")
    status: DeliveryStatus = strawberry.field(
        description="Where the delivery stands: pending (due or retrying), in flight, succeeded or "
                    "failed for good.")
    attempts: int = strawberry.field(
        description="HTTP attempts made so far (at most 10: one immediate, then retries over about "
                    "3 days).")
    next_attempt_at: dt.datetime | None = strawberry.field(
        description="When the next attempt is due; null unless pending.")
    last_status_code: int | None = strawberry.field(
        description="HTTP status of the last attempt; null before any answer (network error, "
                    "timeout, blocked).")
    last_error: str | None = strawberry.field(
        description="Why the last attempt failed without an HTTP status (or was not sent), at most "
                    "500 characters; null otherwise.")
    request_excerpt: str | None = strawberry.field(
        description="JSON of the last request's URL, headers without the signature, and body "
                    "(first 2000 characters).")
    response_excerpt: str | None = strawberry.field(
        description="The first 2000 characters of the last response body; null without a response.")
    duration_ms: int | None = strawberry.field(
        description="Duration of the last attempt in milliseconds; null before the first.")
    created_at: dt.datetime = strawberry.field(description="When the delivery was queued.")
    delivered_at: dt.datetime | None = strawberry.field(
        description="When a 2xx answer arrived; null until it succeeds.")

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
    url: str = strawberry.field(
        description="An http(s) URL of at most 2000 characters that resolves to a public address.")
    event_types: list[str] = strawberry.field(description='Event types; wildcards such as "points.*" or "*".')
    description: str | None = strawberry.field(default=None, description="Free text for people.")


@strawberry.input
class UpdateWebhookEndpointInput:
    url: str | None = strawberry.field(
        default=None, description="New URL, checked like on creation; omit to keep it.")
    event_types: list[str] | None = strawberry.field(
        default=None, description="New event type patterns (1 to 50); omit to keep them.")
    description: str | None = strawberry.field(
        default=None, description="New free text; omit to keep it.")
    enabled: bool | None = strawberry.field(
        default=None, description="False to pause deliveries, true to resume and clear the failure "
                                  "state; omit to keep it.")


@strawberry.type
class WebhookEndpointPayload:
    endpoint: WebhookEndpoint | None = strawberry.field(
        description="The endpoint after the change; null when errors is not empty.")
    secret: str | None = strawberry.field(description="Shown once, at creation and rotation; stored encrypted.")
    errors: list[UserError] = strawberry.field(description="Why nothing changed; empty on success.")


@strawberry.type
class WebhookDeliveryPayload:
    delivery: WebhookDelivery | None = strawberry.field(
        description="The queued delivery; null when errors is not empty.")
    errors: list[UserError] = strawberry.field(
        description="Why nothing was queued; empty on success.")
