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
    rule_id: int = strawberry.field(
        deprecation_reason=legacy_int_id(), description="Deprecated legacy integer ID; use id.")
    name: str = strawberry.field(description="Shown in point history and previews; 1–200 characters.")
    type: EarningRuleType = strawberry.field(description="The event that earns points under this rule.")
    active: bool = strawberry.field(description="Whether it earns now (also bounded by startsAt and endsAt).")
    points: int = strawberry.field(description="Fixed points (SIGNUP, BIRTHDAY).")
    points_per_unit: int = strawberry.field(description="ORDER_PAID: points for every currencyUnit spent.")
    currency_unit: int = strawberry.field(description="Minor units, e.g. 100 = 1 USD or 100 KRW.")
    currency: str | None = strawberry.field(
        description="ORDER_PAID: the only order currency it applies to (ISO 4217); null = any currency.")
    include_categories: list[str] = strawberry.field(
        description="ORDER_PAID: when not empty, only lines in these categories count.")
    exclude_categories: list[str] = strawberry.field(
        description="ORDER_PAID: lines in these categories never count.")
    include_skus: list[str] = strawberry.field(description="ORDER_PAID: when not empty, only these SKUs count.")
    exclude_skus: list[str] = strawberry.field(description="ORDER_PAID: these SKUs never count.")
    cap_points: int | None = strawberry.field(
        description="At most this many points per member per capPeriod; null = no cap.")
    cap_period: CapPeriod | None = strawberry.field(
        description="The period capPoints applies to; null when there is no cap.")
    apply_tier_multiplier: bool = strawberry.field(
        description="Whether the member's tier earn multiplier applies (results rounded down).")
    pending_days: int | None = strawberry.field(
        description="Days the points stay pending before they can be spent (0–3650); null = the order return "
                    "window for orders, 0 otherwise.")
    custom_type: str | None = strawberry.field(
        description="CUSTOM: the brand's activity name it matches (at most 64 characters); null otherwise.")
    referral_side: ReferralSide | None = strawberry.field(
        description="REFERRAL_CONVERTED: who earns (the referrer, the referred member or both); null "
                    "otherwise.")
    starts_at: dt.datetime | None = strawberry.field(
        description="It earns from this time (UTC, ISO 8601); null = no start bound.")
    ends_at: dt.datetime | None = strawberry.field(
        description="It earns until this time, exclusive (UTC, ISO 8601); null = no end.")

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
    name: str | None = strawberry.field(
        default=None, description="Shown in point history, 1–200 characters; required on create, omit to keep on update.")
    type: EarningRuleType | None = strawberry.field(
        default=None, description="The event that earns; required on create, omit to keep on update.")
    active: bool | None = strawberry.field(default=None, description="Whether it earns (default true on create).")
    points: int | None = strawberry.field(
        default=None, description="Fixed points per event (SIGNUP, BIRTHDAY, activities...), 0 or more.")
    points_per_unit: int | None = strawberry.field(
        default=None, description="ORDER_PAID: points for every currencyUnit spent; must be positive for ORDER_PAID.")
    currency_unit: int | None = strawberry.field(
        default=None, description="ORDER_PAID: the spend in minor units that earns pointsPerUnit, positive (default 100).")
    currency: str | None = strawberry.field(
        default=None, description="ORDER_PAID: restrict to this ISO 4217 currency (stored upper case); omit for any "
                                  "currency.")
    include_categories: list[str] | None = strawberry.field(
        default=None, description="ORDER_PAID: only lines in these categories count; at most 100 of 1–255 characters.")
    exclude_categories: list[str] | None = strawberry.field(
        default=None, description="ORDER_PAID: lines in these categories never count; at most 100 of 1–255 characters.")
    include_skus: list[str] | None = strawberry.field(
        default=None, description="ORDER_PAID: only these SKUs count; at most 100 of 1–255 characters.")
    exclude_skus: list[str] | None = strawberry.field(
        default=None, description="ORDER_PAID: these SKUs never count; at most 100 of 1–255 characters.")
    cap_points: int | None = strawberry.field(
        default=None, description="At most this many points per member per capPeriod, 0 or more; needs capPeriod.")
    cap_period: CapPeriod | None = strawberry.field(
        default=None, description="The period capPoints applies to; required with capPoints.")
    apply_tier_multiplier: bool | None = strawberry.field(
        default=None, description="Whether the member's tier earn multiplier applies (default true on create).")
    pending_days: int | None = strawberry.field(
        default=None, description="Days the points stay pending, 0–3650; omit for the order return window (orders) or 0.")
    custom_type: str | None = strawberry.field(
        default=None, description="CUSTOM: the brand's activity name it matches, 1–64 characters; required for CUSTOM.")
    referral_side: ReferralSide | None = strawberry.field(
        default=None, description="REFERRAL_CONVERTED: who earns.")
    starts_at: dt.datetime | None = strawberry.field(
        default=None, description="It earns from this time (ISO 8601 with an offset, stored in UTC).")
    ends_at: dt.datetime | None = strawberry.field(
        default=None, description="It earns until this time, exclusive; must be after startsAt (ISO 8601 with an offset).")


@strawberry.type
class EarningRulePayload:
    rule: EarningRule | None = strawberry.field(description="The saved rule; null when errors is not empty.")
    errors: list[UserError] = strawberry.field(description="Why nothing was saved; empty on success.")


@strawberry.type
class Activity:
    id: strawberry.ID = strawberry.field(description="Its global ID (reviewActivity takes it).")
    activity_id: int = strawberry.field(
        deprecation_reason=legacy_int_id(), description="Deprecated legacy integer ID; use id.")
    type: ActivityType = strawberry.field(description="What kind of activity it is.")
    custom_type: str | None = strawberry.field(description="CUSTOM: the brand's activity name; null otherwise.")
    external_id: str = strawberry.field(
        description="The caller's own id of the activity, unique per member, type and customType "
                    "(idempotency).")
    url: str | None = strawberry.field(
        description="The shared or submitted content's http(s) URL (required for brand UGC); null when none "
                    "was given.")
    status: str = strawberry.field(description="pending (brand UGC awaiting approval), approved or rejected")
    created_at: dt.datetime = strawberry.field(description="When it was recorded (UTC, ISO 8601).")

    @classmethod
    def from_model(cls, a: ActivityModel) -> Activity:
        return cls(id=global_id("Activity", a.id), activity_id=a.id, type=ActivityType(a.type), custom_type=a.custom_type, external_id=a.external_id,
                   url=a.url, status=a.status, created_at=a.created_at)


@strawberry.input
class RecordActivityInput:
    member_external_id: str | None = strawberry.field(default=None, description="Omit with a member token.")
    type: ActivityType = strawberry.field(
        description="What kind of activity it is; UGC_SUBMITTED waits for reviewActivity before it earns.")
    custom_type: str | None = strawberry.field(default=None, description="CUSTOM: the brand's activity name.")
    external_id: str = strawberry.field(description="The activity's own id (idempotency).")
    url: str | None = strawberry.field(default=None, description="Brand UGC: the photo or video.")


@strawberry.input
class ReviewActivityInput:
    activity_id: strawberry.ID = strawberry.field(description="The global ID of a pending Activity.")
    approve: bool = strawberry.field(description="true approves it (and awards its points), false rejects it.")


@strawberry.type
class ActivityPayload:
    activity: Activity | None = strawberry.field(
        description="The recorded or reviewed activity; null when errors is not empty.")
    points_awarded: int = strawberry.field(
        description="Points the activity earned now (0 when pending, rejected, already recorded, capped "
                    "or without a matching rule).")
    errors: list[UserError] = strawberry.field(description="Why nothing was done; empty on success.")


@strawberry.type
class EarningLine:
    rule_id: int = strawberry.field(
        deprecation_reason=legacy_int_id("ruleGlobalId"), description="Deprecated legacy integer ID of the earning rule; use ruleGlobalId.")
    rule_name: str = strawberry.field(description="The earning rule's name.")
    points: int = strawberry.field(
        description="Points this rule would award, after the tier multiplier and the member's cap.")
    eligible_amount: int = strawberry.field(
        description="The order amount this rule counts, in minor units (after its SKU and category filters).")
    multiplier: float = strawberry.field(
        description="The tier earn multiplier applied (1 without a tier or when the rule does not apply it).")
    capped_from: int | None = strawberry.field(
        description="The points before the member's cap cut them; null when the cap did not apply.")

    @strawberry.field(description="The global ID of the earning rule behind this line.")
    def rule_global_id(self) -> strawberry.ID:
        return global_id("EarningRule", self.rule_id)


@strawberry.type
class EarningPreview:
    points: int = strawberry.field(description="What the order would earn (before the return window).")
    lines: list[EarningLine] = strawberry.field(
        description="One line per active ORDER_PAID rule matching the currency.")


@strawberry.input
class PreviewLineInput:
    sku: str = strawberry.field(description="The line's SKU (matched against rules' SKU filters).")
    category: str | None = strawberry.field(
        default=None, description="The line's category (matched against rules' category filters).")
    quantity: int = strawberry.field(description="Units on the line, 1–1000000.")
    unit_price: int = strawberry.field(description="Price of one unit in minor units, 0–10^12.")


@strawberry.input
class PreviewEarningInput:
    member_external_id: str | None = strawberry.field(
        default=None, description="With a member: their tier multiplier and caps apply.")
    currency: str = strawberry.field(
        description="The order's ISO 4217 currency; rules for another currency do not apply.")
    lines: list[PreviewLineInput] = strawberry.field(description="The order lines, at most 100.")
