"""Request rate limits per caller: fixed one-minute windows, in Redis when REDIS_URL is set
(shared by every API process), in this process's memory otherwise."""

from __future__ import annotations

import time

from domain import changes
from domain.settings import get_settings

WINDOW = 60


class RateLimiter:
    def __init__(self) -> None:
        self._counts: dict[str, int] = {}
        self._window = 0

    async def hit(self, identity: str, limit: int) -> int | None:
        """Count one request; seconds to wait when over the limit, else None."""
        if limit <= 0:
            return None
        now = time.time()
        window = int(now // WINDOW)
        retry_after = max(1, int((window + 1) * WINDOW - now))
        client = changes._redis()
        if client is not None:
            key = f"patron:rl:{identity}:{window}"
            async with client.pipeline(transaction=True) as pipe:
                count, _ = await pipe.incr(key).expire(key, WINDOW + 1).execute()
        else:
            if window != self._window:
                self._counts, self._window = {}, window
            count = self._counts[identity] = self._counts.get(identity, 0) + 1
        return retry_after if count > limit else None


def limit_for(role: str) -> int:
    s = get_settings()
    if role == "member":
        return s.rate_limit_member_per_minute
    if role == "anonymous":
        return s.rate_limit_anonymous_per_minute
    return s.rate_limit_key_per_minute
