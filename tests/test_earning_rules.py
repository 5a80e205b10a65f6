"""The full earning-rules engine: activities, brand UGC approval, referrals, custom events,
weekly caps, and previewEarning (which writes nothing)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from domain import clock, jobs
from domain.events.models import Event
from domain.ledger.models import Award
from domain.rules.service import save_rule
from tests import helpers
from tests.conftest import member_token
from tests.helpers import assert_no_drift, fresh

ACTIVITY = """mutation($i: RecordActivityInput!) { recordActivity(input: $i) { activity { activityId status } pointsAwarded errors { field code } } }"""
T0 = datetime(2026, 8, 3, 9, 0, tzinfo=UTC)  # a Monday


async def test_social_share_survey_and_custom_activity_earn_once(api):
    clock.set_now(T0)
    await save_rule(None, {"name": "Share", "type": "SOCIAL_SHARE", "points": 20, "cap_points": 40, "cap_period": "WEEK"})
    await save_rule(None, {"name": "Survey", "type": "SURVEY_COMPLETED", "points": 50})
    await save_rule(None, {"name": "App install", "type": "CUSTOM", "custom_type": "app_install", "points": 70})
    await helpers.member("m1")
    token = member_token("m1")
    results = []
    for ext in ("s1", "s1", "s2", "s3"):
        results.append((await api.ok(ACTIVITY, {"i": {"type": "SOCIAL_SHARE", "externalId": ext}}, token))["recordActivity"]["pointsAwarded"])
    assert results == [20, 0, 20, 0]  # a replay earns nothing; the weekly cap of 40 stops the third
    clock.set_now(T0 + timedelta(days=7))
    assert (await api.ok(ACTIVITY, {"i": {"type": "SOCIAL_SHARE", "externalId": "s4"}}, token))["recordActivity"]["pointsAwarded"] == 20
    survey = await api.ok(ACTIVITY, {"i": {"type": "SURVEY_COMPLETED", "externalId": "nps-2026"}}, token)
    assert survey["recordActivity"]["pointsAwarded"] == 50
    custom = await api.ok(ACTIVITY, {"i": {"type": "CUSTOM", "customType": "app_install", "externalId": "ios"}}, token)
    assert custom["recordActivity"]["pointsAwarded"] == 70
    other = await api.ok(ACTIVITY, {"i": {"type": "CUSTOM", "customType": "newsletter", "externalId": "x"}}, token)
    assert other["recordActivity"]["pointsAwarded"] == 0
    m = await assert_no_drift()
    assert m.points_balance == 20 + 20 + 20 + 50 + 70
    award = await Award.filter(rule_id__isnull=False).order_by("id").first()
    assert award.details["ruleType"] == "SOCIAL_SHARE" and award.details["points"] == 20


async def test_brand_ugc_waits_for_approval(api, admin_token):
    await save_rule(None, {"name": "Unboxing video", "type": "UGC_SUBMITTED", "points": 300})
    await helpers.member("m1")
    no_url = await api.ok(ACTIVITY, {"i": {"type": "UGC_SUBMITTED", "externalId": "v1"}}, member_token("m1"))
    assert no_url["recordActivity"]["errors"] == [{"field": "url", "code": "INVALID"}]
    sent = await api.ok(ACTIVITY, {"i": {"type": "UGC_SUBMITTED", "externalId": "v1", "url": "https://video.example/v1"}}, member_token("m1"))
    assert sent["recordActivity"]["activity"]["status"] == "pending" and sent["recordActivity"]["pointsAwarded"] == 0
    queue = await api.ok("{ pendingActivities { activityId url } }", token=admin_token)
    assert queue["pendingActivities"] == [{"activityId": sent["recordActivity"]["activity"]["activityId"], "url": "https://video.example/v1"}]
    review = "mutation($i: ReviewActivityInput!) { reviewActivity(input: $i) { activity { status } pointsAwarded errors { code } } }"
    approved = await api.ok(review, {"i": {"activityId": sent["recordActivity"]["activity"]["activityId"], "approve": True}}, admin_token)
    assert approved["reviewActivity"] == {"activity": {"status": "approved"}, "pointsAwarded": 300, "errors": []}
    again = await api.ok(review, {"i": {"activityId": sent["recordActivity"]["activity"]["activityId"], "approve": True}}, admin_token)
    assert again["reviewActivity"]["errors"] == [{"code": "INVALID_STATE"}]
    assert (await fresh()).points_balance == 300


async def test_referral_converts_after_the_first_order_outlives_the_return_window(api, storefront_token):
    clock.set_now(T0)
    await save_rule(None, {"name": "Referrer bonus", "type": "REFERRAL_CONVERTED", "points": 500, "referral_side": "REFERRER"})
    await save_rule(None, {"name": "Friend bonus", "type": "REFERRAL_CONVERTED", "points": 200, "referral_side": "REFERRED"})
    await helpers.member("ref")
    upsert = 'mutation($i: UpsertMemberInput!) { upsertMember(input: $i) { errors { field code } } }'
    self_ref = await api.ok(upsert, {"i": {"externalId": "me", "referredBy": "me"}}, storefront_token)
    assert self_ref["upsertMember"]["errors"] == [{"field": "referredBy", "code": "INVALID"}]
    await api.ok(upsert, {"i": {"externalId": "friend", "referredBy": "ref"}}, storefront_token)
    await helpers.order("o1", member_id="friend", amount=1_000)
    clock.set_now(T0 + timedelta(days=13))
    assert await jobs.activities.convert_referrals(clock.now()) == 0
    clock.set_now(T0 + timedelta(days=14))
    assert await jobs.activities.convert_referrals(clock.now()) == 1
    assert await jobs.activities.convert_referrals(clock.now()) == 0
    assert (await assert_no_drift("ref")).points_balance == 500
    assert (await assert_no_drift("friend")).points_balance == 200


async def test_refunded_first_order_does_not_convert_a_referral():
    from domain.members.service import upsert_member
    from domain.orders.service import record_refund

    clock.set_now(T0)
    await save_rule(None, {"name": "Both", "type": "REFERRAL_CONVERTED", "points": 100})
    await helpers.member("ref")
    await upsert_member("friend", {"referred_by": "ref"})
    await helpers.order("o1", member_id="friend", amount=1_000)
    await record_refund("r1", "o1", None)
    clock.set_now(T0 + timedelta(days=30))
    assert await jobs.activities.convert_referrals(clock.now()) == 0


async def test_preview_earning_writes_nothing(api):
    clock.set_now(T0)
    await helpers.tiers_bronze_silver_gold()
    await helpers.order_rule(currency="USD", exclude_categories=["gift-cards"])
    await helpers.member("m1")
    await helpers.order("o1", amount=60_000)  # Silver: 1.5x
    events = await Event.all().count()
    q = """query($i: PreviewEarningInput!) { previewEarning(input: $i) { points lines { ruleName points eligibleAmount multiplier } } }"""
    lines = [{"sku": "a", "quantity": 2, "unitPrice": 10_000}, {"sku": "gc", "category": "gift-cards", "quantity": 1, "unitPrice": 5_000}]
    anonymous = await api.ok(q, {"i": {"currency": "usd", "lines": lines}})
    assert anonymous["previewEarning"] == {"points": 200, "lines": [{"ruleName": "1 point per 100", "points": 200, "eligibleAmount": 20_000, "multiplier": 1.0}]}
    member = await api.ok(q, {"i": {"currency": "USD", "memberExternalId": "m1", "lines": lines}}, member_token("m1"))
    assert member["previewEarning"]["points"] == 300
    other = await api(q, {"i": {"currency": "USD", "memberExternalId": "m1", "lines": lines}})
    assert other["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert await Event.all().count() == events and await Award.all().count() == 1
