"""Webhook endpoints (register, update, rotate, delete) and the fan-out of events."""

from __future__ import annotations

import fnmatch
import time
from datetime import timedelta
from typing import Any

from domain import clock
from domain.crypto import decrypt, encrypt
from domain.db import write_transaction
from domain.errors import DomainError, InvalidInput, NotFound
from domain.events.models import Event
from domain.events.service import EVENT_TYPES
from domain.settings import get_settings
from domain.webhooks import signing
from domain.webhooks.models import WebhookDelivery, WebhookEndpoint
from domain.webhooks.ssrf import check_url

MAX_PATTERNS = 50


def matches(patterns: list[str], event_type: str) -> bool:
    return any(p == "*" or fnmatch.fnmatchcase(event_type, p) for p in patterns)


def _validate_patterns(patterns: list[str]) -> list[str]:
    if not patterns or len(patterns) > MAX_PATTERNS:
        raise InvalidInput(f"Give 1 to {MAX_PATTERNS} event types (wildcards like points.* allowed)", "eventTypes")
    known = set(EVENT_TYPES)
    for p in patterns:
        if p != "*" and not any(fnmatch.fnmatchcase(t, p) for t in known):
            raise InvalidInput(f"{p!r} matches no event type", "eventTypes")
    return sorted(set(patterns))


def _owned(endpoint: WebhookEndpoint | None, owner_key_id: int | None) -> WebhookEndpoint:
    """owner_key_id None = an admin, who sees every endpoint; a partner sees only its own."""
    if endpoint is None or (owner_key_id is not None and endpoint.owner_key_id != owner_key_id):
        raise NotFound("No such webhook endpoint", "id", code="WEBHOOK_NOT_FOUND")
    return endpoint


async def create_endpoint(url: str, patterns: list[str], description: str | None, owner_key_id: int | None) -> tuple[WebhookEndpoint, str]:
    await check_url(url)
    patterns = _validate_patterns(patterns)
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
        endpoint.event_types = _validate_patterns(values["event_types"])
    if "description" in values:
        endpoint.description = values["description"]
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

# Enabled endpoints, re-read at most every few seconds: the fan-out runs for every event,
# and a query per event would cost more than the event itself. Changes made in this
# process clear it at once; other processes see them within CACHE_SECONDS.
CACHE_SECONDS = 5.0
_cache: tuple[float, list[WebhookEndpoint]] | None = None


def invalidate_cache() -> None:
    global _cache
    _cache = None


async def _enabled_endpoints() -> list[WebhookEndpoint]:
    global _cache
    if _cache is None or _cache[0] < time.monotonic():
        _cache = (time.monotonic() + CACHE_SECONDS, await WebhookEndpoint.filter(enabled=True))
    return _cache[1]


async def fan_out(event: Event) -> int:
    targets = [e for e in await _enabled_endpoints() if matches(e.event_types, event.type)]
    if targets:
        now = clock.now()
        await WebhookDelivery.bulk_create([
            WebhookDelivery(endpoint_id=e.id, event_id=event.id, next_attempt_at=now, created_at=now) for e in targets
        ])
    return len(targets)


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
    endpoint = _owned(await WebhookEndpoint.get_or_none(id=endpoint_id), owner_key_id)
    async with write_transaction():
        now = clock.now()
        event = await Event.create(type="webhook.test", payload={"endpointId": endpoint.id, "message": "Hello from Patron"},
                                   created_at=now)
        return await WebhookDelivery.create(endpoint_id=endpoint.id, event_id=event.id, next_attempt_at=now, created_at=now)
