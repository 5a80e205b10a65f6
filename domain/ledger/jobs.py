"""Scheduled ledger work: releasing held awards and expiring lots.

Both read only what is due, by indexed columns (awards: status + release_at; lots:
expires_at), in chunks shared by every worker (domain/scheduler/chunks.py): each chunk
locks its rows with SKIP LOCKED, so no item is handled twice, then the members (skipping
busy ones, left for a later run).
"""

from __future__ import annotations

from datetime import datetime

from domain.db import write_transaction
from domain.ledger import service
from domain.ledger.models import Award, LedgerEntry
from domain.scheduler import chunks


async def release_due(now: datetime) -> int:
    async def take(after: int) -> chunks.Chunk:
        released, busy = 0, 0
        async with write_transaction():
            due = await chunks.claim(Award.filter(status="held", release_at__lte=now), after)
            for record in due:  # locked by this chunk: nobody changed it since it was read
                member = await chunks.lock_member_if_free(record.member_id)
                if member is None:
                    busy += 1
                    continue
                await service.release(member, record)
                released += 1
        return chunks.Chunk(len(due), released, due[-1].id if due else None, busy)

    return await chunks.drain(take)


async def expire_due(now: datetime) -> int:
    async def take(after: int) -> chunks.Chunk:
        expired, busy = 0, 0
        async with write_transaction():
            due = await chunks.claim(LedgerEntry.filter(remaining__gt=0, expires_at__lte=now), after)
            for lot in due:
                member = await chunks.lock_member_if_free(lot.member_id)
                if member is None:
                    busy += 1
                elif await service.expire_lot(member, lot):
                    expired += 1
        return chunks.Chunk(len(due), expired, due[-1].id if due else None, busy)

    return await chunks.drain(take)


async def release_member_now(member_id: int) -> int:
    """Admin approval: release a member's held awards before the window ends."""
    async with write_transaction():
        member = await service.lock_member(member_id)
        held = await Award.filter(member_id=member_id, status="held").order_by("id")
        for record in held:
            await service.release(member, record)
        return len(held)
