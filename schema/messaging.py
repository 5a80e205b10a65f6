"""Engagement message types: policies, messages ("what we sent you and why"), previews."""

from __future__ import annotations

import datetime as dt
from enum import Enum
from typing import Annotated

import strawberry

from domain.messaging.models import Message as MessageModel
from domain.messaging.policies import Policy
from schema.errors import UserError
from schema.common import ConsentPurpose, global_id

MemberRef = Annotated["Member", strawberry.lazy("schema.members")]


@strawberry.enum(description="Message types Patron plans and sends (see the README for those not built yet).")
class MessageType(Enum):
    REVIEW_REQUEST = "REVIEW_REQUEST"
    REVIEW_REMINDER = "REVIEW_REMINDER"


@strawberry.enum
class MessageChannel(Enum):
    EMAIL = "EMAIL"
    WEBHOOK = "WEBHOOK"


@strawberry.enum
class MessageStatus(Enum):
    SCHEDULED = "SCHEDULED"
    SENT = "SENT"
    SUPPRESSED = "SUPPRESSED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"


@strawberry.type
class MessagePolicy:
    type: MessageType
    enabled: bool
    channels: list[MessageChannel]
    delay_hours: int = strawberry.field(description="REVIEW_REQUEST: after fulfilment; REVIEW_REMINDER: after the request.")
    consent_purpose: ConsentPurpose
    cap_exempt: bool = strawberry.field(description="Not counted in, nor stopped by, the 5-per-30-days cap.")

    @classmethod
    def from_policy(cls, p: Policy) -> MessagePolicy:
        return cls(type=MessageType(p.type), enabled=p.enabled, channels=[MessageChannel(c) for c in p.channels],
                   delay_hours=p.delay_hours, consent_purpose=ConsentPurpose(p.consent_purpose),
                   cap_exempt=p.cap_exempt)


@strawberry.type
class Message:
    id: strawberry.ID
    type: MessageType
    channel: MessageChannel
    status: MessageStatus
    reason: str | None = strawberry.field(description="Why: no consent, capped, quiet hours moved it, already "
                                                      "reviewed, consent withdrawn, where it was handed over …")
    scheduled_for: dt.datetime
    sent_at: dt.datetime | None
    order_external_id: str | None
    products: list[str] = strawberry.field(description="externalIds of the products the message is about.")
    member: MemberRef

    @classmethod
    def from_model(cls, m: MessageModel, member: object) -> Message:
        return cls(id=global_id("Message", m.id), type=MessageType(m.type), channel=MessageChannel(m.channel),
                   status=MessageStatus(m.status), reason=m.reason, scheduled_for=m.scheduled_for,
                   sent_at=m.sent_at, order_external_id=m.order_external_id, products=list(m.products),
                   member=member)


@strawberry.type
class MessagePreview:
    subject: str
    text: str
    html: str


@strawberry.input
class UpdateMessagePolicyInput:
    type: MessageType
    enabled: bool | None = None
    channels: list[MessageChannel] | None = None
    delay_hours: int | None = None
    consent_purpose: ConsentPurpose | None = None
    cap_exempt: bool | None = None


@strawberry.type
class MessagePolicyPayload:
    policy: MessagePolicy | None
    errors: list[UserError]
