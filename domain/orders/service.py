"""Orders and refunds: the input that drives points and tiers. Both are idempotent."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from tortoise.exceptions import IntegrityError

from domain import changes, clock
from domain.catalog.service import note_ordered_products
from domain.db import insert_rows, write_transaction
from domain.errors import Conflict, DomainError, InvalidInput, MemberNotFound, NotFound
from domain.events.service import record_event
from domain.ledger import service as ledger
from domain.ledger.models import Award
from domain.members.models import Member
from domain.orders.models import Order, OrderLine, Refund
from domain.rewards.service import settle_code_uses
from domain.rules import service as rules
from domain.subscriptions.service import RenewalNotice, renew_with_order, renewed_by
from domain.tiers import service as tiers

MAX_LINES = 100
MAX_TOTAL = 2**31 - 1  # GraphQL Int: money amounts are served as 32-bit integers
# A storefront's clock a little ahead of ours is not an error.
FULFILLMENT_CLOCK_SKEW = timedelta(minutes=5)


@dataclass
class LineInput:
    sku: str
    quantity: int
    unit_price: int
    product_external_id: str | None = None
    category: str | None = None


@dataclass
class OrderResult:
    order: Order
    points_awarded: int
    replayed: bool
    subscription_renewed: bool | None = None  # None: the order named no subscription
    notices: list[RenewalNotice] = field(default_factory=list)  # why a named subscription did not renew


def validate_order(external_id: str, currency: str, channel: str, lines: list[LineInput]) -> None:
    # NUL is refused alike on every database (PostgreSQL cannot store it, SQLite would).
    texts = [("externalId", external_id), ("channel", channel)] + [
        (f"lines.{i}.{name}", value) for i, ln in enumerate(lines[:MAX_LINES])
        for name, value in (("sku", ln.sku), ("productExternalId", ln.product_external_id), ("category", ln.category))]
    for name, value in texts:
        if value is not None and "\x00" in value:
            raise InvalidInput("Text must not contain NUL characters", name)
    if not external_id.strip() or len(external_id) > 255:
        raise InvalidInput("externalId must be 1 to 255 characters", "externalId")
    if len(currency) != 3 or not currency.isalpha() or not currency.isupper():
        raise InvalidInput("currency must be an ISO 4217 code such as KRW or USD", "currency")
    if not channel.strip() or len(channel) > 32:
        raise InvalidInput("channel must be 1 to 32 characters", "channel")
    if not lines:
        raise InvalidInput("An order needs at least one line", "lines")
    if len(lines) > MAX_LINES:
        raise InvalidInput(f"At most {MAX_LINES} lines", "lines")
    for i, line in enumerate(lines):
        if not line.sku.strip() or len(line.sku) > 255:
            raise InvalidInput("sku must be 1 to 255 characters", f"lines.{i}.sku")
        for name, value in (("productExternalId", line.product_external_id), ("category", line.category)):
            if value is not None and len(value) > 255:
                raise InvalidInput(f"{name} is at most 255 characters", f"lines.{i}.{name}")
        if line.quantity <= 0 or line.quantity > 1_000_000:
            raise InvalidInput("quantity must be between 1 and 1000000", f"lines.{i}.quantity")
        if line.unit_price < 0 or line.unit_price > 10**12:
            raise InvalidInput("unitPrice must be between 0 and 10^12 minor units", f"lines.{i}.unitPrice")
    if sum(line.quantity * line.unit_price for line in lines) > MAX_TOTAL:
        raise InvalidInput(f"The order total is above {MAX_TOTAL} minor units", "lines")


async def _points_for(order: Order) -> int:
    awards = await Award.filter(source_type="order", source_id=order.external_id).values("amount")
    return sum(a["amount"] for a in awards)


async def record_order(
    external_id: str,
    member_external_id: str | None,
    currency: str,
    channel: str,
    placed_at: datetime,
    lines: list[LineInput],
    subscription_id: int | None = None,
) -> OrderResult:
    validate_order(external_id, currency, channel, lines)
    if member_external_id is None and subscription_id is not None:
        raise InvalidInput("A guest order cannot renew a subscription: give memberExternalId", "subscriptionId")
    placed_at = clock.as_utc(placed_at, "placedAt")
    try:
        return await _record_order(external_id, member_external_id, currency, channel, placed_at, lines, subscription_id)
    except IntegrityError:
        # Another request inserted the same externalId between our check and insert.
        existing = await Order.get_or_none(external_id=external_id)
        if existing is None:
            raise
        return await _replay(existing, member_external_id, subscription_id)


async def _replay(order: Order, member_external_id: str | None, subscription_id: int | None) -> OrderResult:
    await order.fetch_related("member")
    if (order.member.external_id if order.member else None) != member_external_id:
        whose = "is a guest order" if order.member is None else \
            "belongs to another member" if member_external_id else "belongs to a member"
        raise Conflict(f"This order externalId {whose}", "externalId")
    renewed = None if subscription_id is None else await renewed_by(subscription_id, order.external_id)
    return OrderResult(order, await _points_for(order), True, renewed)


async def _record_order(
    external_id: str,
    member_external_id: str | None,
    currency: str,
    channel: str,
    placed_at: datetime,
    lines: list[LineInput],
    subscription_id: int | None = None,
) -> OrderResult:
    async with write_transaction():
        # Points, tiers, codes and the member's subscription are private; products it creates
        # only answer lookups that found nothing, which depend on every write anyway.
        changes.touch()
        if member_external_id is not None:  # its points, tier, codes: this member's own data only
            changes.touch_member(member_external_id)
        member = None
        if member_external_id is not None:
            member = await Member.select_for_update().get_or_none(external_id=member_external_id)
            if member is None:
                raise MemberNotFound(member_external_id)
        if member is not None and member.anonymized_at:
            existing = await Order.get_or_none(external_id=external_id)
            if existing is not None:  # a replay still answers as it did
                return await _replay(existing, member_external_id, subscription_id)
            raise DomainError("Member is anonymized", "memberExternalId", code="MEMBER_ANONYMIZED")
        total = sum(line.quantity * line.unit_price for line in lines)
        # No lookup first: a replayed externalId fails this insert on its unique index, the
        # transaction rolls back, and record_order answers the replay from the stored order.
        order = await Order.create(
            external_id=external_id, member_id=member.id if member else None, currency=currency, channel=channel,
            placed_at=placed_at, total_amount=total, created_at=clock.now(),
        )
        await note_ordered_products([(ln.product_external_id, ln.category) for ln in lines])
        await insert_rows(OrderLine, [
            {"order_id": order.id, "sku": line.sku, "product_external_id": line.product_external_id,
             "category": line.category, "quantity": line.quantity, "unit_price": line.unit_price,
             "refunded_quantity": 0}
            for line in lines
        ])
        await record_event("order.recorded", {
            "externalId": external_id, "memberExternalId": member.external_id if member else None,
            "currency": currency, "channel": channel, "placedAt": placed_at.isoformat(),
            "total": {"amount": total, "currency": currency},
            "lines": [{"sku": ln.sku, "productExternalId": ln.product_external_id, "category": ln.category,
                       "quantity": ln.quantity, "unitPrice": ln.unit_price} for ln in lines],
        }, member.id if member else None)
        if member is None:
            # A guest order: revenue only. No points, no tier, no member events; a code
            # awaiting this order belongs to a member, so it goes back to issued.
            await settle_code_uses(order, None)
            return OrderResult(order, 0, False)
        tier = next((t for t in await tiers.all_tiers() if t.id == member.tier_id), None)
        facts = [rules.OrderLineFacts(ln.sku, ln.category, ln.quantity * ln.unit_price) for ln in lines]
        points = await rules.award_order(member, external_id, currency, facts, tier)
        result = OrderResult(order, points, False)
        if subscription_id is not None:
            notice = await renew_with_order(subscription_id, member, external_id)
            result.subscription_renewed = notice is None
            result.notices = [notice] if notice else []
        await settle_code_uses(order, member)
        await tiers.evaluate_upgrade(member, f"order {external_id}")
        return result


@dataclass
class RefundLineInput:
    sku: str
    quantity: int


async def record_refund(
    external_id: str, order_external_id: str, lines: list[RefundLineInput] | None
) -> tuple[Refund, bool]:
    """Refund the whole remaining order (no lines) or some line quantities; reverse points."""
    if not external_id.strip() or len(external_id) > 255:
        raise InvalidInput("externalId must be 1 to 255 characters", "externalId")
    if lines is not None and len(lines) > MAX_LINES:
        raise InvalidInput(f"At most {MAX_LINES} lines", "lines")
    try:
        return await _record_refund(external_id, order_external_id, lines)
    except IntegrityError:
        existing = await Refund.get_or_none(external_id=external_id)
        if existing is None:
            raise
        return existing, True


async def _record_refund(
    external_id: str, order_external_id: str, lines: list[RefundLineInput] | None
) -> tuple[Refund, bool]:
    order = await Order.get_or_none(external_id=order_external_id)
    if order is None:
        raise NotFound(f"No order {order_external_id!r}", "orderExternalId", code="ORDER_NOT_FOUND")
    async with write_transaction():
        member = await ledger.lock_member(order.member_id) if order.member_id is not None else None
        existing = await Refund.get_or_none(external_id=external_id)
        if existing is not None:
            if existing.order_id != order.id:
                raise Conflict("This refund externalId belongs to another order", "externalId")
            return existing, True
        order = await Order.get(id=order.id)
        order_lines = await OrderLine.filter(order_id=order.id).order_by("id")
        refunded_lines, amount = _refund_lines(order_lines, lines)
        if amount == 0 and order.refunded_amount >= order.total_amount:
            raise DomainError("The order is already fully refunded", "orderExternalId", code="ALREADY_REFUNDED")
        for line in order_lines:
            await line.save(update_fields=["refunded_quantity"])
        order.refunded_amount += amount
        await order.save(update_fields=["refunded_amount"])
        reversed_points = 0 if member is None else await ledger.reverse_awards(
            member, ("order", order.external_id), order.refunded_amount, order.total_amount, ("refund", external_id)
        )
        refund = await Refund.create(
            external_id=external_id, order_id=order.id, amount=amount, lines=refunded_lines,
            points_reversed=reversed_points, created_at=clock.now(),
        )
        await record_event("order.refunded", {
            "externalId": external_id, "orderExternalId": order.external_id,
            "memberExternalId": member.external_id if member else None,
            "amount": {"amount": amount, "currency": order.currency},
            "lines": refunded_lines, "pointsReversed": reversed_points,
        }, member.id if member else None)
        return refund, False


def _refund_lines(
    order_lines: list[OrderLine], lines: list[RefundLineInput] | None
) -> tuple[list[dict[str, Any]], int]:
    """Mark refunded quantities on the order lines; returns what was refunded and its value."""
    refunded: list[dict[str, Any]] = []
    amount = 0
    if lines is None:
        for line in order_lines:
            qty = line.quantity - line.refunded_quantity
            if qty > 0:
                line.refunded_quantity += qty
                refunded.append({"sku": line.sku, "quantity": qty, "amount": qty * line.unit_price})
                amount += qty * line.unit_price
        return refunded, amount
    if not lines:
        raise InvalidInput("Give refund lines, or omit them for a full refund", "lines")
    for i, wanted in enumerate(lines):
        if wanted.quantity <= 0:
            raise InvalidInput("quantity must be positive", f"lines.{i}.quantity")
        left = wanted.quantity
        for line in order_lines:
            if line.sku != wanted.sku or left == 0:
                continue
            qty = min(left, line.quantity - line.refunded_quantity)
            line.refunded_quantity += qty
            left -= qty
            amount += qty * line.unit_price
            if qty:
                refunded.append({"sku": line.sku, "quantity": qty, "amount": qty * line.unit_price})
        if left:
            raise InvalidInput(f"Cannot refund {wanted.quantity} of {wanted.sku!r}: not that many left on the order", f"lines.{i}.quantity")
    return refunded, amount


async def record_fulfillment(order_external_id: str, fulfilled_at: datetime) -> tuple[Order, bool]:
    """The storefront says the order reached the customer. Idempotent: the first time is
    kept (a replay, even with another time, changes nothing and answers replayed=True).
    The `order.fulfilled` event is what engagement messages plan from."""
    fulfilled_at = clock.as_utc(fulfilled_at, "fulfilledAt")
    if not order_external_id.strip() or len(order_external_id) > 255 or "\x00" in order_external_id:
        raise InvalidInput("orderExternalId must be 1 to 255 characters", "orderExternalId")
    found = await Order.get_or_none(external_id=order_external_id)
    if found is None:
        raise NotFound(f"No order {order_external_id!r}", "orderExternalId", code="ORDER_NOT_FOUND")
    async with write_transaction():
        # A member's order is serialised by the member lock, like every write of theirs; a
        # guest order (no member) by a lock on its own row.
        member = await ledger.lock_member(found.member_id) if found.member_id is not None else None
        order = await Order.filter(id=found.id).select_for_update().get()
        if order.fulfilled_at is not None:
            return order, True
        if fulfilled_at < order.placed_at:
            raise InvalidInput("fulfilledAt is before the order was placed", "fulfilledAt")
        if fulfilled_at > clock.now() + FULFILLMENT_CLOCK_SKEW:
            raise InvalidInput("fulfilledAt is in the future", "fulfilledAt")
        order.fulfilled_at = fulfilled_at
        await order.save(update_fields=["fulfilled_at"])
        await record_event("order.fulfilled", {
            "externalId": order.external_id, "memberExternalId": member.external_id if member else None,
            "fulfilledAt": fulfilled_at.isoformat(),
        }, member.id if member else None)
        return order, False
