from __future__ import annotations

from strawberry.types import Info

from domain.rewards import policies
from resolvers.common import attempt
from schema.common import parse_id
from schema.grant_policies import GrantPolicy, GrantPolicyPayload, SetGrantPolicyInput


async def grant_policies(info: Info) -> list[GrantPolicy]:
    return [GrantPolicy.from_model(row) for row in await policies.all_policies()]


async def set_grant_policy(info: Info, input: SetGrantPolicyInput) -> GrantPolicyPayload:
    reward_id = parse_id(input.reward_id, "Reward", "rewardId")
    segment_id = parse_id(input.segment_id, "Segment", "segmentId") if input.segment_id is not None else None
    row, errors = await attempt(policies.set_policy(input.kind.value, reward_id, segment_id, input.enabled))
    return GrantPolicyPayload(policy=GrantPolicy.from_model(row) if row else None, errors=errors)
