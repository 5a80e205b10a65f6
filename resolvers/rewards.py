from __future__ import annotations

import strawberry
from strawberry.types import Info

from domain import changes
from domain.rewards import offers, service
from domain.rewards.models import Reward as RewardModel
from resolvers.common import attempt, fields_given, lookup, target_external_id
from schema.common import parse_id
from schema.rewards import (
    CodeInput,
    GrantRewardInput,
    GrantRewardPayload,
    MarkCodeUsedInput,
    RedeemRewardInput,
    Redemption,
    RedemptionPayload,
    Reward,
    RewardInput,
    RewardPayload,
)


async def rewards(info: Info, include_inactive: bool = False) -> list[Reward]:
    """The catalog is public (what a storefront shows); admins can include inactive items."""
    changes.reading(changes.REWARDS)
    qs = RewardModel.all().order_by("points_cost", "id")
    admin = info.context.viewer.role == "admin"
    if not (include_inactive and admin):
        qs = qs.filter(active=True)
    if not admin:  # personalized offers reach their audience by grants and codes, not the public catalog
        qs = qs.filter(audience="ALL")
    return [Reward.from_model(r) for r in await qs]


def _reward_values(input: RewardInput) -> dict:
    values = fields_given(input)
    if input.audience is not None:
        a = input.audience
        values["audience"] = {
            "audience": a.kind.value,
            "audience_segment_id": parse_id(a.segment_id, "Segment", "audience.segmentId") if a.segment_id else None,
            "audience_tier_id": parse_id(a.tier_id, "Tier", "audience.tierId") if a.tier_id else None,
        }
    return values


async def create_reward(info: Info, input: RewardInput) -> RewardPayload:
    reward, errors = await attempt(service.save_reward(None, _reward_values(input)))
    return RewardPayload(reward=Reward.from_model(reward) if reward else None, errors=errors)


async def update_reward(info: Info, id: strawberry.ID, input: RewardInput) -> RewardPayload:
    reward, errors = await attempt(service.save_reward(parse_id(id, "Reward"), _reward_values(input)))
    return RewardPayload(reward=Reward.from_model(reward) if reward else None, errors=errors)


async def grant_reward(info: Info, input: GrantRewardInput) -> GrantRewardPayload:
    reward_id = parse_id(input.reward_id, "Reward", "rewardId")
    segment_id = parse_id(input.segment_id, "Segment", "segmentId") if input.segment_id is not None else None
    work = offers.grant(reward_id, segment_id, input.member_external_ids, input.reason, input.idempotency_key,
                        info.context.viewer.actor)
    done, errors = await attempt(work)
    if done is None:
        return GrantRewardPayload(granted=None, replayed=False, errors=errors)
    row, replayed = done
    return GrantRewardPayload(granted=row.granted, replayed=replayed, errors=[])


async def _redemption(work) -> RedemptionPayload:  # noqa: ANN001
    row, errors = await attempt(work)
    if row is None:
        return RedemptionPayload(redemption=None, errors=errors)
    missing = [name for name in ("reward", "member") if getattr(row, f"_{name}", None) is None]
    if missing:  # a service that created the row may have attached them already
        await row.fetch_related(*missing)
    return RedemptionPayload(redemption=Redemption.from_model(row), errors=[])


async def redeem_reward(info: Info, input: RedeemRewardInput) -> RedemptionPayload:
    member = target_external_id(info, input.member_external_id)
    reward_id = parse_id(input.reward_id, "Reward", "rewardId")
    return await _redemption(service.redeem(member, reward_id, input.idempotency_key))


async def reward_code(info: Info, code: str) -> Redemption | None:
    found = await lookup(service.find_code(code))
    return Redemption.from_model(found) if found else None


async def mark_reward_code_used(info: Info, input: MarkCodeUsedInput) -> RedemptionPayload:
    return await _redemption(service.mark_used(input.code, input.order_external_id))


async def cancel_redemption(info: Info, input: CodeInput) -> RedemptionPayload:
    viewer = info.context.viewer
    owner = viewer.member_external_id if viewer.role == "member" else None
    return await _redemption(service.cancel(input.code, viewer.actor, owner))
