"""A change counter: it grows after every committed write.

Caches of public data (whole GraphQL responses, the store-wide rating mean) remember the
counter value they were computed at and are used only while it has not moved. With
REDIS_URL the counter lives in Redis, so a write in one API process invalidates the
caches of all of them; otherwise it is a number in this process (the embedded default).
"""

from __future__ import annotations

import asyncio

import redis.asyncio as redis

from domain.settings import get_settings

KEY = "patron:changes"
PROGRAM_KEY = "patron:program"  # moves only when program settings (tiers, rules) change
_local = 0
_program_local = 0
_client: redis.Redis | None = None
_client_key: tuple[str, int] | None = None


def _redis() -> redis.Redis | None:
    """One client per URL and event loop (a client's connections belong to the loop that
    opened them; tests and CLI commands run several loops in one process)."""
    global _client, _client_key
    url = get_settings().redis_url
    if not url:
        return None
    key = (url, id(asyncio.get_running_loop()))
    if _client is None or _client_key != key:
        _client, _client_key = redis.from_url(url, socket_connect_timeout=2), key
    return _client


async def current() -> int:
    client = _redis()
    if client is None:
        return _local
    value = await client.get(KEY)
    return int(value or 0)


async def bump() -> None:
    global _local
    _local += 1
    client = _redis()
    if client is not None:
        await client.incr(KEY)


async def bump_program() -> None:
    """Tiers or earning rules changed: memoised program settings must be re-read."""
    global _program_local
    _program_local += 1
    client = _redis()
    if client is not None:
        await client.incr(PROGRAM_KEY)


async def program_version() -> int:
    client = _redis()
    if client is None:
        return _program_local
    return int(await client.get(PROGRAM_KEY) or 0)


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
