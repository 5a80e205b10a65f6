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
    reason: CancelReason
    type: RetentionOfferType
    percent: int | None = strawberry.field(description="DISCOUNT: percent off the next renewals.")
    cycles: int | None = strawberry.field(description="DISCOUNT: how many renewals it lasts (default 1).")
    days: int | None = strawberry.field(description="PAUSE: days paused.")


def offer_list(offers: dict) -> list[RetentionOffer]:
    return [RetentionOffer(reason=CancelReason(reason), type=RetentionOfferType(offer["type"]), percent=offer.get("percent"),
                           cycles=offer.get("cycles"), days=offer.get("days")) for reason, offer in (offers or {}).items()]


@strawberry.type
class SubscriptionPlan(Node):
    plan_id: int = strawberry.field(deprecation_reason=legacy_int_id())
    name: str
    kind: PlanKind
    skus: list[str]
    interval_unit: IntervalUnit
    interval_count: int
    price: Money
    discount_percent: int
    cycles: int | None
    trial_days: int
    grants_tier_id: int | None = strawberry.field(deprecation_reason=legacy_int_id("grantsTierGlobalId"))
    perks: list[str]
    retention_offers: JSON
    retention_offer_list: list[RetentionOffer] = strawberry.field(description="The same offers, typed.")
    active: bool

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
    action: str
    from_status: str | None
    to_status: str
    details: JSON
    actor: str
    created_at: dt.datetime

    @classmethod
    def from_model(cls, c: ChangeModel) -> SubscriptionChange:
        return cls(action=c.action, from_status=c.from_status, to_status=c.to_status, details=c.details,
                   actor=c.actor, created_at=c.created_at)


# The type name inside a MemberSubscription's global ID (parse_id checks it on input).
SUBSCRIPTION_ID_TYPE = "Subscription"


@strawberry.type
class MemberSubscription(Node):
    subscription_id: int = strawberry.field(deprecation_reason=legacy_int_id())
    status: SubscriptionStatus
    sku: str | None
    interval_unit: IntervalUnit
    interval_count: int
    next_delivery_at: dt.datetime
    paused_until: dt.datetime | None
    cycles_completed: int
    trial_ends_at: dt.datetime | None
    paid_through: dt.datetime | None
    failure_count: int
    next_retry_at: dt.datetime | None
    cancel_reason: str | None
    discount_percent: int = strawberry.field(description="The discount the next renewal gets.")
    plan: SubscriptionPlan
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

    @strawberry.field
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
    reason: CancelReason
    type: RetentionOfferType
    percent: int | None = None
    cycles: int | None = None
    days: int | None = None


@strawberry.input
class PlanInput:
    name: str | None = None
    kind: PlanKind | None = None
    skus: list[str] | None = None
    interval_unit: IntervalUnit | None = None
    interval_count: int | None = None
    price: int | None = None
    currency: str | None = None
    discount_percent: int | None = None
    cycles: int | None = None
    trial_days: int | None = None
    grants_tier_id: strawberry.ID | None = strawberry.field(default=None, description="The global ID of a Tier.")
    perks: list[str] | None = None
    retention_offers: JSON | None = strawberry.field(
        default=None, description='Per cancel reason, e.g. {"TOO_MUCH_PRODUCT": {"type": "SKIP_NEXT"}, '
                                  '"TOO_EXPENSIVE": {"type": "DISCOUNT", "percent": 20, "cycles": 2}}. '
                                  'Kept for compatibility: prefer the typed retentionOfferList.')
    retention_offer_list: list[RetentionOfferInput] | None = strawberry.field(
        default=None, description="The retention offers, typed (replaces all of them). Give this or retentionOffers.")
    active: bool | None = None


@strawberry.input
class SubscribeInput:
    member_external_id: str | None = strawberry.field(default=None, description="Omit with a member token.")
    plan_id: strawberry.ID
    sku: str | None = None


@strawberry.input
class SubscriptionActionInput:
    subscription_id: strawberry.ID
    member_external_id: str | None = strawberry.field(default=None, description="Storefront acting for a member.")
    until: dt.datetime | None = strawberry.field(default=None, description="pauseSubscription")
    sku: str | None = strawberry.field(default=None, description="swapSubscriptionProduct")
    interval_unit: IntervalUnit | None = strawberry.field(default=None, description="changeSubscriptionInterval")
    interval_count: int | None = None
    date: dt.datetime | None = strawberry.field(default=None, description="rescheduleSubscription")


@strawberry.input
class CancelSubscriptionInput:
    subscription_id: strawberry.ID
    member_external_id: str | None = None
    reason: CancelReason
    comment: str | None = None
    confirm: bool = strawberry.field(default=False, description="Cancel even though a retention offer exists.")
    accept_retention_offer: bool = strawberry.field(default=False, description="Take the offer instead of cancelling.")


@strawberry.input
class RenewalFailureInput:
    subscription_id: strawberry.ID
    reason: str


@strawberry.type
class PlanPayload:
    plan: SubscriptionPlan | None
    errors: list[UserError]


@strawberry.type
class SubscriptionPayload:
    subscription: MemberSubscription | None
    cancelled: bool = strawberry.field(description="cancelSubscription: whether it is now cancelled.")
    retention_offer: JSON | None = strawberry.field(description="cancelSubscription: the offer for this reason, if any.")
    errors: list[UserError]
