"""Orders and refunds through GraphQL: idempotency, validation, reversal."""

from __future__ import annotations

from datetime import timedelta

from domain.events.models import Event
from domain.ledger.models import Award
from domain.messaging.models import Message
from domain.orders.models import Order, OrderLine, Refund
from tests import helpers
from tests.helpers import assert_no_drift, fresh

RECORD = """mutation($i: RecordOrderInput!) { recordOrder(input: $i) {
  order { externalId total { amount currency } refunded { amount } } pointsAwarded replayed errors { field message code } } }"""
REFUND = """mutation($i: RecordRefundInput!) { recordRefund(input: $i) {
  refund { externalId amount pointsReversed } order { refunded { amount } } pointsReversed replayed errors { field message code } } }"""


def order_input(ext="o1", member="m1", **overrides):
    value = {"externalId": ext, "memberExternalId": member, "currency": "KRW", "channel": "web",
             "placedAt": "2026-01-01T00:00:00Z",
             "lines": [{"sku": "s1", "productExternalId": "p1", "category": "snacks", "quantity": 2, "unitPrice": 15000},
                       {"sku": "s2", "category": "drinks", "quantity": 1, "unitPrice": 5000}]}
    return value | overrides


async def test_record_order_awards_points_once_and_replays_the_first_result(api, storefront_token):
    await helpers.order_rule(currency="KRW")
    await helpers.member()
    first = (await api.ok(RECORD, {"i": order_input()}, storefront_token))["recordOrder"]
    assert first == {"order": {"externalId": "o1", "total": {"amount": 35000, "currency": "KRW"}, "refunded": {"amount": 0}},
                     "pointsAwarded": 350, "replayed": False, "errors": []}
    events = await Event.all().count()
    again = (await api.ok(RECORD, {"i": order_input(lines=[{"sku": "x", "quantity": 9, "unitPrice": 1}])}, storefront_token))["recordOrder"]
    assert again == first | {"replayed": True}
    assert await Order.all().count() == 1 and await OrderLine.all().count() == 2
    assert await Award.all().count() == 1
    assert await Event.all().count() == events
    assert (await fresh()).points_pending == 350


async def test_rule_filters_currency_and_categories(api, storefront_token):
    await helpers.order_rule(currency="KRW", exclude_categories=["drinks"])
    await helpers.order_rule(currency="USD", name="usd rule", points_per_unit=5)
    await helpers.member()
    data = (await api.ok(RECORD, {"i": order_input()}, storefront_token))["recordOrder"]
    assert data["pointsAwarded"] == 300  # drinks line (5000) excluded; the USD rule does not apply
    award = await Award.get()
    assert award.details["eligibleAmount"] == 30000 and award.details["currency"] == "KRW"


async def test_order_validation_errors_write_nothing(api, storefront_token):
    await helpers.member()
    cases = [
        (order_input(currency="krw"), "currency", "INVALID"),
        (order_input(lines=[]), "lines", "INVALID"),
        (order_input(lines=[{"sku": "s", "quantity": 0, "unitPrice": 1}]), "lines.0.quantity", "INVALID"),
        (order_input(lines=[{"sku": "s", "quantity": 1, "unitPrice": -5}]), "lines.0.unitPrice", "INVALID"),
        (order_input(member="nobody"), "memberExternalId", "MEMBER_NOT_FOUND"),
        (order_input(ext=""), "externalId", "INVALID"),
    ]
    for value, field, code in cases:
        errors = (await api.ok(RECORD, {"i": value}, storefront_token))["recordOrder"]["errors"]
        assert [(e["field"], e["code"]) for e in errors] == [(field, code)], value
    assert await Order.all().count() == 0
    assert await Event.filter(type="order.recorded").count() == 0


async def test_order_id_of_another_member_is_a_conflict(api, storefront_token):
    await helpers.member("m1")
    await helpers.member("m2")
    await api.ok(RECORD, {"i": order_input()}, storefront_token)
    errors = (await api.ok(RECORD, {"i": order_input(member="m2")}, storefront_token))["recordOrder"]["errors"]
    assert errors[0]["code"] == "CONFLICT"


async def test_partial_then_full_refund_reverses_exactly_the_recorded_award(api, storefront_token, admin_token):
    await helpers.order_rule(currency="KRW", pending_days=0)
    await helpers.member()
    await api.ok(RECORD, {"i": order_input()}, storefront_token)  # 350 points
    # Today's rules change must not change what a refund takes back.
    from domain.rules.models import EarningRule

    await EarningRule.all().update(points_per_unit=10)
    part = (await api.ok(REFUND, {"i": {"externalId": "r1", "orderExternalId": "o1",
                                          "lines": [{"sku": "s1", "quantity": 1}]}}, storefront_token))["recordRefund"]
    assert part["refund"] == {"externalId": "r1", "amount": 15000, "pointsReversed": 150}
    assert part["order"] == {"refunded": {"amount": 15000}}
    replay = (await api.ok(REFUND, {"i": {"externalId": "r1", "orderExternalId": "o1"}}, storefront_token))["recordRefund"]
    assert replay["replayed"] is True and replay["refund"]["pointsReversed"] == 150
    rest = (await api.ok(REFUND, {"i": {"externalId": "r2", "orderExternalId": "o1"}}, storefront_token))["recordRefund"]
    assert rest["refund"]["amount"] == 20000 and rest["pointsReversed"] == 200
    m = await assert_no_drift()
    assert m.points_balance == 0
    again = (await api.ok(REFUND, {"i": {"externalId": "r3", "orderExternalId": "o1"}}, storefront_token))["recordRefund"]
    assert again["errors"][0]["code"] == "ALREADY_REFUNDED"
    assert await Refund.all().count() == 2


async def test_refund_validation(api, storefront_token):
    await helpers.member()
    await api.ok(RECORD, {"i": order_input()}, storefront_token)
    too_many = (await api.ok(REFUND, {"i": {"externalId": "r1", "orderExternalId": "o1",
                                              "lines": [{"sku": "s1", "quantity": 3}]}}, storefront_token))["recordRefund"]
    assert too_many["errors"][0]["field"] == "lines.0.quantity"
    unknown = (await api.ok(REFUND, {"i": {"externalId": "r1", "orderExternalId": "nope"}}, storefront_token))["recordRefund"]
    assert unknown["errors"][0]["code"] == "ORDER_NOT_FOUND"
    assert await Refund.all().count() == 0
    assert (await Order.get()).refunded_amount == 0
    assert await OrderLine.filter(refunded_quantity__gt=0).count() == 0


async def test_member_orders_connection_newest_first(api, storefront_token, admin_token):
    await helpers.member()
    for ext in ("o1", "o2", "o3"):
        await api.ok(RECORD, {"i": order_input(ext=ext)}, storefront_token)
    q = '{ member(externalId: "m1") { orders(first: 2) { edges { node { externalId total { amount } } } pageInfo { hasNextPage } } } }'
    data = (await api.ok(q, token=admin_token))["member"]["orders"]
    assert [e["node"]["externalId"] for e in data["edges"]] == ["o3", "o2"]
    assert data["pageInfo"]["hasNextPage"] is True


async def test_guest_order_counts_revenue_earns_nothing_and_replays(api, storefront_token):
    await helpers.order_rule(currency="KRW")
    guest = order_input(ext="g1")
    del guest["memberExternalId"]
    first = (await api.ok(RECORD, {"i": guest}, storefront_token))["recordOrder"]
    assert first == {"order": {"externalId": "g1", "total": {"amount": 35000, "currency": "KRW"}, "refunded": {"amount": 0}},
                     "pointsAwarded": 0, "replayed": False, "errors": []}
    order = await Order.get(external_id="g1")
    assert order.member_id is None and order.total_amount == 35000
    assert await Award.all().count() == 0
    events = await Event.all().order_by("id").values("type", "member_id", "payload")
    assert [(e["type"], e["member_id"], e["payload"]["memberExternalId"]) for e in events] == [("order.recorded", None, None)]
    again = (await api.ok(RECORD, {"i": guest | {"lines": [{"sku": "x", "quantity": 1, "unitPrice": 1}]}},
                          storefront_token))["recordOrder"]
    assert again == first | {"replayed": True}
    assert await Order.all().count() == 1 and await OrderLine.all().count() == 2 and await Event.all().count() == 1


async def test_a_guest_order_is_fulfilled_once_with_no_member_and_no_message(api, storefront_token):
    guest = order_input(ext="g1")
    del guest["memberExternalId"]
    await api.ok(RECORD, {"i": guest}, storefront_token)
    fulfil = """mutation($at: DateTime!) { recordFulfillment(input: {orderExternalId: "g1", fulfilledAt: $at}) {
      order { externalId fulfilledAt } replayed errors { code } } }"""
    order = await Order.get(external_id="g1")
    at = (order.placed_at + timedelta(days=1)).isoformat()
    first = (await api.ok(fulfil, {"at": at}, storefront_token))["recordFulfillment"]
    assert first["replayed"] is False and first["errors"] == [] and first["order"]["externalId"] == "g1"
    again = (await api.ok(fulfil, {"at": at}, storefront_token))["recordFulfillment"]
    assert again["replayed"] is True and again["order"] == first["order"]
    events = await Event.filter(type="order.fulfilled").values("member_id", "payload")
    assert [(e["member_id"], e["payload"]["memberExternalId"]) for e in events] == [(None, None)]
    assert await Message.all().count() == 0


async def test_guest_order_ids_never_mix_with_member_orders(api, storefront_token):
    await helpers.member("m1")
    await api.ok(RECORD, {"i": order_input(ext="o1")}, storefront_token)
    guest = order_input(ext="g1")
    del guest["memberExternalId"]
    await api.ok(RECORD, {"i": guest}, storefront_token)
    as_guest = order_input(ext="o1")
    del as_guest["memberExternalId"]
    cases = [
        (as_guest, "externalId", "CONFLICT", "This order externalId belongs to a member"),
        (order_input(ext="g1"), "externalId", "CONFLICT", "This order externalId is a guest order"),
        (guest | {"externalId": "g2", "subscriptionId": 1}, "subscriptionId", "INVALID",
         "A guest order cannot renew a subscription: give memberExternalId"),
        (guest | {"externalId": "g3", "currency": "krw"}, "currency", "INVALID",
         "currency must be an ISO 4217 code such as KRW or USD"),
    ]
    for value, field, code, message in cases:
        errors = (await api.ok(RECORD, {"i": value}, storefront_token))["recordOrder"]["errors"]
        assert errors == [{"field": field, "code": code, "message": message}], value
    assert sorted(await Order.all().values_list("external_id", "member_id")) == [("g1", None), ("o1", (await fresh()).id)]


async def test_guest_order_refund_reverses_no_points(api, storefront_token):
    guest = order_input(ext="g1")
    del guest["memberExternalId"]
    await api.ok(RECORD, {"i": guest}, storefront_token)
    part = (await api.ok(REFUND, {"i": {"externalId": "r1", "orderExternalId": "g1",
                                          "lines": [{"sku": "s1", "quantity": 1}]}}, storefront_token))["recordRefund"]
    assert part == {"refund": {"externalId": "r1", "amount": 15000, "pointsReversed": 0},
                    "order": {"refunded": {"amount": 15000}}, "pointsReversed": 0, "replayed": False, "errors": []}
    event = await Event.get(type="order.refunded")
    assert event.member_id is None and event.payload["memberExternalId"] is None
    assert await Award.all().count() == 0
