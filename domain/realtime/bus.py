"""The event bus behind GraphQL subscriptions.

Every committed event is published once. With REDIS_URL the message goes through Redis
pub/sub, so subscribers connected to any API process receive it; otherwise it is handed
to this process's subscribers directly (the embedded default).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit

import orjson
import redis.asyncio as redis

from domain import redis_client
from domain.events.models import Event
from domain.events.service import message
from domain.settings import get_settings

CHANNEL = "patron:events"  # + the Redis db number: pub/sub ignores databases, deployments must not
log = logging.getLogger("patron.bus")


class Bus:
    def __init__(self) -> None:
        self._queues: set[asyncio.Queue[dict[str, Any]]] = set()
        self._redis: redis.Redis | None = None
        self._listener: asyncio.Task[None] | None = None
        self._loop: int | None = None

    def _client(self) -> redis.Redis | None:
        url = get_settings().redis_url
        loop = id(asyncio.get_running_loop())
        if url and (self._redis is None or self._loop != loop):
            # One per event loop; no command timeout: the listener waits for messages.
            self._redis, self._loop, self._listener = redis_client.make_client(url, command_timeout=False), loop, None
        return self._redis if url else None

    @staticmethod
    def channel() -> str:
        path = urlsplit(get_settings().redis_url or "").path.strip("/") or "0"
        return f"{CHANNEL}:{get_settings().instance}:{path}"

    async def publish(self, message: dict[str, Any]) -> None:
        client = self._client()
        if client is None or not redis_client.available(get_settings().redis_url or ""):
            self._dispatch(message)
            return
        try:
            # Bounded here, since the client has no command timeout (see _client).
            await asyncio.wait_for(client.publish(self.channel(), orjson.dumps(message)),
                                   get_settings().redis_timeout_seconds)
        except redis_client.FAILURES as exc:
            # The change is committed: never fail the request for it. This process's
            # subscribers still get the event; other processes' miss it.
            redis_client.failed(get_settings().redis_url or "", "publish", exc)
            self._dispatch(message)

    def _dispatch(self, message: dict[str, Any]) -> None:
        for queue in list(self._queues):
            if queue.qsize() < 1000:  # a stuck subscriber must not grow memory without bound
                queue.put_nowait(message)

    async def _listen(self, client: redis.Redis) -> None:
        while True:
            try:
                async with client.pubsub() as pubsub:
                    await pubsub.subscribe(self.channel())
                    async for item in pubsub.listen():
                        if item.get("type") == "message":
                            self._dispatch(orjson.loads(item["data"]))
            except asyncio.CancelledError:
                raise
            except Exception:  # reconnect after a Redis hiccup
                log.exception("redis listener failed; reconnecting")
                await asyncio.sleep(1)

    async def ready(self) -> None:
        """Start listening to Redis (idempotent). Subscribers call this before they wait."""
        client = self._client()
        if client is not None and (self._listener is None or self._listener.done()):
            self._listener = asyncio.create_task(self._listen(client))
            await asyncio.sleep(0.05)  # let SUBSCRIBE reach Redis before the first publish

    @contextlib.asynccontextmanager
    async def subscribe(self) -> AsyncIterator[asyncio.Queue[dict[str, Any]]]:
        await self.ready()
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._queues.add(queue)
        try:
            yield queue
        finally:
            self._queues.discard(queue)

    async def close(self) -> None:
        if self._listener:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._listener
            self._listener = None
        if self._redis is not None:
            await self._redis.aclose()
            self._redis = None


bus = Bus()


async def publish_event(event: Event) -> None:
    """The after-commit subscriber (wired in composition/subscribers.py): every committed
    event goes to the GraphQL subscribers of every API process."""
    await bus.publish(message(event))
