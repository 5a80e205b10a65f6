"""Segment types and inputs (saved member filters, evaluated in SQL)."""

from __future__ import annotations

import datetime as dt

import strawberry

from domain.pagination import PageRequest
from domain.segments import service
from domain.segments.filters import SegmentFilter as FilterValue
from domain.segments.models import Segment as SegmentModel
from schema.common import ConsentPurpose, global_id
from schema.errors import UserError
from schema.insights import RfmSegment  # one enum for the member's segment and the segment filter
from schema.members import Member
from schema.node import Node
from schema.pagination import Connection, paginate


@strawberry.type(description="A segment's conditions: every one given must hold; null ones do not restrict.")
class SegmentFilter:
    rfm_segments: list[RfmSegment] | None = strawberry.field(
        description="The member's RFM segment is one of these.")
    min_churn_risk: float | None = strawberry.field(
        description="The member's churnRisk is at least this (0–1); members without a churn figure never match.")
    tier_rank_at_least: int | None = strawberry.field(
        description="The member's tier rank is at least this; members without a tier never match.")
    last_order_before: dt.date | None = strawberry.field(
        description="The member ordered, and the last order was placed before this day (UTC).")
    last_order_after: dt.date | None = strawberry.field(
        description="The member's last order was placed on this day (UTC) or later.")
    consent: ConsentPurpose | None = strawberry.field(description="The member grants this consent purpose now.")
    bought_category: str | None = strawberry.field(
        description="The member bought a line of this catalog category (exact match), not refunded in full.")
    min_orders: int | None = strawberry.field(
        description="The member has at least this many orders, not counting orders refunded in full.")

    @classmethod
    def from_value(cls, f: FilterValue) -> SegmentFilter:
        return cls(rfm_segments=[RfmSegment(s) for s in f.rfm_segments] if f.rfm_segments is not None else None,
                   min_churn_risk=f.min_churn_risk, tier_rank_at_least=f.tier_rank_at_least,
                   last_order_before=f.last_order_before, last_order_after=f.last_order_after,
                   consent=ConsentPurpose(f.consent) if f.consent else None, bought_category=f.bought_category,
                   min_orders=f.min_orders)


@strawberry.type(description="A saved member filter, evaluated in SQL whenever it is read; the nightly "
                             "segment_membership job records who entered and left (segment.entered/exited).")
class Segment(Node):
    name: str = strawberry.field(description="The brand's name for it, 1–200 characters, unique.")
    filter: SegmentFilter = strawberry.field(description="Who is in it.")
    created_at: dt.datetime = strawberry.field(description="When it was created (UTC, ISO 8601).")
    updated_at: dt.datetime = strawberry.field(description="When its name or filter last changed (UTC, ISO 8601).")
    evaluated_at: dt.datetime | None = strawberry.field(
        description="When the nightly job last recorded its membership (UTC, ISO 8601); null: not yet.")
    evaluated_member_count: int | None = strawberry.field(
        description="Its members at that evaluation; null: not evaluated yet (memberCount is now).")
    model: strawberry.Private[SegmentModel]

    @classmethod
    def from_model(cls, s: SegmentModel) -> Segment:
        return cls(id=global_id("Segment", s.id), name=s.name, filter=SegmentFilter.from_value(service.filter_of(s)),
                   created_at=s.created_at, updated_at=s.updated_at, evaluated_at=s.evaluated_at,
                   evaluated_member_count=s.member_count, model=s)

    @strawberry.field(description="How many members match the filter now (one SQL COUNT).")
    async def member_count(self) -> int:
        return await service.member_count(self.model)

    @strawberry.field(description="The members matching the filter now, oldest member first.")
    async def members(self, first: int | None = None, after: str | None = None, last: int | None = None,
                      before: str | None = None) -> Connection[Member]:
        def fetch(request: PageRequest):  # noqa: ANN202
            return service.member_page(self.model, request)
        return await paginate("Segment.members", first, after, last, before, fetch, Member.from_model)


@strawberry.input(description="A segment's conditions; every one given must hold, omitted ones do not restrict.")
class SegmentFilterInput:
    rfm_segments: list[RfmSegment] | None = strawberry.field(
        default=None, description="The member's RFM segment is one of these (at least one).")
    min_churn_risk: float | None = strawberry.field(
        default=None, description="churnRisk at least this, from 0 to 1.")
    tier_rank_at_least: int | None = strawberry.field(
        default=None, description="Tier rank at least this, 0 or more.")
    last_order_before: dt.date | None = strawberry.field(
        default=None, description="Ordered, and the last order was placed before this day (UTC).")
    last_order_after: dt.date | None = strawberry.field(
        default=None, description="The last order was placed on this day (UTC) or later; earlier than "
                                  "lastOrderBefore when both are given.")
    consent: ConsentPurpose | None = strawberry.field(default=None, description="Grants this consent purpose now.")
    bought_category: str | None = strawberry.field(
        default=None, description="Bought a line of this category (exact match, 1–255 characters).")
    min_orders: int | None = strawberry.field(
        default=None, description="At least this many orders not refunded in full, 1 or more.")


@strawberry.input(description="createSegment's input.")
class CreateSegmentInput:
    name: str = strawberry.field(description="1–200 characters, unique among segments.")
    filter: SegmentFilterInput = strawberry.field(description="Who is in it.")


@strawberry.input(description="updateSegment's input: only the fields given change.")
class UpdateSegmentInput:
    id: strawberry.ID = strawberry.field(description="The global ID of the Segment.")
    name: str | None = strawberry.field(default=None, description="A new name, 1–200 characters, unique.")
    filter: SegmentFilterInput | None = strawberry.field(
        default=None, description="A new filter, replacing the whole old one.")


@strawberry.input(description="deleteSegment's input.")
class DeleteSegmentInput:
    id: strawberry.ID = strawberry.field(description="The global ID of the Segment.")


@strawberry.type(description="The segment after createSegment or updateSegment.")
class SegmentPayload:
    segment: Segment | None = strawberry.field(description="The saved segment; null when errors is not empty.")
    errors: list[UserError] = strawberry.field(
        description="Why nothing was saved (INVALID, SEGMENT_NAME_TAKEN, SEGMENT_NOT_FOUND); empty on success.")


@strawberry.type(description="deleteSegment's answer.")
class DeleteSegmentPayload:
    deleted_segment_id: strawberry.ID | None = strawberry.field(
        description="The global ID of the deleted segment; null when errors is not empty.")
    errors: list[UserError] = strawberry.field(
        description="Why nothing was deleted (SEGMENT_NOT_FOUND, SEGMENT_IN_USE); empty on success.")
