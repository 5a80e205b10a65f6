"""Reading messages, previewing one, and the one-click unsubscribe behind the signed link."""

from __future__ import annotations

from typing import Any

from domain import clock, crypto
from domain.errors import InvalidInput
from domain.members.models import Member
from domain.members.service import get_member, update_consents
from domain.messaging import occasions, policies
from domain.messaging.models import Message
from domain.messaging.render import UNSUBSCRIBE_KIND, Rendered, render
from domain.pagination import NEWEST_ID, Page, PageRequest, keyset_page
from domain.orders.models import Order, OrderLine

UNSUBSCRIBE_SOURCE = "unsubscribe"


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
    """What the member would receive now (review types: from their last order; the others from
    the member's points, tier, last order or cart now): writes nothing."""
    if type_ not in policies.DEFAULTS:
        raise InvalidInput(f"Unknown message type {type_}", "type")
    member = await get_member(member_external_id)
    if type_ not in ("REVIEW_REQUEST", "REVIEW_REMINDER"):
        now = clock.now()
        order_id, products, details = await occasions.preview_context(type_, member, now)
        return await render(await policies.policy(type_), member, order_id, products, now, details=details)
    order = await Order.filter(member_id=member.id).order_by("-placed_at", "-id").first()
    products: list[str] = []
    if order is not None:
        for pid in await OrderLine.filter(order_id=order.id).order_by("id").values_list("product_external_id", flat=True):
            if pid and pid not in products:
                products.append(pid)
    return await render(await policies.policy(type_), member, order.external_id if order else None, products,
                        clock.now())


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

