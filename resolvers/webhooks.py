from __future__ import annotations

import strawberry
from strawberry.types import Info

from domain.pagination import NEWEST_ID, Page, PageRequest, keyset_page
from domain.webhooks import service
from domain.webhooks.models import WebhookDelivery as DeliveryModel
from domain.webhooks.models import WebhookEndpoint as EndpointModel
from resolvers.common import attempt, fields_given
from schema.common import BIGINT_MAX, parse_id
from schema.pagination import Connection, paginate
from schema.webhooks import (
    CreateWebhookEndpointInput,
    DeliveryStatus,
    UpdateWebhookEndpointInput,
    WebhookDelivery,
    WebhookDeliveryPayload,
    WebhookEndpoint,
    WebhookEndpointPayload,
)


def _owner(info: Info) -> int | None:
    """A partner works on its own endpoints; an admin on all (None)."""
    viewer = info.context.viewer
    return viewer.api_key_id if viewer.role == "partner" else None


def _endpoint_id(value: strawberry.ID, field: str = "id") -> int:
    return parse_id(value, "WebhookEndpoint", field)


def _endpoint_payload(result, errors) -> WebhookEndpointPayload:  # noqa: ANN001
    if result is None:
        return WebhookEndpointPayload(endpoint=None, secret=None, errors=errors)
    endpoint, secret = result if isinstance(result, tuple) else (result, None)
    return WebhookEndpointPayload(endpoint=WebhookEndpoint.from_model(endpoint), secret=secret, errors=[])


async def webhook_endpoints(info: Info) -> list[WebhookEndpoint]:
    qs = EndpointModel.all().order_by("id")
    owner = _owner(info)
    if owner is not None:
        qs = qs.filter(owner_key_id=owner)
    return [WebhookEndpoint.from_model(e) for e in await qs]


async def webhook_deliveries(
    info: Info, endpoint_id: strawberry.ID, status: DeliveryStatus | None = None, first: int | None = None,
    after: str | None = None, last: int | None = None, before: str | None = None,
) -> Connection[WebhookDelivery]:
    owner = _owner(info)
    endpoint_id = _endpoint_id(endpoint_id, "endpointId")
    endpoint = await EndpointModel.get_or_none(id=endpoint_id)

    async def fetch(request: PageRequest) -> Page[DeliveryModel]:
        if endpoint is None or (owner is not None and endpoint.owner_key_id != owner):
            return Page.empty()
        qs = DeliveryModel.filter(endpoint_id=endpoint_id)
        if status is not None:
            qs = qs.filter(status=status.value)
        return await keyset_page(qs, NEWEST_ID, request, prefetch=("event",))

    return await paginate("Query.webhookDeliveries", first, after, last, before, fetch, WebhookDelivery.from_model)


async def create_webhook_endpoint(info: Info, input: CreateWebhookEndpointInput) -> WebhookEndpointPayload:
    return _endpoint_payload(*await attempt(service.create_endpoint(
        input.url, input.event_types, input.description, _owner(info))))


async def update_webhook_endpoint(
    info: Info, id: strawberry.ID, input: UpdateWebhookEndpointInput,
) -> WebhookEndpointPayload:
    return _endpoint_payload(*await attempt(service.update_endpoint(_endpoint_id(id), _owner(info), fields_given(input))))


async def delete_webhook_endpoint(info: Info, id: strawberry.ID) -> WebhookEndpointPayload:
    return _endpoint_payload(*await attempt(service.delete_endpoint(_endpoint_id(id), _owner(info))))


async def rotate_webhook_secret(info: Info, id: strawberry.ID) -> WebhookEndpointPayload:
    return _endpoint_payload(*await attempt(service.rotate_secret(_endpoint_id(id), _owner(info))))


async def _delivery_payload(work) -> WebhookDeliveryPayload:  # noqa: ANN001
    delivery, errors = await attempt(work)
    if delivery is None:
        return WebhookDeliveryPayload(delivery=None, errors=errors)
    await delivery.fetch_related("event")
    return WebhookDeliveryPayload(delivery=WebhookDelivery.from_model(delivery), errors=[])


async def redeliver_webhook(info: Info, delivery_id: strawberry.ID) -> WebhookDeliveryPayload:
    pk = parse_id(delivery_id, "WebhookDelivery", "deliveryId", max_pk=BIGINT_MAX)
    return await _delivery_payload(service.redeliver(pk, _owner(info)))


async def send_test_webhook(info: Info, endpoint_id: strawberry.ID) -> WebhookDeliveryPayload:
    return await _delivery_payload(service.send_test(_endpoint_id(endpoint_id, "endpointId"), _owner(info)))
