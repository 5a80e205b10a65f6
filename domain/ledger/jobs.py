"""Scheduled ledger work: releasing held awards and expiring lots.

Each item is handled in its own transaction under the member lock and re-checked there,
so any number of workers can run these at once without double effects.
"""

from __future__ import annotations

from datetime import datetime

from domain.db import write_transaction
from domain.ledger import service
from domain.ledger.models import Award, LedgerEntry

BATCH = 500


async def release_due(now: datetime) -> int:
    released = 0
    due = await Award.filter(status="held", release_at__lte=now).order_by("id").limit(BATCH)
    for candidate in due:
        async with write_transaction():
            member = await service.lock_member(candidate.member_id)
            record = await Award.get(id=candidate.id)
            if record.status != "held":
                continue
            await service.release(member, record)
            released += 1
    return released


async def expire_due(now: datetime) -> int:
    expired = 0
    due = (
        await LedgerEntry.filter(remaining__gt=0, expires_at__lte=now)
        .order_by("expires_at", "id")
        .limit(BATCH)
    )
    for candidate in due:
        async with write_transaction():
            member = await service.lock_member(candidate.member_id)
            lot = await LedgerEntry.get(id=candidate.id)
            if await service.expire_lot(member, lot):
                expired += 1
    return expired


async def release_member_now(member_id: int) -> int:
    """Admin approval: release a member's held awards before the window ends."""
    async with write_transaction():
        member = await service.lock_member(member_id)
        held = await Award.filter(member_id=member_id, status="held").order_by("id")
        for record in held:
            await service.release(member, record)
        return len(held)
