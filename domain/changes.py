"""A change counter: it grows after every committed write.

Caches of public data (whole GraphQL responses, the store-wide rating mean) remember the
counter value they were computed at and are used only while it has not moved. With
REDIS_URL the counter lives in Redis, so a write in one API process invalidates the
caches of all of them; otherwise it is a number in this process (the embedded default).

When Redis fails (domain/redis_client.py) the counter reads as a value never seen before,
so no cache is served from a version nobody can check, and a bump still moves the
local counter; nothing here raises because Redis is unwell.
"""

from __future__ import annotations

import asyncio
import itertools

import redis.asyncio as redis

from domain import redis_client
from domain.settings import get_settings

KEY = "patron:changes"
PROGRAM_KEY = "patron:program"  # moves only when program settings (tiers, rules) change
_local = 0
_program_local = 0
_client: redis.Redis | None = None
_client_key: tuple[str, int] | None = None
_unknown = itertools.count(-1, -1)  # versions that match no cache entry


def _redis() -> redis.Redis | None:
    """One client per URL and event loop (a client's connections belong to the loop that
    opened them; tests and CLI commands run several loops in one process)."""
    global _client, _client_key
    url = get_settings().redis_url
    if not url:
        return None
    key = (url, id(asyncio.get_running_loop()))
    if _client is None or _client_key != key:
        _client, _client_key = redis_client.make_client(url), key
    return _client


def _usable() -> redis.Redis | None:
    """The client unless Redis is unset or in its cool-down after a failure."""
    url = get_settings().redis_url
    return _redis() if url and redis_client.available(url) else None


async def _read(key: str, local: int) -> int:
    if not get_settings().redis_url:
        return local
    client = _usable()
    if client is not None:
        try:
            return int(await client.get(key) or 0)
        except redis_client.FAILURES as exc:
            redis_client.failed(get_settings().redis_url or "", f"read {key}", exc)
    return next(_unknown)


async def _incr(key: str) -> None:
    client = _usable()
    if client is not None:
        try:
            await client.incr(key)
        except redis_client.FAILURES as exc:  # other processes' caches expire by max age
            redis_client.failed(get_settings().redis_url or "", f"incr {key}", exc)


async def current() -> int:
    return await _read(KEY, _local)


async def bump() -> None:
    global _local
    _local += 1
    await _incr(KEY)


async def bump_program() -> None:
    """Tiers or earning rules changed: memoised program settings must be re-read."""
    global _program_local
    _program_local += 1
    await _incr(PROGRAM_KEY)


async def program_version() -> int:
    return await _read(PROGRAM_KEY, _program_local)


async def close() -> None:
    global _client
    if _client is not None:
        await _client.aclose()
        _client = None


_memo: dict[str, tuple[int, object]] = {}


async def memo(name: str, load):  # noqa: ANN001, ANN201
    """A value loaded once per program version (tiers and rules are read on every order but
    change rarely, always through save_tier/save_rule, which bump the program counter)."""
    version = await program_version()
    hit = _memo.get(name)
    if hit is not None and hit[0] == version:
        return hit[1]
    value = await load()
    _memo[name] = (version, value)
    return value
