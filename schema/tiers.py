"""Tier types and inputs."""

from __future__ import annotations

from decimal import Decimal
from enum import Enum

import strawberry

from domain.tiers.models import Tier as TierModel
from domain.tiers.models import TierChange as TierChangeModel
from schema.common import Money, global_id
from schema.errors import UserError
from schema.node import Node


@strawberry.enum(description="The period over which tier thresholds are counted.")
class TierWindow(Enum):
    ROLLING_12_MONTHS = "ROLLING_12_MONTHS"
    CALENDAR_YEAR = "CALENDAR_YEAR"
    LIFETIME = "LIFETIME"


@strawberry.type
class Tier(Node):
    name: str
    rank: int
    earn_multiplier: float
    perks: list[str]
    benefits: list[str] = strawberry.field(description="Human-readable benefits: the multiplier, then the perks.")
    min_spend: Money | None
    min_points: int | None
    min_orders: int | None
    require_all: bool = strawberry.field(description="True: every threshold must be met; false: any one.")
    window: TierWindow

    @classmethod
    def from_model(cls, t: TierModel) -> Tier:
        multiplier = float(t.earn_multiplier)
        benefits = ([f"{multiplier:g}x points"] if multiplier != 1 else []) + list(t.perks or [])
        return cls(
            id=global_id("Tier", t.id), name=t.name, rank=t.rank, earn_multiplier=multiplier,
            perks=list(t.perks or []), benefits=benefits,
            min_spend=Money(amount=t.min_spend, currency=t.currency or "") if t.min_spend is not None else None,
            min_points=t.min_points, min_orders=t.min_orders, require_all=t.require_all,
            window=TierWindow(t.window),
        )


@strawberry.type(description="The next tier up and what is still missing to reach it.")
class NextTier:
    name: str
    rank: int
    remaining_spend: int | None = strawberry.field(description="Minor units of `currency` still to spend.")
    currency: str | None
    remaining_points: int | None
    remaining_orders: int | None


@strawberry.type
class TierChange:
    from_tier: str | None
    to_tier: str | None
    reason: str
    created_at: str

    @classmethod
    def from_model(cls, c: TierChangeModel) -> TierChange:
        return cls(
            from_tier=c.from_tier.name if c.from_tier else None,
            to_tier=c.to_tier.name if c.to_tier else None,
            reason=c.reason, created_at=c.created_at.isoformat(),
        )


@strawberry.input
class TierInput:
    name: str | None = None
    rank: int | None = None
    min_spend: int | None = strawberry.field(default=None, description="Minor units of `currency`.")
    currency: str | None = None
    min_points: int | None = None
    min_orders: int | None = None
    require_all: bool | None = None
    window: TierWindow | None = None
    earn_multiplier: Decimal | None = None
    perks: list[str] | None = None


@strawberry.type
class TierPayload:
    tier: Tier | None
    errors: list[UserError]
