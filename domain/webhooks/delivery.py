"""Delivering webhooks: claim due rows, POST them signed, record the outcome, retry.

At least once: a row is claimed with a lease; if the worker dies, the lease runs out and
another worker takes the row again. Receivers de-duplicate on `webhook-id`.
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
import random
import time
from datetime import datetime, timedelta

import httpx
import orjson

from domain import clock
from domain.auth import scopes as access
from domain.db import is_sqlite, write_transaction
from domain.events.bus import event_bus
from domain.events.models import Event
from domain.events.service import record_event
from domain.members.erasure import ERASED_EXCERPT
from domain.members.personal_data import redact_event_payload
from domain.settings import get_settings
from domain.webhooks import pinned, signing
from domain.webhooks.models import WebhookDelivery, WebhookEndpoint
from domain.webhooks.service import invalidate_cache, may_receive, owner_scopes, signing_secrets
from domain.webhooks.ssrf import Blocked, check_url

log = logging.getLogger("patron.webhooks")

# Delay before attempt n+1 after attempt n failed (attempt 1 is immediate).
SCHEDULE = [timedelta(seconds=5), timedelta(minutes=5), timedelta(minutes=30), timedelta(hours=2),
            timedelta(hours=5), timedelta(hours=10), timedelta(hours=14), timedelta(hours=20), timedelta(hours=24)]
EXCERPT = 2000
PAYLOAD_VERSION = 1


def payload(event: Event, personal_data: bool) -> bytes:
    """The body sent, and the only source of the stored request excerpt: without
    `personal_data` (the owner lacks members:pii) personal fields are removed first."""
    data = event.payload if personal_data else redact_event_payload(event.type, event.payload)
    return orjson.dumps({"id": f"evt_{event.id}", "type": event.type, "version": PAYLOAD_VERSION,
                         "createdAt": event.created_at.isoformat(), "data": data})


def next_delay(attempts: int, retry_after: float | None) -> timedelta | None:
    """None when the schedule is used up. Jitter of ±10% spreads retries of many rows."""
    if attempts > len(SCHEDULE):
        return None
    delay = SCHEDULE[attempts - 1] * random.uniform(0.9, 1.1)
    if retry_after is not None:
        delay = max(delay, timedelta(seconds=min(retry_after, 86_400)))
    return delay


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    if not value:
        return None
    if value.strip().isdigit():
        return float(value.strip())
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - now).total_seconds())


async def claim(limit: int, worker: str) -> list[WebhookDelivery]:
    """Take up to `limit` due rows (and rows whose lease ran out) for this worker."""
    now = clock.now()
    lease = now + timedelta(seconds=get_settings().webhook_timeout_seconds + 5)
    async with write_transaction():
        qs = WebhookDelivery.filter(next_attempt_at__lte=now, status__in=["pending", "in_flight"]).order_by("next_attempt_at", "id")
        candidates = await (qs if is_sqlite() else qs.select_for_update(skip_locked=True)).limit(limit * 2)
        rows = [r for r in candidates if r.status == "pending" or (r.lease_until and r.lease_until <= now)][:limit]
        if rows:
            await WebhookDelivery.filter(id__in=[r.id for r in rows]).update(status="in_flight", lease_until=lease)
    return rows


async def _attempt(client: httpx.AsyncClient, delivery: WebhookDelivery, endpoint: WebhookEndpoint,
                   event: Event, personal_data: bool) -> tuple[int | None, str | None, str | None, str, float | None, int]:
    body = payload(event, personal_data)
    ts = int(time.time())
    headers = signing.headers(signing_secrets(endpoint), f"evt_{event.id}", ts, body)
    request_excerpt = orjson.dumps({"url": endpoint.url, "headers": {k: v for k, v in headers.items()
                                    if k != "webhook-signature"}, "body": body[:EXCERPT].decode(errors="replace")}).decode()
    started = time.perf_counter()
    try:
        target = await check_url(endpoint.url)  # again at send time: DNS may have changed
        with pinned.pinned(target):  # connect to the addresses just checked, not to a new lookup
            response = await client.post(endpoint.url, content=body, headers=headers)
    except Blocked as exc:
        return None, f"blocked: {exc.message}", None, request_excerpt, None, int((time.perf_counter() - started) * 1000)
    except httpx.TimeoutException:
        return None, "timeout", None, request_excerpt, None, int((time.perf_counter() - started) * 1000)
    except httpx.HTTPError as exc:
        return None, f"{type(exc).__name__}: {exc}"[:500], None, request_excerpt, None, int((time.perf_counter() - started) * 1000)
    elapsed = int((time.perf_counter() - started) * 1000)
    retry_after = parse_retry_after(response.headers.get("retry-after"), clock.now())
    return response.status_code, None, response.text[:EXCERPT], request_excerpt, retry_after, elapsed


async def deliver(client: httpx.AsyncClient, delivery: WebhookDelivery) -> str:
    endpoint = await WebhookEndpoint.get(id=delivery.endpoint_id)
    event = await Event.get(id=delivery.event_id)
    if not endpoint.enabled:
        await WebhookDelivery.filter(id=delivery.id).update(status="failed", last_error="endpoint disabled", lease_until=None)
        return "failed"
    # The owner's scopes now, not when the row was queued: a key revoked or narrowed since
    # then gets nothing more (this also covers redeliveries and other processes' caches).
    scopes = await owner_scopes(endpoint.owner_key_id)
    if not may_receive(scopes, event.type):
        reason = "the owner key is revoked" if scopes == frozenset() else \
            f"the owner key lacks the scope {access.EVENT_FAMILY_SCOPES.get(event.type.split('.')[0], 'for it')}"
        await WebhookDelivery.filter(id=delivery.id).update(status="failed", last_error=f"not sent: {reason}",
                                                            lease_until=None)
        return "failed"
    personal_data = scopes is None or access.PII in scopes
    status, error, response_excerpt, request_excerpt, retry_after, elapsed = await _attempt(
        client, delivery, endpoint, event, personal_data)
    return await record_outcome(delivery.id, endpoint.id, status, error, response_excerpt, request_excerpt, retry_after, elapsed)


async def record_outcome(delivery_id: int, endpoint_id: int, status: int | None, error: str | None,
                         response_excerpt: str | None, request_excerpt: str | None, retry_after: float | None, elapsed: int) -> str:
    now = clock.now()
    async with write_transaction():
        # Locked on PostgreSQL so an erasure running now is either before (we see its
        # marker) or after (it replaces what we write); SQLite serializes writers anyway.
        delivery = await (WebhookDelivery if is_sqlite() else WebhookDelivery.select_for_update()).get(id=delivery_id)
        endpoint = await WebhookEndpoint.get(id=endpoint_id)
        if delivery.request_excerpt == ERASED_EXCERPT:  # the member was erased while this was in flight
            request_excerpt, response_excerpt = ERASED_EXCERPT, None
        delivery.attempts += 1
        delivery.last_status_code, delivery.last_error = status, error
        delivery.response_excerpt, delivery.request_excerpt, delivery.duration_ms = response_excerpt, request_excerpt, elapsed
        delivery.lease_until = None
        ok = status is not None and 200 <= status < 300
        retryable = status is None or status in (408, 429) or status >= 500 or 300 <= status < 400
        if error and error.startswith("blocked"):
            retryable = False
        if ok:
            delivery.status, delivery.delivered_at = "succeeded", now
            if endpoint.failing_since:
                endpoint.failing_since = None
                await endpoint.save(update_fields=["failing_since"])
        else:
            delay = next_delay(delivery.attempts, retry_after) if retryable else None
            if delay is None:
                delivery.status = "failed"
            else:
                delivery.status, delivery.next_attempt_at = "pending", now + delay
            endpoint.failing_since = endpoint.failing_since or now
            await endpoint.save(update_fields=["failing_since"])
            if status == 410:
                await _disable(endpoint, "The receiver answered 410 Gone")
            elif now - endpoint.failing_since > timedelta(hours=get_settings().webhook_disable_after_hours):
                await _disable(endpoint, f"Failing continuously since {endpoint.failing_since.isoformat()}")
        await delivery.save()
        return delivery.status


async def _disable(endpoint: WebhookEndpoint, reason: str) -> None:
    endpoint.enabled, endpoint.disabled_reason = False, reason
    await endpoint.save(update_fields=["enabled", "disabled_reason"])
    await WebhookDelivery.filter(endpoint_id=endpoint.id, status="pending").update(status="failed", last_error="endpoint disabled")
    await record_event("webhook.endpoint_disabled", {"endpointId": endpoint.id, "url": endpoint.url, "reason": reason})
    invalidate_cache()


class Deliverer:
    """The delivery loop: claim a batch, send it concurrently, repeat; wakes on new events."""

    def __init__(self, worker: str = "worker") -> None:
        self.worker = worker
        self.wake = asyncio.Event()
        # Subscribed for the loop's lifetime (not in composition/subscribers.py): it exists
        # only while a Deliverer runs, and several run side by side in tests and benchmarks.
        self._unsubscribe = event_bus.subscribe("*", self._on_event, after_commit=True)
        self.client = pinned.client(get_settings().webhook_timeout_seconds)

    async def _on_event(self, event: Event) -> None:
        self.wake.set()  # a committed event may have fanned out deliveries: look now

    async def run_once(self) -> int:
        rows = await claim(get_settings().webhook_batch, self.worker)
        if rows:
            results = await asyncio.gather(*(deliver(self.client, r) for r in rows), return_exceptions=True)
            for result in results:
                if isinstance(result, Exception):
                    log.error("delivery failed unexpectedly: %r", result)
        return len(rows)

    async def run_forever(self, stop: asyncio.Event) -> None:
        poll = get_settings().webhook_poll_ms / 1000
        try:
            while not stop.is_set():
                try:
                    busy = await self.run_once()
                except Exception:  # keep the loop alive; the rows' leases bring them back
                    log.exception("delivery loop error")
                    busy = 0
                if busy:
                    continue
                self.wake.clear()
                waiters = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(self.wake.wait())]
                await asyncio.wait(waiters, timeout=poll, return_when=asyncio.FIRST_COMPLETED)
                for w in waiters:
                    w.cancel()
        finally:
            self._unsubscribe()
            await self.client.aclose()
