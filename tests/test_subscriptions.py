"""Subscriptions: the state machine (every transition and illegal one), retention offers,
renewal notices, renewals through recordOrder, dunning, and paid memberships."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from domain import clock, jobs
from domain.events.models import Event
from domain.rules.service import save_rule
from domain.settings import reload_settings
from domain.subscriptions.models import Subscription, SubscriptionChange
from domain.subscriptions.service import add_interval, save_plan
from domain.tiers.service import save_tier
from tests import helpers
from tests.conftest import member_token
from tests.helpers import fresh

T0 = datetime(2026, 1, 31, 9, 0, tzinfo=UTC)
FIELDS = "subscription { subscriptionId status sku nextDeliveryAt intervalUnit intervalCount pausedUntil discountPercent } cancelled retentionOffer errors { field code message }"
SUBSCRIBE = "mutation($i: SubscribeInput!) { subscribe(input: $i) { %s } }" % FIELDS


def action(name: str) -> str:
    return "mutation($i: SubscriptionActionInput!) { %s(input: $i) { %s } }" % (name, FIELDS)


CANCEL = "mutation($i: CancelSubscriptionInput!) { cancelSubscription(input: $i) { %s } }" % FIELDS
RECORD = """mutation($i: RecordOrderInput!) { recordOrder(input: $i) { pointsAwarded subscriptionRenewed
  notices { field code } errors { field code } } }"""


@pytest.fixture
async def plan():
    return await save_plan(None, {
        "name": "Coffee every 2 weeks", "kind": "PRODUCT", "skus": ["beans-dark", "beans-light"], "interval_unit": "WEEK",
        "interval_count": 2, "price": 2000, "currency": "usd", "discount_percent": 10,
        "retention_offers": {"TOO_MUCH_PRODUCT": {"type": "SKIP_NEXT"},
                             "TOO_EXPENSIVE": {"type": "DISCOUNT", "percent": 25, "cycles": 2}}})


async def subscribed(api, plan, member="m1"):
    clock.set_now(T0)
    await helpers.member(member)
    data = (await api.ok(SUBSCRIBE, {"i": {"planId": plan.id}}, member_token(member)))["subscribe"]
    assert data["errors"] == [], data
    return data["subscription"]


async def call(api, name, sub_id, token, **fields):
    return (await api.ok(action(name), {"i": {"subscriptionId": sub_id, **fields}}, token))[name]


def iso(d: datetime) -> str:
    return d.isoformat()


async def test_subscribe_and_every_self_service_transition(api, plan):
    sub = await subscribed(api, plan)
    token = member_token("m1")
    first = T0 + timedelta(weeks=2)
    assert (sub["status"], sub["sku"], sub["nextDeliveryAt"], sub["discountPercent"]) == ("ACTIVE", "beans-dark", iso(first), 10)
    sid = sub["subscriptionId"]
    skipped = await call(api, "skipNextDelivery", sid, token)
    assert skipped["subscription"]["nextDeliveryAt"] == iso(first + timedelta(weeks=2))
    unskipped = await call(api, "unskipDelivery", sid, token)
    assert unskipped["subscription"]["nextDeliveryAt"] == iso(first)
    assert (await call(api, "unskipDelivery", sid, token))["errors"][0]["code"] == "INVALID_TRANSITION"
    swapped = await call(api, "swapSubscriptionProduct", sid, token, sku="beans-light")
    assert swapped["subscription"]["sku"] == "beans-light"
    assert (await call(api, "swapSubscriptionProduct", sid, token, sku="tea"))["errors"][0]["field"] == "sku"
    changed = await call(api, "changeSubscriptionInterval", sid, token, intervalUnit="MONTH", intervalCount=1)
    assert (changed["subscription"]["intervalUnit"], changed["subscription"]["intervalCount"]) == ("MONTH", 1)
    new_date = T0 + timedelta(days=5)
    moved = await call(api, "rescheduleSubscription", sid, token, date=iso(new_date))
    assert moved["subscription"]["nextDeliveryAt"] == iso(new_date)
    past = await call(api, "rescheduleSubscription", sid, token, date=iso(T0 - timedelta(days=1)))
    assert past["errors"][0]["field"] == "date"
    paused = await call(api, "pauseSubscription", sid, token, until=iso(T0 + timedelta(days=30)))
    assert (paused["subscription"]["status"], paused["subscription"]["pausedUntil"]) == ("PAUSED", iso(T0 + timedelta(days=30)))
    for illegal in ("skipNextDelivery", "rescheduleSubscription", "pauseSubscription"):
        extra = {"date": iso(T0 + timedelta(days=9))} if illegal == "rescheduleSubscription" else {}
        extra |= {"until": iso(T0 + timedelta(days=40))} if illegal == "pauseSubscription" else {}
        result = await call(api, illegal, sid, token, **extra)
        assert result["errors"][0]["code"] == "INVALID_TRANSITION", illegal
    resumed = await call(api, "resumeSubscription", sid, token)
    assert resumed["subscription"]["status"] == "ACTIVE"
    cancelled = (await api.ok(CANCEL, {"i": {"subscriptionId": sid, "reason": "QUALITY", "comment": "bitter"}}, token))["cancelSubscription"]
    assert (cancelled["cancelled"], cancelled["subscription"]["status"], cancelled["retentionOffer"]) == (True, "CANCELLED", None)
    for illegal in ("skipNextDelivery", "resumeSubscription", "unskipDelivery", "swapSubscriptionProduct"):
        extra = {"sku": "beans-dark"} if illegal == "swapSubscriptionProduct" else {}
        assert (await call(api, illegal, sid, token, **extra))["errors"][0]["code"] == "INVALID_TRANSITION", illegal
    again = (await api.ok(CANCEL, {"i": {"subscriptionId": sid, "reason": "OTHER"}}, token))["cancelSubscription"]
    assert again["errors"][0]["code"] == "INVALID_TRANSITION"
    actions = await SubscriptionChange.filter(subscription_id=sid).order_by("id").values_list("action", flat=True)
    assert actions == ["subscribe", "skip", "unskip", "swap", "change_interval", "reschedule", "pause", "resume", "cancel"]
    types = await Event.filter(type__startswith="subscription.").order_by("id").values_list("type", flat=True)
    assert types == ["subscription.created", "subscription.skipped", "subscription.unskipped", "subscription.swapped",
                     "subscription.interval_changed", "subscription.rescheduled", "subscription.paused",
                     "subscription.resumed", "subscription.cancelled"]


async def test_retention_offers_are_shown_before_cancelling(api, plan):
    sub = await subscribed(api, plan)
    sid, token = sub["subscriptionId"], member_token("m1")
    offered = (await api.ok(CANCEL, {"i": {"subscriptionId": sid, "reason": "TOO_EXPENSIVE"}}, token))["cancelSubscription"]
    assert offered["cancelled"] is False and offered["retentionOffer"] == {"type": "DISCOUNT", "percent": 25, "cycles": 2}
    assert offered["subscription"]["status"] == "ACTIVE"
    accepted = (await api.ok(CANCEL, {"i": {"subscriptionId": sid, "reason": "TOO_EXPENSIVE", "acceptRetentionOffer": True}}, token))["cancelSubscription"]
    assert accepted["subscription"]["discountPercent"] == 25 and accepted["cancelled"] is False
    skip_offer = (await api.ok(CANCEL, {"i": {"subscriptionId": sid, "reason": "TOO_MUCH_PRODUCT", "acceptRetentionOffer": True}}, token))["cancelSubscription"]
    assert skip_offer["subscription"]["nextDeliveryAt"] == iso(T0 + timedelta(weeks=4))
    confirmed = (await api.ok(CANCEL, {"i": {"subscriptionId": sid, "reason": "TOO_EXPENSIVE", "confirm": True}}, token))["cancelSubscription"]
    assert confirmed["cancelled"] is True and confirmed["retentionOffer"] is None  # taken already: nothing left to offer


async def test_renewal_notice_order_renews_and_earns(api, plan, storefront_token):
    await save_rule(None, {"name": "Renewal bonus", "type": "SUBSCRIPTION_RENEWED", "points": 40})
    sub = await subscribed(api, plan)
    sid = sub["subscriptionId"]
    due = T0 + timedelta(weeks=2)
    clock.set_now(due - timedelta(hours=73))
    await jobs.subscription_jobs.send_renewal_notices(clock.now())
    assert await Event.filter(type="subscription.renewal_due").count() == 0
    clock.set_now(due - timedelta(hours=71))
    await jobs.subscription_jobs.send_renewal_notices(clock.now())
    await jobs.subscription_jobs.send_renewal_notices(clock.now())
    notice = await Event.get(type="subscription.renewal_due")
    assert notice.payload["amount"] == {"amount": 1800, "currency": "USD"} and notice.payload["dueAt"] == iso(due)
    order = {"externalId": "renew-1", "memberExternalId": "m1", "currency": "USD", "placedAt": iso(due), "subscriptionId": sid,
             "lines": [{"sku": "beans-dark", "quantity": 1, "unitPrice": 1800}]}
    assert (await api.ok(RECORD, {"i": order}, storefront_token))["recordOrder"]["errors"] == []
    row = await Subscription.get(id=sid)
    assert (row.cycles_completed, row.next_delivery_at) == (1, due + timedelta(weeks=2))
    assert (await fresh()).points_balance == 40  # the renewal rule (no order rule configured)
    replay = await api.ok(RECORD, {"i": order}, storefront_token)
    assert replay["recordOrder"]["errors"] == [] and (await Subscription.get(id=sid)).cycles_completed == 1
    await helpers.member("m2")
    foreign = order | {"externalId": "renew-x", "memberExternalId": "m2"}
    kept = (await api.ok(RECORD, {"i": foreign}, storefront_token))["recordOrder"]
    assert (kept["errors"], kept["subscriptionRenewed"]) == ([], False)
    assert kept["notices"] == [{"field": "subscriptionId", "code": "SUBSCRIPTION_NOT_FOUND"}]
    assert (await Subscription.get(id=sid)).cycles_completed == 1


async def test_fixed_cycles_expire_and_paused_never_renews(api, storefront_token):
    plan = await save_plan(None, {"name": "3 boxes", "kind": "PRODUCT", "skus": ["box"], "interval_unit": "MONTH",
                                  "interval_count": 1, "price": 3000, "currency": "USD", "cycles": 2})
    sub = await subscribed(api, plan)
    sid = sub["subscriptionId"]
    assert sub["nextDeliveryAt"] == iso(datetime(2026, 2, 28, 9, 0, tzinfo=UTC))  # Jan 31 + 1 month, clamped
    for n in (1, 2):
        order = {"externalId": f"box-{n}", "memberExternalId": "m1", "currency": "USD", "placedAt": iso(T0),
                 "subscriptionId": sid, "lines": [{"sku": "box", "quantity": 1, "unitPrice": 3000}]}
        await api.ok(RECORD, {"i": order}, storefront_token)
    assert (await Subscription.get(id=sid)).status == "expired"
    assert await Event.filter(type="subscription.expired").count() == 1
    sub2 = await subscribed(api, plan, "m2")
    await call(api, "pauseSubscription", sub2["subscriptionId"], member_token("m2"), until=iso(T0 + timedelta(days=90)))
    clock.set_now(T0 + timedelta(days=40))
    await jobs.subscription_jobs.send_renewal_notices(clock.now())
    assert await Event.filter(type="subscription.renewal_due").count() == 0
    order = {"externalId": "paused-1", "memberExternalId": "m2", "currency": "USD", "placedAt": iso(T0),
             "subscriptionId": sub2["subscriptionId"], "lines": [{"sku": "box", "quantity": 1, "unitPrice": 3000}]}
    kept = (await api.ok(RECORD, {"i": order}, storefront_token))["recordOrder"]
    assert kept["notices"] == [{"field": "subscriptionId", "code": "SUBSCRIPTION_NOT_RENEWABLE"}]
    assert (await Subscription.get(id=sub2["subscriptionId"])).status == "paused"
    clock.set_now(T0 + timedelta(days=90))
    await jobs.subscription_jobs.end_pauses(clock.now())
    resumed = await Subscription.get(id=sub2["subscriptionId"])
    assert resumed.status == "active" and resumed.next_delivery_at == add_interval(clock.now(), "MONTH", 1)


async def test_dunning_retries_then_the_configured_outcome(api, plan, storefront_token, monkeypatch):
    monkeypatch.setenv("PATRON_DUNNING_OUTCOME", "pause")
    reload_settings()
    sub = await subscribed(api, plan)
    sid = sub["subscriptionId"]
    fail = "mutation($i: RenewalFailureInput!) { recordRenewalFailure(input: $i) { subscription { status failureCount nextRetryAt } errors { code } } }"
    now = T0 + timedelta(weeks=2)
    for attempt in (1, 2, 3):
        clock.set_now(now)
        data = (await api.ok(fail, {"i": {"subscriptionId": sid, "reason": "card declined"}}, storefront_token))["recordRenewalFailure"]
        assert data["subscription"] == {"status": "PAST_DUE", "failureCount": attempt, "nextRetryAt": iso(now + timedelta(days=7))}
        now += timedelta(days=7)
        clock.set_now(now)
        assert await jobs.subscription_jobs.retry_past_due(now) == 1
        assert await jobs.subscription_jobs.retry_past_due(now) == 0
    last = (await api.ok(fail, {"i": {"subscriptionId": sid, "reason": "card declined"}}, storefront_token))["recordRenewalFailure"]
    assert last["subscription"]["status"] == "PAUSED"
    types = await Event.filter(type__startswith="subscription.").values_list("type", flat=True)
    assert types.count("subscription.renewal_failed") == 4 and types.count("subscription.past_due") == 1
    assert types.count("subscription.renewal_due") == 3


async def test_paying_a_past_due_renewal_brings_it_back(api, plan, storefront_token):
    sub = await subscribed(api, plan)
    sid = sub["subscriptionId"]
    await api.ok("mutation { recordRenewalFailure(input: {subscriptionId: %d, reason: \"declined\"}) { errors { code } } }" % sid, token=storefront_token)
    order = {"externalId": "late", "memberExternalId": "m1", "currency": "USD", "placedAt": iso(T0), "subscriptionId": sid,
             "lines": [{"sku": "beans-dark", "quantity": 1, "unitPrice": 1800}]}
    await api.ok(RECORD, {"i": order}, storefront_token)
    row = await Subscription.get(id=sid)
    assert (row.status, row.failure_count, row.next_retry_at) == ("active", 0, None)


async def test_paid_membership_grants_a_tier_until_the_paid_period_ends(api):
    clock.set_now(T0)
    await save_tier(None, {"name": "Member", "rank": 0})
    vip = await save_tier(None, {"name": "VIP", "rank": 1, "min_spend": 10_000_000, "currency": "USD"})
    plan = await save_plan(None, {"name": "VIP Club", "kind": "MEMBERSHIP", "interval_unit": "MONTH", "interval_count": 12,
                                  "price": 5000, "currency": "USD", "grants_tier_id": vip.id, "perks": ["Free shipping"]})
    sub = await subscribed(api, plan)
    m = await fresh()
    await m.fetch_related("tier")
    assert m.tier.name == "VIP"
    cancelled = (await api.ok(CANCEL, {"i": {"subscriptionId": sub["subscriptionId"], "reason": "NOT_USING"}}, member_token("m1")))["cancelSubscription"]
    assert cancelled["cancelled"] is True
    clock.set_now(T0 + timedelta(days=300))
    await jobs.subscription_jobs.end_memberships(clock.now())
    m = await fresh()
    await m.fetch_related("tier")
    assert m.tier.name == "VIP"  # paid through the year
    clock.set_now(datetime(2027, 1, 31, 9, 0, tzinfo=UTC))
    await jobs.subscription_jobs.end_memberships(clock.now())
    m = await fresh()
    await m.fetch_related("tier")
    assert m.tier.name == "Member"
    history = await api.ok('{ member(externalId: "m1") { tierHistory { toTier reason } subscriptions { status history { action } } } }',
                           token=member_token("m1"))
    assert history["member"]["tierHistory"][0] == {"toTier": "Member", "reason": "Paid membership VIP Club ended"}
    assert [h["action"] for h in history["member"]["subscriptions"][0]["history"]] == ["subscribe", "cancel", "membership_ended"]


async def test_other_members_cannot_touch_a_subscription(api, plan):
    sub = await subscribed(api, plan)
    await helpers.member("m2")
    other = await call(api, "skipNextDelivery", sub["subscriptionId"], member_token("m2"))
    assert other["errors"][0]["code"] == "SUBSCRIPTION_NOT_FOUND"
    assert (await Subscription.get(id=sub["subscriptionId"])).next_delivery_at == T0 + timedelta(weeks=2)
