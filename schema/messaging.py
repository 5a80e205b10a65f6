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


@strawberry.enum(description="Message types Patron plans and sends (README, Engagement messages).")
class MessageType(Enum):
    REVIEW_REQUEST = "REVIEW_REQUEST"
    REVIEW_REMINDER = "REVIEW_REMINDER"
    SATISFACTION_SURVEY = "SATISFACTION_SURVEY"
    FEEDBACK_THANKS = "FEEDBACK_THANKS"
    POINTS_EXPIRING = "POINTS_EXPIRING"
    TIER_CHANGED = "TIER_CHANGED"
    BIRTHDAY = "BIRTHDAY"
    WIN_BACK = "WIN_BACK"
    CART_REMINDER = "CART_REMINDER"


@strawberry.enum
class MessageChannel(Enum):
    EMAIL = "EMAIL"
    WEBHOOK = "WEBHOOK"


@strawberry.enum
class MessageStatus(Enum):
    SCHEDULED = "SCHEDULED"
    SENT = "SENT"
    DELIVERED = "DELIVERED"
    SUPPRESSED = "SUPPRESSED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"


@strawberry.type(description="A per-category delay of an order-based message type.")
class CategoryDelay:
    category: str = strawberry.field(description="The order line category (as recordOrder gave it).")
    delay_hours: int = strawberry.field(description="Hours after fulfilment for orders with this category.")


@strawberry.input(description="A per-category delay of an order-based message type.")
class CategoryDelayInput:
    category: str = strawberry.field(description="The order line category (as recordOrder gives it), 1 to 255 characters.")
    delay_hours: int = strawberry.field(description="Hours after fulfilment, 0 to 8760.")


@strawberry.type
class MessagePolicy:
    type: MessageType = strawberry.field(description="The message type this policy governs.")
    enabled: bool = strawberry.field(description="False: none planned, and scheduled ones are cancelled at send time.")
    channels: list[MessageChannel] = strawberry.field(
        description="Channels it goes out on, one message per channel; at least one.")
    delay_hours: int = strawberry.field(
        description="REVIEW_REQUEST, SATISFACTION_SURVEY: after fulfilment; REVIEW_REMINDER: after the request; "
                    "FEEDBACK_THANKS: after the improvement was recorded; POINTS_EXPIRING: after "
                    "the notice day (PATRON_POINTS_EXPIRING_DAYS before expiry); TIER_CHANGED: after the change; "
                    "BIRTHDAY: after local midnight of the birthday; WIN_BACK: without an order; CART_REMINDER: "
                    "after the last add-to-cart (sent within the next 24 h or not at all).")
    consent_purpose: ConsentPurpose = strawberry.field(
        description="The consent the member must have given; without it the message is SUPPRESSED. A marketing "
                    "purpose means MARKETING_EMAIL on EMAIL and MARKETING_SMS on WEBHOOK.")
    cap_exempt: bool = strawberry.field(description="Not counted in, nor stopped by, the cap across types.")
    cap_messages: int = strawberry.field(
        description="A message of this type is not sent (SUPPRESSED, capped) once the member received this many "
                    "counted messages on the channel in capDays (default 5).")
    cap_days: int = strawberry.field(description="The cap's window in days (default 30).")
    product_repeat_days: int = strawberry.field(
        description="REVIEW_REQUEST: a product is asked about at most once in this many days (default 365; 0: no "
                    "limit). Not used by other types.")
    quiet_hours_start: int = strawberry.field(
        description="Local hour (0-23) the quiet hours start (default 21); nothing goes out until quietHoursEnd "
                    "without the member's NIGHT_MESSAGES consent. Equal to quietHoursEnd: no quiet hours.")
    quiet_hours_end: int = strawberry.field(description="Local hour (0-23) the quiet hours end (default 8).")
    lead_days: list[int] = strawberry.field(
        description="POINTS_EXPIRING: days before a lot expires a notice is planned, longest first (default "
                    "PATRON_POINTS_EXPIRING_DAYS, 30 and 7). Empty for other types.")
    category_delays: list[CategoryDelay] = strawberry.field(
        description="REVIEW_REQUEST, SATISFACTION_SURVEY: delayHours by order line category; an order waits for "
                    "the longest of its lines' delays. Empty: delayHours for every order.")

    @classmethod
    def from_policy(cls, p: Policy) -> MessagePolicy:
        return cls(type=MessageType(p.type), enabled=p.enabled, channels=[MessageChannel(c) for c in p.channels],
                   delay_hours=p.delay_hours, consent_purpose=ConsentPurpose(p.consent_purpose),
                   cap_exempt=p.cap_exempt, cap_messages=p.cap_messages, cap_days=p.cap_days,
                   product_repeat_days=p.product_repeat_days, quiet_hours_start=p.quiet_start,
                   quiet_hours_end=p.quiet_end, lead_days=list(p.leads()) if p.type == "POINTS_EXPIRING" else [],
                   category_delays=[CategoryDelay(category=c, delay_hours=h) for c, h in p.category_delays])


@strawberry.type
class Message:
    id: strawberry.ID = strawberry.field(description="The message's global ID.")
    type: MessageType = strawberry.field(description="What kind of message it is.")
    channel: MessageChannel = strawberry.field(
        description="EMAIL: sent by Patron; WEBHOOK: handed to the brand's provider as a message.due event.")
    status: MessageStatus = strawberry.field(
        description="SCHEDULED until its time, then SENT, SUPPRESSED, FAILED (after 3 e-mail attempts, or as the "
                    "webhook provider reported) or CANCELLED; DELIVERED when the webhook provider reported it so.")
    reason: str | None = strawberry.field(description="Why: no consent, capped, quiet hours moved it, already "
                                                      "reviewed, consent withdrawn, where it was handed over …")
    scheduled_for: dt.datetime = strawberry.field(
        description="When it is (or was) due, UTC; moved out of quiet hours (21:00–08:00 local) without NIGHT_MESSAGES.")
    sent_at: dt.datetime | None = strawberry.field(description="When it was sent or handed over, UTC; null until SENT.")
    order_external_id: str | None = strawberry.field(description="The order it is about; null when none.")
    products: list[str] = strawberry.field(description="externalIds of the products the message is about.")
    provider_message_id: str | None = strawberry.field(
        description="WEBHOOK: the provider's id of the message, from reportMessageStatus; null otherwise.")
    member: MemberRef = strawberry.field(description="The recipient.")

    @classmethod
    def from_model(cls, m: MessageModel, member: object) -> Message:
        return cls(id=global_id("Message", m.id), type=MessageType(m.type), channel=MessageChannel(m.channel),
                   status=MessageStatus(m.status), reason=m.reason, scheduled_for=m.scheduled_for,
                   sent_at=m.sent_at, order_external_id=m.order_external_id, products=list(m.products),
                   provider_message_id=m.provider_message_id, member=member)


@strawberry.type
class MessagePreview:
    subject: str = strawberry.field(description="The subject line, in the member's locale (ko or en), on one line.")
    text: str = strawberry.field(description="The plain-text body.")
    html: str = strawberry.field(description="The HTML body (template values escaped).")


@strawberry.input
class UpdateMessagePolicyInput:
    type: MessageType = strawberry.field(description="The message type whose policy to change.")
    enabled: bool | None = strawberry.field(default=None, description="Null or omitted: unchanged.")
    channels: list[MessageChannel] | None = strawberry.field(
        default=None, description="One or more channels, each once. Null or omitted: unchanged.")
    delay_hours: int | None = strawberry.field(
        default=None, description="0 to 8760 (a year). Null or omitted: unchanged.")
    consent_purpose: ConsentPurpose | None = strawberry.field(
        default=None, description="A message purpose (not NIGHT_MESSAGES nor PERSONALIZATION). "
                                  "Null or omitted: unchanged.")
    cap_exempt: bool | None = strawberry.field(default=None, description="Null or omitted: unchanged.")
    cap_messages: int | None = strawberry.field(default=None, description="1 to 100. Null or omitted: unchanged.")
    cap_days: int | None = strawberry.field(default=None, description="1 to 365. Null or omitted: unchanged.")
    product_repeat_days: int | None = strawberry.field(
        default=None, description="REVIEW_REQUEST only: 0 to 3650. Null or omitted: unchanged.")
    quiet_hours_start: int | None = strawberry.field(default=None, description="0 to 23. Null or omitted: unchanged.")
    quiet_hours_end: int | None = strawberry.field(default=None, description="0 to 23. Null or omitted: unchanged.")
    lead_days: list[int] | None = strawberry.field(
        default=None, description="POINTS_EXPIRING only: 1 to 5 different days, each 1 to 365. Null or omitted: "
                                  "unchanged.")
    category_delays: list[CategoryDelayInput] | None = strawberry.field(
        default=None, description="REVIEW_REQUEST, SATISFACTION_SURVEY only: replaces the list (at most 100, each "
                                  "category once; [] removes them). Null or omitted: unchanged.")


@strawberry.type
class MessagePolicyPayload:
    policy: MessagePolicy | None = strawberry.field(description="The policy as saved; null when `errors` is not empty.")
    errors: list[UserError] = strawberry.field(description="Why nothing changed; empty on success.")


@strawberry.enum(description="What the WEBHOOK channel's provider reports about a message it received.")
class ProviderMessageStatus(Enum):
    DELIVERED = "DELIVERED"
    FAILED = "FAILED"


@strawberry.input
class ReportMessageStatusInput:
    id: strawberry.ID = strawberry.field(description="The message's global ID (messageId in message.due is its integer).")
    status: ProviderMessageStatus = strawberry.field(
        description="DELIVERED: it reached the member; FAILED: the provider gave up.")
    provider_message_id: str | None = strawberry.field(
        default=None, description="The provider's own id of the message, 1 to 255 characters.")
    error: str | None = strawberry.field(default=None, description="With FAILED: why, 1 to 500 characters.")


@strawberry.type
class ReportMessageStatusPayload:
    message: Message | None = strawberry.field(description="The message as it is now; null when `errors` is not empty.")
    replayed: bool = strawberry.field(description="True when the same outcome was already reported: nothing changed.")
    errors: list[UserError] = strawberry.field(description="Why nothing changed; empty on success.")


@strawberry.enum(description="Languages templates are shipped in.")
class MessageLocale(Enum):
    KO = "ko"
    EN = "en"


@strawberry.input
class UpdateMessageTemplateInput:
    type: MessageType = strawberry.field(description="The message type whose template to override.")
    locale: MessageLocale = strawberry.field(description="The language version to override.")
    subject: str | None = strawberry.field(
        default=None, description="Jinja2 subject (1 to 500 characters); null: the shipped one.")
    text: str | None = strawberry.field(
        default=None, description="Jinja2 plain-text body (up to 50,000 characters); null: the shipped one.")
    html: str | None = strawberry.field(
        default=None, description="Jinja2 HTML body, values autoescaped (up to 50,000 characters); null: the shipped one.")


@strawberry.input
class ResetMessageTemplateInput:
    type: MessageType = strawberry.field(description="The message type whose override to remove.")
    locale: MessageLocale = strawberry.field(description="The language version to go back to the shipped one.")


@strawberry.type
class MessageTemplate:
    type: MessageType = strawberry.field(description="The message type.")
    locale: MessageLocale = strawberry.field(description="The language version.")
    subject: str | None = strawberry.field(description="The overriding subject; null: the shipped one is used.")
    text: str | None = strawberry.field(description="The overriding plain-text body; null: the shipped one is used.")
    html: str | None = strawberry.field(description="The overriding HTML body; null: the shipped one is used.")
    updated_at: dt.datetime | None = strawberry.field(description="When it was last changed; null when not overridden.")


@strawberry.type
class MessageTemplatePayload:
    template: MessageTemplate | None = strawberry.field(
        description="The override as saved (all parts null: back to the shipped files); null when `errors` is not empty.")
    errors: list[UserError] = strawberry.field(
        description="Why nothing changed (a template syntax error names its line); empty on success.")
