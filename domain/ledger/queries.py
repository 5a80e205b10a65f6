"""Read side of the ledger (no locks, no writes)."""

from __future__ import annotations

from datetime import timedelta

from tortoise.expressions import F
from tortoise.functions import Sum

from domain import clock
from domain.ledger.models import Award, LedgerEntry
from domain.pagination import NEWEST_ID, Page, PageRequest, keyset_page


async def ledger_page(member_id: int, request: PageRequest) -> Page[LedgerEntry]:
    """Newest first. Counted: one member's entries are one indexed COUNT on a small set."""
    qs = LedgerEntry.filter(member_id=member_id)
    return await keyset_page(qs, NEWEST_ID, request, count=qs.count)


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
