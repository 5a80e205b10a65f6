"""Read side of the ledger (no locks, no writes)."""

from __future__ import annotations

from datetime import timedelta

from tortoise.expressions import F
from tortoise.functions import Sum

from domain import clock
from domain.db import newest_first
from domain.ledger.models import Award, LedgerEntry


async def ledger_page(member_id: int, first: int, before_id: int | None) -> list[LedgerEntry]:
    """Newest first; one extra row tells whether there is a next page."""
    return await newest_first(LedgerEntry.filter(member_id=member_id), first, before_id)


async def expiring_soon(member_id: int, days: int) -> int:
    horizon = clock.now() + timedelta(days=days)
    row = (
        await LedgerEntry.filter(member_id=member_id, remaining__gt=0, expires_at__lte=horizon)
        .annotate(total=Sum("remaining"))
        .first()
        .values("total")
    )
    return int(row["total"] or 0) if row else 0


async def held_awards(member_id: int) -> list[Award]:
    """Held awards with something still pending: a fully refunded award has nothing to show."""
    return await Award.filter(member_id=member_id, status="held", reversed__lt=F("amount")).order_by("release_at", "id")


async def entries_sum(member_id: int) -> int:
    """The ledger's own total, to check the cached balance against (drift checks)."""
    row = await LedgerEntry.filter(member_id=member_id).annotate(total=Sum("amount")).first().values("total")
    return int(row["total"] or 0) if row else 0
