"""Delivering webhooks: claim due rows, POST them signed, record the outcome, retry.

At least once: a row is claimed with a lease; if the worker dies, the lease runs out and
another worker takes the row again. Receivers de-duplicate on `webhook-id`.

Fencing: each claim gives the row a new `lease_token` and names the worker. Right before
the request is sent the worker renews its lease, which succeeds only while the row still
carries its token and the lease has not run out, so a process that was busy (its event loop
blocked) past its lease does not send a row another worker has taken over; and the outcome
is written only while the token still matches, so a late worker cannot overwrite the
taker's outcome.
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
from tortoise.expressions import F

from domain import clock
from domain.auth import scopes as access
from domain.db import is_sqlite, serialized_writes, write_transaction
from domain.events.bus import event_bus
from domain.events.models import Event
from domain.events.service import record_event
from domain.members.erasure import ERASED_EXCERPT
from domain.members.personal_data import redact_event_payload
from domain.observability.context import in_log_context
from domain.observability.metrics import (
    WEBHOOK_ATTEMPT_SECONDS,
    WEBHOOK_DELIVERIES,
    WEBHOOK_FIRST_ATTEMPT_DELAY,
    delivery_outcome,
)
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


def lease_length() -> timedelta:
    # Longer than the whole request may take (it is bounded by the timeout, see _attempt).
    return timedelta(seconds=get_settings().webhook_timeout_seconds + 5)


async def claim(limit: int, worker: str) -> list[WebhookDelivery]:
    """Take up to `limit` due rows (and rows whose lease ran out) for this worker; each row
    gets a new lease token (returned on the row) that fences the previous holder."""
    now = clock.now()
    async with write_transaction():
        qs = WebhookDelivery.filter(next_attempt_at__lte=now, status__in=["pending", "in_flight"]).order_by("next_attempt_at", "id")
        candidates = await (qs if is_sqlite() else qs.select_for_update(skip_locked=True)).limit(limit * 2)
        rows = [r for r in candidates if r.status == "pending" or (r.lease_until and r.lease_until <= now)][:limit]
        if rows:
            await WebhookDelivery.filter(id__in=[r.id for r in rows]).update(
                status="in_flight", lease_until=now + lease_length(), lease_token=F("lease_token") + 1,
                lease_owner=worker[:100])
        for r in rows:  # the rows are locked (PostgreSQL) or writers serialised (SQLite)
            r.status, r.lease_token, r.lease_owner = "in_flight", r.lease_token + 1, worker[:100]
    return rows


async def renew_lease(delivery: WebhookDelivery) -> bool:
    """Right before sending: still ours and not expired? Then the lease restarts now, so the
    request (bounded by the timeout) ends before anyone may take the row over."""
    now = clock.now()
    async with serialized_writes():  # one conditional UPDATE: atomic on its own
        kept = await WebhookDelivery.filter(id=delivery.id, lease_token=delivery.lease_token, status="in_flight",
                                            lease_until__gt=now).update(lease_until=now + lease_length())
    if not kept:
        log.warning("delivery %s: lease lost before sending (token %s); not sent", delivery.id, delivery.lease_token)
    return bool(kept)


class LeaseLost(Exception):
    """The row was taken over (or its lease ran out) before the request went out."""


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
        if not await renew_lease(delivery):  # the last moment before sending
            raise LeaseLost
        with pinned.pinned(target):  # connect to the addresses just checked, not to a new lookup
            # The whole request within the timeout (httpx bounds each phase only), so it
            # ends inside the lease just renewed.
            response = await asyncio.wait_for(client.post(endpoint.url, content=body, headers=headers),
                                              timeout=get_settings().webhook_timeout_seconds)
    except Blocked as exc:
        return None, f"blocked: {exc.message}", None, request_excerpt, None, int((time.perf_counter() - started) * 1000)
    except (httpx.TimeoutException, TimeoutError):
        return None, "timeout", None, request_excerpt, None, int((time.perf_counter() - started) * 1000)
    except httpx.HTTPError as exc:
        return None, f"{type(exc).__name__}: {exc}"[:500], None, request_excerpt, None, int((time.perf_counter() - started) * 1000)
    elapsed = int((time.perf_counter() - started) * 1000)
    retry_after = parse_retry_after(response.headers.get("retry-after"), clock.now())
    return response.status_code, None, response.text[:EXCERPT], request_excerpt, retry_after, elapsed


async def deliver(client: httpx.AsyncClient, delivery: WebhookDelivery) -> str:
    """Send one claimed row; "fenced" when it was taken over (nothing sent, nothing written)."""
    endpoint = await WebhookEndpoint.get(id=delivery.endpoint_id)
    event = await Event.get(id=delivery.event_id)
    mine = WebhookDelivery.filter(id=delivery.id, lease_token=delivery.lease_token)
    if not endpoint.enabled:
        kept = await mine.update(status="failed", last_error="endpoint disabled", lease_until=None)
        if kept:
            WEBHOOK_DELIVERIES.labels("not_sent").inc()
        return "failed" if kept else "fenced"
    # The owner's scopes now, not when the row was queued: a key revoked or narrowed since
    # then gets nothing more (this also covers redeliveries and other processes' caches).
    scopes = await owner_scopes(endpoint.owner_key_id)
    if not may_receive(scopes, event.type):
        reason = "the owner key is revoked" if scopes == frozenset() else \
            f"the owner key lacks the scope {access.EVENT_FAMILY_SCOPES.get(event.type.split('.')[0], 'for it')}"
        kept = await mine.update(status="failed", last_error=f"not sent: {reason}", lease_until=None)
        if kept:
            WEBHOOK_DELIVERIES.labels("not_sent").inc()
        return "failed" if kept else "fenced"
    personal_data = scopes is None or access.PII in scopes
    if delivery.attempts == 0:  # like Saleor's first-attempt delay: event created → first try
        WEBHOOK_FIRST_ATTEMPT_DELAY.observe(max(0.0, (clock.now() - event.created_at).total_seconds()))
    try:
        status, error, response_excerpt, request_excerpt, retry_after, elapsed = await _attempt(
            client, delivery, endpoint, event, personal_data)
    except LeaseLost:
        WEBHOOK_DELIVERIES.labels("fenced").inc()
        return "fenced"
    WEBHOOK_ATTEMPT_SECONDS.observe(elapsed / 1000)
    outcome = await record_outcome(delivery.id, endpoint.id, status, error, response_excerpt, request_excerpt,
                                   retry_after, elapsed, lease_token=delivery.lease_token)
    WEBHOOK_DELIVERIES.labels(delivery_outcome(outcome)).inc()
    return outcome


async def record_outcome(delivery_id: int, endpoint_id: int, status: int | None, error: str | None,
                         response_excerpt: str | None, request_excerpt: str | None, retry_after: float | None, elapsed: int,
                         *, lease_token: int) -> str:
    """Write the outcome of an attempt made under `lease_token`; "fenced" (nothing written)
    when another worker has claimed the row since."""
    now = clock.now()
    async with write_transaction():
        # Locked on PostgreSQL so an erasure running now is either before (we see its
        # marker) or after (it replaces what we write); SQLite serializes writers anyway.
        delivery = await (WebhookDelivery if is_sqlite() else WebhookDelivery.select_for_update()).get(id=delivery_id)
        if delivery.lease_token != lease_token or delivery.status != "in_flight":
            log.warning("delivery %s: outcome of token %s refused, the row now has token %s (%s)",
                        delivery_id, lease_token, delivery.lease_token, delivery.status)
            return "fenced"
        endpoint = await WebhookEndpoint.get(id=endpoint_id)
        if delivery.request_excerpt == ERASED_EXCERPT:  # the member was erased while this was in flight
            request_excerpt, response_excerpt = ERASED_EXCERPT, None
        delivery.attempts += 1
        delivery.last_status_code, delivery.last_error = status, error
        delivery.response_excerpt, delivery.request_excerpt, delivery.duration_ms = response_excerpt, request_excerpt, elapsed
        delivery.lease_until, delivery.lease_owner = None, None
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
            results = await asyncio.gather(*(in_log_context(deliver(self.client, r), delivery_id=r.id,
                                                            endpoint_id=r.endpoint_id) for r in rows),
                                           return_exceptions=True)
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
