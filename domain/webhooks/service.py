"""Webhook endpoints (register, update, rotate, delete) and the fan-out of events."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

from domain import clock
from domain.auth import scopes as access
from domain.auth.models import ApiKey
from domain.auth.service import key_generation
from domain.crypto import decrypt, encrypt
from domain.db import insert_rows, write_transaction
from domain.errors import DomainError, InvalidInput, NotFound
from domain.events.models import Event
from domain.events.service import record_event
from domain.events.types import EVENT_TYPES, matches
from domain.settings import get_settings
from domain.webhooks import signing
from domain.webhooks.models import WebhookDelivery, WebhookEndpoint
from domain.webhooks.ssrf import check_url

MAX_PATTERNS = 50
TEST_EVENT = "webhook.test"


def _validate_patterns(patterns: list[str], scopes: frozenset[str] | None) -> list[str]:
    """Every pattern must match an event type the owner's scopes allow (scopes None = admin).

    A wildcard is kept as given and means "every matching type my scopes allow": the
    fan-out applies the owner's scopes at every event, so `*` never widens past them, and
    follows the scopes when an admin changes them later. A pattern that matches only types
    outside the scopes is refused with SCOPE_MISSING, naming the scope it would need.
    """
    if not patterns or len(patterns) > MAX_PATTERNS:
        raise InvalidInput(f"Give 1 to {MAX_PATTERNS} event types (wildcards like points.* allowed)", "eventTypes")
    for p in patterns:
        matched = [t for t in EVENT_TYPES if matches([p], t)]
        if not matched:
            raise InvalidInput(f"{p[:100]!r} matches no event type", "eventTypes")
        if scopes is not None and not any(access.allows_event(scopes, t) for t in matched):
            needed = sorted({access.required_scopes(t) for t in matched})
            raise access.ScopeMissing(f"{p[:100]!r} needs the scope {' or '.join(needed)}, which this key does not hold",
                                      "eventTypes")
    return sorted(set(patterns))


async def owner_scopes(owner_key_id: int | None) -> frozenset[str] | None:
    """None for an admin-owned endpoint (every scope); an empty set once the owner key is revoked."""
    if owner_key_id is None:
        return None
    key = await ApiKey.get_or_none(id=owner_key_id, revoked_at__isnull=True)
    return access.effective(key.role, key.scopes) if key else frozenset()


def _owned(endpoint: WebhookEndpoint | None, owner_key_id: int | None) -> WebhookEndpoint:
    """owner_key_id None = an admin, who sees every endpoint; a partner sees only its own."""
    if endpoint is None or (owner_key_id is not None and endpoint.owner_key_id != owner_key_id):
        raise NotFound("No such webhook endpoint", "id", code="WEBHOOK_NOT_FOUND")
    return endpoint


MAX_DESCRIPTION = 500  # the column's size


def _validate_description(description: str | None) -> str | None:
    if description is not None and (len(description) > MAX_DESCRIPTION or "\x00" in description):
        raise InvalidInput(f"description: at most {MAX_DESCRIPTION} characters, no NUL", "description")
    return description


async def create_endpoint(url: str, patterns: list[str], description: str | None, owner_key_id: int | None) -> tuple[WebhookEndpoint, str]:
    description = _validate_description(description)
    await check_url(url)
    patterns = _validate_patterns(patterns, await owner_scopes(owner_key_id))
    secret = signing.new_secret()
    now = clock.now()
    async with write_transaction():
        endpoint = await WebhookEndpoint.create(
            url=url, event_types=patterns, description=description, owner_key_id=owner_key_id,
            secret_encrypted=encrypt(secret), created_at=now, updated_at=now,
        )
    invalidate_cache()
    return endpoint, secret


async def update_endpoint(endpoint_id: int, owner_key_id: int | None, values: dict[str, Any]) -> WebhookEndpoint:
    endpoint = _owned(await WebhookEndpoint.get_or_none(id=endpoint_id), owner_key_id)
    if "url" in values:
        await check_url(values["url"])
        endpoint.url = values["url"]
    if "event_types" in values:
        endpoint.event_types = _validate_patterns(values["event_types"], await owner_scopes(endpoint.owner_key_id))
    if "description" in values:
        endpoint.description = _validate_description(values["description"])
    if "enabled" in values:
        endpoint.enabled = values["enabled"]
        if endpoint.enabled:
            endpoint.failing_since, endpoint.disabled_reason = None, None
    endpoint.updated_at = clock.now()
    async with write_transaction():
        await endpoint.save()
    invalidate_cache()
    return endpoint


async def delete_endpoint(endpoint_id: int, owner_key_id: int | None) -> WebhookEndpoint:
    endpoint = _owned(await WebhookEndpoint.get_or_none(id=endpoint_id), owner_key_id)
    async with write_transaction():
        await WebhookDelivery.filter(endpoint_id=endpoint.id, status__in=["pending", "in_flight"]).update(
            status="failed", last_error="endpoint deleted")
        endpoint.enabled = False
        endpoint.disabled_reason = "deleted"
        await endpoint.save(update_fields=["enabled", "disabled_reason"])
    invalidate_cache()
    return endpoint


async def rotate_secret(endpoint_id: int, owner_key_id: int | None) -> tuple[WebhookEndpoint, str]:
    """A new secret signs from now on; the old one keeps signing too during the overlap."""
    endpoint = _owned(await WebhookEndpoint.get_or_none(id=endpoint_id), owner_key_id)
    secret = signing.new_secret()
    endpoint.previous_secret_encrypted = endpoint.secret_encrypted
    endpoint.previous_secret_expires_at = clock.now() + timedelta(hours=get_settings().webhook_rotation_overlap_hours)
    endpoint.secret_encrypted = encrypt(secret)
    endpoint.updated_at = clock.now()
    async with write_transaction():
        await endpoint.save()
    return endpoint, secret


def signing_secrets(endpoint: WebhookEndpoint) -> list[str]:
    found = [decrypt(endpoint.secret_encrypted)]
    if endpoint.previous_secret_encrypted and endpoint.previous_secret_expires_at and \
            endpoint.previous_secret_expires_at > clock.now():
        found.append(decrypt(endpoint.previous_secret_encrypted))
    return found


# --- fan-out (inside the transaction that writes the event) -------------------------------

# Enabled endpoints with their owner's scopes, re-read at most every few seconds: the
# fan-out runs for every event, and a query per event would cost more than the event
# itself. Changes made in this process (endpoints, key scopes, revocations) clear it at
# once; other processes see them within CACHE_SECONDS, and the delivery re-checks the
# owner's scopes before sending anyway (domain/webhooks/delivery.py).
CACHE_SECONDS = 5.0
# (valid until, the key generation it was built at, endpoints with their owner's scopes)
_cache: tuple[float, int, list[tuple[WebhookEndpoint, frozenset[str] | None]]] | None = None


def invalidate_cache() -> None:
    global _cache
    _cache = None


async def _enabled_endpoints() -> list[tuple[WebhookEndpoint, frozenset[str] | None]]:
    global _cache
    if _cache is None or _cache[0] < time.monotonic() or _cache[1] != key_generation():
        generation = key_generation()
        endpoints = await WebhookEndpoint.filter(enabled=True)
        owners = {e.owner_key_id for e in endpoints if e.owner_key_id is not None}
        keys = {k.id: access.effective(k.role, k.scopes)
                for k in await ApiKey.filter(id__in=owners, revoked_at__isnull=True)} if owners else {}
        # An endpoint whose owner key is revoked or gone receives nothing.
        _cache = (time.monotonic() + CACHE_SECONDS, generation,
                  [(e, None if e.owner_key_id is None else keys[e.owner_key_id]) for e in endpoints
                   if e.owner_key_id is None or e.owner_key_id in keys])
    return _cache[2]


def may_receive(scopes: frozenset[str] | None, event_type: str) -> bool:
    """Whether an endpoint whose owner holds `scopes` (None = admin) may receive this type."""
    return scopes is None or access.allows_event(scopes, event_type)


async def _about_own_endpoint(endpoint: WebhookEndpoint, event: Event) -> bool:
    """webhook.* events name an endpoint (and its URL): a partner hears only of its own."""
    if endpoint.owner_key_id is None or not event.type.startswith("webhook."):
        return True
    subject_id = (event.payload or {}).get("endpointId")
    subject = await WebhookEndpoint.get_or_none(id=subject_id) if isinstance(subject_id, int) else None
    return subject is not None and subject.owner_key_id == endpoint.owner_key_id


async def _targets(event: Event) -> list[WebhookEndpoint]:
    """The endpoints that should receive this event."""
    if event.type == TEST_EVENT:  # addressed to one endpoint, whatever it subscribed to
        return await WebhookEndpoint.filter(id=(event.payload or {}).get("endpointId"))
    return [e for e, scopes in await _enabled_endpoints()
            if matches(e.event_types, event.type) and may_receive(scopes, event.type)
            and await _about_own_endpoint(e, event)]


async def fan_out(event: Event) -> int:
    """The in-transaction subscriber (wired in composition/subscribers.py): one delivery row
    per endpoint that should receive the event, committed with it (the outbox)."""
    return await fan_out_many([event])


async def fan_out_many(events: list[Event]) -> int:
    """fan_out for many events (the bus's bulk path): every delivery row in one multi-row
    INSERT, in the order per-event fan-outs would write them (by event, then endpoint)."""
    now = clock.now()
    rows = [{"endpoint_id": e.id, "event_id": event.id, "status": "pending", "attempts": 0, "lease_token": 0,
             "next_attempt_at": now, "created_at": now}
            for event in events for e in await _targets(event)]
    await insert_rows(WebhookDelivery, rows)
    return len(rows)


async def redeliver(delivery_id: int, owner_key_id: int | None) -> WebhookDelivery:
    original = await WebhookDelivery.get_or_none(id=delivery_id).prefetch_related("endpoint")
    if original is None:
        raise NotFound("No such delivery", "deliveryId", code="WEBHOOK_NOT_FOUND")
    endpoint = _owned(original.endpoint, owner_key_id)
    if not endpoint.enabled:
        raise DomainError("The endpoint is disabled; enable it first", "deliveryId", code="INVALID_STATE")
    async with write_transaction():
        now = clock.now()
        return await WebhookDelivery.create(endpoint_id=endpoint.id, event_id=original.event_id,
                                            next_attempt_at=now, created_at=now)


async def send_test(endpoint_id: int, owner_key_id: int | None) -> WebhookDelivery:
    """A webhook.test event through the bus like any other; the fan-out sends it to this
    endpoint only."""
    endpoint = _owned(await WebhookEndpoint.get_or_none(id=endpoint_id), owner_key_id)
    async with write_transaction():
        event = await record_event(TEST_EVENT, {"endpointId": endpoint.id, "message": "Hello from Patron"})
        return await WebhookDelivery.get(event_id=event.id, endpoint_id=endpoint.id)
