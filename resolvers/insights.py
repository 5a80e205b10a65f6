from __future__ import annotations

import datetime as dt
from typing import Annotated

import strawberry
from strawberry.types import Info

from domain.errors import InvalidInput
from domain.insights import members as member_insights
from domain.insights import service
from schema.errors import bad_input
from schema.insights import ProgramInsights, RfmSegment, RfmSegmentCount


async def program_insights(
    info: Info,
    from_: Annotated[dt.date, strawberry.argument(name="from", description="First day (UTC), included.")],
    to: Annotated[dt.date, strawberry.argument(description="Last day (UTC), included.")],
    currency: Annotated[str, strawberry.argument(description="ISO 4217 code: orders in other currencies are left out.")],
) -> ProgramInsights:
    try:
        period = service.period(from_, to, currency)
    except InvalidInput as e:  # a malformed question, not a business outcome
        raise bad_input(f"{e.field}: {e.message}") from e
    return ProgramInsights(period=period)


async def rfm_segments(info: Info) -> list[RfmSegmentCount]:
    return [RfmSegmentCount(segment=RfmSegment(name), members=n, share=share)
            for name, n, share in await member_insights.segment_counts()]
