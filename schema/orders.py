"""Order and refund types and inputs."""

from __future__ import annotations

import datetime as dt
from enum import Enum

import strawberry

from domain.orders.models import Order as OrderModel
from domain.orders.models import Refund as RefundModel
from schema.common import Money, global_id
from schema.errors import UserError
from schema.node import Node


@strawberry.type
class Order(Node):
    external_id: str = strawberry.field(
        description="The storefront's order ID (1 to 255 characters), unique across orders.")
    currency: str = strawberry.field(
        description="ISO 4217 code of every amount of this order, e.g. KRW.")
    channel: str = strawberry.field(
        description="Where the order was placed, e.g. web (1 to 32 characters).")
    placed_at: dt.datetime = strawberry.field(
        description="When the order was placed, stored in UTC.")
    total: Money = strawberry.field(
        description="Sum of quantity x unit price over the lines, in minor units of the order's "
                    "currency.")
    refunded: Money = strawberry.field(
        description="Amount refunded so far, in minor units; equal to total once fully refunded.")
    fulfilled_at: dt.datetime | None = strawberry.field(description="When the order reached the customer (recordFulfillment).")

    @classmethod
    def from_model(cls, o: OrderModel) -> Order:
        return cls(
            id=global_id("Order", o.id), external_id=o.external_id, currency=o.currency,
            channel=o.channel, placed_at=o.placed_at,
            total=Money(amount=o.total_amount, currency=o.currency),
            refunded=Money(amount=o.refunded_amount, currency=o.currency), fulfilled_at=o.fulfilled_at,
        )


@strawberry.type
class Refund:
    id: strawberry.ID = strawberry.field(description="The refund's global ID.")
    external_id: str = strawberry.field(
        description="The storefront's refund ID (1 to 255 characters), unique across refunds.")
    amount: int = strawberry.field(
        description="Value of the refunded quantities, in minor units of the order's currency.")
    points_reversed: int = strawberry.field(
        description="Points taken back from the member for this refund, in proportion to the "
                    "amount (0 for a guest order).")

    @classmethod
    def from_model(cls, r: RefundModel) -> Refund:
        return cls(id=global_id("Refund", r.id), external_id=r.external_id, amount=r.amount,
                   points_reversed=r.points_reversed)


@strawberry.input
class OrderLineInput:
    sku: str = strawberry.field(
        description="The product variant's SKU, 1 to 255 characters; refunds name lines by it.")
    product_external_id: str | None = strawberry.field(
        default=None, description="The catalog product (upsertProducts), for product-based earning "
                                  "rules and recommendations; at most 255 characters.")
    category: str | None = strawberry.field(
        default=None, description="Category for category earning rules; at most 255 characters.")
    quantity: int = strawberry.field(description="Units bought, 1 to 1000000.")
    unit_price: int = strawberry.field(description="Minor units.")


@strawberry.input
class RecordOrderInput:
    external_id: str = strawberry.field(
        description="The storefront's order ID, 1 to 255 characters; recording it again replays "
                    "without change.")
    member_external_id: str | None = strawberry.field(
        default=None, description="Omit for a guest order: it counts in revenue and earns no points.")
    currency: str = strawberry.field(description="ISO 4217 code in upper case, e.g. KRW or USD.")
    channel: str = strawberry.field(
        default="web", description="Where the order was placed, 1 to 32 characters (default web).")
    placed_at: dt.datetime = strawberry.field(
        description="When the order was placed (ISO 8601 with an offset; stored in UTC).")
    lines: list[OrderLineInput] = strawberry.field(description="The order's lines, 1 to 100.")
    subscription_id: strawberry.ID | None = strawberry.field(
        default=None, description="This order renews that subscription (its global ID).")


@strawberry.enum(description="Why something the order asked for was not done (the order itself was recorded).")
class OrderNoticeCode(Enum):
    SUBSCRIPTION_NOT_FOUND = "SUBSCRIPTION_NOT_FOUND"
    SUBSCRIPTION_NOT_RENEWABLE = "SUBSCRIPTION_NOT_RENEWABLE"


@strawberry.type(description="A warning about a recorded order: not an error, the order was kept.")
class OrderNotice:
    field: str | None = strawberry.field(
        description="The input field the notice is about, e.g. subscriptionId; null when it is "
                    "about the whole order.")
    message: str = strawberry.field(
        description="What was not done and why, in English, for people.")
    code: OrderNoticeCode = strawberry.field(description="Machine-readable reason.")


@strawberry.type
class RecordOrderPayload:
    order: Order | None = strawberry.field(
        description="The recorded (or replayed) order; null when errors is not empty.")
    points_awarded: int = strawberry.field(description="Points this order earned (pending during the return window).")
    replayed: bool = strawberry.field(description="True when this externalId was already recorded: nothing changed.")
    subscription_renewed: bool | None = strawberry.field(
        default=None, description="With subscriptionId: whether this order renewed it (see notices when not); "
                                  "null when the order named no subscription.")
    notices: list[OrderNotice] = strawberry.field(
        default_factory=list, description="Warnings: the order was recorded, but e.g. its subscription did not renew.")
    errors: list[UserError] = strawberry.field(
        description="Why nothing was recorded; empty on success.")


@strawberry.input
class RefundLineInput:
    sku: str = strawberry.field(description="SKU of the order line(s) to refund from.")
    quantity: int = strawberry.field(
        description="Units to refund, at least 1 and no more than are left unrefunded for this "
                    "SKU.")


@strawberry.input
class RecordRefundInput:
    external_id: str = strawberry.field(
        description="The storefront's refund ID, 1 to 255 characters; recording it again replays "
                    "without change.")
    order_external_id: str = strawberry.field(description="externalId of the order being refunded.")
    lines: list[RefundLineInput] | None = strawberry.field(default=None, description="Omit for a full refund.")


@strawberry.type
class RecordRefundPayload:
    refund: Refund | None = strawberry.field(
        description="The recorded (or replayed) refund; null when errors is not empty.")
    order: Order | None = strawberry.field(
        description="The order after the refund, with its new refunded amount.")
    points_reversed: int = strawberry.field(
        description="Points taken back from the member by this refund (0 for a guest order).")
    replayed: bool = strawberry.field(
        description="True when this refund externalId was already recorded: nothing changed.")
    errors: list[UserError] = strawberry.field(
        description="Why nothing was refunded; empty on success.")


@strawberry.input
class RecordFulfillmentInput:
    order_external_id: str = strawberry.field(
        description="externalId of the fulfilled order, 1 to 255 characters.")
    fulfilled_at: dt.datetime = strawberry.field(
        description="When the order reached the customer (ISO 8601 with an offset): not before "
                    "placedAt, not in the future.")


@strawberry.type
class RecordFulfillmentPayload:
    order: Order | None = strawberry.field(
        description="The order with its fulfilledAt; null when errors is not empty.")
    replayed: bool = strawberry.field(description="True when the order was already fulfilled: nothing changed.")
    errors: list[UserError] = strawberry.field(
        description="Why nothing was recorded; empty on success.")
