"""Reward catalog and redemption types and inputs."""

from __future__ import annotations

import datetime as dt
from enum import Enum
from typing import TYPE_CHECKING, Annotated

import strawberry
from strawberry.types.lazy_type import LazyType
from tortoise.expressions import Q

from domain import clock
from domain.rewards.models import Redemption as RedemptionModel
from domain.rewards.models import Reward as RewardModel
from domain.segments.models import Segment as SegmentModel
from domain.tiers.models import Tier as TierModel
from schema.common import Money, global_id, legacy_int_id
from schema.errors import UserError
from schema.node import Node
from schema.tiers import Tier

if TYPE_CHECKING:
    from schema.segments import Segment

# Segment and Reward refer to each other through Member (schema.segments -> schema.members ->
# schema.rewards): strawberry's lazy type is the documented way for such types, and the same
# reference gives the class when a segment is built.
SEGMENT_TYPE = LazyType("Segment", "schema.segments")


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


@strawberry.enum(description="Who may have a reward.")
class AudienceKind(Enum):
    ALL = "ALL"  # every member, redeeming it for its points (the catalog)
    MEMBERS_GRANTED = "MEMBERS_GRANTED"  # only members it is granted to (grantReward)
    SEGMENT = "SEGMENT"  # members of a segment (its filter at the time), redeeming or granted
    TIER = "TIER"  # members in a tier, redeeming or granted


@strawberry.type(description="Who may have a reward: redeem it (ALL, SEGMENT, TIER) or be granted it (any).")
class RewardAudience:
    kind: AudienceKind = strawberry.field(description="ALL, MEMBERS_GRANTED (grants only), SEGMENT or TIER.")
    segment_id: strawberry.Private[int | None]
    tier_id: strawberry.Private[int | None]

    @strawberry.field(description="SEGMENT: the segment whose members may have it; null for other kinds.")
    async def segment(self) -> Annotated[Segment, strawberry.lazy("schema.segments")] | None:
        row = await SegmentModel.get_or_none(id=self.segment_id) if self.segment_id is not None else None
        return SEGMENT_TYPE.resolve_type().from_model(row) if row else None

    @strawberry.field(description="TIER: the tier whose members may have it; null for other kinds.")
    async def tier(self) -> Tier | None:
        row = await TierModel.get_or_none(id=self.tier_id) if self.tier_id is not None else None
        return Tier.from_model(row) if row else None


@strawberry.type
class Reward(Node):
    reward_id: int = strawberry.field(
        deprecation_reason=legacy_int_id(), description="Deprecated legacy integer ID; use id.")
    name: str = strawberry.field(description="Shown to members; 1–200 characters.")
    type: RewardType = strawberry.field(description="What the member gets for the points.")
    points_cost: int = strawberry.field(
        description="Points debited per redemption; 0 for a free or granted offer (nothing debited).")
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
    audience: RewardAudience = strawberry.field(description="Who may have it (ALL for the public catalog).")

    @classmethod
    def from_model(cls, r: RewardModel) -> Reward:
        return cls(
            id=global_id("Reward", r.id), reward_id=r.id, name=r.name, type=RewardType(r.type), points_cost=r.points_cost,
            discount=Money(amount=r.amount, currency=r.currency or "") if r.amount is not None else None,
            percent=r.percent, max_discount=r.max_discount, sku=r.sku, description=r.description,
            min_tier_rank=r.min_tier_rank, per_member_limit=r.per_member_limit, stock=r.stock, starts_at=r.starts_at,
            ends_at=r.ends_at, code_valid_days=r.code_valid_days, active=r.active,
            audience=RewardAudience(kind=AudienceKind(r.audience), segment_id=r.audience_segment_id,
                                    tier_id=r.audience_tier_id),
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
    granted: bool = strawberry.field(
        description="Whether the code was granted (grantReward, no points) rather than redeemed.")

    @classmethod
    def from_model(cls, r: RedemptionModel) -> Redemption:
        return cls(
            id=global_id("Redemption", r.id), redemption_id=r.id, code=r.code, status=CodeStatus(r.status),
            points=r.points, reward=Reward.from_model(r.reward), member_external_id=r.member.external_id,
            order_external_id=r.order_external_id, expires_at=r.expires_at, created_at=r.created_at, used_at=r.used_at,
            granted=r.grant_id is not None,
        )


@strawberry.input
class RewardInput:
    name: str | None = strawberry.field(
        default=None, description="Shown to members, 1–200 characters; required on create, omit to keep on update.")
    type: RewardType | None = strawberry.field(
        default=None, description="What the member gets; required on create, omit to keep on update.")
    points_cost: int | None = strawberry.field(
        default=None, description="Points debited per redemption, 0 or more (0: free or granted offer); "
                                  "required on create.")
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
    audience: RewardAudienceInput | None = strawberry.field(
        default=None, description="Who may have it; default ALL on create; given on update it replaces the whole "
                                  "audience.")


@strawberry.input(description="Who may have a reward.")
class RewardAudienceInput:
    kind: AudienceKind = strawberry.field(description="ALL, MEMBERS_GRANTED, SEGMENT or TIER.")
    segment_id: strawberry.ID | None = strawberry.field(
        default=None, description="SEGMENT (only): the global ID of the Segment.")
    tier_id: strawberry.ID | None = strawberry.field(default=None, description="TIER (only): the global ID of the Tier.")


@strawberry.input(description="grantReward's input: the reward, and either a segment or listed members.")
class GrantRewardInput:
    reward_id: strawberry.ID = strawberry.field(description="The global ID of the Reward to grant.")
    segment_id: strawberry.ID | None = strawberry.field(
        default=None, description="Grant to this segment's members now (or give memberExternalIds).")
    member_external_ids: list[str] | None = strawberry.field(
        default=None, description="Grant to these members, 1–1000 of them (or give segmentId); all must exist.")
    reason: str = strawberry.field(description="The campaign, 1–500 characters (e.g. 'Spring win-back'), in events.")
    idempotency_key: str = strawberry.field(
        description="1–255 characters per reward: a replay answers the first call and grants nothing more.")


@strawberry.type(description="grantReward's answer.")
class GrantRewardPayload:
    granted: int | None = strawberry.field(
        description="Codes issued by this grant (members holding the reward already are skipped); "
                    "on a replay, the first call's figure; null when errors is not empty.")
    replayed: bool = strawberry.field(description="Whether this key was used for this reward before (nothing written).")
    errors: list[UserError] = strawberry.field(
        description="Why nothing was granted (REWARD_NOT_FOUND, SEGMENT_NOT_FOUND, MEMBER_NOT_FOUND, "
                    "REWARD_UNAVAILABLE, OUT_OF_STOCK, INVALID); empty on success.")


@strawberry.type(description="A member's rewards.")
class MemberRewards:
    member_id: strawberry.Private[int]

    @strawberry.field(description="Codes the member can use now, granted or redeemed: issued and not past their "
                                  "expiry, soonest expiring first (codes that never expire last), then newest.")
    async def available(self) -> list[Redemption]:
        now = clock.now()
        usable = await (RedemptionModel.filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now), member_id=self.member_id,
                                               status="issued").prefetch_related("reward", "member"))
        usable.sort(key=lambda r: (r.expires_at is None, r.expires_at or now, -r.id))
        return [Redemption.from_model(r) for r in usable]


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
