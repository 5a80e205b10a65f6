from __future__ import annotations

from typing import Annotated

import strawberry
from strawberry.types import Info

from domain.members import service
from domain.members.data_usage import features
from domain.messaging import disclosure
from domain.members.export import export_member
from domain.members.models import Member as MemberModel
from domain.pagination import NEWEST_ID, keyset_page
from resolvers.common import attempt, fields_given, target_external_id
from schema.common import JSON
from schema.members import (
    AnonymizeMemberInput,
    Consent,
    ConsentPurpose,
    DataUsage,
    FeatureDataUse,
    Member,
    MemberPayload,
    UpdateConsentsInput,
    UpsertMemberInput,
    UpsertMemberPayload,
)
from schema.pagination import Connection, paginate


async def upsert_member(info: Info, input: UpsertMemberInput) -> UpsertMemberPayload:
    values = fields_given(input)
    external_id = values.pop("external_id")
    result, errors = await attempt(service.upsert_member(external_id, values))
    if result is None:
        return UpsertMemberPayload(member=None, created=False, errors=errors)
    member, created = result
    return UpsertMemberPayload(member=Member.from_model(member), created=created, errors=[])


async def update_consents(info: Info, input: UpdateConsentsInput) -> MemberPayload:
    external_id = target_external_id(info, input.member_external_id)
    changes = [(c.purpose.value, c.granted) for c in input.consents]
    member, errors = await attempt(service.update_consents(external_id, changes, info.context.viewer.actor))
    return MemberPayload(member=Member.from_model(member) if member else None, errors=errors)


async def anonymize_member(info: Info, input: AnonymizeMemberInput) -> MemberPayload:
    external_id = target_external_id(info, input.member_external_id)
    member, errors = await attempt(service.anonymize(external_id, info.context.viewer.actor))
    return MemberPayload(member=Member.from_model(member) if member else None, errors=errors)


async def me(info: Info) -> Member | None:
    row = await MemberModel.get_or_none(external_id=info.context.viewer.member_external_id)
    return Member.from_model(row) if row else None


async def member(info: Info, external_id: str) -> Member | None:
    row = await MemberModel.get_or_none(external_id=external_id)
    return Member.from_model(row) if row else None


async def members_by_external_id(external_ids: list[str]) -> dict[str, Member]:
    return {m.external_id: Member.from_model(m) for m in await MemberModel.filter(external_id__in=external_ids)}


async def members(info: Info, first: int | None = None, after: str | None = None,
                  last: int | None = None, before: str | None = None,
                  search: Annotated[str | None, strawberry.argument(
                      description="The exact externalId; with members:pii also the exact e-mail or a part of "
                                  "the name. Empty: every member.")] = None) -> Connection[Member]:
    # Not counted: a COUNT over every member (millions) on each page is not cheap.
    found = service.search_members(search, info.context.viewer.sees_personal_data)
    return await paginate("Query.members", first, after, last, before,
                          lambda req: keyset_page(found, NEWEST_ID, req), Member.from_model)


async def _data_usage(external_id: str) -> DataUsage | None:
    row = await MemberModel.get_or_none(external_id=external_id)
    if row is None:
        return None
    consents = await service.current_consents(row.id)
    granted = {p for p, c in consents.items() if c.granted}
    return DataUsage(
        member_external_id=row.external_id,
        features=[
            FeatureDataUse(
                feature=f["feature"], reads=f["reads"], why=f["why"],
                consent_purpose=ConsentPurpose(f["purpose"]) if f["purpose"] else None,
                active=f["purpose"] is None or f["purpose"] in granted,
            )
            for f in features() + await disclosure.statements()
        ],
        consents=[
            Consent(purpose=ConsentPurpose(p), granted=p in granted,
                    source=consents[p].source if p in consents else None,
                    updated_at=consents[p].updated_at.isoformat() if p in consents else None)
            for p in service.PURPOSES
        ],
    )


async def my_data_usage(info: Info) -> DataUsage | None:
    return await _data_usage(info.context.viewer.member_external_id)


async def data_usage(info: Info, member_external_id: str) -> DataUsage | None:
    return await _data_usage(member_external_id)


async def export_member_data(info: Info, member_external_id: str | None = None) -> JSON | None:
    external_id = target_external_id(info, member_external_id)
    row = await MemberModel.get_or_none(external_id=external_id)
    return await export_member(row) if row else None

