"""Reward catalog and redemption types and inputs."""

from __future__ import annotations

import datetime as dt
from enum import Enum

import strawberry

from domain.rewards.models import Redemption as RedemptionModel
from domain.rewards.models import Reward as RewardModel
from schema.common import Money, global_id, legacy_int_id
from schema.errors import UserError
from schema.node import Node


@strawberry.enum
class RewardType(Enum):
    FIXED_AMOUNT = "FIXED_AMOUNT"
    PERCENTAGE = "PERCENTAGE"
    FREE_SHIPPING = "FREE_SHIPPING"
    FREE_PRODUCT = "FREE_PRODUCT"
    EXPERIENTIAL = "EXPERIENTIAL"


@strawberry.enum
class CodeStatus(Enum):
    ISSUED = "issued"
    USED = "used"
    AWAITING_ORDER = "awaiting_order"  # used on an order not recorded yet (grace period)
    CANCELLED = "cancelled"
    EXPIRED = "expired"


@strawberry.type
class Reward(Node):
    reward_id: int = strawberry.field(
        deprecation_reason=legacy_int_id(), description="Deprecated legacy integer ID; use id.")
    name: str = strawberry.field(description="Shown to members; 1–200 characters.")
    type: RewardType = strawberry.field(description="What the member gets for the points.")
    points_cost: int = strawberry.field(description="Points debited per redemption (positive).")
    discount: Money | None = strawberry.field(description="FIXED_AMOUNT: the amount off.")
    percent: int | None = strawberry.field(description="PERCENTAGE: percent off, 1–100; null for other types.")
    max_discount: int | None = strawberry.field(
        description="PERCENTAGE: the most it takes off, in minor units; null = no cap.")
    sku: str | None = strawberry.field(description="FREE_PRODUCT: the SKU given; null for other types.")
    description: str | None = strawberry.field(
        description="Shown to members, at most 1000 characters; null when none.")
    min_tier_rank: int | None = strawberry.field(
        description="Only members whose tier rank is at least this can redeem it; null = everyone.")
    per_member_limit: int | None = strawberry.field(
        description="How many times one member can redeem it; null = no limit.")
    stock: int | None = strawberry.field(description="Left in stock; null = unlimited.")
    starts_at: dt.datetime | None = strawberry.field(
        description="Redeemable from this time (UTC, ISO 8601); null = no start bound.")
    ends_at: dt.datetime | None = strawberry.field(
        description="Redeemable until this time, exclusive (UTC, ISO 8601); null = no end.")
    code_valid_days: int | None = strawberry.field(
        description="Days an issued code stays usable before it expires; null or 0 = it never expires.")
    active: bool = strawberry.field(
        description="Whether it can be redeemed (also bounded by startsAt and endsAt).")

    @classmethod
    def from_model(cls, r: RewardModel) -> Reward:
        return cls(
            id=global_id("Reward", r.id), reward_id=r.id, name=r.name, type=RewardType(r.type), points_cost=r.points_cost,
            discount=Money(amount=r.amount, currency=r.currency or "") if r.amount is not None else None,
            percent=r.percent, max_discount=r.max_discount, sku=r.sku, description=r.description,
            min_tier_rank=r.min_tier_rank, per_member_limit=r.per_member_limit, stock=r.stock, starts_at=r.starts_at,
            ends_at=r.ends_at, code_valid_days=r.code_valid_days, active=r.active,
        )


@strawberry.type
class Redemption(Node):
    redemption_id: int = strawberry.field(
        deprecation_reason=legacy_int_id(), description="Deprecated legacy integer ID; use id.")
    code: str = strawberry.field(
        description="The code the storefront applies at checkout, e.g. PTN-XXXX-XXXX-XXXX.")
    status: CodeStatus = strawberry.field(description="Where the code is in its life.")
    points: int = strawberry.field(
        description="The points debited for it (the reward's pointsCost at redemption).")
    reward: Reward = strawberry.field(description="The reward redeemed.")
    member_external_id: str = strawberry.field(description="The external ID of the member who redeemed it.")
    order_external_id: str | None = strawberry.field(
        description="The order the code was used on; null until used.")
    expires_at: dt.datetime | None = strawberry.field(
        description="When an unused code expires (UTC, ISO 8601); null = never.")
    created_at: dt.datetime = strawberry.field(description="When it was redeemed (UTC, ISO 8601).")
    used_at: dt.datetime | None = strawberry.field(
        description="When the code was used on an order (UTC, ISO 8601); null until used.")

    @classmethod
    def from_model(cls, r: RedemptionModel) -> Redemption:
        return cls(
            id=global_id("Redemption", r.id), redemption_id=r.id, code=r.code, status=CodeStatus(r.status),
            points=r.points, reward=Reward.from_model(r.reward), member_external_id=r.member.external_id,
            order_external_id=r.order_external_id, expires_at=r.expires_at, created_at=r.created_at, used_at=r.used_at,
        )


@strawberry.input
class RewardInput:
    name: str | None = strawberry.field(
        default=None, description="Shown to members, 1–200 characters; required on create, omit to keep on update.")
    type: RewardType | None = strawberry.field(
        default=None, description="What the member gets; required on create, omit to keep on update.")
    points_cost: int | None = strawberry.field(
        default=None, description="Points debited per redemption, positive; required on create.")
    amount: int | None = strawberry.field(default=None, description="FIXED_AMOUNT, minor units.")
    currency: str | None = strawberry.field(
        default=None, description="FIXED_AMOUNT: ISO 4217 code of amount, e.g. USD (stored upper case).")
    percent: int | None = strawberry.field(default=None, description="PERCENTAGE: percent off, 1–100.")
    max_discount: int | None = strawberry.field(
        default=None, description="PERCENTAGE: the most it takes off, in minor units, 0 or more.")
    sku: str | None = strawberry.field(default=None, description="FREE_PRODUCT: the SKU given, 1–255 characters.")
    description: str | None = strawberry.field(
        default=None, description="Shown to members, at most 1000 characters.")
    min_tier_rank: int | None = strawberry.field(
        default=None, description="Only members whose tier rank is at least this can redeem it.")
    per_member_limit: int | None = strawberry.field(
        default=None, description="How many times one member can redeem it, 0 or more.")
    stock: int | None = strawberry.field(
        default=None, description="How many are left, 0 or more; omit on create for unlimited.")
    starts_at: dt.datetime | None = strawberry.field(
        default=None, description="Redeemable from this time (ISO 8601 with an offset, stored in UTC).")
    ends_at: dt.datetime | None = strawberry.field(
        default=None, description="Redeemable until this time, exclusive; must be after startsAt.")
    code_valid_days: int | None = strawberry.field(
        default=None, description="Days an issued code stays usable, 0 or more (0 = never expires).")
    active: bool | None = strawberry.field(
        default=None, description="Whether it can be redeemed (default true on create).")


@strawberry.input
class RedeemRewardInput:
    member_external_id: str | None = strawberry.field(default=None, description="Omit with a member token.")
    reward_id: strawberry.ID = strawberry.field(description="The global ID of the Reward to redeem.")
    idempotency_key: str = strawberry.field(
        description="1–255 characters, unique per member: a retry with the same key returns the same "
                    "redemption.")


@strawberry.input
class CodeInput:
    code: str = strawberry.field(description="The redemption code, e.g. PTN-XXXX-XXXX-XXXX.")
    member_external_id: str | None = strawberry.field(
        default=None, description="Ignored: the code finds the redemption, and a member token may cancel only its own codes.")


@strawberry.input
class MarkCodeUsedInput:
    code: str = strawberry.field(description="The redemption code the order used.")
    order_external_id: str = strawberry.field(
        description="The order's external ID, 1–255 characters; record the order first (unless the grace "
                    "period is on).")


@strawberry.type
class RewardPayload:
    reward: Reward | None = strawberry.field(description="The saved reward; null when errors is not empty.")
    errors: list[UserError] = strawberry.field(description="Why nothing was saved; empty on success.")


@strawberry.type
class RedemptionPayload:
    redemption: Redemption | None = strawberry.field(
        description="The redemption after the action; null when errors is not empty.")
    errors: list[UserError] = strawberry.field(
        description="Why nothing changed (e.g. OUT_OF_STOCK, CODE_NOT_USABLE); empty on success.")
