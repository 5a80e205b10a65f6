"""Gauges read when /metrics/ is scraped: the database pool and the webhook outbox depth."""

from __future__ import annotations

import logging
import time

from tortoise import connections

from domain.observability.metrics import DB_POOL, OUTBOX_DEPTH
from domain.webhooks.models import WebhookDelivery

log = logging.getLogger("patron.metrics")
OUTBOX_CACHE_SECONDS = 5.0  # a scraper every second costs one count per 5 s
_outbox_read_at = float("-inf")


def _pool_stats() -> None:
    """asyncpg's pool (PostgreSQL); SQLite has one connection and no pool: nothing set."""
    try:
        pool = getattr(connections.get("default"), "_pool", None)
    except Exception:  # noqa: BLE001 - ORM not initialised (tests that manage it themselves)
        return
    if pool is None or not hasattr(pool, "get_idle_size"):
        return
    DB_POOL.labels("size").set(pool.get_size())
    DB_POOL.labels("idle").set(pool.get_idle_size())
    DB_POOL.labels("max").set(pool.get_max_size())


async def _outbox_depth() -> None:
    """One count on the (status, next_attempt_at) index, at most every OUTBOX_CACHE_SECONDS."""
    global _outbox_read_at
    if time.monotonic() - _outbox_read_at < OUTBOX_CACHE_SECONDS:
        return
    try:
        OUTBOX_DEPTH.set(await WebhookDelivery.filter(status__in=["pending", "in_flight"]).count())
        _outbox_read_at = time.monotonic()
    except Exception as exc:  # noqa: BLE001 - a scrape never fails because the database is away
        log.warning("outbox depth not read: %s", type(exc).__name__)


async def refresh() -> None:
    _pool_stats()
    await _outbox_depth()


def forget_cache() -> None:
    """Tests: read the outbox depth again on the next scrape."""
    global _outbox_read_at
    _outbox_read_at = float("-inf")
