"""Earning rule types and inputs."""

from __future__ import annotations

import datetime as dt
from enum import Enum

import strawberry

from domain.rules.models import EarningRule as RuleModel
from schema.common import global_id
from schema.errors import UserError


@strawberry.enum
class EarningRuleType(Enum):
    ORDER_PAID = "ORDER_PAID"
    SIGNUP = "SIGNUP"
    BIRTHDAY = "BIRTHDAY"
    REVIEW_PUBLISHED = "REVIEW_PUBLISHED"
    PHOTO_REVIEW = "PHOTO_REVIEW"
    VIDEO_REVIEW = "VIDEO_REVIEW"


@strawberry.enum
class CapPeriod(Enum):
    DAY = "DAY"
    WEEK = "WEEK"
    MONTH = "MONTH"
    YEAR = "YEAR"
    LIFETIME = "LIFETIME"


@strawberry.type
class EarningRule:
    id: strawberry.ID
    rule_id: int
    name: str
    type: EarningRuleType
    active: bool
    points: int = strawberry.field(description="Fixed points (SIGNUP, BIRTHDAY).")
    points_per_unit: int = strawberry.field(description="ORDER_PAID: points for every currencyUnit spent.")
    currency_unit: int = strawberry.field(description="Minor units, e.g. 100 = 1 USD or 100 KRW.")
    currency: str | None
    include_categories: list[str]
    exclude_categories: list[str]
    include_skus: list[str]
    exclude_skus: list[str]
    cap_points: int | None
    cap_period: CapPeriod | None
    apply_tier_multiplier: bool
    pending_days: int | None
    starts_at: dt.datetime | None
    ends_at: dt.datetime | None

    @classmethod
    def from_model(cls, r: RuleModel) -> EarningRule:
        return cls(
            id=global_id("EarningRule", r.id), rule_id=r.id, name=r.name, type=EarningRuleType(r.type),
            active=r.active, points=r.points, points_per_unit=r.points_per_unit,
            currency_unit=r.currency_unit, currency=r.currency,
            include_categories=list(r.include_categories or []), exclude_categories=list(r.exclude_categories or []),
            include_skus=list(r.include_skus or []), exclude_skus=list(r.exclude_skus or []),
            cap_points=r.cap_points, cap_period=CapPeriod(r.cap_period) if r.cap_period else None,
            apply_tier_multiplier=r.apply_tier_multiplier, pending_days=r.pending_days,
            starts_at=r.starts_at, ends_at=r.ends_at,
        )


@strawberry.input
class EarningRuleInput:
    name: str | None = None
    type: EarningRuleType | None = None
    active: bool | None = None
    points: int | None = None
    points_per_unit: int | None = None
    currency_unit: int | None = None
    currency: str | None = None
    include_categories: list[str] | None = None
    exclude_categories: list[str] | None = None
    include_skus: list[str] | None = None
    exclude_skus: list[str] | None = None
    cap_points: int | None = None
    cap_period: CapPeriod | None = None
    apply_tier_multiplier: bool | None = None
    pending_days: int | None = None
    starts_at: dt.datetime | None = None
    ends_at: dt.datetime | None = None


@strawberry.type
class EarningRulePayload:
    rule: EarningRule | None
    errors: list[UserError]
