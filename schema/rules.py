"""Earning rule types and inputs."""

from __future__ import annotations

import datetime as dt
from enum import Enum

import strawberry

from domain.rules.models import Activity as ActivityModel
from domain.rules.models import EarningRule as RuleModel
from schema.common import global_id, legacy_int_id
from schema.errors import UserError
from schema.node import Node


@strawberry.enum
class EarningRuleType(Enum):
    ORDER_PAID = "ORDER_PAID"
    SIGNUP = "SIGNUP"
    BIRTHDAY = "BIRTHDAY"
    REVIEW_PUBLISHED = "REVIEW_PUBLISHED"
    PHOTO_REVIEW = "PHOTO_REVIEW"
    VIDEO_REVIEW = "VIDEO_REVIEW"
    SOCIAL_SHARE = "SOCIAL_SHARE"
    UGC_SUBMITTED = "UGC_SUBMITTED"
    SURVEY_COMPLETED = "SURVEY_COMPLETED"
    REFERRAL_CONVERTED = "REFERRAL_CONVERTED"
    SUBSCRIPTION_RENEWED = "SUBSCRIPTION_RENEWED"
    CUSTOM = "CUSTOM"


@strawberry.enum
class ReferralSide(Enum):
    REFERRER = "REFERRER"
    REFERRED = "REFERRED"
    BOTH = "BOTH"


@strawberry.enum
class ActivityType(Enum):
    SOCIAL_SHARE = "SOCIAL_SHARE"
    UGC_SUBMITTED = "UGC_SUBMITTED"
    SURVEY_COMPLETED = "SURVEY_COMPLETED"
    CUSTOM = "CUSTOM"


@strawberry.enum
class CapPeriod(Enum):
    DAY = "DAY"
    WEEK = "WEEK"
    MONTH = "MONTH"
    YEAR = "YEAR"
    LIFETIME = "LIFETIME"


@strawberry.type
class EarningRule(Node):
    rule_id: int = strawberry.field(deprecation_reason=legacy_int_id())
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
    custom_type: str | None
    referral_side: ReferralSide | None
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
            custom_type=r.custom_type, referral_side=ReferralSide(r.referral_side) if r.referral_side else None,
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
    custom_type: str | None = None
    referral_side: ReferralSide | None = None
    starts_at: dt.datetime | None = None
    ends_at: dt.datetime | None = None


@strawberry.type
class EarningRulePayload:
    rule: EarningRule | None
    errors: list[UserError]


@strawberry.type
class Activity:
    id: strawberry.ID = strawberry.field(description="Its global ID (reviewActivity takes it).")
    activity_id: int = strawberry.field(deprecation_reason=legacy_int_id())
    type: ActivityType
    custom_type: str | None
    external_id: str
    url: str | None
    status: str = strawberry.field(description="pending (brand UGC awaiting approval), approved or rejected")
    created_at: dt.datetime

    @classmethod
    def from_model(cls, a: ActivityModel) -> Activity:
        return cls(id=global_id("Activity", a.id), activity_id=a.id, type=ActivityType(a.type), custom_type=a.custom_type, external_id=a.external_id,
                   url=a.url, status=a.status, created_at=a.created_at)


@strawberry.input
class RecordActivityInput:
    member_external_id: str | None = strawberry.field(default=None, description="Omit with a member token.")
    type: ActivityType
    custom_type: str | None = strawberry.field(default=None, description="CUSTOM: the brand's activity name.")
    external_id: str = strawberry.field(description="The activity's own id (idempotency).")
    url: str | None = strawberry.field(default=None, description="Brand UGC: the photo or video.")


@strawberry.input
class ReviewActivityInput:
    activity_id: strawberry.ID
    approve: bool


@strawberry.type
class ActivityPayload:
    activity: Activity | None
    points_awarded: int
    errors: list[UserError]


@strawberry.type
class EarningLine:
    rule_id: int = strawberry.field(deprecation_reason=legacy_int_id("ruleGlobalId"))
    rule_name: str
    points: int
    eligible_amount: int
    multiplier: float
    capped_from: int | None

    @strawberry.field(description="The global ID of the earning rule behind this line.")
    def rule_global_id(self) -> strawberry.ID:
        return global_id("EarningRule", self.rule_id)


@strawberry.type
class EarningPreview:
    points: int = strawberry.field(description="What the order would earn (before the return window).")
    lines: list[EarningLine]


@strawberry.input
class PreviewLineInput:
    sku: str
    category: str | None = None
    quantity: int
    unit_price: int


@strawberry.input
class PreviewEarningInput:
    member_external_id: str | None = strawberry.field(
        default=None, description="With a member: their tier multiplier and caps apply.")
    currency: str
    lines: list[PreviewLineInput]
