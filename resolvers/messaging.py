from __future__ import annotations

from strawberry.types import Info

from domain.members.models import Member as MemberModel
from domain.messaging import policies, service
from domain.messaging.models import Message as MessageModel
from domain.pagination import Page, PageRequest
from resolvers.common import attempt, fields_given, lookup
from schema.members import Member
from schema.messaging import (
    Message,
    MessagePolicy,
    MessagePolicyPayload,
    MessagePreview,
    MessageStatus,
    MessageType,
    UpdateMessagePolicyInput,
)
from schema.pagination import Connection, paginate


async def message_policies(info: Info) -> list[MessagePolicy]:
    return [MessagePolicy.from_policy(p) for p in await policies.all_policies()]


async def update_message_policy(info: Info, input: UpdateMessagePolicyInput) -> MessagePolicyPayload:
    changes = fields_given(input)
    type_ = changes.pop("type")
    if input.channels is not None:
        changes["channels"] = [c.value for c in input.channels]
    policy, errors = await attempt(policies.update_policy(type_, changes))
    return MessagePolicyPayload(policy=MessagePolicy.from_policy(policy) if policy else None, errors=errors)


async def messages(info: Info, first: int | None = None, after: str | None = None, type: MessageType | None = None,
                   status: MessageStatus | None = None, last: int | None = None,
                   before: str | None = None) -> Connection[Message]:
    members: dict[int, Member] = {}

    async def fetch(request: PageRequest) -> Page[MessageModel]:
        page = await service.messages_page(request, type_=type.value if type else None,
                                           status=status.value if status else None)
        rows = await MemberModel.filter(id__in={r.member_id for r in page.rows})
        members.update({m.id: Member.from_model(m) for m in rows})
        return page

    return await paginate("Query.messages", first, after, last, before, fetch,
                          lambda m: Message.from_model(m, members[m.member_id]))


async def preview_message(info: Info, type: MessageType, member_external_id: str) -> MessagePreview | None:
    rendered = await lookup(service.preview(type.value, member_external_id))
    return MessagePreview(subject=rendered.subject, text=rendered.text, html=rendered.html) if rendered else None
