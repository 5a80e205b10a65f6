from __future__ import annotations

import strawberry
from strawberry.types import Info

from domain.pagination import PageRequest
from domain.segments import service
from resolvers.common import attempt, fields_given, lookup
from schema.common import global_id, parse_id
from schema.pagination import Connection, paginate
from schema.segments import (
    CreateSegmentInput,
    DeleteSegmentInput,
    DeleteSegmentPayload,
    Segment,
    SegmentFilterInput,
    SegmentPayload,
    UpdateSegmentInput,
)


def _conditions(given: SegmentFilterInput) -> dict:
    values = fields_given(given)
    if "rfm_segments" in values:
        values["rfm_segments"] = [s.value for s in given.rfm_segments or []]
    return values


async def segment(info: Info, id: strawberry.ID) -> Segment | None:
    found = await lookup(service.get_segment(parse_id(id, "Segment")))
    return Segment.from_model(found) if found else None


async def segments(info: Info, first: int | None = None, after: str | None = None,
                   last: int | None = None, before: str | None = None) -> Connection[Segment]:
    def fetch(request: PageRequest):  # noqa: ANN202
        return service.segment_page(request)
    return await paginate("Query.segments", first, after, last, before, fetch, Segment.from_model)


async def create_segment(info: Info, input: CreateSegmentInput) -> SegmentPayload:
    row, errors = await attempt(service.create_segment(input.name, _conditions(input.filter)))
    return SegmentPayload(segment=Segment.from_model(row) if row else None, errors=errors)


async def update_segment(info: Info, input: UpdateSegmentInput) -> SegmentPayload:
    segment_id = parse_id(input.id, "Segment")
    conditions = _conditions(input.filter) if input.filter is not None else None
    row, errors = await attempt(service.update_segment(segment_id, input.name, conditions))
    return SegmentPayload(segment=Segment.from_model(row) if row else None, errors=errors)


async def delete_segment(info: Info, input: DeleteSegmentInput) -> DeleteSegmentPayload:
    deleted, errors = await attempt(service.delete_segment(parse_id(input.id, "Segment")))
    return DeleteSegmentPayload(deleted_segment_id=global_id("Segment", deleted) if deleted else None, errors=errors)
