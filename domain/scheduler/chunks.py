"""Chunked work inside a job, shared by every worker while the job has a backlog.

A job still runs once per period (its lease, domain/scheduler/lease.py), but its items are
claimed in chunks: on PostgreSQL each chunk is a short transaction that locks the due rows
with SELECT … FOR UPDATE SKIP LOCKED, so workers never take the same items. When the lease
holder finds a full chunk it opens the backlog (`job_states.backlog_until`); other workers
then join the run (JobRunner) and drain chunks too until none is left, so N workers clear a
backlog about N× faster. On SQLite (one process) the same code simply walks the chunks.

Locks are taken item rows first, then members with SKIP LOCKED: a chunk never waits for a
member that a request holds (that request may be waiting for one of our item rows), so a
chunk cannot deadlock; an item of a busy member is left for a later run.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from domain.db import is_sqlite
from domain.ledger.service import lock_member
from domain.members.models import Member
from domain.scheduler import lease

CHUNK = 100  # items per transaction: short member locks, few round trips

# The lease of the run this task is the leader of (set by JobRunner); None for helpers.
leading: ContextVar[lease.Lease | None] = ContextVar("leading", default=None)


@dataclass
class Chunk:
    claimed: int  # rows taken in this chunk (a full chunk means: maybe more)
    done: int  # items actually processed
    last_id: int | None  # the keyset cursor for the next chunk


async def claim(qs: Any, after_id: int) -> list[Any]:
    """The next chunk of due rows in id order, inside the caller's transaction."""
    qs = qs.filter(id__gt=after_id).order_by("id").limit(CHUNK)
    return await (qs if is_sqlite() else qs.select_for_update(skip_locked=True))


async def lock_member_if_free(member_id: int) -> Member | None:
    """The member row locked for this transaction, or None when another transaction holds it."""
    if is_sqlite():
        return await lock_member(member_id)  # writers are serialised already
    return await Member.filter(id=member_id).select_for_update(skip_locked=True).first()


async def drain(take: Callable[[int], Awaitable[Chunk]]) -> int:
    """Take chunks until one comes back short; the items done. The leader opens the backlog
    as soon as a chunk comes back full, so other workers join."""
    after, total, opened = 0, 0, False
    while True:
        chunk = await take(after)
        total += chunk.done
        if chunk.claimed < CHUNK or chunk.last_id is None:
            return total
        run = leading.get()
        if run is not None and not opened:
            await lease.open_backlog(run)
            opened = True
        after = chunk.last_id
