"""How every part of Patron gets a Redis client, and what it does when Redis misbehaves.

redis-py's default asyncio pool raises MaxConnectionsError as soon as all its connections
are busy, which turned a burst of requests into HTTP 500s. Patron uses a
BlockingConnectionPool instead: a caller waits up to `PATRON_REDIS_TIMEOUT` for a free
connection. The same timeout bounds connecting and (except for the pub/sub listener,
which blocks by design) every command.

Redis is an accelerator here, never the source of truth: when a call fails (down, slow,
pool still exhausted after the wait) the caller falls back to working without it, and
`failed()` logs one warning and keeps Patron off that URL for `COOL_DOWN` seconds, so a
dead Redis costs one timeout per cool-down, not one per request.
"""

from __future__ import annotations

import asyncio
import logging
import time

import redis.asyncio as redis
from redis.exceptions import RedisError

from domain.settings import get_settings

log = logging.getLogger("patron.redis")
COOL_DOWN = 5.0
# What a Redis call may raise when Redis is down or slow (OSError covers refused
# connections and socket timeouts the client did not wrap).
FAILURES: tuple[type[BaseException], ...] = (RedisError, OSError, asyncio.TimeoutError)
_down_until: dict[str, float] = {}


def make_client(url: str, *, command_timeout: bool = True) -> redis.Redis:
    """A client over a blocking pool sized by PATRON_REDIS_MAX_CONNECTIONS.

    `command_timeout=False` is for a pub/sub listener, which waits for messages forever
    (and holds one connection for good: its pool keeps at least one more for publishing)."""
    settings = get_settings()
    timeout = settings.redis_timeout_seconds
    pool = redis.BlockingConnectionPool.from_url(
        url,
        max_connections=max(1 if command_timeout else 2, settings.redis_max_connections),
        timeout=timeout,
        socket_connect_timeout=timeout,
        socket_timeout=timeout if command_timeout else None,
    )
    return redis.Redis.from_pool(pool)


def available(url: str) -> bool:
    """False during the cool-down after a failure: callers skip Redis meanwhile."""
    return time.monotonic() >= _down_until.get(url, 0.0)


def failed(url: str, what: str, exc: BaseException) -> None:
    """Record a failed call (the caller has already chosen its fallback)."""
    if available(url):
        log.warning("Redis call failed (%s: %s: %s); working without Redis for %.0f s",
                    what, type(exc).__name__, exc, COOL_DOWN)
    _down_until[url] = time.monotonic() + COOL_DOWN


def reset() -> None:
    """Forget past failures (tests switch Redis URLs)."""
    _down_until.clear()
