from __future__ import annotations

import strawberry
from strawberry.types import Info

from domain import changes
from domain.tiers import service
from resolvers.common import attempt, fields_given
from schema.common import parse_id
from schema.tiers import Tier, TierInput, TierPayload


def _values(input: TierInput) -> dict:
    values = fields_given(input)
    if "min_spend" in values and "currency" in values:
        values["currency"] = values["currency"].upper()
    return values


async def tiers(info: Info) -> list[Tier]:
    changes.reading("tiers")
    return [Tier.from_model(t) for t in await service.all_tiers()]


async def create_tier(info: Info, input: TierInput) -> TierPayload:
    tier, errors = await attempt(service.save_tier(None, _values(input)))
    return TierPayload(tier=Tier.from_model(tier) if tier else None, errors=errors)


async def update_tier(info: Info, id: strawberry.ID, input: TierInput) -> TierPayload:
    tier, errors = await attempt(service.save_tier(parse_id(id, "Tier"), _values(input)))
    return TierPayload(tier=Tier.from_model(tier) if tier else None, errors=errors)
