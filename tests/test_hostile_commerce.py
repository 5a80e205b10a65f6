"""Issue 9, commerce slice: wrong behaviour found as a demanding brand (referrals, retention
offers, renewal orders, reward codes, tier reasons, pending awards) and bad input to the
commerce mutations, which must be a coded error that changes nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from domain import clock, jobs
from domain.events.models import Event
from domain.ledger.models import Award, LedgerEntry
from domain.members.service import upsert_member
from domain.orders.models import Order
from domain.orders.service import LineInput, record_order, record_refund
from domain.rewards.models import Redemption, Reward
from domain.rewards.service import redeem, save_reward
from domain.rules.models import EarningRule
from domain.rules.service import save_rule
from domain.settings import reload_settings
from domain.subscriptions.models import Subscription, SubscriptionChange, SubscriptionPlan
from domain.subscriptions.service import save_plan, subscribe
from domain.tiers.models import Tier, TierChange
from domain.tiers.service import save_tier
from schema.common import global_id
from tests import helpers
from tests.conftest import member_token
from tests.helpers import assert_no_drift, fresh

T0 = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
SUB_FIELDS = "subscription { status discountPercent nextDeliveryAt } cancelled retentionOffer errors { field code }"
CANCEL = "mutation($i: CancelSubscriptionInput!) { cancelSubscription(input: $i) { %s } }" % SUB_FIELDS
RECORD = """mutation($i: RecordOrderInput!) { recordOrder(input: $i) { order { externalId } pointsAwarded replayed
  subscriptionRenewed notices { field code message } errors { field code } } }"""
USE_CODE = """mutation($c: String!, $o: String!) { markRewardCodeUsed(input: {code: $c, orderExternalId: $o}) {
  redemption { status orderExternalId } errors { field code } } }"""
CREATE_PLAN = "mutation($i: PlanInput!) { createSubscriptionPlan(input: $i) { plan { retentionOffers } errors { field code } } }"
UPDATE_PLAN = "mutation($id: ID!, $i: PlanInput!) { updateSubscriptionPlan(id: $id, input: $i) { plan { retentionOffers } errors { field code } } }"
PENDING = '{ member(externalId: "m1") { points { pending pendingAwards { amount sourceId } } } }'
HISTORY = '{ member(externalId: "m1") { tier { name } tierHistory { toTier reason } } }'


def order_input(external_id: str, member: str = "m1", amount: int = 1_800, **extra: Any) -> dict[str, Any]:
    return {"externalId": external_id, "memberExternalId": member, "currency": "USD", "placedAt": clock.now().isoformat(),
            "lines": [{"sku": "beans", "quantity": 1, "unitPrice": amount}], **extra}


async def coffee_plan(**overrides: Any) -> SubscriptionPlan:
    return await save_plan(None, {
        "name": "Coffee", "kind": "PRODUCT", "skus": ["beans"], "interval_unit": "WEEK", "interval_count": 2,
        "price": 2000, "currency": "USD", "discount_percent": 10,
        "retention_offers": {"TOO_EXPENSIVE": {"type": "DISCOUNT", "percent": 25, "cycles": 2},
                             "TOO_MUCH_PRODUCT": {"type": "SKIP_NEXT"}}} | overrides)


async def snapshot() -> dict[str, Any]:
    """Everything a refused commerce mutation must leave as it was."""
    m = await fresh("m1")
    return {
        "balance": m.points_balance, "pending": m.points_pending, "tier": m.tier_id,
        "stock": await Reward.all().order_by("id").values_list("stock", flat=True),
        "counts": [await model.all().count() for model in (
            Order, Award, LedgerEntry, Event, Redemption, Reward, SubscriptionPlan, Subscription, SubscriptionChange,
            Tier, TierChange, EarningRule)],
        "subscriptions": await Subscription.all().order_by("id").values(
            "status", "next_delivery_at", "discount_percent_override", "discount_cycles_left", "cycles_completed"),
        "plans": await SubscriptionPlan.all().order_by("id").values("name", "retention_offers", "trial_days"),
        "codes": await Redemption.all().order_by("id").values("status", "order_external_id"),
    }


# --- referrals ---------------------------------------------------------------------------

async def test_referral_waits_a_full_return_window_from_when_patron_recorded_the_order():
    # given a referred friend whose first order, placed 30 days ago, reaches Patron only today
    clock.set_now(T0)
    await save_rule(None, {"name": "Both sides", "type": "REFERRAL_CONVERTED", "points": 100})
    await helpers.member("ref")
    await upsert_member("friend", {"referred_by": "ref"})
    await record_order("late-1", "friend", "USD", "web", T0 - timedelta(days=30),
                       [LineInput(sku="beans", quantity=1, unit_price=1_000)])
    # when the conversion job runs inside the 14-day window counted from today
    clock.set_now(T0 + timedelta(days=13, hours=23))
    converted_early = await jobs.activities.convert_referrals(clock.now())
    # then nothing converts (the order can still be returned); it converts once the window has passed
    assert converted_early == 0
    assert (await fresh("ref")).points_balance == 0 and (await fresh("friend")).referral_converted_at is None
    clock.set_now(T0 + timedelta(days=14))
    assert await jobs.activities.convert_referrals(clock.now()) == 1
    assert (await assert_no_drift("ref")).points_balance == 100
    assert (await assert_no_drift("friend")).points_balance == 100


async def test_referral_of_a_late_order_refunded_inside_the_window_never_converts():
    clock.set_now(T0)
    await save_rule(None, {"name": "Both sides", "type": "REFERRAL_CONVERTED", "points": 100})
    await helpers.member("ref")
    await upsert_member("friend", {"referred_by": "ref"})
    await record_order("late-1", "friend", "USD", "web", T0 - timedelta(days=30),
                       [LineInput(sku="beans", quantity=1, unit_price=1_000)])
    clock.set_now(T0 + timedelta(days=5))
    assert await jobs.activities.convert_referrals(clock.now()) == 0
    await record_refund("rf-1", "late-1", None)  # returned inside the window
    clock.set_now(T0 + timedelta(days=40))
    assert await jobs.activities.convert_referrals(clock.now()) == 0
    assert (await fresh("ref")).points_balance == 0


# --- retention offers --------------------------------------------------------------------

async def test_a_retention_offer_is_taken_once_per_subscription_then_refused_without_change(api):
    # given a subscriber who took the TOO_EXPENSIVE discount once
    clock.set_now(T0)
    plan = await coffee_plan()
    await helpers.member("m1")
    sub = await subscribe("m1", plan.id, None, "test")
    token = member_token("m1")
    accept = {"subscriptionId": sub.id, "reason": "TOO_EXPENSIVE", "acceptRetentionOffer": True}
    first = (await api.ok(CANCEL, {"i": accept}, token))["cancelSubscription"]
    assert (first["errors"], first["subscription"]["discountPercent"]) == ([], 25)
    before = await snapshot()
    # when they accept it again
    second = (await api.ok(CANCEL, {"i": accept}, token))["cancelSubscription"]
    # then it is refused with a code and nothing changed (no second discount, no history, no event)
    assert second == {"subscription": None, "cancelled": False, "retentionOffer": None,
                      "errors": [{"field": "acceptRetentionOffer", "code": "OFFER_ALREADY_USED"}]}
    assert await snapshot() == before
    row = await Subscription.get(id=sub.id)
    assert (row.discount_percent_override, row.discount_cycles_left) == (25, 2)
    # and asking to cancel for that reason no longer offers it: the cancel goes ahead
    cancel = (await api.ok(CANCEL, {"i": {"subscriptionId": sub.id, "reason": "TOO_EXPENSIVE"}}, token))["cancelSubscription"]
    assert (cancel["cancelled"], cancel["retentionOffer"], cancel["subscription"]["status"]) == (True, None, "CANCELLED")


async def test_a_skip_offer_cannot_push_deliveries_again_and_again(api):
    clock.set_now(T0)
    plan = await coffee_plan()
    await helpers.member("m1")
    sub = await subscribe("m1", plan.id, None, "test")
    accept = {"subscriptionId": sub.id, "reason": "TOO_MUCH_PRODUCT", "acceptRetentionOffer": True}
    first = (await api.ok(CANCEL, {"i": accept}, member_token("m1")))["cancelSubscription"]
    assert first["subscription"]["nextDeliveryAt"] == (T0 + timedelta(weeks=4)).isoformat()
    second = (await api.ok(CANCEL, {"i": accept}, member_token("m1")))["cancelSubscription"]
    assert second["errors"] == [{"field": "acceptRetentionOffer", "code": "OFFER_ALREADY_USED"}]
    assert (await Subscription.get(id=sub.id)).next_delivery_at == T0 + timedelta(weeks=4)


async def test_the_retention_offer_limit_is_configurable(api, monkeypatch):
    monkeypatch.setenv("PATRON_RETENTION_OFFER_LIMIT", "2")
    reload_settings()
    clock.set_now(T0)
    plan = await coffee_plan()
    await helpers.member("m1")
    sub = await subscribe("m1", plan.id, None, "test")
    accept = {"subscriptionId": sub.id, "reason": "TOO_EXPENSIVE", "acceptRetentionOffer": True}
    codes = [[e["code"] for e in (await api.ok(CANCEL, {"i": accept}, member_token("m1")))["cancelSubscription"]["errors"]]
             for _ in range(3)]
    assert codes == [[], [], ["OFFER_ALREADY_USED"]]
    assert await SubscriptionChange.filter(subscription_id=sub.id, action="accept_offer").count() == 2


# --- retention offer validation ----------------------------------------------------------

BAD_OFFERS = [
    ({"TOO_EXPENSIVE": {"type": "DISCOUNT", "percent": "abc"}}, "retentionOffers.TOO_EXPENSIVE.percent"),
    ({"TOO_EXPENSIVE": {"type": "DISCOUNT", "percent": "20"}}, "retentionOffers.TOO_EXPENSIVE.percent"),
    ({"TOO_EXPENSIVE": {"type": "DISCOUNT", "percent": 20.5}}, "retentionOffers.TOO_EXPENSIVE.percent"),
    ({"TOO_EXPENSIVE": {"type": "DISCOUNT", "percent": True}}, "retentionOffers.TOO_EXPENSIVE.percent"),
    ({"TOO_EXPENSIVE": {"type": "DISCOUNT", "percent": 0}}, "retentionOffers.TOO_EXPENSIVE.percent"),
    ({"TOO_EXPENSIVE": {"type": "DISCOUNT", "percent": 101}}, "retentionOffers.TOO_EXPENSIVE.percent"),
    ({"TOO_EXPENSIVE": {"type": "DISCOUNT", "percent": None}}, "retentionOffers.TOO_EXPENSIVE.percent"),
    ({"TOO_EXPENSIVE": {"type": "DISCOUNT"}}, "retentionOffers.TOO_EXPENSIVE.percent"),
    ({"TOO_EXPENSIVE": {"type": "DISCOUNT", "percent": 10, "cycles": 0}}, "retentionOffers.TOO_EXPENSIVE.cycles"),
    ({"TOO_EXPENSIVE": {"type": "DISCOUNT", "percent": 10, "cycles": 10**30}}, "retentionOffers.TOO_EXPENSIVE.cycles"),
    ({"TOO_EXPENSIVE": {"type": "DISCOUNT", "percent": 10, "days": 3}}, "retentionOffers.TOO_EXPENSIVE.days"),
    ({"NOT_USING": {"type": "PAUSE", "days": 1e300}}, "retentionOffers.NOT_USING.days"),
    ({"NOT_USING": {"type": "PAUSE", "days": 366}}, "retentionOffers.NOT_USING.days"),
    ({"NOT_USING": {"type": "PAUSE", "days": [7]}}, "retentionOffers.NOT_USING.days"),
    ({"NOT_USING": {"type": "PAUSE"}}, "retentionOffers.NOT_USING.days"),
    ({"NOT_USING": {"type": "FREE_MONEY"}}, "retentionOffers.NOT_USING.type"),
    ({"NOT_USING": {"type": ["SKIP_NEXT"]}}, "retentionOffers.NOT_USING.type"),
    ({"NOT_USING": {}}, "retentionOffers.NOT_USING.type"),
    ({"NOT_USING": "SKIP_NEXT"}, "retentionOffers.NOT_USING"),
    ({"NOT_USING": None}, "retentionOffers.NOT_USING"),
    ({"BORED": {"type": "SKIP_NEXT"}}, "retentionOffers.BORED"),
    ("SKIP_NEXT", "retentionOffers"),
    ([{"type": "SKIP_NEXT"}], "retentionOffers"),
    (7, "retentionOffers"),
]


@pytest.mark.parametrize(("offers", "field"), BAD_OFFERS)
async def test_bad_retention_offers_are_payload_errors_with_their_path(api, admin_token, offers, field):
    # given a program with one valid plan
    plan = await coffee_plan()
    before = await snapshot_plans()
    plan_input = {"name": "Club", "kind": "MEMBERSHIP", "intervalUnit": "MONTH", "intervalCount": 1, "price": 500,
                  "currency": "USD", "retentionOffers": offers}
    # when an admin creates or updates a plan with a malformed offer
    created = (await api.ok(CREATE_PLAN, {"i": plan_input}, admin_token))["createSubscriptionPlan"]
    updated = (await api.ok(UPDATE_PLAN, {"id": plan.id, "i": {"retentionOffers": offers}}, admin_token))["updateSubscriptionPlan"]
    # then both are coded payload errors naming the path, and no plan was written or changed
    assert created == {"plan": None, "errors": [{"field": field, "code": "INVALID"}]}
    assert updated == {"plan": None, "errors": [{"field": field, "code": "INVALID"}]}
    assert await snapshot_plans() == before


async def snapshot_plans() -> list[dict[str, Any]]:
    return await SubscriptionPlan.all().order_by("id").values()


async def test_valid_retention_offers_are_stored_as_typed(api, admin_token):
    offers = {"TOO_EXPENSIVE": {"type": "DISCOUNT", "percent": 20}, "NOT_USING": {"type": "PAUSE", "days": 30},
              "TOO_MUCH_PRODUCT": {"type": "SKIP_NEXT"}}
    plan_input = {"name": "Club", "kind": "MEMBERSHIP", "intervalUnit": "MONTH", "intervalCount": 1, "price": 0,
                  "currency": "USD", "retentionOffers": offers}
    created = (await api.ok(CREATE_PLAN, {"i": plan_input}, admin_token))["createSubscriptionPlan"]
    assert created == {"plan": {"retentionOffers": offers}, "errors": []}  # a free (price 0) plan is allowed too


TYPED_PLAN = """mutation($i: PlanInput!) { createSubscriptionPlan(input: $i) {
  plan { retentionOffers retentionOfferList { reason type percent cycles days } } errors { field code } } }"""


@pytest.mark.parametrize(("offers", "extra", "field"), [
    ([{"reason": "TOO_EXPENSIVE", "type": "DISCOUNT", "percent": 101}], {}, "retentionOfferList.0.percent"),
    ([{"reason": "TOO_EXPENSIVE", "type": "DISCOUNT"}], {}, "retentionOfferList.0.percent"),
    ([{"reason": "NOT_USING", "type": "SKIP_NEXT"}, {"reason": "OTHER", "type": "PAUSE", "days": 3, "percent": 5}], {},
     "retentionOfferList.1.percent"),
    ([{"reason": "OTHER", "type": "SKIP_NEXT"}, {"reason": "OTHER", "type": "PAUSE", "days": 3}], {}, "retentionOfferList.1.reason"),
    ([{"reason": "OTHER", "type": "SKIP_NEXT"}], {"retentionOffers": {}}, "retentionOfferList"),
])
async def test_typed_retention_offers_are_checked_with_list_paths(api, admin_token, offers, extra, field):
    plan_input = {"name": "Club", "kind": "MEMBERSHIP", "intervalUnit": "MONTH", "intervalCount": 1, "price": 500,
                  "currency": "USD", "retentionOfferList": offers, **extra}
    data = (await api.ok(TYPED_PLAN, {"i": plan_input}, admin_token))["createSubscriptionPlan"]
    assert data == {"plan": None, "errors": [{"field": field, "code": "INVALID"}]}
    assert await SubscriptionPlan.all().count() == 0


async def test_typed_retention_offers_are_stored_and_read_back_both_ways(api, admin_token):
    offers = [{"reason": "TOO_EXPENSIVE", "type": "DISCOUNT", "percent": 20, "cycles": 2, "days": None},
              {"reason": "NOT_USING", "type": "PAUSE", "percent": None, "cycles": None, "days": 30}]
    plan_input = {"name": "Club", "kind": "MEMBERSHIP", "intervalUnit": "MONTH", "intervalCount": 1, "price": 500,
                  "currency": "USD", "retentionOfferList": offers}
    data = (await api.ok(TYPED_PLAN, {"i": plan_input}, admin_token))["createSubscriptionPlan"]
    assert data["errors"] == [] and data["plan"]["retentionOfferList"] == offers
    assert data["plan"]["retentionOffers"] == {"TOO_EXPENSIVE": {"type": "DISCOUNT", "percent": 20, "cycles": 2},
                                               "NOT_USING": {"type": "PAUSE", "days": 30}}


# --- renewal orders ----------------------------------------------------------------------

async def test_an_order_naming_a_cancelled_subscription_is_recorded_without_renewing(api, storefront_token):
    # given a cancelled subscription, an order rule and a renewal bonus rule
    clock.set_now(T0)
    await helpers.order_rule()
    await save_rule(None, {"name": "Renewal bonus", "type": "SUBSCRIPTION_RENEWED", "points": 40})
    plan = await coffee_plan(retention_offers={})
    await helpers.member("m1")
    sub = await subscribe("m1", plan.id, None, "test")
    await api.ok(CANCEL, {"i": {"subscriptionId": sub.id, "reason": "OTHER"}}, member_token("m1"))
    # when the platform sends the renewal order anyway
    sent = order_input("renew-1", subscriptionId=sub.id)
    data = (await api.ok(RECORD, {"i": sent}, storefront_token))["recordOrder"]
    # then the order is kept and earns as a normal order; the subscription is untouched; the payload says why
    assert data == {"order": {"externalId": "renew-1"}, "pointsAwarded": 18, "replayed": False,
                    "subscriptionRenewed": False, "errors": [],
                    "notices": [{"field": "subscriptionId", "code": "SUBSCRIPTION_NOT_RENEWABLE",
                                 "message": "A cancelled subscription does not renew: the order was recorded as a normal order"}]}
    row = await Subscription.get(id=sub.id)
    assert (row.status, row.cycles_completed, row.next_delivery_at) == ("cancelled", 0, T0 + timedelta(weeks=2))
    assert await Event.filter(type="subscription.renewed").count() == 0
    assert await Award.filter(source_type="subscription_renewal").count() == 0
    assert (await fresh()).points_pending == 18
    # and a replay answers the same without a second effect
    replay = (await api.ok(RECORD, {"i": sent}, storefront_token))["recordOrder"]
    assert (replay["replayed"], replay["subscriptionRenewed"], replay["pointsAwarded"]) == (True, False, 18)
    assert await Order.all().count() == 1


async def test_an_order_naming_an_unknown_subscription_is_recorded_with_a_notice(api, storefront_token):
    clock.set_now(T0)
    await helpers.member("m1")
    data = (await api.ok(RECORD, {"i": order_input("o-x", subscriptionId=987654)}, storefront_token))["recordOrder"]
    assert (data["errors"], data["subscriptionRenewed"]) == ([], False)
    assert [(n["field"], n["code"]) for n in data["notices"]] == [("subscriptionId", "SUBSCRIPTION_NOT_FOUND")]
    assert await Order.filter(external_id="o-x").exists()


async def test_a_renewal_order_for_an_active_subscription_says_it_renewed(api, storefront_token):
    clock.set_now(T0)
    plan = await coffee_plan()
    await helpers.member("m1")
    sub = await subscribe("m1", plan.id, None, "test")
    data = (await api.ok(RECORD, {"i": order_input("renew-1", subscriptionId=sub.id)}, storefront_token))["recordOrder"]
    assert (data["errors"], data["subscriptionRenewed"], data["notices"]) == ([], True, [])
    assert (await Subscription.get(id=sub.id)).cycles_completed == 1
    replay = (await api.ok(RECORD, {"i": order_input("renew-1", subscriptionId=sub.id)}, storefront_token))["recordOrder"]
    assert (replay["replayed"], replay["subscriptionRenewed"]) == (True, True)
    plain = (await api.ok(RECORD, {"i": order_input("plain-1")}, storefront_token))["recordOrder"]
    assert (plain["subscriptionRenewed"], plain["notices"]) == (None, [])


# --- reward codes ------------------------------------------------------------------------

async def issued_code(member: str = "m1") -> str:
    reward = await Reward.first() or await save_reward(None, {"name": "Free shipping", "type": "FREE_SHIPPING",
                                                               "points_cost": 100, "stock": 10})
    await helpers.member(member)
    from domain.db import write_transaction
    from domain.ledger.service import adjust, lock_member

    async with write_transaction():
        await adjust(await lock_member((await fresh(member)).id), 100, "seed", f"seed-{member}", "test")
    return (await redeem(member, reward.id, f"r-{member}")).code


async def test_a_code_cannot_be_used_on_a_made_up_or_another_members_order(api, storefront_token):
    # given a code of m1, an order of m2 and no order "invented-1"
    clock.set_now(T0)
    code = await issued_code("m1")
    await helpers.member("m2")
    await helpers.order("order-of-m2", member_id="m2")
    before = await snapshot()
    # when the code is marked used on those orders
    made_up = (await api.ok(USE_CODE, {"c": code, "o": "invented-1"}, storefront_token))["markRewardCodeUsed"]
    foreign = (await api.ok(USE_CODE, {"c": code, "o": "order-of-m2"}, storefront_token))["markRewardCodeUsed"]
    # then both are refused with a code and the code is still usable; nothing was written
    assert made_up == {"redemption": None, "errors": [{"field": "orderExternalId", "code": "ORDER_NOT_FOUND"}]}
    assert foreign == {"redemption": None, "errors": [{"field": "orderExternalId", "code": "ORDER_MEMBER_MISMATCH"}]}
    assert await snapshot() == before
    # and on the member's own recorded order it is used
    await helpers.order("order-of-m1", member_id="m1")
    own = (await api.ok(USE_CODE, {"c": code, "o": "order-of-m1"}, storefront_token))["markRewardCodeUsed"]
    assert own == {"redemption": {"status": "USED", "orderExternalId": "order-of-m1"}, "errors": []}
    assert await Event.filter(type="reward.code_used").count() == 1


async def test_with_a_grace_period_a_code_waits_for_its_members_order(api, storefront_token, monkeypatch):
    # given a 30-minute grace: the platform may send the code use before the order
    monkeypatch.setenv("PATRON_REWARD_CODE_ORDER_GRACE_MINUTES", "30")
    reload_settings()
    clock.set_now(T0)
    code = await issued_code("m1")
    # when the code is used on an order not recorded yet
    early = (await api.ok(USE_CODE, {"c": code, "o": "soon-1"}, storefront_token))["markRewardCodeUsed"]
    # then it awaits the order (not usable elsewhere, no code_used event yet)
    assert early == {"redemption": {"status": "AWAITING_ORDER", "orderExternalId": "soon-1"}, "errors": []}
    other = (await api.ok(USE_CODE, {"c": code, "o": "soon-2"}, storefront_token))["markRewardCodeUsed"]
    assert other["errors"] == [{"field": "code", "code": "CODE_NOT_USABLE"}]
    assert await Event.filter(type="reward.code_used").count() == 0
    # and when the member's order arrives, the use is confirmed
    clock.set_now(T0 + timedelta(minutes=10))
    await helpers.order("soon-1", member_id="m1")
    row = await Redemption.get(code=code)
    assert (row.status, row.order_external_id) == ("used", "soon-1")
    assert await Event.filter(type="reward.code_used").count() == 1


async def test_with_a_grace_period_another_members_order_or_no_order_gives_the_code_back(api, storefront_token, monkeypatch):
    monkeypatch.setenv("PATRON_REWARD_CODE_ORDER_GRACE_MINUTES", "30")
    reload_settings()
    clock.set_now(T0)
    code_a, code_b = await issued_code("m1"), await issued_code("m2")
    await api.ok(USE_CODE, {"c": code_a, "o": "stolen-1"}, storefront_token)
    await api.ok(USE_CODE, {"c": code_b, "o": "never-1"}, storefront_token)
    # when order stolen-1 turns out to be m2's, and never-1 never arrives within the grace
    await helpers.order("stolen-1", member_id="m2")
    clock.set_now(T0 + timedelta(minutes=29))
    await jobs.rewards.undo_unconfirmed_uses(clock.now())
    still_waiting = (await Redemption.get(code=code_b)).status
    clock.set_now(T0 + timedelta(minutes=31))
    await jobs.rewards.undo_unconfirmed_uses(clock.now())
    # then both codes are usable again, each with an event saying why
    assert still_waiting == "awaiting_order"
    rows = await Redemption.filter(code__in=[code_a, code_b]).order_by("id").values("status", "order_external_id", "used_at")
    assert rows == [{"status": "issued", "order_external_id": None, "used_at": None}] * 2
    undone = await Event.filter(type="reward.code_use_undone").order_by("id")
    assert [(e.payload["orderExternalId"], e.payload["why"]) for e in undone] == [
        ("stolen-1", "the order belongs to another member"),
        ("never-1", "the order was not recorded within the grace period")]
    assert await Event.filter(type="reward.code_used").count() == 0


async def test_the_grace_job_settles_a_use_whose_order_arrived_while_it_was_written(api, storefront_token, monkeypatch):
    # given a code awaiting order race-1, and that order stored without the settle step having seen the code
    # (the race: the use and the order committed at the same moment)
    monkeypatch.setenv("PATRON_REWARD_CODE_ORDER_GRACE_MINUTES", "30")
    reload_settings()
    clock.set_now(T0)
    code = await issued_code("m1")
    await api.ok(USE_CODE, {"c": code, "o": "race-1"}, storefront_token)
    m1 = await fresh("m1")
    await Order.create(external_id="race-1", member_id=m1.id, currency="USD", channel="web", placed_at=T0,
                       total_amount=100, created_at=T0)
    # when the grace has passed and the job runs
    clock.set_now(T0 + timedelta(minutes=31))
    await jobs.rewards.undo_unconfirmed_uses(clock.now())
    # then the use is confirmed, not undone
    row = await Redemption.get(code=code)
    assert (row.status, row.order_external_id) == ("used", "race-1")
    assert await Event.filter(type="reward.code_used").count() == 1
    assert await Event.filter(type="reward.code_use_undone").count() == 0


# --- tier change reasons -----------------------------------------------------------------

async def test_a_paid_membership_upgrade_names_the_membership_not_a_threshold(api):
    # given a VIP tier that needs 100000 points, or a paid membership
    clock.set_now(T0)
    await helpers.order_rule()
    await save_tier(None, {"name": "Member", "rank": 0})
    vip = await save_tier(None, {"name": "VIP", "rank": 1, "min_points": 100_000})
    plan = await save_plan(None, {"name": "VIP Club", "kind": "MEMBERSHIP", "interval_unit": "MONTH", "interval_count": 12,
                                  "price": 5000, "currency": "USD", "grants_tier_id": vip.id})
    await helpers.member("m1")
    await helpers.order("o1", amount=23_500)
    # when the member buys the membership
    await subscribe("m1", plan.id, None, "test")
    # then the reason names the membership, never the unmet points threshold
    history = (await api.ok(HISTORY, token=member_token("m1")))["member"]["tierHistory"]
    assert history[0] == {"toTier": "VIP", "reason": "Upgrade after subscribing to VIP Club: paid membership VIP Club"}
    assert "points earned" not in history[0]["reason"]


@pytest.mark.parametrize(("thresholds", "orders", "reason"), [
    ({"min_spend": 50_000, "currency": "USD"}, [60_000], "Upgrade after order o1: spend 60000 of 50000 USD"),
    ({"min_points": 500}, [60_000], "Upgrade after order o1: points earned 600 of 500"),
    ({"min_orders": 2}, [100, 100], "Upgrade after order o2: orders 2 of 2"),
    # any one threshold: only the one met is named
    ({"min_spend": 10_000_000, "currency": "USD", "min_orders": 2}, [100, 100], "Upgrade after order o2: orders 2 of 2"),
    ({"min_spend": 10_000_000, "currency": "USD", "min_points": 1}, [500], "Upgrade after order o1: points earned 5 of 1"),
    # all thresholds: every one is met and named
    ({"min_spend": 100, "currency": "USD", "min_orders": 2, "require_all": True}, [100, 100],
     "Upgrade after order o2: spend 200 of 100 USD, orders 2 of 2"),
])
async def test_each_threshold_upgrade_names_what_qualified(api, thresholds, orders, reason):
    clock.set_now(T0)
    await helpers.order_rule(pending_days=0)
    await save_tier(None, {"name": "Member", "rank": 0})
    await save_tier(None, {"name": "Gold", "rank": 1, **thresholds})
    await helpers.member("m1")
    for n, amount in enumerate(orders, start=1):
        await helpers.order(f"o{n}", amount=amount)
    data = (await api.ok(HISTORY, token=member_token("m1")))["member"]
    assert data["tier"] == {"name": "Gold"}
    assert data["tierHistory"][0] == {"toTier": "Gold", "reason": reason}
    assert data["tierHistory"][1] == {"toTier": "Member", "reason": "Joined after signup: entry tier"}


async def test_a_review_upgrade_and_a_downgrade_name_their_thresholds(api):
    clock.set_now(T0)
    await save_tier(None, {"name": "Member", "rank": 0})
    gold = await save_tier(None, {"name": "Gold", "rank": 1, "min_orders": 1})
    await helpers.member("m1")
    await helpers.order("o1", amount=100)
    await record_refund("rf-1", "o1", None)
    clock.set_now(T0 + timedelta(days=1))
    await jobs.review_tiers(clock.now())  # below Gold: grace starts
    clock.set_now(T0 + timedelta(days=32))
    await jobs.review_tiers(clock.now())
    history = (await api.ok(HISTORY, token=member_token("m1")))["member"]["tierHistory"]
    assert history[0] == {"toTier": "Member",
                          "reason": "Downgrade at review after 30 days' grace: orders 0 of 1 no longer met"}
    await Tier.filter(id=gold.id).update(min_orders=0)
    from domain import changes

    changes._memo.clear()
    await jobs.review_tiers(clock.now())
    history = (await api.ok(HISTORY, token=member_token("m1")))["member"]["tierHistory"]
    assert history[0] == {"toTier": "Gold", "reason": "Upgrade at review: orders 0 of 0"}


# --- pending awards ----------------------------------------------------------------------

async def test_pending_awards_hide_fully_refunded_awards_and_show_what_is_left(api, admin_token):
    # given two held order awards, one fully and one partly refunded
    clock.set_now(T0)
    await helpers.order_rule()
    await helpers.member("m1")
    await helpers.order("o1", amount=30_000)
    await helpers.order("o2", amount=10_000, quantity=2)
    await record_refund("rf-1", "o1", None)
    from domain.orders.service import RefundLineInput

    await record_refund("rf-2", "o2", [RefundLineInput("sku-1", 1)])
    # when the member's pending awards are read
    points = (await api.ok(PENDING, token=admin_token))["member"]["points"]
    # then only o2 is listed, with its remaining 100 points
    assert points == {"pending": 100, "pendingAwards": [{"amount": 100, "sourceId": "o2"}]}


# --- hostile input to the commerce mutations ---------------------------------------------

NUL = "a\x00b"
NAIVE_PAST = "2020-01-01T00:00:00"
FAR_PAST_OFFSET = "0001-01-01T00:00:00+14:00"

HOSTILE: list[tuple[str, str, dict[str, Any], str, str | None]] = [
    # (mutation, input type, input, expected code, expected field)
    ("recordOrder", "RecordOrderInput!", {"placedAt": FAR_PAST_OFFSET}, "INVALID", "placedAt"),
    ("recordOrder", "RecordOrderInput!", {"lines": [{"sku": "a", "quantity": 1, "unitPrice": 1, "category": "c" * 300}]},
     "INVALID", "lines.0.category"),
    ("recordOrder", "RecordOrderInput!", {"lines": [{"sku": "a", "quantity": 1, "unitPrice": 1, "productExternalId": "p" * 300}]},
     "INVALID", "lines.0.productExternalId"),
    ("recordOrder", "RecordOrderInput!", {"lines": [{"sku": "a", "quantity": 0, "unitPrice": 1}]}, "INVALID", "lines.0.quantity"),
    ("recordOrder", "RecordOrderInput!", {"externalId": NUL}, "INVALID", "externalId"),
    ("recordOrder", "RecordOrderInput!", {"lines": [{"sku": NUL, "quantity": 1, "unitPrice": 1}]}, "INVALID", "lines.0.sku"),
    ("recordRefund", "RecordRefundInput!", {"lines": [{"sku": "sku-1", "quantity": -1}]}, "INVALID", "lines.0.quantity"),
    ("recordRefund", "RecordRefundInput!", {"externalId": "r" * 300}, "INVALID", "externalId"),
    ("recordRefund", "RecordRefundInput!", {"orderExternalId": NUL}, None, None),  # ORDER_NOT_FOUND or INVALID
    ("spendPoints", "SpendPointsInput!", {"idempotencyKey": ""}, "INVALID", "idempotencyKey"),
    ("spendPoints", "SpendPointsInput!", {"reason": "r" * 600}, "INVALID", "reason"),
    ("spendPoints", "SpendPointsInput!", {"amount": -5}, "INVALID", "amount"),
    ("adjustPoints", "AdjustPointsInput!", {"idempotencyKey": ""}, "INVALID", "idempotencyKey"),
    ("adjustPoints", "AdjustPointsInput!", {"reason": "r" * 600}, "INVALID", "reason"),
    ("adjustPoints", "AdjustPointsInput!", {"amount": 2**31 - 1}, "INVALID", "amount"),
    ("createTier", "TierInput!", {"earnMultiplier": "NaN"}, "INVALID", "earnMultiplier"),
    ("createTier", "TierInput!", {"earnMultiplier": "Infinity"}, "INVALID", "earnMultiplier"),
    ("createTier", "TierInput!", {"earnMultiplier": "1e10"}, "INVALID", "earnMultiplier"),
    ("createTier", "TierInput!", {"earnMultiplier": "1.23456"}, "INVALID", "earnMultiplier"),
    ("createTier", "TierInput!", {"name": "T" * 200}, "INVALID", "name"),
    ("createTier", "TierInput!", {"minSpend": 5, "currency": "dollars"}, "INVALID", "currency"),
    ("createTier", "TierInput!", {"perks": [NUL]}, "INVALID", "perks"),
    ("createEarningRule", "EarningRuleInput!", {"startsAt": NAIVE_PAST, "endsAt": "2019-01-01T00:00:00Z"}, "INVALID", "endsAt"),
    ("createEarningRule", "EarningRuleInput!", {"startsAt": FAR_PAST_OFFSET}, "INVALID", "startsAt"),
    ("createEarningRule", "EarningRuleInput!", {"pendingDays": 2**31 - 1}, "INVALID", "pendingDays"),
    ("createEarningRule", "EarningRuleInput!", {"includeSkus": [NUL]}, "INVALID", "includeSkus.0"),
    ("createEarningRule", "EarningRuleInput!", {"excludeCategories": ["c" * 300]}, "INVALID", "excludeCategories.0"),
    ("createEarningRule", "EarningRuleInput!", {"type": "CUSTOM", "customType": "c" * 100}, "INVALID", "customType"),
    ("createEarningRule", "EarningRuleInput!", {"currency": "dollars"}, "INVALID", "currency"),
    ("createReward", "RewardInput!", {"startsAt": NAIVE_PAST, "endsAt": "2019-01-01T00:00:00Z"}, "INVALID", "endsAt"),
    ("createReward", "RewardInput!", {"endsAt": FAR_PAST_OFFSET}, "INVALID", "endsAt"),
    ("createReward", "RewardInput!", {"type": "FIXED_AMOUNT", "amount": 5, "currency": "dollars"}, "INVALID", "currency"),
    ("createReward", "RewardInput!", {"description": "d" * 2000}, "INVALID", "description"),
    ("createSubscriptionPlan", "PlanInput!", {"retentionOffers": {"TOO_EXPENSIVE": {"type": "DISCOUNT", "percent": "abc"}}},
     "INVALID", "retentionOffers.TOO_EXPENSIVE.percent"),
    ("createSubscriptionPlan", "PlanInput!", {"trialDays": 10**9}, "INVALID", "trialDays"),
    ("createSubscriptionPlan", "PlanInput!", {"trialDays": -3}, "INVALID", "trialDays"),
    ("createSubscriptionPlan", "PlanInput!", {"skus": [NUL]}, "INVALID", "skus.0"),
    ("createSubscriptionPlan", "PlanInput!", {"perks": ["p" * 300]}, "INVALID", "perks.0"),
    ("createSubscriptionPlan", "PlanInput!", {"name": "n" * 300}, "INVALID", "name"),
    ("createSubscriptionPlan", "PlanInput!", {"currency": "U$D"}, "INVALID", "currency"),
    ("pauseSubscription", "SubscriptionActionInput!", {"until": FAR_PAST_OFFSET}, "INVALID", "until"),
    ("pauseSubscription", "SubscriptionActionInput!", {"until": NAIVE_PAST}, "INVALID", "until"),
    ("rescheduleSubscription", "SubscriptionActionInput!", {"date": NAIVE_PAST}, "INVALID", "date"),
    ("changeSubscriptionInterval", "SubscriptionActionInput!", {"intervalUnit": "DAY", "intervalCount": 0}, "INVALID", "interval"),
    ("swapSubscriptionProduct", "SubscriptionActionInput!", {"sku": NUL}, "INVALID", "sku"),
    ("cancelSubscription", "CancelSubscriptionInput!", {"reason": "OTHER", "comment": NUL, "confirm": True}, "INVALID", "comment"),
    ("cancelSubscription", "CancelSubscriptionInput!", {"reason": "OTHER", "comment": "c" * 5000}, "INVALID", "comment"),
    ("recordRenewalFailure", "RenewalFailureInput!", {"reason": NUL}, "INVALID", "reason"),
    ("recordRenewalFailure", "RenewalFailureInput!", {"reason": " "}, "INVALID", "reason"),
    ("subscribe", "SubscribeInput!", {"planId": global_id("SubscriptionPlan", 999_999)}, "PLAN_NOT_FOUND", "planId"),
    ("subscribe", "SubscribeInput!", {"sku": "s" * 300}, "INVALID", "sku"),
    ("redeemReward", "RedeemRewardInput!", {"idempotencyKey": "k" * 300}, "INVALID", "idempotencyKey"),
    ("redeemReward", "RedeemRewardInput!", {"rewardId": global_id("Reward", 999_999)}, "REWARD_NOT_FOUND", "rewardId"),
    ("markRewardCodeUsed", "MarkCodeUsedInput!", {"orderExternalId": "o" * 5000}, "INVALID", "orderExternalId"),
    ("markRewardCodeUsed", "MarkCodeUsedInput!", {"orderExternalId": " "}, "INVALID", "orderExternalId"),
    ("markRewardCodeUsed", "MarkCodeUsedInput!", {"code": "c" * 5000}, "CODE_NOT_FOUND", "code"),
    ("cancelRedemption", "CodeInput!", {"code": "PTN-NOPE-NOPE-NOPE"}, "CODE_NOT_FOUND", "code"),
    ("recordActivity", "RecordActivityInput!", {"type": "CUSTOM", "customType": "c" * 300}, "INVALID", "customType"),
    ("recordActivity", "RecordActivityInput!", {"type": "UGC_SUBMITTED", "url": "javascript:alert(1)"}, "INVALID", "url"),
    ("reviewActivity", "ReviewActivityInput!", {"activityId": global_id("Activity", 999_999)}, "NOT_FOUND", "activityId"),
]


async def hostile_world() -> dict[str, Any]:
    """A member with points, a held order, a subscription and an issued code."""
    await helpers.member("m1")
    await helpers.order("o1")
    plan = await coffee_plan()
    sub = await subscribe("m1", plan.id, None, "test")
    code = await issued_code("m1")
    return {"plan": plan.id, "sub": sub.id, "code": code}


def valid_input(name: str, world: dict[str, Any]) -> dict[str, Any]:
    """The input each mutation succeeds with; the hostile value replaces one part of it."""
    return {
        "recordOrder": order_input("hostile-1"),
        "recordRefund": {"externalId": "rf-h", "orderExternalId": "o1"},
        "spendPoints": {"memberExternalId": "m1", "amount": 5, "idempotencyKey": "s1", "reason": "checkout"},
        "adjustPoints": {"memberExternalId": "m1", "amount": 5, "idempotencyKey": "a1", "reason": "goodwill"},
        "createTier": {"name": "Gold", "rank": 5},
        "createEarningRule": {"name": "Signup", "type": "SIGNUP", "points": 5},
        "createReward": {"name": "Tote", "type": "FREE_SHIPPING", "pointsCost": 5},
        "createSubscriptionPlan": {"name": "Club", "kind": "PRODUCT", "skus": ["beans"], "intervalUnit": "MONTH",
                                   "intervalCount": 1, "price": 500, "currency": "USD"},
        "pauseSubscription": {"subscriptionId": world["sub"], "until": (clock.now() + timedelta(days=9)).isoformat()},
        "rescheduleSubscription": {"subscriptionId": world["sub"], "date": (clock.now() + timedelta(days=9)).isoformat()},
        "changeSubscriptionInterval": {"subscriptionId": world["sub"], "intervalUnit": "WEEK", "intervalCount": 1},
        "swapSubscriptionProduct": {"subscriptionId": world["sub"], "sku": "beans"},
        "cancelSubscription": {"subscriptionId": world["sub"], "reason": "OTHER"},
        "recordRenewalFailure": {"subscriptionId": world["sub"], "reason": "card declined"},
        "subscribe": {"memberExternalId": "m1", "planId": world["plan"]},
        "redeemReward": {"memberExternalId": "m1", "rewardId": 0, "idempotencyKey": "r-2"},
        "markRewardCodeUsed": {"code": world["code"], "orderExternalId": "o1"},
        "cancelRedemption": {"code": world["code"]},
        "recordActivity": {"memberExternalId": "m1", "type": "SOCIAL_SHARE", "externalId": "share-1"},
        "reviewActivity": {"activityId": 1, "approve": True},
    }[name]


@pytest.mark.parametrize(("name", "input_type", "bad", "code", "field"), HOSTILE)
async def test_hostile_commerce_input_is_a_coded_error_without_side_effects(api, admin_token, name, input_type, bad,
                                                                            code, field):
    # given a program with a member, points, an order, a subscription and a code
    clock.set_now(T0)
    world = await hostile_world()
    before = await snapshot()
    # when an admin sends one hostile value
    args = f"id: {world['plan']}, input: $i" if name == "updateSubscriptionPlan" else "input: $i"
    query = f"mutation($i: {input_type}) {{ {name}({args}) {{ errors {{ field code }} }} }}"
    body = await api(query, {"i": valid_input(name, world) | bad}, admin_token)
    # then it is a payload error with a code (never "Unexpected error."), and nothing changed
    assert "errors" not in body, body
    errors = body["data"][name]["errors"]
    assert len(errors) == 1, errors
    if code is not None:
        assert errors[0] == {"field": field, "code": code}
    assert await snapshot() == before


async def test_a_guest_order_never_takes_a_members_code(api, storefront_token, monkeypatch):
    # given a 30-minute grace, m1's code awaiting order guest-1, and m2's code
    monkeypatch.setenv("PATRON_REWARD_CODE_ORDER_GRACE_MINUTES", "30")
    reload_settings()
    clock.set_now(T0)
    waiting, code = await issued_code("m1"), await issued_code("m2")
    await api.ok(USE_CODE, {"c": waiting, "o": "guest-1"}, storefront_token)
    # when guest-1 arrives as a guest order, and m2's code is used on it
    await helpers.order("guest-1", member_id=None)
    used = (await api.ok(USE_CODE, {"c": code, "o": "guest-1"}, storefront_token))["markRewardCodeUsed"]
    # then the waiting code is given back, saying why, and the other one is refused and still usable
    assert used == {"redemption": None, "errors": [{"field": "orderExternalId", "code": "ORDER_MEMBER_MISMATCH"}]}
    rows = await Redemption.filter(code__in=[waiting, code]).order_by("id").values("status", "order_external_id")
    assert rows == [{"status": "issued", "order_external_id": None}] * 2
    undone = await Event.filter(type="reward.code_use_undone").values_list("payload", flat=True)
    assert [(p["orderExternalId"], p["why"]) for p in undone] == [("guest-1", "the order is a guest order")]
    assert await Event.filter(type="reward.code_used").count() == 0
