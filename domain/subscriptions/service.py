"""Subscriptions and paid memberships: an explicit state machine, renewals, dunning.

Payment stays with the commerce platform: Patron says `subscription.renewal_due`, the
storefront answers with `recordOrder(subscriptionId)` (renewed) or `recordRenewalFailure`.
Every action is checked against ALLOWED before anything changes; an illegal one is a typed
INVALID_TRANSITION error and writes nothing.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from domain import clock
from domain.db import write_transaction
from domain.errors import DomainError, InvalidInput, NotFound
from domain.events.service import record_event
from domain.ledger.service import lock_member
from domain.members.models import Member
from domain.members.service import get_member
from domain.rules import service as rules
from domain.settings import get_settings
from domain.subscriptions.models import Subscription, SubscriptionChange, SubscriptionPlan
from domain.tiers.models import Tier
from domain.tiers.service import evaluate_upgrade

UNITS = ("DAY", "WEEK", "MONTH")
KINDS = ("PRODUCT", "MEMBERSHIP")
CANCEL_REASONS = ("TOO_EXPENSIVE", "TOO_MUCH_PRODUCT", "NOT_USING", "QUALITY", "SHIPPING", "SWITCHED_BRAND", "OTHER")
OFFER_TYPES = ("SKIP_NEXT", "DISCOUNT", "PAUSE")
ALLOWED: dict[str, set[str]] = {
    "pause": {"active"},
    "resume": {"paused"},
    "skip": {"active"},
    "unskip": {"active"},
    "swap": {"active", "paused"},
    "change_interval": {"active", "paused"},
    "reschedule": {"active"},
    "cancel": {"active", "paused", "past_due"},
    "accept_offer": {"active", "paused", "past_due"},
    "renew": {"active", "past_due"},
    "fail": {"active", "past_due"},
}


def add_interval(when: datetime, unit: str, count: int) -> datetime:
    if unit == "DAY":
        return when + timedelta(days=count)
    if unit == "WEEK":
        return when + timedelta(weeks=count)
    month = when.month - 1 + count
    year, month = when.year + month // 12, month % 12 + 1
    return when.replace(year=year, month=month, day=min(when.day, calendar.monthrange(year, month)[1]))


# The typed shape of a retention offer: each type's fields as (minimum, maximum, required).
OFFER_FIELDS: dict[str, dict[str, tuple[int, int, bool]]] = {
    "SKIP_NEXT": {},
    "DISCOUNT": {"percent": (1, 100, True), "cycles": (1, 24, False)},
    "PAUSE": {"days": (1, 365, True)},
}
MAX_SKUS = 100
MAX_PERKS = 50


def _whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def validate_offers(offers: Any, paths: dict[str, str] | None = None) -> dict[str, dict[str, Any]]:
    """Check retention offers against OFFER_FIELDS; every error names its path, e.g.
    retentionOffers.TOO_EXPENSIVE.percent (`paths` maps a reason to another input path, for
    the typed list). Returns the offers as stored."""
    if not isinstance(offers, dict):
        raise InvalidInput("retentionOffers maps a cancel reason to an offer object", "retentionOffers")
    clean: dict[str, dict[str, Any]] = {}
    for reason, offer in offers.items():
        path = (paths or {}).get(reason) or f"retentionOffers.{reason}"
        if reason not in CANCEL_REASONS:
            raise InvalidInput(f"Unknown cancel reason; use one of {', '.join(CANCEL_REASONS)}", path)
        if not isinstance(offer, dict):
            raise InvalidInput("An offer is an object such as {\"type\": \"SKIP_NEXT\"}", path)
        kind = offer.get("type")
        if not isinstance(kind, str) or kind not in OFFER_TYPES:
            raise InvalidInput(f"type must be one of {', '.join(OFFER_TYPES)}", f"{path}.type")
        spec = OFFER_FIELDS[kind]
        for name in offer:
            if name != "type" and name not in spec:
                raise InvalidInput(f"A {kind} offer has no field {name!r}", f"{path}.{str(name)[:50]}")
        clean[reason] = {"type": kind}
        for name, (low, high, required) in spec.items():
            if name not in offer:
                if required:
                    raise InvalidInput(f"A {kind} offer needs {name} ({low} to {high})", f"{path}.{name}")
                continue
            value = offer[name]
            if not _whole(value) or not low <= value <= high:
                raise InvalidInput(f"{name} must be a whole number from {low} to {high}", f"{path}.{name}")
            clean[reason][name] = value
    return clean


def _text_list(values: Any, field: str, most: int, longest: int) -> None:
    if not isinstance(values, list) or len(values) > most:
        raise InvalidInput(f"{field} is a list of at most {most} items", field)
    for i, item in enumerate(values):
        if not isinstance(item, str) or not item.strip() or len(item) > longest or "\x00" in item:
            raise InvalidInput(f"Each item is 1 to {longest} characters", f"{field}.{i}")


def _validate_plan(values: dict[str, Any]) -> None:
    name = values.get("name") or ""
    if not name.strip() or len(name) > 200:
        raise InvalidInput("A name of 1 to 200 characters is required", "name")
    if values.get("kind") not in KINDS:
        raise InvalidInput(f"kind must be one of {', '.join(KINDS)}", "kind")
    if values.get("interval_unit") not in UNITS:
        raise InvalidInput(f"intervalUnit must be one of {', '.join(UNITS)}", "intervalUnit")
    if not 1 <= (values.get("interval_count") or 0) <= 365:
        raise InvalidInput("intervalCount must be 1 to 365", "intervalCount")
    if values.get("price") is None or values["price"] < 0:
        raise InvalidInput("price (minor units, 0 or more) is required", "price")
    currency = values.get("currency") or ""
    if len(currency) != 3 or not currency.isascii() or not currency.isalpha():
        raise InvalidInput("currency must be an ISO 4217 code such as USD", "currency")
    if not 0 <= (values.get("discount_percent") or 0) <= 100:
        raise InvalidInput("discountPercent must be 0 to 100", "discountPercent")
    if not 0 <= (values.get("trial_days") or 0) <= 365:
        raise InvalidInput("trialDays must be 0 to 365", "trialDays")
    _text_list(values.get("skus") or [], "skus", MAX_SKUS, 255)
    _text_list(values.get("perks") or [], "perks", MAX_PERKS, 200)
    if values.get("kind") == "PRODUCT" and not values.get("skus"):
        raise InvalidInput("A product plan needs at least one sku", "skus")
    if values.get("cycles") is not None and not 1 <= values["cycles"] <= 1000:
        raise InvalidInput("cycles must be 1 to 1000", "cycles")
    values["retention_offers"] = validate_offers(values.get("retention_offers") or {})


PLAN_FIELDS = ("name", "kind", "skus", "interval_unit", "interval_count", "price", "currency", "discount_percent",
               "cycles", "trial_days", "grants_tier_id", "perks", "retention_offers", "active")


async def save_plan(plan_id: int | None, values: dict[str, Any]) -> SubscriptionPlan:
    if values.get("currency"):
        values["currency"] = values["currency"].upper()
    if values.get("grants_tier_id") is not None and not await Tier.exists(id=values["grants_tier_id"]):
        raise NotFound("No such tier", "grantsTierId", code="TIER_NOT_FOUND")
    async with write_transaction():
        if plan_id is None:
            merged = {"discount_percent": 0, "trial_days": 0, "skus": [], "perks": [], "retention_offers": {}, **values}
            _validate_plan(merged)
            return await SubscriptionPlan.create(**merged, created_at=clock.now())
        plan = await SubscriptionPlan.get_or_none(id=plan_id)
        if plan is None:
            raise NotFound("No such plan", "id", code="PLAN_NOT_FOUND")
        merged = {name: getattr(plan, name) for name in PLAN_FIELDS} | values
        _validate_plan(merged)
        if "retention_offers" in values:
            values["retention_offers"] = merged["retention_offers"]
        await plan.update_from_dict(values).save()
        return plan


def payload(sub: Subscription, member: Member | None = None, **extra: Any) -> dict[str, Any]:
    return {"subscriptionId": sub.id, "planId": sub.plan_id, "memberExternalId": member.external_id if member else None,
            "status": sub.status, "sku": sub.sku, "nextDeliveryAt": sub.next_delivery_at.isoformat(),
            "interval": {"unit": sub.interval_unit, "count": sub.interval_count}, **extra}


async def _log(sub: Subscription, member: Member, action: str, before: str | None, actor: str, event: str | None,
               **details: Any) -> None:
    await SubscriptionChange.create(subscription_id=sub.id, action=action, from_status=before, to_status=sub.status,
                                    details=details, actor=actor, created_at=clock.now())
    if event:
        await record_event(f"subscription.{event}", payload(sub, member, **details), member.id)


async def subscribe(member_external_id: str, plan_id: int, sku: str | None, actor: str) -> Subscription:
    plan = await SubscriptionPlan.get_or_none(id=plan_id)
    if plan is None or not plan.active:
        raise NotFound("No such plan", "planId", code="PLAN_NOT_FOUND")
    if plan.kind == "PRODUCT":
        sku = sku or plan.skus[0]
        if sku not in plan.skus:
            raise InvalidInput(f"sku must be one of the plan's: {', '.join(plan.skus)}", "sku")
    member_row = await get_member(member_external_id)
    async with write_transaction():
        member = await lock_member(member_row.id)
        now = clock.now()
        trial_end = now + timedelta(days=plan.trial_days) if plan.trial_days else None
        first = trial_end or add_interval(now, plan.interval_unit, plan.interval_count)
        sub = await Subscription.create(
            member_id=member.id, plan_id=plan.id, status="active", sku=sku if plan.kind == "PRODUCT" else None,
            interval_unit=plan.interval_unit, interval_count=plan.interval_count, next_delivery_at=first,
            trial_ends_at=trial_end, paid_through=first if plan.kind == "MEMBERSHIP" else None,
            grant_active=plan.kind == "MEMBERSHIP" and plan.grants_tier_id is not None,
            created_at=now, updated_at=now,
        )
        await _log(sub, member, "subscribe", None, actor, "created", planName=plan.name)
        if sub.grant_active:
            await evaluate_upgrade(member, f"subscribing to {plan.name}")
        return sub


async def _owned(sub_id: int, member_external_id: str | None) -> Subscription:
    sub = await Subscription.get_or_none(id=sub_id).prefetch_related("member")
    if sub is None or (member_external_id is not None and sub.member.external_id != member_external_id):
        raise NotFound("No such subscription", "subscriptionId", code="SUBSCRIPTION_NOT_FOUND")
    return sub


async def act(sub_id: int, member_external_id: str | None, action: str, actor: str, **args: Any) -> tuple[Subscription, dict[str, Any] | None]:
    """Run one self-service action. Returns the subscription and, for a cancel, the offer."""
    found = await _owned(sub_id, member_external_id)
    async with write_transaction():
        member = await lock_member(found.member_id)
        sub = await Subscription.get(id=sub_id).prefetch_related("plan")
        if sub.status not in ALLOWED[action]:
            raise DomainError(f"Cannot {action.replace('_', ' ')} a {sub.status.replace('_', ' ')} subscription",
                              "subscriptionId", code="INVALID_TRANSITION")
        before = sub.status
        offer = await ACTIONS[action](sub, member, before, actor, **args)
        sub.updated_at = clock.now()
        await sub.save()
        return sub, offer


async def _pause(sub: Subscription, member: Member, before: str, actor: str, until: datetime) -> None:
    now, until = clock.now(), clock.as_utc(until, "until")
    if until <= now or until > now + timedelta(days=366):
        raise InvalidInput("until must be in the next 12 months", "until")
    sub.status, sub.paused_until = "paused", until
    await _log(sub, member, "pause", before, actor, "paused", until=until.isoformat())


async def _resume(sub: Subscription, member: Member, before: str, actor: str) -> None:
    sub.status, sub.paused_until = "active", None
    if sub.next_delivery_at <= clock.now():
        sub.next_delivery_at = add_interval(clock.now(), sub.interval_unit, sub.interval_count)
    await _log(sub, member, "resume", before, actor, "resumed")


async def _skip(sub: Subscription, member: Member, before: str, actor: str) -> None:
    sub.skipped_from = sub.next_delivery_at
    sub.next_delivery_at = add_interval(sub.next_delivery_at, sub.interval_unit, sub.interval_count)
    await _log(sub, member, "skip", before, actor, "skipped", skipped=sub.skipped_from.isoformat())


async def _unskip(sub: Subscription, member: Member, before: str, actor: str) -> None:
    if sub.skipped_from is None or sub.skipped_from <= clock.now():
        raise DomainError("There is no skipped delivery to restore", "subscriptionId", code="INVALID_TRANSITION")
    sub.next_delivery_at, sub.skipped_from = sub.skipped_from, None
    await _log(sub, member, "unskip", before, actor, "unskipped")


async def _swap(sub: Subscription, member: Member, before: str, actor: str, sku: str) -> None:
    if sub.plan.kind != "PRODUCT" or sku not in sub.plan.skus:
        raise InvalidInput(f"sku must be one of the plan's: {', '.join(sub.plan.skus)}", "sku")
    old, sub.sku = sub.sku, sku
    await _log(sub, member, "swap", before, actor, "swapped", fromSku=old, toSku=sku)


async def _change_interval(sub: Subscription, member: Member, before: str, actor: str, unit: str, count: int) -> None:
    if unit not in UNITS or not 1 <= count <= 365:
        raise InvalidInput("interval must be 1-365 DAY/WEEK/MONTH", "interval")
    sub.interval_unit, sub.interval_count = unit, count
    await _log(sub, member, "change_interval", before, actor, "interval_changed")


async def _reschedule(sub: Subscription, member: Member, before: str, actor: str, date: datetime) -> None:
    now, date = clock.now(), clock.as_utc(date, "date")
    if date <= now or date > now + timedelta(days=366):
        raise InvalidInput("The date must be in the next 12 months", "date")
    old, sub.next_delivery_at, sub.skipped_from = sub.next_delivery_at, date, None
    await _log(sub, member, "reschedule", before, actor, "rescheduled", previous=old.isoformat())


async def _cancel(sub: Subscription, member: Member, before: str, actor: str, reason: str, comment: str | None,
                  confirm: bool) -> dict[str, Any] | None:
    if reason not in CANCEL_REASONS:
        raise InvalidInput(f"reason must be one of {', '.join(CANCEL_REASONS)}", "reason")
    if comment and (len(comment) > 1000 or "\x00" in comment):
        raise InvalidInput("comment is at most 1000 characters of text", "comment")
    offer = (sub.plan.retention_offers or {}).get(reason)
    if offer and await _offer_used_up(sub, reason):
        offer = None  # already taken as often as allowed: nothing left to offer, the cancel goes ahead
    if offer and not confirm:
        return offer  # shown to the member first; nothing changes until they confirm or accept
    sub.status, sub.cancel_reason, sub.cancel_comment, sub.cancelled_at = "cancelled", reason, comment, clock.now()
    await _log(sub, member, "cancel", before, actor, "cancelled", reason=reason, comment=comment,
               retentionOffer=offer, paidThrough=sub.paid_through.isoformat() if sub.paid_through else None)
    return offer


async def _offer_used_up(sub: Subscription, reason: str) -> bool:
    """Whether this subscription took this reason's offer PATRON_RETENTION_OFFER_LIMIT times
    (0 = no limit). Counted from the history, read under the member lock `act` holds."""
    limit = get_settings().retention_offer_limit
    if limit <= 0:
        return False
    taken = await SubscriptionChange.filter(subscription_id=sub.id, action="accept_offer").values_list("details", flat=True)
    return sum(1 for details in taken if (details or {}).get("reason") == reason) >= limit


async def _accept_offer(sub: Subscription, member: Member, before: str, actor: str, reason: str) -> dict[str, Any]:
    offer = (sub.plan.retention_offers or {}).get(reason)
    if not offer:
        raise DomainError("There is no offer for this reason", "reason", code="INVALID_TRANSITION")
    if await _offer_used_up(sub, reason):
        raise DomainError("This subscription has already taken the offer for this reason", "acceptRetentionOffer",
                          code="OFFER_ALREADY_USED")
    if offer["type"] == "SKIP_NEXT" and sub.status == "active":
        await _skip(sub, member, before, actor)
    elif offer["type"] == "DISCOUNT":
        sub.discount_percent_override, sub.discount_cycles_left = int(offer["percent"]), int(offer.get("cycles", 1))
    elif offer["type"] == "PAUSE":
        sub.status, sub.paused_until = "paused", clock.now() + timedelta(days=int(offer["days"]))
    await _log(sub, member, "accept_offer", before, actor, "retention_accepted", reason=reason, offer=offer)
    return offer


ACTIONS = {"pause": _pause, "resume": _resume, "skip": _skip, "unskip": _unskip, "swap": _swap,
           "change_interval": _change_interval, "reschedule": _reschedule, "cancel": _cancel,
           "accept_offer": _accept_offer}


@dataclass
class RenewalNotice:
    """Why an order that names a subscription did not renew it (the order itself is kept)."""
    code: str  # SUBSCRIPTION_NOT_FOUND | SUBSCRIPTION_NOT_RENEWABLE
    message: str
    field: str = "subscriptionId"


async def renew_with_order(sub_id: int, member: Member, order_external_id: str) -> RenewalNotice | None:
    """Inside recordOrder's transaction: the order pays the next cycle. A subscription that
    cannot renew (unknown, another member's, cancelled, paused, expired) is left as it is and
    the reason returned: the order is real and is recorded either way."""
    sub = await Subscription.get_or_none(id=sub_id, member_id=member.id).prefetch_related("plan")
    if sub is None:
        return RenewalNotice("SUBSCRIPTION_NOT_FOUND", "No such subscription for this member: the order was "
                             "recorded without renewing anything")
    if sub.status not in ALLOWED["renew"]:
        return RenewalNotice("SUBSCRIPTION_NOT_RENEWABLE", f"A {sub.status.replace('_', ' ')} subscription does "
                             "not renew: the order was recorded as a normal order")
    before = sub.status
    sub.cycles_completed += 1
    sub.next_delivery_at = add_interval(sub.next_delivery_at, sub.interval_unit, sub.interval_count)
    sub.status, sub.failure_count, sub.next_retry_at, sub.skipped_from = "active", 0, None, None
    if sub.plan.kind == "MEMBERSHIP":
        sub.paid_through, sub.grant_active = sub.next_delivery_at, sub.plan.grants_tier_id is not None
    if sub.discount_cycles_left:
        sub.discount_cycles_left -= 1
        if sub.discount_cycles_left == 0:
            sub.discount_percent_override = None
    if sub.plan.cycles is not None and sub.cycles_completed >= sub.plan.cycles:
        sub.status = "expired"
    sub.updated_at = clock.now()
    await sub.save()
    await _log(sub, member, "renew", before, f"order:{order_external_id}", "renewed",
               orderExternalId=order_external_id, cycle=sub.cycles_completed)
    if sub.status == "expired":
        await _log(sub, member, "expire", "active", "system", "expired", cycles=sub.cycles_completed)
    tier = await Tier.get_or_none(id=member.tier_id) if member.tier_id else None
    await rules.award_fixed(member, "SUBSCRIPTION_RENEWED", ("subscription_renewal", f"{sub.id}:{sub.cycles_completed}"),
                            "Subscription renewed", tier)
    return None


async def renewed_by(sub_id: int, order_external_id: str) -> bool:
    """Whether this order renewed that subscription (for replays of recordOrder)."""
    return await SubscriptionChange.exists(subscription_id=sub_id, action="renew", actor=f"order:{order_external_id}")


async def record_failure(sub_id: int, reason: str, actor: str) -> Subscription:
    if not reason.strip() or len(reason) > 500 or "\x00" in reason:
        raise InvalidInput("reason must be 1 to 500 characters of text", "reason")
    found = await _owned(sub_id, None)
    settings = get_settings()
    async with write_transaction():
        member = await lock_member(found.member_id)
        sub = await Subscription.get(id=sub_id)
        if sub.status not in ALLOWED["fail"]:
            raise DomainError(f"A {sub.status} subscription has no renewal to fail", "subscriptionId",
                              code="INVALID_TRANSITION")
        before = sub.status
        sub.failure_count += 1
        now = clock.now()
        if sub.failure_count > settings.dunning_retries:
            outcome = settings.dunning_outcome
            if outcome == "pause":
                sub.status, sub.paused_until = "paused", None
            elif outcome == "cancel":
                sub.status, sub.cancel_reason, sub.cancelled_at = "cancelled", "PAYMENT_FAILED", now
            sub.next_retry_at = None
            await _log(sub, member, "renewal_failed", before, actor, "renewal_failed", reason=reason,
                       failures=sub.failure_count, outcome=outcome)
            if sub.status == "cancelled":
                await _log(sub, member, "cancel", "past_due", "dunning", "cancelled", reason="PAYMENT_FAILED")
            elif sub.status == "paused":
                await _log(sub, member, "pause", "past_due", "dunning", "paused", reason="PAYMENT_FAILED")
        else:
            sub.status = "past_due"
            sub.next_retry_at = now + timedelta(days=settings.dunning_interval_days)
            await _log(sub, member, "renewal_failed", before, actor, "renewal_failed", reason=reason,
                       failures=sub.failure_count, retryAt=sub.next_retry_at.isoformat())
            if before != "past_due":
                await _log(sub, member, "past_due", before, actor, "past_due")
        sub.updated_at = now
        await sub.save()
        return sub
