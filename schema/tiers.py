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
    name: str = strawberry.field(description="Shown to members; unique, 1–100 characters.")
    rank: int = strawberry.field(description="Unique order of the tiers: a higher rank is a higher tier.")
    earn_multiplier: float = strawberry.field(
        description="Multiplies the points members in this tier earn; above 0, at most 100, 3 decimals.")
    perks: list[str] = strawberry.field(description="The admin's perk texts; at most 50, each 1–200 characters.")
    benefits: list[str] = strawberry.field(description="Human-readable benefits: the multiplier, then the perks.")
    min_spend: Money | None = strawberry.field(
        description="Spend in the window (orders less refunds, in its currency) that qualifies; null: no spend threshold.")
    min_points: int | None = strawberry.field(
        description="Points earned in the window (awards less reversals, never the balance) that qualify; "
                    "null: no points threshold.")
    min_orders: int | None = strawberry.field(
        description="Orders in the window (not fully refunded) that qualify; null: no order threshold.")
    require_all: bool = strawberry.field(description="True: every threshold must be met; false: any one.")
    window: TierWindow = strawberry.field(description="The period the thresholds are counted over.")

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
    name: str = strawberry.field(description="The next tier's name.")
    rank: int = strawberry.field(description="The next tier's rank (the lowest rank above the member's tier).")
    remaining_spend: int | None = strawberry.field(description="Minor units of `currency` still to spend.")
    currency: str | None = strawberry.field(description="ISO 4217 code of the spend threshold; null without one.")
    remaining_points: int | None = strawberry.field(
        description="Points still to earn in the tier's window (0 when met); null without a points threshold.")
    remaining_orders: int | None = strawberry.field(
        description="Orders still to place in the tier's window (0 when met); null without an order threshold.")


@strawberry.type
class TierChange:
    from_tier: str | None = strawberry.field(description="The name of the tier left; null when the member had none "
                                                         "or that tier was deleted.")
    to_tier: str | None = strawberry.field(description="The name of the tier entered; null when the member dropped "
                                                       "out of every tier or that tier was deleted.")
    reason: str = strawberry.field(
        description='Why, with the figures, e.g. "Upgrade after order A-1001: spend 120000 of 100000 KRW"; '
                    "up to 500 characters.")
    created_at: str = strawberry.field(description="When the member moved, UTC ISO 8601.")

    @classmethod
    def from_model(cls, c: TierChangeModel) -> TierChange:
        return cls(
            from_tier=c.from_tier.name if c.from_tier else None,
            to_tier=c.to_tier.name if c.to_tier else None,
            reason=c.reason, created_at=c.created_at.isoformat(),
        )


@strawberry.input
class TierInput:
    name: str | None = strawberry.field(
        default=None, description="1–100 characters, unique; required to create. Null or omitted: unchanged.")
    rank: int | None = strawberry.field(
        default=None, description="Unique; higher is a higher tier; required to create. Null or omitted: unchanged.")
    min_spend: int | None = strawberry.field(
        default=None, description="Minor units of `currency`, 0 or more (needs a currency). Null or omitted: unchanged.")
    currency: str | None = strawberry.field(
        default=None, description="ISO 4217 code of minSpend, e.g. KRW. Null or omitted: unchanged.")
    min_points: int | None = strawberry.field(
        default=None, description="Points earned in the window, 0 or more. Null or omitted: unchanged.")
    min_orders: int | None = strawberry.field(
        default=None, description="Orders in the window, 0 or more. Null or omitted: unchanged.")
    require_all: bool | None = strawberry.field(
        default=None, description="True: every threshold must be met; false (the default): any one. "
                                  "Null or omitted: unchanged.")
    window: TierWindow | None = strawberry.field(
        default=None, description="ROLLING_12_MONTHS when created without one. Null or omitted: unchanged.")
    earn_multiplier: Decimal | None = strawberry.field(
        default=None, description="Above 0, at most 100, up to 3 decimals; 1 when created without one. "
                                  "Null or omitted: unchanged.")
    perks: list[str] | None = strawberry.field(
        default=None, description="Replaces the list; at most 50, each 1–200 characters. Null or omitted: unchanged.")


@strawberry.type
class TierPayload:
    tier: Tier | None = strawberry.field(description="The tier as saved; null when `errors` is not empty.")
    errors: list[UserError] = strawberry.field(
        description="Why nothing changed (e.g. a rank or name another tier has, TIER_NOT_FOUND); empty on success.")
