from __future__ import annotations

from strawberry.types import Info

from domain.ledger import jobs, operations
from domain.members.models import Member as MemberModel
from domain.members.service import get_member
from resolvers.common import attempt, target_external_id
from schema.ledger import (
    AdjustPointsInput,
    LedgerEntry,
    PointsPayload,
    ReleasePendingPointsInput,
    ReleasePendingPointsPayload,
    SpendPointsInput,
)
from schema.members import Member


def _payload(result, errors) -> PointsPayload:  # noqa: ANN001
    if result is None:
        return PointsPayload(entry=None, member=None, errors=errors)
    entry, member = result
    return PointsPayload(entry=LedgerEntry.from_model(entry), member=Member.from_model(member), errors=[])


async def spend_points(info: Info, input: SpendPointsInput) -> PointsPayload:
    external_id = target_external_id(info, input.member_external_id)
    return _payload(*await attempt(operations.spend_points(external_id, input.amount, input.idempotency_key,
                                                           input.reason)))


async def adjust_points(info: Info, input: AdjustPointsInput) -> PointsPayload:
    return _payload(*await attempt(operations.adjust_points(input.member_external_id, input.amount, input.reason,
                                                            input.idempotency_key, info.context.viewer.actor)))


async def release_pending_points(info: Info, input: ReleasePendingPointsInput) -> ReleasePendingPointsPayload:
    member, errors = await attempt(get_member(input.member_external_id))
    if member is None:
        return ReleasePendingPointsPayload(released=0, member=None, errors=errors)
    released = await jobs.release_member_now(member.id)
    fresh = await MemberModel.get(id=member.id)
    return ReleasePendingPointsPayload(released=released, member=Member.from_model(fresh), errors=[])
