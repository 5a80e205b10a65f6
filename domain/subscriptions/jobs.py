"""Subscription jobs: renewal notices ahead of the date, dunning retries, the end of paused
periods, and paid memberships whose paid period ended (their tier grant is removed)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from tortoise.expressions import F, Q

from domain.db import write_transaction
from domain.events.service import record_event
from domain.scheduler import chunks
from domain.settings import get_settings
from domain.subscriptions.models import Subscription
from domain.subscriptions.service import _log, _resume, payload
from domain.tiers.service import drop_to_qualified

async def _each(due: Any, work) -> int:  # noqa: ANN001
    """Run `work` on every due subscription, in chunks shared by all workers (each chunk locks
    its rows with SKIP LOCKED, then the members, skipping busy ones for a later run); work
    re-checks the row, since the filter was evaluated before the lock."""
    async def take(after: int) -> chunks.Chunk:
        done, busy = 0, 0
        async with write_transaction():
            rows = await chunks.claim(due, after)
            for row in rows:
                member = await chunks.lock_member_if_free(row.member_id)
                if member is None:
                    busy += 1
                    continue
                sub = await Subscription.get(id=row.id).prefetch_related("plan")  # under both locks
                if await work(sub, member):
                    await sub.save()
                    done += 1
        return chunks.Chunk(len(rows), done, rows[-1].id if rows else None, busy)

    return await chunks.drain(take)


async def send_renewal_notices(now: datetime) -> int:
    horizon = now + timedelta(hours=get_settings().renewal_lead_hours)
    # Only rows whose notice for this delivery date is not sent yet.
    due = Subscription.filter(status="active", next_delivery_at__lte=horizon).filter(
        Q(renewal_notice_for__isnull=True) | Q(renewal_notice_for__not=F("next_delivery_at")))

    async def notify(sub: Subscription, member) -> bool:  # noqa: ANN001
        if sub.status != "active" or sub.renewal_notice_for == sub.next_delivery_at:
            return False
        sub.renewal_notice_for = sub.next_delivery_at
        discount = sub.discount_percent_override if sub.discount_percent_override is not None else sub.plan.discount_percent
        amount = sub.plan.price * (100 - discount) // 100
        await record_event("subscription.renewal_due", payload(sub, member, dueAt=sub.next_delivery_at.isoformat(),
                           amount={"amount": amount, "currency": sub.plan.currency}, discountPercent=discount,
                           attempt=sub.failure_count + 1), member.id)
        return True

    return await _each(due, notify)


async def retry_past_due(now: datetime) -> int:
    due = Subscription.filter(status="past_due", next_retry_at__lte=now)

    async def retry(sub: Subscription, member) -> bool:  # noqa: ANN001
        if sub.status != "past_due" or sub.next_retry_at is None or sub.next_retry_at > now:
            return False
        sub.next_retry_at = None  # one notice per retry; the storefront answers with an order or a failure
        await record_event("subscription.renewal_due", payload(sub, member, dueAt=now.isoformat(),
                           attempt=sub.failure_count + 1, retry=True), member.id)
        return True

    return await _each(due, retry)


async def end_pauses(now: datetime) -> int:
    due = Subscription.filter(status="paused", paused_until__lte=now)

    async def resume(sub: Subscription, member) -> bool:  # noqa: ANN001
        if sub.status != "paused" or sub.paused_until is None or sub.paused_until > now:
            return False
        await _resume(sub, member, "paused", "schedule")
        return True

    return await _each(due, resume)


async def end_memberships(now: datetime) -> int:
    """A membership not renewed by the end of its paid period loses its tier grant then."""
    due = Subscription.filter(grant_active=True, paid_through__lte=now)

    async def end(sub: Subscription, member) -> bool:  # noqa: ANN001
        if not sub.grant_active or sub.paid_through is None or sub.paid_through > now:
            return False
        sub.grant_active = False
        before = sub.status
        if sub.status in ("active", "past_due"):
            sub.status = "expired"
        await sub.save()
        await _log(sub, member, "membership_ended", before, "schedule", "expired" if sub.status == "expired" else None,
                   paidThrough=sub.paid_through.isoformat())
        await drop_to_qualified(member, f"Paid membership {sub.plan.name} ended")
        return True

    return await _each(due, end)
