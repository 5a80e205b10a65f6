"""Reading messages, previewing one, the one-click unsubscribe behind the signed link, the
webhook provider's status reports, and the admin's template overrides."""

from __future__ import annotations

from typing import Any

from jinja2 import TemplateSyntaxError, UndefinedError
from jinja2.exceptions import SecurityError

from domain import clock, crypto
from domain.db import write_transaction
from domain.errors import DomainError, InvalidInput, NotFound
from domain.feedback.models import Improvement, ImprovementLink
from domain.members.models import Member
from domain.members.service import get_member, update_consents
from domain.messaging import occasions, policies
from domain.messaging.models import Message, MessageTemplate
from domain.messaging.render import UNSUBSCRIBE_KIND, Rendered, compile_part, render, sample_context
from domain.pagination import NEWEST_ID, Page, PageRequest, keyset_page
from domain.orders.models import Order, OrderLine

UNSUBSCRIBE_SOURCE = "unsubscribe"
# Types whose preview comes from the member's situation now (domain/messaging/occasions.py).
OCCASION_TYPES = frozenset({"POINTS_EXPIRING", "TIER_CHANGED", "BIRTHDAY", "WIN_BACK", "CART_REMINDER"})


async def messages_page(request: PageRequest, member_id: int | None = None,
                        type_: str | None = None, status: str | None = None) -> Page[Message]:
    """Newest first. Counted only for one member (a small set), not over every message."""
    qs = Message.all()
    if member_id is not None:
        qs = qs.filter(member_id=member_id)
    if type_:
        qs = qs.filter(type=type_)
    if status:
        qs = qs.filter(status=status)
    return await keyset_page(qs, NEWEST_ID, request, count=qs.count if member_id is not None else None)


async def preview(type_: str, member_external_id: str) -> Rendered:
    """What the member would receive now, writes nothing: review requests and surveys from their
    last order, FEEDBACK_THANKS from their last contribution to an improvement, the occasion types
    from the member's points, tier, last order or cart now."""
    if type_ not in policies.DEFAULTS:
        raise InvalidInput(f"Unknown message type {type_}", "type")
    member = await get_member(member_external_id)
    policy = await policies.policy(type_)
    if type_ == "FEEDBACK_THANKS":
        link = await ImprovementLink.filter(member_id=member.id).order_by("-id").first()
        improvement = await Improvement.get_or_none(id=link.improvement_id).prefetch_related("product") if link else None
        products = [improvement.product.external_id] if improvement else []
        return await render(policy, member, None, products, clock.now(), improvement)
    if type_ in OCCASION_TYPES:
        now = clock.now()
        order_id, products, details = await occasions.preview_context(type_, member, now)
        return await render(policy, member, order_id, products, now, details=details)
    order = await Order.filter(member_id=member.id).order_by("-placed_at", "-id").first()
    products: list[str] = []
    if order is not None:
        for pid in await OrderLine.filter(order_id=order.id).order_by("id").values_list("product_external_id", flat=True):
            if pid and pid not in products:
                products.append(pid)
    return await render(policy, member, order.external_id if order else None, products, clock.now())


def unsubscribe_claims(token: str) -> dict[str, Any] | None:
    claims = crypto.verify(UNSUBSCRIBE_KIND, token)
    if claims is None or not isinstance(claims.get("m"), int) or claims.get("p") not in policies.MESSAGE_PURPOSES:
        return None
    return claims


async def unsubscribe(token: str) -> str | None:
    """Withdraw exactly the purpose the link names (source `unsubscribe`, in the consent
    history); the scheduled messages under it are cancelled by the same change. Returns the
    purpose, or None for a link this installation did not sign."""
    claims = unsubscribe_claims(token)
    if claims is None:
        return None
    member = await Member.get_or_none(id=claims["m"])
    if member is None or member.anonymized_at:
        return claims["p"]  # nothing left to withdraw
    await update_consents(member.external_id, [(claims["p"], False)], UNSUBSCRIBE_SOURCE)
    return claims["p"]



# What the WEBHOOK channel's provider reports (reportMessageStatus): DELIVERED (it reached the
# member's phone or inbox) or FAILED (the provider gave up; its error is kept in last_error).
PROVIDER_STATUSES = ("DELIVERED", "FAILED")
MAX_PROVIDER_ID, MAX_PROVIDER_ERROR = 255, 500


async def report_status(message_id: int, status: str, provider_message_id: str | None,
                        error: str | None) -> tuple[Message, bool]:
    """The provider's outcome for a message.due it received: (message, replayed). Only a
    WEBHOOK message that was handed over (SENT) moves; the same report again changes nothing;
    a different outcome after the first is INVALID_STATE."""
    if status not in PROVIDER_STATUSES:
        raise InvalidInput(f"status must be one of {', '.join(PROVIDER_STATUSES)}", "status")
    if provider_message_id is not None and not 1 <= len(provider_message_id) <= MAX_PROVIDER_ID:
        raise InvalidInput(f"providerMessageId must be 1 to {MAX_PROVIDER_ID} characters", "providerMessageId")
    if error is not None and not 1 <= len(error) <= MAX_PROVIDER_ERROR:
        raise InvalidInput(f"error must be 1 to {MAX_PROVIDER_ERROR} characters", "error")
    if error is not None and status != "FAILED":
        raise InvalidInput("error goes with status FAILED only", "error")
    async with write_transaction():
        message = await Message.select_for_update().get_or_none(id=message_id)
        if message is None:
            raise NotFound("No such message", "id")
        if message.channel != "WEBHOOK":
            raise DomainError(f"This message went out on {message.channel}, not through the webhook provider",
                              "id", code="NOT_ALLOWED")
        if message.status == status:
            if (provider_message_id or message.provider_message_id) != message.provider_message_id:
                raise DomainError("This message was already reported with another providerMessageId",
                                  "providerMessageId", code="INVALID_STATE")
            return message, True
        if message.status != "SENT":
            raise DomainError(f"The message is {message.status}; only a SENT message can be reported",
                              "status", code="INVALID_STATE")
        message.status = status
        message.provider_message_id = provider_message_id
        message.updated_at = clock.now()
        fields = ["status", "provider_message_id", "updated_at", "reason"]
        if status == "DELIVERED":
            message.reason = "delivered by the provider"
        else:
            message.reason = "the provider could not deliver it"
            message.last_error = error
            fields.append("last_error")
        await message.save(update_fields=fields)
        return message, False


# Templates: an admin's override per type and locale (null part: the shipped file).
MAX_SUBJECT, MAX_BODY_PART = 500, 50_000
TEMPLATE_LOCALES = ("ko", "en")


def _check_part(source: str | None, part: str, field: str, limit: int) -> None:
    if source is None:
        return
    if not source.strip() or len(source) > limit:
        raise InvalidInput(f"{field} must be 1 to {limit} characters", field)
    try:
        compile_part(source, part).render(sample_context())
    except TemplateSyntaxError as exc:
        raise InvalidInput(f"{field}: line {exc.lineno}: {exc.message}", field) from exc
    except (UndefinedError, SecurityError) as exc:
        raise InvalidInput(f"{field}: {exc}", field) from exc
    except Exception as exc:  # noqa: BLE001 - any error while rendering the sample is the template's
        raise InvalidInput(f"{field}: cannot be rendered ({type(exc).__name__})", field) from exc


async def update_template(type_: str, locale: str, subject: str | None, text: str | None,
                          html: str | None) -> MessageTemplate | None:
    """Store the override (each part compiled in the sandbox and rendered with sample values
    first); all three null removes it. Returns the row, or None when nothing is overridden."""
    if type_ not in policies.DEFAULTS:
        raise InvalidInput(f"Unknown message type {type_}", "type")
    if locale not in TEMPLATE_LOCALES:
        raise InvalidInput(f"locale must be one of {', '.join(TEMPLATE_LOCALES)}", "locale")
    _check_part(subject, "subject", "subject", MAX_SUBJECT)
    _check_part(text, "txt", "text", MAX_BODY_PART)
    _check_part(html, "html", "html", MAX_BODY_PART)
    async with write_transaction():
        row = await MessageTemplate.select_for_update().get_or_none(type=type_, locale=locale)
        if subject is None and text is None and html is None:
            if row is not None:
                await row.delete()
            return None
        values = {"subject": subject, "text": text, "html": html, "updated_at": clock.now()}
        if row is None:
            return await MessageTemplate.create(type=type_, locale=locale, **values)
        await MessageTemplate.filter(id=row.id).update(**values)
        return await MessageTemplate.get(id=row.id)


async def reset_template(type_: str, locale: str) -> None:
    await update_template(type_, locale, None, None, None)
