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
    reward_id: int = strawberry.field(deprecation_reason=legacy_int_id())
    name: str
    type: RewardType
    points_cost: int
    discount: Money | None = strawberry.field(description="FIXED_AMOUNT: the amount off.")
    percent: int | None
    max_discount: int | None
    sku: str | None
    description: str | None
    min_tier_rank: int | None
    per_member_limit: int | None
    stock: int | None = strawberry.field(description="Left in stock; null = unlimited.")
    starts_at: dt.datetime | None
    ends_at: dt.datetime | None
    code_valid_days: int | None
    active: bool

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
    redemption_id: int = strawberry.field(deprecation_reason=legacy_int_id())
    code: str
    status: CodeStatus
    points: int
    reward: Reward
    member_external_id: str
    order_external_id: str | None
    expires_at: dt.datetime | None
    created_at: dt.datetime
    used_at: dt.datetime | None

    @classmethod
    def from_model(cls, r: RedemptionModel) -> Redemption:
        return cls(
            id=global_id("Redemption", r.id), redemption_id=r.id, code=r.code, status=CodeStatus(r.status),
            points=r.points, reward=Reward.from_model(r.reward), member_external_id=r.member.external_id,
            order_external_id=r.order_external_id, expires_at=r.expires_at, created_at=r.created_at, used_at=r.used_at,
        )


@strawberry.input
class RewardInput:
    name: str | None = None
    type: RewardType | None = None
    points_cost: int | None = None
    amount: int | None = strawberry.field(default=None, description="FIXED_AMOUNT, minor units.")
    currency: str | None = None
    percent: int | None = None
    max_discount: int | None = None
    sku: str | None = None
    description: str | None = None
    min_tier_rank: int | None = None
    per_member_limit: int | None = None
    stock: int | None = None
    starts_at: dt.datetime | None = None
    ends_at: dt.datetime | None = None
    code_valid_days: int | None = None
    active: bool | None = None


@strawberry.input
class RedeemRewardInput:
    member_external_id: str | None = strawberry.field(default=None, description="Omit with a member token.")
    reward_id: strawberry.ID
    idempotency_key: str


@strawberry.input
class CodeInput:
    code: str
    member_external_id: str | None = None


@strawberry.input
class MarkCodeUsedInput:
    code: str
    order_external_id: str


@strawberry.type
class RewardPayload:
    reward: Reward | None
    errors: list[UserError]


@strawberry.type
class RedemptionPayload:
    redemption: Redemption | None
    errors: list[UserError]
