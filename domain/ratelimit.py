"""Request rate limits per caller: fixed one-minute windows, in Redis when REDIS_URL is set
(shared by every API process), in this process's memory otherwise.

When Redis fails or is slow, the count is kept in this process's memory instead (a
logged warning, see domain/redis_client.py): limits stay per process, and a request is
never refused or failed because Redis is unwell."""

from __future__ import annotations

import time

from domain import changes, redis_client
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
        count = await self._shared_count(identity, window)
        if count is None:
            if window != self._window:
                self._counts, self._window = {}, window
            count = self._counts[identity] = self._counts.get(identity, 0) + 1
        return retry_after if count > limit else None

    @staticmethod
    async def _shared_count(identity: str, window: int) -> int | None:
        """The count in Redis, or None without Redis (unset, or failing right now)."""
        client = changes._usable()
        if client is None:
            return None
        key = f"patron:rl:{identity}:{window}"
        try:
            async with client.pipeline(transaction=True) as pipe:
                count, _ = await pipe.incr(key).expire(key, WINDOW + 1).execute()
        except redis_client.FAILURES as exc:
            redis_client.failed(get_settings().redis_url or "", "rate limit", exc)
            return None
        return int(count)


def limit_for(role: str) -> int:
    s = get_settings()
    if role == "member":
        return s.rate_limit_member_per_minute
    if role == "anonymous":
        return s.rate_limit_anonymous_per_minute
    return s.rate_limit_key_per_minute
