"""Subscription jobs: renewal notices ahead of the date, dunning retries, the end of paused
periods, and paid memberships whose paid period ended (their tier grant is removed)."""

from __future__ import annotations

from datetime import datetime, timedelta

from domain.db import write_transaction
from domain.events.service import record_event
from domain.ledger.service import lock_member
from domain.settings import get_settings
from domain.subscriptions.models import Subscription
from domain.subscriptions.service import _log, _resume, payload
from domain.tiers.service import drop_to_qualified

BATCH = 500


async def _each(ids: list[int], work) -> int:  # noqa: ANN001
    done = 0
    for sub_id in ids:
        async with write_transaction():
            row = await Subscription.get(id=sub_id)
            member = await lock_member(row.member_id)
            sub = await Subscription.get(id=sub_id).prefetch_related("plan")  # re-read under the lock
            if await work(sub, member):
                await sub.save()
                done += 1
    return done


async def send_renewal_notices(now: datetime) -> int:
    horizon = now + timedelta(hours=get_settings().renewal_lead_hours)
    ids = await Subscription.filter(status="active", next_delivery_at__lte=horizon).limit(BATCH).values_list("id", flat=True)

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

    return await _each(list(ids), notify)


async def retry_past_due(now: datetime) -> int:
    ids = await Subscription.filter(status="past_due", next_retry_at__lte=now).limit(BATCH).values_list("id", flat=True)

    async def retry(sub: Subscription, member) -> bool:  # noqa: ANN001
        if sub.status != "past_due" or sub.next_retry_at is None or sub.next_retry_at > now:
            return False
        sub.next_retry_at = None  # one notice per retry; the storefront answers with an order or a failure
        await record_event("subscription.renewal_due", payload(sub, member, dueAt=now.isoformat(),
                           attempt=sub.failure_count + 1, retry=True), member.id)
        return True

    return await _each(list(ids), retry)


async def end_pauses(now: datetime) -> int:
    ids = await Subscription.filter(status="paused", paused_until__lte=now).limit(BATCH).values_list("id", flat=True)

    async def resume(sub: Subscription, member) -> bool:  # noqa: ANN001
        if sub.status != "paused" or sub.paused_until is None or sub.paused_until > now:
            return False
        await _resume(sub, member, "paused", "schedule")
        return True

    return await _each(list(ids), resume)


async def end_memberships(now: datetime) -> int:
    """A membership not renewed by the end of its paid period loses its tier grant then."""
    ids = await Subscription.filter(grant_active=True, paid_through__lte=now).limit(BATCH).values_list("id", flat=True)

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

    return await _each(list(ids), end)
