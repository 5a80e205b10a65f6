"""Change counters: they grow after every committed write.

Caches of public data (whole GraphQL responses, the store-wide rating mean) remember the
counter values they were computed at and are used only while they have not moved. With
REDIS_URL the counters live in Redis, so a write in one API process invalidates the
caches of all of them; otherwise they are numbers in this process (the embedded default).

`current()` is the counter every write moves. Tag counters are finer: a write transaction
that calls `touch(*tags)` moves only those tags (e.g. `product:12`, `rewards`; `touch()`
with no tag says the transaction changes nothing public, such as a points change); one that
never calls it moves the tag `all`, which every tagged cache entry also depends on. Reads
say which tags they depend on with `reading(*tags)` while a collector is open
(`collect()`); a read that cannot name its tags depends on `ANY`, i.e. on every write.
A member's cached own reads (schema/member_cache.py) depend on `member:<externalId>`, `all`
and `members`: a write moves `members` unless its own code named, with `touch_member`, every
member whose points, ledger or tier it changes.

When Redis fails (domain/redis_client.py) the counter reads as a value never seen before,
so no cache is served from a version nobody can check, and a bump still moves the
local counter; nothing here raises because Redis is unwell.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import itertools
from collections.abc import Iterable, Iterator

import redis.asyncio as redis

from domain import redis_client
from domain.settings import get_settings

KEY = "patron:changes"
PROGRAM_KEY = "patron:program"  # moves only when program settings (tiers, rules) change
TAG_PREFIX = "patron:tag:"
ALL = "all"  # moved by every write that did not name its tags
ANY = "*"  # a read that depends on every write (the counter behind current())
_local = 0
_tags_local: dict[str, int] = {}
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
    await committed(None)


# --- tags ----------------------------------------------------------------------------------

class Touched:
    """What one write transaction said it changes. Only the outermost transaction's own code
    can narrow it: a service that declares its tags but runs joined inside another
    transaction (depth > 0) adds them, and the outer one still moves `all` unless it
    declared too (an erasure that deletes a review must not narrow to that review's product).
    The same holds for the members it changes (`touch_member`): undeclared, it moves `members`."""

    __slots__ = ("tags", "declared", "members_declared", "depth")

    def __init__(self) -> None:
        self.tags: set[str] = set()
        self.declared = False
        self.members_declared = False
        self.depth = 0


_touched: contextvars.ContextVar[Touched | None] = contextvars.ContextVar("patron_touched", default=None)
_reads: contextvars.ContextVar[set[str] | None] = contextvars.ContextVar("patron_reads", default=None)


def begin_write() -> contextvars.Token:
    """Called by db.write_transaction when it opens a transaction."""
    return _touched.set(Touched())


@contextlib.contextmanager
def joined_write() -> Iterator[None]:
    """A write_transaction() joining an outer one: touches inside it do not narrow the outer."""
    touched = _touched.get()
    if touched is None:
        yield
        return
    touched.depth += 1
    try:
        yield
    finally:
        touched.depth -= 1


def end_write(token: contextvars.Token) -> set[str] | None:
    """The tags the transaction touched (None: its own code never said, so `all`; `members`
    unless it named the members it changes with touch_member)."""
    touched = _touched.get()
    _touched.reset(token)
    if touched is None or not touched.declared:
        return None
    return touched.tags if touched.members_declared else touched.tags | {MEMBERS}


def touch(*tags: str) -> None:
    """Inside a write transaction: the public data it changes is (at most) these tags; the
    caller vouches for everything the transaction writes (a nested service that writes
    other public data must touch its own tags). No tag: nothing public changes. Outside a
    transaction it does nothing (the write that follows bumps `all`)."""
    touched = _touched.get()
    if touched is None:
        return
    touched.declared = touched.declared or touched.depth == 0
    touched.tags.update(tags)


def touch_member(external_id: str) -> None:
    """Inside a write transaction: of what a member's own cached reads show (their points,
    ledger and tier: schema/member_cache.py), the transaction changes only this member's
    (call once per member). Undeclared, a write moves `members`, on which every member's
    cached reads depend. Like touch(), only the outermost transaction's code narrows, and a
    write that calls it must also say what public data it changes with touch()."""
    touched = _touched.get()
    if touched is None:
        return
    touched.members_declared = touched.members_declared or touched.depth == 0
    touched.tags.add(member_tag(external_id))


def member_tag(external_id: str) -> str:
    """One member's own data (points, ledger, tier) as their member-scoped cached reads show it."""
    return f"member:{external_id}"


MEMBERS = "members"  # moved by every write that did not name the members it changes


def product_tag(product_id: int) -> str:
    """A product's public page: its row, summary, published reviews, media, replies and Q&A."""
    return f"product:{product_id}"


REVIEWS = "reviews"  # any product's reviews (the store-wide mean behind bayesianAverage)
REWARDS = "rewards"  # the public rewards catalog (stock moves on redemption)


def collect() -> tuple[set[str], contextvars.Token]:
    """Open a collector of read tags for the code that runs next in this context."""
    tags: set[str] = set()
    return tags, _reads.set(tags)


def stop_collecting(token: contextvars.Token) -> None:
    _reads.reset(token)


def collecting() -> bool:
    return _reads.get() is not None


def reading(*tags: str) -> None:
    """The data being read is invalidated by writes to these tags (nothing when no collector
    is open: only cached public responses collect)."""
    reads = _reads.get()
    if reads is not None:
        reads.update(tags)


def _keys(tags: Iterable[str]) -> list[str]:
    return [KEY if t == ANY else TAG_PREFIX + t for t in tags]


async def versions(tags: Iterable[str]) -> tuple[int, ...]:
    """The current counters of `tags` (ANY: the every-write counter), in one Redis round trip."""
    tags = list(tags)
    if not get_settings().redis_url:
        return tuple(_local if t == ANY else _tags_local.get(t, 0) for t in tags)
    client = _usable()
    if client is not None:
        try:
            return tuple(int(v or 0) for v in await client.mget(_keys(tags)))
        except redis_client.FAILURES as exc:
            redis_client.failed(get_settings().redis_url or "", "read tags", exc)
    return tuple(next(_unknown) for _ in tags)


async def committed(tags: set[str] | None) -> None:
    """After a commit: move the every-write counter and the tags (None: `all`) together (one
    MULTI in Redis, so a reader never sees some of them moved and not the others)."""
    global _local
    moved = [ALL] if tags is None else sorted(tags)
    _local += 1
    for tag in moved:
        _tags_local[tag] = _tags_local.get(tag, 0) + 1
    client = _usable()
    if client is not None:
        try:
            async with client.pipeline(transaction=True) as pipe:
                for key in [KEY, *_keys(moved)]:
                    pipe.incr(key)
                await pipe.execute()
        except redis_client.FAILURES as exc:  # other processes' caches expire by max age
            redis_client.failed(get_settings().redis_url or "", "incr tags", exc)


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
