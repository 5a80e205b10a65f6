"""Automatic grant policies (BIRTHDAY, WIN_BACK): types and inputs (domain/rewards/policies.py)."""

from __future__ import annotations

import datetime as dt
from enum import Enum

import strawberry

from domain.rewards.models import GrantPolicy as GrantPolicyModel
from domain.rewards.models import Reward as RewardModel
from domain.segments.models import Segment as SegmentModel
from schema.errors import UserError
from schema.rewards import Reward
from schema.segments import Segment


@strawberry.enum(description="What an automatic grant policy reacts to.")
class GrantPolicyKind(Enum):
    BIRTHDAY = strawberry.enum_value(
        "BIRTHDAY", description="The member's birthday falls in this UTC week (Monday to Sunday): once a year.")
    WIN_BACK = strawberry.enum_value(
        "WIN_BACK", description="The member is in the policy's segment: once per member and reward.")


@strawberry.type(description="An automatic grant: the reward a job grants without points when the kind's occasion "
                             "comes (README, Personalized offers).")
class GrantPolicy:
    kind: GrantPolicyKind = strawberry.field(description="BIRTHDAY or WIN_BACK; one policy per kind.")
    enabled: bool = strawberry.field(description="Whether the job applies it.")
    updated_at: dt.datetime = strawberry.field(description="When it was last set (UTC).")
    reward_id: strawberry.Private[int]
    segment_id: strawberry.Private[int | None]

    @strawberry.field(description="The reward granted (its audience, dates, stock and code validity apply).")
    async def reward(self) -> Reward:
        return Reward.from_model(await RewardModel.get(id=self.reward_id))

    @strawberry.field(description="WIN_BACK: the segment whose members receive it; null for BIRTHDAY.")
    async def segment(self) -> Segment | None:
        row = await SegmentModel.get_or_none(id=self.segment_id) if self.segment_id is not None else None
        return Segment.from_model(row) if row else None

    @classmethod
    def from_model(cls, row: GrantPolicyModel) -> GrantPolicy:
        return cls(kind=GrantPolicyKind(row.kind), enabled=row.enabled, updated_at=row.updated_at,
                   reward_id=row.reward_id, segment_id=row.segment_id)


@strawberry.input(description="setGrantPolicy's input: the whole policy of one kind, replacing the one set before.")
class SetGrantPolicyInput:
    kind: GrantPolicyKind = strawberry.field(description="BIRTHDAY or WIN_BACK.")
    reward_id: strawberry.ID = strawberry.field(description="The global ID of the Reward to grant.")
    segment_id: strawberry.ID | None = strawberry.field(
        default=None, description="WIN_BACK (required): the global ID of the Segment; BIRTHDAY takes none.")
    enabled: bool = strawberry.field(default=True, description="Whether the job applies it (default true).")


@strawberry.type(description="setGrantPolicy's answer.")
class GrantPolicyPayload:
    policy: GrantPolicy | None = strawberry.field(description="The policy as set; null when errors is not empty.")
    errors: list[UserError] = strawberry.field(
        description="Why nothing was set (INVALID, REWARD_NOT_FOUND, SEGMENT_NOT_FOUND); empty on success.")
