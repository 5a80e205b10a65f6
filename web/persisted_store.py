"""Where registered APQ documents live: this process's memory, and Redis when REDIS_URL is set.

APQ documents are a cache, not data: a miss costs the client one retry with the text, and a
document is immutable (its key is its SHA-256). So not the database (a write on the request
path and a cleanup job for a table nobody reads twice), but:
- `MemoryStore`: an LRU bounded to `max_documents` entries (the embedded default, one process);
- `RedisStore`: shared by every API process (a client registers with one and is answered by
  another), with a TTL refreshed on use and an index that evicts the least recently used past
  `max_documents`; this process's LRU sits in front of it, and when Redis fails the LRU alone
  serves (domain/redis_client.py's cool-down), so Redis trouble never fails a request.
Every document was size-checked by the caller (PATRON_APQ_MAX_DOCUMENT_BYTES).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

PREFIX = "patron:apq:"
INDEX = "patron:apq:index"  # sorted set: document key → last use (unix seconds)

# Store, index, drop what the TTL already expired, then the least recently used past the cap.
_PUT = """
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
redis.call('ZADD', KEYS[2], ARGV[3], KEYS[1])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', tonumber(ARGV[3]) - tonumber(ARGV[2]))
local over = redis.call('ZCARD', KEYS[2]) - tonumber(ARGV[4])
if over > 0 then
  local old = redis.call('ZRANGE', KEYS[2], 0, over - 1)
  redis.call('ZREMRANGEBYRANK', KEYS[2], 0, over - 1)
  redis.call('DEL', unpack(old))
end
return over
"""


class MemoryStore:
    def __init__(self, max_documents: int) -> None:
        self.max_documents = max_documents
        self._entries: OrderedDict[str, str] = OrderedDict()

    async def get(self, digest: str) -> str | None:
        text = self._entries.get(digest)
        if text is not None:
            self._entries.move_to_end(digest)
        return text

    async def put(self, digest: str, text: str) -> None:
        self._entries[digest] = text
        self._entries.move_to_end(digest)
        while len(self._entries) > self.max_documents:
            self._entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self._entries)


class RedisStore:
    """`client()` gives a usable client or None (unset, or cooling down after a failure);
    `failed(what, exc)` records a failure; `failures` is what a Redis call may raise."""

    def __init__(self, max_documents: int, ttl_seconds: int, client: Callable[[], Any],
                 failed: Callable[[str, BaseException], None], failures: tuple[type[BaseException], ...]) -> None:
        self.max_documents, self.ttl = max_documents, ttl_seconds
        self.local = MemoryStore(max_documents)
        self._client, self._failed, self._failures = client, failed, failures

    async def get(self, digest: str) -> str | None:
        text = await self.local.get(digest)
        if text is not None:
            return text
        client = self._client()
        if client is None:
            return None
        key = PREFIX + digest
        try:
            async with client.pipeline(transaction=False) as pipe:
                raw, _ = await pipe.getex(key, ex=self.ttl).zadd(INDEX, {key: time.time()}, xx=True).execute()
        except self._failures as exc:
            self._failed("APQ read", exc)
            return None
        if raw is None:
            return None
        text = raw.decode("utf-8", "surrogatepass")
        await self.local.put(digest, text)
        return text

    async def put(self, digest: str, text: str) -> None:
        await self.local.put(digest, text)
        client = self._client()
        if client is None:
            return
        try:
            await client.eval(_PUT, 2, PREFIX + digest, INDEX, text.encode("utf-8", "surrogatepass"),
                              self.ttl, time.time(), self.max_documents)
        except self._failures as exc:
            self._failed("APQ write", exc)
