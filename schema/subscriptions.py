"""Subscription plan, subscription and history types and inputs."""

from __future__ import annotations

import datetime as dt
from enum import Enum

import strawberry
from strawberry.types import Info

from domain.members.personal_data import redact_details
from domain.subscriptions.models import Subscription as SubscriptionModel
from domain.subscriptions.models import SubscriptionChange as ChangeModel
from domain.subscriptions.models import SubscriptionPlan as PlanModel
from schema.common import JSON, Money, global_id, legacy_int_id
from schema.errors import UserError
from schema.node import Node


@strawberry.enum
class PlanKind(Enum):
    PRODUCT = "PRODUCT"
    MEMBERSHIP = "MEMBERSHIP"


@strawberry.enum
class IntervalUnit(Enum):
    DAY = "DAY"
    WEEK = "WEEK"
    MONTH = "MONTH"


@strawberry.enum
class SubscriptionStatus(Enum):
    ACTIVE = "active"
    PAUSED = "paused"
    CANCELLED = "cancelled"
    EXPIRED = "expired"
    PAST_DUE = "past_due"


@strawberry.enum
class CancelReason(Enum):
    TOO_EXPENSIVE = "TOO_EXPENSIVE"
    TOO_MUCH_PRODUCT = "TOO_MUCH_PRODUCT"
    NOT_USING = "NOT_USING"
    QUALITY = "QUALITY"
    SHIPPING = "SHIPPING"
    SWITCHED_BRAND = "SWITCHED_BRAND"
    OTHER = "OTHER"


@strawberry.enum
class RetentionOfferType(Enum):
    SKIP_NEXT = "SKIP_NEXT"
    DISCOUNT = "DISCOUNT"
    PAUSE = "PAUSE"


@strawberry.type(description="What a member is offered instead of cancelling for `reason`.")
class RetentionOffer:
    reason: CancelReason = strawberry.field(description="The cancel reason this offer answers.")
    type: RetentionOfferType = strawberry.field(
        description="What is offered instead: skipping the next delivery, a renewal discount or a pause.")
    percent: int | None = strawberry.field(description="DISCOUNT: percent off the next renewals.")
    cycles: int | None = strawberry.field(description="DISCOUNT: how many renewals it lasts (default 1).")
    days: int | None = strawberry.field(description="PAUSE: days paused.")


def offer_list(offers: dict) -> list[RetentionOffer]:
    return [RetentionOffer(reason=CancelReason(reason), type=RetentionOfferType(offer["type"]), percent=offer.get("percent"),
                           cycles=offer.get("cycles"), days=offer.get("days")) for reason, offer in (offers or {}).items()]


@strawberry.type
class SubscriptionPlan(Node):
    plan_id: int = strawberry.field(
        deprecation_reason=legacy_int_id(), description="Deprecated legacy integer ID; use id.")
    name: str = strawberry.field(description="Shown to members; 1–200 characters.")
    kind: PlanKind = strawberry.field(
        description="PRODUCT delivers one of its skus every cycle; MEMBERSHIP is paid access that may grant a"
                    " tier.")
    skus: list[str] = strawberry.field(
        description="PRODUCT: the SKUs a subscriber can receive (1–100; the first is the default); unused by "
                    "memberships.")
    interval_unit: IntervalUnit = strawberry.field(
        description="The unit of one cycle, counted by intervalCount (e.g. 2 WEEK).")
    interval_count: int = strawberry.field(description="How many intervalUnits one cycle lasts, 1–365.")
    price: Money = strawberry.field(description="The price of one cycle, in minor units of its currency.")
    discount_percent: int = strawberry.field(
        description="Subscriber discount on every renewal in percent (0–100), unless an accepted retention "
                    "offer overrides it.")
    cycles: int | None = strawberry.field(
        description="How many renewals (1–1000) before a subscription expires; null = until cancelled.")
    trial_days: int = strawberry.field(
        description="Free trial days (0–365); with a trial the first delivery or renewal is when it ends.")
    grants_tier_id: int | None = strawberry.field(
        deprecation_reason=legacy_int_id("grantsTierGlobalId"), description="Deprecated legacy integer ID of the tier a MEMBERSHIP plan grants; use "
                                                                            "grantsTierGlobalId.")
    perks: list[str] = strawberry.field(description="Perks listed to members; at most 50, each 1–200 characters.")
    retention_offers: JSON = strawberry.field(
        description='The retention offers as JSON keyed by cancel reason, e.g. {"TOO_EXPENSIVE": {"type": '
                    '"DISCOUNT", "percent": 20}}.')
    retention_offer_list: list[RetentionOffer] = strawberry.field(description="The same offers, typed.")
    active: bool = strawberry.field(
        description="Whether members can subscribe to it; subscribe refuses an inactive plan with "
                    "PLAN_NOT_FOUND.")

    @classmethod
    def from_model(cls, p: PlanModel) -> SubscriptionPlan:
        return cls(id=global_id("SubscriptionPlan", p.id), plan_id=p.id, name=p.name, kind=PlanKind(p.kind),
                   skus=list(p.skus), interval_unit=IntervalUnit(p.interval_unit), interval_count=p.interval_count,
                   price=Money(amount=p.price, currency=p.currency), discount_percent=p.discount_percent, cycles=p.cycles,
                   trial_days=p.trial_days, grants_tier_id=p.grants_tier_id, perks=list(p.perks),
                   retention_offers=p.retention_offers, retention_offer_list=offer_list(p.retention_offers),
                   active=p.active)

    @strawberry.field(description="The global ID of the tier a MEMBERSHIP plan grants.")
    def grants_tier_global_id(self) -> strawberry.ID | None:
        return None if self.grants_tier_id is None else global_id("Tier", self.grants_tier_id)


@strawberry.type
class SubscriptionChange:
    action: str = strawberry.field(
        description="What happened, e.g. subscribe, pause, resume, skip, swap, renew, renewal_failed, "
                    "past_due, cancel or expire.")
    from_status: str | None = strawberry.field(
        description="The subscription status before the action (a SubscriptionStatus value in lower case); "
                    "null for subscribe.")
    to_status: str = strawberry.field(
        description="The subscription status after the action (a SubscriptionStatus value in lower case).")
    details: JSON = strawberry.field(
        description="The action's details as JSON (e.g. reason, cycle, retryAt); personal keys such as the "
                    "cancellation comment are removed without the members:pii scope.")
    actor: str = strawberry.field(
        description="Who acted: member:<externalId>, admin, a role with its API key id (storefront:<id>), "
                    "order:<externalId> for a renewal, or a job (system, schedule, dunning).")
    created_at: dt.datetime = strawberry.field(description="When it happened (UTC, ISO 8601).")

    @classmethod
    def from_model(cls, c: ChangeModel) -> SubscriptionChange:
        return cls(action=c.action, from_status=c.from_status, to_status=c.to_status, details=c.details,
                   actor=c.actor, created_at=c.created_at)


# The type name inside a MemberSubscription's global ID (parse_id checks it on input).
SUBSCRIPTION_ID_TYPE = "Subscription"


@strawberry.type
class MemberSubscription(Node):
    subscription_id: int = strawberry.field(
        deprecation_reason=legacy_int_id(), description="Deprecated legacy integer ID; use id.")
    status: SubscriptionStatus = strawberry.field(
        description="Its state; past_due while a failed renewal awaits a retry.")
    sku: str | None = strawberry.field(
        description="PRODUCT: the SKU delivered each cycle (one of the plan's skus); null for memberships.")
    interval_unit: IntervalUnit = strawberry.field(
        description="This subscription's cycle unit: the plan's, unless the member changed it.")
    interval_count: int = strawberry.field(description="This subscription's cycle length in intervalUnits, 1–365.")
    next_delivery_at: dt.datetime = strawberry.field(
        description="When the next delivery (memberships: the next renewal) is due (UTC, ISO 8601).")
    paused_until: dt.datetime | None = strawberry.field(
        description="When a pause ends by itself (UTC, ISO 8601); null when not paused or paused without an "
                    "end (by dunning).")
    cycles_completed: int = strawberry.field(description="How many renewals have been paid so far.")
    trial_ends_at: dt.datetime | None = strawberry.field(
        description="When the free trial ends (UTC, ISO 8601); null when the plan had no trial.")
    paid_through: dt.datetime | None = strawberry.field(
        description="MEMBERSHIP: the end of the paid period (UTC, ISO 8601); null for product subscriptions.")
    failure_count: int = strawberry.field(
        description="Failed renewal payments since the last successful renewal (reset to 0 by one).")
    next_retry_at: dt.datetime | None = strawberry.field(
        description="When the next renewal payment retry is due while past_due (UTC, ISO 8601); null "
                    "otherwise.")
    cancel_reason: str | None = strawberry.field(
        description="Why it was cancelled: a CancelReason value, or PAYMENT_FAILED after dunning; null while "
                    "not cancelled.")
    discount_percent: int = strawberry.field(description="The discount the next renewal gets.")
    plan: SubscriptionPlan = strawberry.field(description="The plan subscribed to.")
    model: strawberry.Private[SubscriptionModel]

    @classmethod
    def from_model(cls, s: SubscriptionModel) -> MemberSubscription:
        discount = s.discount_percent_override if s.discount_percent_override is not None else s.plan.discount_percent
        return cls(id=global_id(SUBSCRIPTION_ID_TYPE, s.id), subscription_id=s.id, status=SubscriptionStatus(s.status),
                   sku=s.sku, interval_unit=IntervalUnit(s.interval_unit), interval_count=s.interval_count,
                   next_delivery_at=s.next_delivery_at, paused_until=s.paused_until, cycles_completed=s.cycles_completed,
                   trial_ends_at=s.trial_ends_at, paid_through=s.paid_through, failure_count=s.failure_count,
                   next_retry_at=s.next_retry_at, cancel_reason=s.cancel_reason, discount_percent=discount,
                   plan=SubscriptionPlan.from_model(s.plan), model=s)

    @strawberry.field(description="Every change, oldest first; the cancellation comment and other personal details are removed without the members:pii scope.")
    async def history(self, info: Info) -> list[SubscriptionChange]:
        rows = await ChangeModel.filter(subscription_id=self.model.id).order_by("id")
        changes = [SubscriptionChange.from_model(c) for c in rows]
        if not info.context.viewer.sees_personal_data:  # the member's cancellation comment is personal
            for change in changes:
                change.details = redact_details(change.details)
        return changes


@strawberry.input(description="One retention offer. percent (1-100) and cycles (1-24) are for DISCOUNT, "
                               "days (1-365) for PAUSE; SKIP_NEXT takes none.")
class RetentionOfferInput:
    reason: CancelReason = strawberry.field(
        description="The cancel reason this offer answers (one offer per reason).")
    type: RetentionOfferType = strawberry.field(description="What is offered instead of cancelling.")
    percent: int | None = strawberry.field(
        default=None, description="DISCOUNT only: percent off the next renewals, 1–100.")
    cycles: int | None = strawberry.field(
        default=None, description="DISCOUNT only: how many renewals the discount lasts, 1–24 (default 1).")
    days: int | None = strawberry.field(default=None, description="PAUSE only: days to pause, 1–365.")


@strawberry.input
class PlanInput:
    name: str | None = strawberry.field(
        default=None, description="Shown to members, 1–200 characters; required on create, omit to keep on update.")
    kind: PlanKind | None = strawberry.field(
        default=None, description="PRODUCT or MEMBERSHIP; required on create, omit to keep on update.")
    skus: list[str] | None = strawberry.field(
        default=None, description="PRODUCT: the SKUs a subscriber can receive, 1–100 of 1–255 characters (the first is the "
                                  "default); replaces the list.")
    interval_unit: IntervalUnit | None = strawberry.field(
        default=None, description="The unit of one cycle; required on create, omit to keep on update.")
    interval_count: int | None = strawberry.field(
        default=None, description="How many intervalUnits one cycle lasts, 1–365; required on create.")
    price: int | None = strawberry.field(
        default=None, description="The price of one cycle in minor units, 0 or more; required on create.")
    currency: str | None = strawberry.field(
        default=None, description="ISO 4217 code of the price, e.g. USD (stored upper case); required on create.")
    discount_percent: int | None = strawberry.field(
        default=None, description="Subscriber discount on every renewal in percent, 0–100 (default 0).")
    cycles: int | None = strawberry.field(
        default=None, description="How many renewals (1–1000) before a subscription expires; omit for until cancelled.")
    trial_days: int | None = strawberry.field(default=None, description="Free trial days, 0–365 (default 0).")
    grants_tier_id: strawberry.ID | None = strawberry.field(default=None, description="The global ID of a Tier.")
    perks: list[str] | None = strawberry.field(
        default=None, description="Perks listed to members, at most 50 of 1–200 characters; replaces the list.")
    retention_offers: JSON | None = strawberry.field(
        default=None, description='Per cancel reason, e.g. {"TOO_MUCH_PRODUCT": {"type": "SKIP_NEXT"}, '
                                  '"TOO_EXPENSIVE": {"type": "DISCOUNT", "percent": 20, "cycles": 2}}. '
                                  'Kept for compatibility: prefer the typed retentionOfferList.')
    retention_offer_list: list[RetentionOfferInput] | None = strawberry.field(
        default=None, description="The retention offers, typed (replaces all of them). Give this or retentionOffers.")
    active: bool | None = strawberry.field(
        default=None, description="Whether members can subscribe (default true on create).")


@strawberry.input
class SubscribeInput:
    member_external_id: str | None = strawberry.field(default=None, description="Omit with a member token.")
    plan_id: strawberry.ID = strawberry.field(description="The global ID of an active SubscriptionPlan.")
    sku: str | None = strawberry.field(
        default=None, description="PRODUCT plans: one of the plan's skus (default: its first); ignored for memberships.")


@strawberry.input
class SubscriptionActionInput:
    subscription_id: strawberry.ID = strawberry.field(
        description="The global ID of the subscription (MemberSubscription.id).")
    member_external_id: str | None = strawberry.field(default=None, description="Storefront acting for a member.")
    until: dt.datetime | None = strawberry.field(default=None, description="pauseSubscription")
    sku: str | None = strawberry.field(default=None, description="swapSubscriptionProduct")
    interval_unit: IntervalUnit | None = strawberry.field(default=None, description="changeSubscriptionInterval")
    interval_count: int | None = strawberry.field(
        default=None, description="changeSubscriptionInterval: cycle length in intervalUnits, 1–365.")
    date: dt.datetime | None = strawberry.field(default=None, description="rescheduleSubscription")


@strawberry.input
class CancelSubscriptionInput:
    subscription_id: strawberry.ID = strawberry.field(
        description="The global ID of the subscription (MemberSubscription.id).")
    member_external_id: str | None = strawberry.field(
        default=None, description="Storefront acting for a member; omit with a member token.")
    reason: CancelReason = strawberry.field(
        description="Why the member cancels; it selects the plan's retention offer.")
    comment: str | None = strawberry.field(
        default=None, description="The member's own words, at most 1000 characters; personal data, hidden without "
                                  "members:pii.")
    confirm: bool = strawberry.field(default=False, description="Cancel even though a retention offer exists.")
    accept_retention_offer: bool = strawberry.field(default=False, description="Take the offer instead of cancelling.")


@strawberry.input
class RenewalFailureInput:
    subscription_id: strawberry.ID = strawberry.field(
        description="The global ID of an active or past_due subscription (MemberSubscription.id).")
    reason: str = strawberry.field(
        description="Why the payment failed (e.g. the processor's decline), 1–500 characters; kept in the "
                    "history.")


@strawberry.type
class PlanPayload:
    plan: SubscriptionPlan | None = strawberry.field(description="The saved plan; null when errors is not empty.")
    errors: list[UserError] = strawberry.field(description="Why nothing was saved; empty on success.")


@strawberry.type
class SubscriptionPayload:
    subscription: MemberSubscription | None = strawberry.field(
        description="The subscription after the action; null when errors is not empty.")
    cancelled: bool = strawberry.field(description="cancelSubscription: whether it is now cancelled.")
    retention_offer: JSON | None = strawberry.field(description="cancelSubscription: the offer for this reason, if any.")
    errors: list[UserError] = strawberry.field(
        description="Why nothing changed (e.g. INVALID_TRANSITION); empty on success.")
