"""Segments: saved filters (domain/segments/filters.py), their members read by SQL, and the
nightly re-evaluation that records who entered and who left.

The re-evaluation diffs in SQL too: the members the filter finds now that `segment_members`
does not hold entered; the rows of `segment_members` the filter no longer finds exited. Both
sets are taken in chunks of CHUNK members, each chunk in its own transaction with its events,
so a crash leaves `segment_members` matching the events recorded so far and the next run
carries on from there.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tortoise.expressions import Subquery
from tortoise.queryset import QuerySet

from domain import clock
from domain.db import write_transaction
from domain.errors import DomainError, InvalidInput, NotFound
from domain.events.service import record_event
from domain.members.models import Member
from domain.pagination import NEWEST_ID, Page, PageRequest, keyset_page
from domain.rewards.models import GrantPolicy, Reward
from domain.segments.filters import SegmentFilter, members_query, validated
from domain.segments.models import Segment, SegmentMember

CHUNK = 500  # members per transaction when recording entries and exits
OLDEST_ID = (("id", False),)  # segment members in id order (stable, indexed)


def _name(value: Any) -> str:
    name = (value or "").strip()
    if not 1 <= len(name) <= 200:
        raise InvalidInput("name must be 1 to 200 characters", "name")
    return name


async def _unique_name(name: str, segment_id: int | None) -> None:
    clash = Segment.filter(name=name)
    if segment_id is not None:
        clash = clash.exclude(id=segment_id)
    if await clash.exists():
        raise DomainError(f"A segment named {name!r} exists already", "name", code="SEGMENT_NAME_TAKEN")


async def create_segment(name: str, conditions: dict[str, Any]) -> Segment:
    clean = _name(name)
    wanted = validated(conditions)
    async with write_transaction():
        await _unique_name(clean, None)
        now = clock.now()
        return await Segment.create(name=clean, conditions=wanted.stored(), created_at=now, updated_at=now)


async def update_segment(segment_id: int, name: str | None, conditions: dict[str, Any] | None) -> Segment:
    """Only what is given changes; a new filter replaces the old one whole. Membership and its
    events follow at the next evaluation."""
    clean = _name(name) if name is not None else None
    wanted = validated(conditions) if conditions is not None else None
    async with write_transaction():
        segment = await Segment.select_for_update().get_or_none(id=segment_id)
        if segment is None:
            raise NotFound("No such segment", "id", code="SEGMENT_NOT_FOUND")
        if clean is not None:
            await _unique_name(clean, segment.id)
            segment.name = clean
        if wanted is not None:
            segment.conditions = wanted.stored()
        segment.updated_at = clock.now()
        await segment.save()
        return segment


async def delete_segment(segment_id: int) -> int:
    """Delete a segment and its stored membership (no exit events: the segment is gone). A
    segment that a reward's audience names cannot be deleted; grants keep their count."""
    async with write_transaction():
        segment = await Segment.select_for_update().get_or_none(id=segment_id)
        if segment is None:
            raise NotFound("No such segment", "id", code="SEGMENT_NOT_FOUND")
        if await Reward.filter(audience_segment_id=segment.id).exists():
            raise DomainError("A reward's audience is this segment: change the reward first", "id",
                              code="SEGMENT_IN_USE")
        if await GrantPolicy.filter(segment_id=segment.id).exists():
            raise DomainError("A grant policy targets this segment: change the policy first", "id",
                              code="SEGMENT_IN_USE")
        await SegmentMember.filter(segment_id=segment.id).delete()
        await segment.delete()
        return segment_id


async def get_segment(segment_id: int) -> Segment:
    segment = await Segment.get_or_none(id=segment_id)
    if segment is None:
        raise NotFound("No such segment", "id", code="SEGMENT_NOT_FOUND")
    return segment


def filter_of(segment: Segment) -> SegmentFilter:
    return SegmentFilter.from_stored(segment.conditions)


def members_of(segment: Segment) -> QuerySet[Member]:
    """The segment's members now, as one query."""
    return members_query(filter_of(segment))


async def member_count(segment: Segment) -> int:
    return await members_of(segment).count()


async def member_page(segment: Segment, request: PageRequest) -> Page[Member]:
    return await keyset_page(members_of(segment), OLDEST_ID, request)


async def segment_page(request: PageRequest) -> Page[Segment]:
    return await keyset_page(Segment.all(), NEWEST_ID, request)


async def is_member(segment: Segment, member_id: int) -> bool:
    return await members_of(segment).filter(id=member_id).exists()


def _event(segment: Segment, external_id: str, now: datetime) -> dict[str, Any]:
    return {"segmentId": segment.id, "segment": segment.name, "memberExternalId": external_id,
            "evaluatedAt": now.isoformat()}


async def evaluate(segment: Segment, now: datetime) -> tuple[int, int]:
    """Bring `segment_members` up to the filter's answer now; (entered, exited)."""
    current = members_of(segment)
    stored = SegmentMember.filter(segment_id=segment.id)
    entered = exited = 0
    while True:
        async with write_transaction():
            new = await (current.exclude(id__in=Subquery(stored.values("member_id"))).order_by("id").limit(CHUNK)
                         .values("id", "external_id"))
            await SegmentMember.bulk_create([SegmentMember(segment_id=segment.id, member_id=m["id"], entered_at=now)
                                             for m in new])
            for m in new:
                await record_event("segment.entered", _event(segment, m["external_id"], now), m["id"])
        entered += len(new)
        if len(new) < CHUNK:
            break
    while True:
        async with write_transaction():
            gone = await (stored.exclude(member_id__in=Subquery(members_of(segment).values("id"))).order_by("id")
                          .limit(CHUNK).values("id", "member_id", "member__external_id"))
            await SegmentMember.filter(id__in=[g["id"] for g in gone]).delete()
            for g in gone:
                await record_event("segment.exited", _event(segment, g["member__external_id"], now), g["member_id"])
        exited += len(gone)
        if len(gone) < CHUNK:
            break
    async with write_transaction():
        count = await stored.count()
        await Segment.filter(id=segment.id).update(member_count=count, evaluated_at=now)
    return entered, exited


async def evaluate_all(now: datetime) -> int:
    """The nightly job: every segment re-evaluated; returns the members that entered or left."""
    changed, after = 0, 0
    while True:
        segment = await Segment.filter(id__gt=after).order_by("id").first()
        if segment is None:
            return changed
        entered, exited = await evaluate(segment, now)
        changed += entered + exited
        after = segment.id
