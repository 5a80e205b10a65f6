"""Chunked work inside a job, shared by every worker while the job has a backlog.

A job still runs once per period (its lease, domain/scheduler/lease.py), but its items are
claimed in chunks: on PostgreSQL each chunk is a short transaction that locks the due rows
with SELECT … FOR UPDATE SKIP LOCKED, so workers never take the same items. When the lease
holder finds a full chunk it opens the backlog (`job_states.backlog_until`); other workers
then join the run (JobRunner) and drain chunks too until none is left, so N workers clear a
backlog about N× faster. On SQLite (one process) the same code simply walks the chunks.

Locks are taken item rows first, then members with SKIP LOCKED: a chunk never waits for a
member that a request holds (that request may be waiting for one of our item rows), so a
chunk cannot deadlock. Items of a busy member (often: in another worker's chunk) are taken
again by a short second pass, else by the next run.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from domain.db import is_sqlite
from domain.ledger.service import lock_member
from domain.members.models import Member
from domain.scheduler import lease

CHUNK = 100  # items per transaction: short member locks, few round trips
# A chunk picks from the first CHUNK × this due ids: it comes back short (the run ends) only
# when more than 7 of 8 of them are locked by other workers' chunks at that moment.
CANDIDATE_CHUNKS = 8
PASSES = 3  # passes over the due rows while items are left because their member was busy
BUSY_PAUSE_SECONDS = 0.05  # before another pass: the other transaction commits meanwhile

# The lease of the run this task is the leader of (set by JobRunner); None for helpers.
leading: ContextVar[lease.Lease | None] = ContextVar("leading", default=None)


@dataclass
class Chunk:
    claimed: int  # rows taken in this chunk (a full chunk means: maybe more)
    done: int  # items actually processed
    last_id: int | None  # the keyset cursor for the next chunk
    busy: int = 0  # items left because another transaction held their member


async def claim(qs: Any, after_id: int) -> list[Any]:
    """The next chunk of due rows in id order, inside the caller's transaction.

    On PostgreSQL the due ids are read first, without ORDER BY … LIMIT, then the chunk is
    locked by primary key. Given `<due filter> ORDER BY id LIMIT 100`, PostgreSQL walks the
    primary key of the whole table whenever it overestimates the due rows (status and date
    are correlated): 5.5 s per chunk over 3M awards and 6.2 s over 4.9M ledger entries at
    1M members with 4 rows due (bench/scale.py). Read without an order, the due set comes
    from the job's partial index and costs what is due. The lock query keeps the due filter,
    so a row another worker finished meanwhile is not taken again."""
    qs = qs.filter(id__gt=after_id)
    if is_sqlite():
        return await qs.order_by("id").limit(CHUNK)
    ids = sorted(await qs.values_list("id", flat=True))[:CHUNK * CANDIDATE_CHUNKS]
    if not ids:
        return []
    return await qs.filter(id__in=ids).order_by("id").limit(CHUNK).select_for_update(skip_locked=True)


async def lock_member_if_free(member_id: int) -> Member | None:
    """The member row locked for this transaction, or None when another transaction holds it."""
    if is_sqlite():
        return await lock_member(member_id)  # writers are serialised already
    return await Member.filter(id=member_id).select_for_update(skip_locked=True).first()


async def drain(take: Callable[[int], Awaitable[Chunk]]) -> int:
    """Take chunks until one comes back short; the items done. The leader opens the backlog
    as soon as a chunk comes back full, so other workers join. Items left because their
    member was busy are looked for again in a later pass."""
    total, opened = 0, False
    for attempt in range(PASSES):
        after, busy = 0, 0
        while True:
            chunk = await take(after)
            total, busy = total + chunk.done, busy + chunk.busy
            if chunk.claimed < CHUNK or chunk.last_id is None:
                break
            run = leading.get()
            if run is not None and not opened:
                await lease.open_backlog(run)
                opened = True
            after = chunk.last_id
        if not busy:
            break
        await asyncio.sleep(BUSY_PAUSE_SECONDS * (attempt + 1))
    return total
