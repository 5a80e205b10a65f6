from __future__ import annotations

from strawberry.types import Info

from domain.members.models import Member as MemberModel
from domain.messaging import policies, service
from domain.messaging.models import Message as MessageModel
from domain.pagination import Page, PageRequest
from resolvers.common import attempt, fields_given, lookup
from schema.common import parse_id
from schema.members import Member
from schema.messaging import (
    Message,
    MessageLocale,
    MessageTemplate,
    MessageTemplatePayload,
    ReportMessageStatusInput,
    ReportMessageStatusPayload,
    ResetMessageTemplateInput,
    UpdateMessageTemplateInput,
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
    changes = fields_given(input, {"quiet_hours_start": "quiet_start", "quiet_hours_end": "quiet_end"})
    type_ = changes.pop("type")
    if input.channels is not None:
        changes["channels"] = [c.value for c in input.channels]
    if input.category_delays is not None:
        changes["category_delays"] = [(d.category, d.delay_hours) for d in input.category_delays]
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


async def report_message_status(info: Info, input: ReportMessageStatusInput) -> ReportMessageStatusPayload:
    found, errors = await attempt(service.report_status(parse_id(input.id, "Message"), input.status.value,
                                                        input.provider_message_id, input.error))
    if found is None:
        return ReportMessageStatusPayload(message=None, replayed=False, errors=errors)
    message, replayed = found
    member = Member.from_model(await MemberModel.get(id=message.member_id))
    return ReportMessageStatusPayload(message=Message.from_model(message, member), replayed=replayed, errors=[])


def _template(type_: MessageType, locale: MessageLocale, row: object | None) -> MessageTemplate:
    return MessageTemplate(type=type_, locale=locale, subject=getattr(row, "subject", None),
                           text=getattr(row, "text", None), html=getattr(row, "html", None),
                           updated_at=getattr(row, "updated_at", None))


async def update_message_template(info: Info, input: UpdateMessageTemplateInput) -> MessageTemplatePayload:
    row, errors = await attempt(service.update_template(input.type.value, input.locale.value, input.subject,
                                                        input.text, input.html))
    if errors:
        return MessageTemplatePayload(template=None, errors=errors)
    return MessageTemplatePayload(template=_template(input.type, input.locale, row), errors=[])


async def reset_message_template(info: Info, input: ResetMessageTemplateInput) -> MessageTemplatePayload:
    _, errors = await attempt(service.reset_template(input.type.value, input.locale.value))
    if errors:
        return MessageTemplatePayload(template=None, errors=errors)
    return MessageTemplatePayload(template=_template(input.type, input.locale, None), errors=[])
