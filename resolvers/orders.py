from __future__ import annotations

from strawberry.types import Info

from domain.orders import service
from resolvers.common import attempt
from schema.common import parse_id
from schema.orders import (
    Order,
    OrderNotice,
    OrderNoticeCode,
    RecordFulfillmentInput,
    RecordFulfillmentPayload,
    RecordOrderInput,
    RecordOrderPayload,
    RecordRefundInput,
    RecordRefundPayload,
    Refund,
)
from schema.subscriptions import SUBSCRIPTION_ID_TYPE


async def record_order(info: Info, input: RecordOrderInput) -> RecordOrderPayload:
    subscription_id = (None if input.subscription_id is None
                       else parse_id(input.subscription_id, SUBSCRIPTION_ID_TYPE, "subscriptionId"))
    lines = [
        service.LineInput(sku=ln.sku, quantity=ln.quantity, unit_price=ln.unit_price,
                          product_external_id=ln.product_external_id, category=ln.category)
        for ln in input.lines
    ]
    result, errors = await attempt(service.record_order(
        input.external_id, input.member_external_id, input.currency, input.channel, input.placed_at, lines,
        subscription_id,
    ))
    if result is None:
        return RecordOrderPayload(order=None, points_awarded=0, replayed=False, errors=errors)
    return RecordOrderPayload(
        order=Order.from_model(result.order), points_awarded=result.points_awarded,
        replayed=result.replayed, subscription_renewed=result.subscription_renewed,
        notices=[OrderNotice(field=n.field, message=n.message, code=OrderNoticeCode(n.code)) for n in result.notices],
        errors=[],
    )


async def record_refund(info: Info, input: RecordRefundInput) -> RecordRefundPayload:
    lines = None if input.lines is None else [service.RefundLineInput(ln.sku, ln.quantity) for ln in input.lines]
    result, errors = await attempt(service.record_refund(input.external_id, input.order_external_id, lines))
    if result is None:
        return RecordRefundPayload(refund=None, order=None, points_reversed=0, replayed=False, errors=errors)
    refund, replayed = result
    await refund.fetch_related("order")
    return RecordRefundPayload(
        refund=Refund.from_model(refund), order=Order.from_model(refund.order),
        points_reversed=refund.points_reversed, replayed=replayed, errors=[],
    )


async def record_fulfillment(info: Info, input: RecordFulfillmentInput) -> RecordFulfillmentPayload:
    result, errors = await attempt(service.record_fulfillment(input.order_external_id, input.fulfilled_at))
    if result is None:
        return RecordFulfillmentPayload(order=None, replayed=False, errors=errors)
    order, replayed = result
    return RecordFulfillmentPayload(order=Order.from_model(order), replayed=replayed, errors=[])
