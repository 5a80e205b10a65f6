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
    external_id: str
    currency: str
    channel: str
    placed_at: dt.datetime
    total: Money
    refunded: Money
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
    id: strawberry.ID
    external_id: str
    amount: int
    points_reversed: int

    @classmethod
    def from_model(cls, r: RefundModel) -> Refund:
        return cls(id=global_id("Refund", r.id), external_id=r.external_id, amount=r.amount,
                   points_reversed=r.points_reversed)


@strawberry.input
class OrderLineInput:
    sku: str
    product_external_id: str | None = None
    category: str | None = None
    quantity: int
    unit_price: int = strawberry.field(description="Minor units.")


@strawberry.input
class RecordOrderInput:
    external_id: str
    member_external_id: str | None = strawberry.field(
        default=None, description="Omit for a guest order: it counts in revenue and earns no points.")
    currency: str
    channel: str = "web"
    placed_at: dt.datetime
    lines: list[OrderLineInput]
    subscription_id: strawberry.ID | None = strawberry.field(
        default=None, description="This order renews that subscription (its global ID).")


@strawberry.enum(description="Why something the order asked for was not done (the order itself was recorded).")
class OrderNoticeCode(Enum):
    SUBSCRIPTION_NOT_FOUND = "SUBSCRIPTION_NOT_FOUND"
    SUBSCRIPTION_NOT_RENEWABLE = "SUBSCRIPTION_NOT_RENEWABLE"


@strawberry.type(description="A warning about a recorded order: not an error, the order was kept.")
class OrderNotice:
    field: str | None
    message: str
    code: OrderNoticeCode


@strawberry.type
class RecordOrderPayload:
    order: Order | None
    points_awarded: int = strawberry.field(description="Points this order earned (pending during the return window).")
    replayed: bool = strawberry.field(description="True when this externalId was already recorded: nothing changed.")
    subscription_renewed: bool | None = strawberry.field(
        default=None, description="With subscriptionId: whether this order renewed it (see notices when not); "
                                  "null when the order named no subscription.")
    notices: list[OrderNotice] = strawberry.field(
        default_factory=list, description="Warnings: the order was recorded, but e.g. its subscription did not renew.")
    errors: list[UserError]


@strawberry.input
class RefundLineInput:
    sku: str
    quantity: int


@strawberry.input
class RecordRefundInput:
    external_id: str
    order_external_id: str
    lines: list[RefundLineInput] | None = strawberry.field(default=None, description="Omit for a full refund.")


@strawberry.type
class RecordRefundPayload:
    refund: Refund | None
    order: Order | None
    points_reversed: int
    replayed: bool
    errors: list[UserError]


@strawberry.input
class RecordFulfillmentInput:
    order_external_id: str
    fulfilled_at: dt.datetime


@strawberry.type
class RecordFulfillmentPayload:
    order: Order | None
    replayed: bool = strawberry.field(description="True when the order was already fulfilled: nothing changed.")
    errors: list[UserError]
