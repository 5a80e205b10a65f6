"""Rewards: catalog, atomic redemption, codes (validate, use, cancel, expire), concurrency."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from domain import clock, jobs
from domain.events.models import Event
from domain.ledger.models import LedgerEntry
from domain.rewards.models import Redemption, Reward
from domain.rewards.service import save_reward
from tests import helpers
from tests.conftest import member_token, postgres_only
from tests.helpers import assert_no_drift, fresh

REDEEM = """mutation($i: RedeemRewardInput!) { redeemReward(input: $i) {
  redemption { code status points reward { name stock } expiresAt } errors { field code message } } }"""
ADJUST = 'mutation($m: String!, $a: Int!, $k: String!) { adjustPoints(input: {memberExternalId: $m, amount: $a, reason: "seed", idempotencyKey: $k}) { errors { code } } }'
T0 = datetime(2026, 7, 1, 10, 0, tzinfo=UTC)


async def funded(api, admin_token, external_id="m1", points=1000):
    await helpers.member(external_id)
    await api.ok(ADJUST, {"m": external_id, "a": points, "k": f"seed-{external_id}"}, admin_token)


async def test_redeem_debits_points_takes_stock_and_issues_a_code(api, admin_token):
    clock.set_now(T0)
    reward = await save_reward(None, {"name": "$5 off", "type": "FIXED_AMOUNT", "points_cost": 500, "amount": 500,
                                      "currency": "usd", "stock": 3, "code_valid_days": 30})
    await funded(api, admin_token)
    data = (await api.ok(REDEEM, {"i": {"rewardId": reward.id, "idempotencyKey": "r1"}}, member_token("m1")))["redeemReward"]
    assert data["errors"] == []
    redemption = data["redemption"]
    assert redemption["status"] == "ISSUED" and redemption["points"] == 500
    assert redemption["reward"] == {"name": "$5 off", "stock": 2}
    assert redemption["code"].startswith("PTN-") and len(redemption["code"]) == 18
    assert redemption["expiresAt"] == (T0 + timedelta(days=30)).isoformat()
    m = await assert_no_drift()
    assert m.points_balance == 500
    replay = (await api.ok(REDEEM, {"i": {"rewardId": reward.id, "idempotencyKey": "r1"}}, member_token("m1")))["redeemReward"]
    assert replay["redemption"]["code"] == redemption["code"]
    assert await Redemption.all().count() == 1 and (await Reward.get(id=reward.id)).stock == 2
    assert await Event.filter(type="reward.redeemed").count() == 1


async def test_refusals_leave_nothing_behind(api, admin_token):
    from domain.tiers.service import save_tier

    clock.set_now(T0)
    await save_tier(None, {"name": "Base", "rank": 0})
    await save_tier(None, {"name": "VIP", "rank": 1, "min_points": 10_000})
    pricey = await save_reward(None, {"name": "Jacket", "type": "FREE_PRODUCT", "points_cost": 5000, "sku": "jkt"})
    vip = await save_reward(None, {"name": "VIP night", "type": "EXPERIENTIAL", "points_cost": 100, "min_tier_rank": 1, "stock": 5})
    gone = await save_reward(None, {"name": "Sold out", "type": "FREE_SHIPPING", "points_cost": 10, "stock": 0})
    later = await save_reward(None, {"name": "Later", "type": "FREE_SHIPPING", "points_cost": 10, "starts_at": T0 + timedelta(days=1)})
    once = await save_reward(None, {"name": "Once", "type": "PERCENTAGE", "points_cost": 10, "percent": 10, "per_member_limit": 1})
    await funded(api, admin_token)
    cases = [(pricey.id, "INSUFFICIENT_POINTS"), (vip.id, "TIER_REQUIRED"), (gone.id, "OUT_OF_STOCK"),
             (later.id, "REWARD_UNAVAILABLE"), (999_999, "REWARD_NOT_FOUND")]
    for reward_id, code in cases:
        data = (await api.ok(REDEEM, {"i": {"rewardId": reward_id, "idempotencyKey": f"k{reward_id}"}}, member_token("m1")))["redeemReward"]
        assert [e["code"] for e in data["errors"]] == [code]
    assert await Redemption.all().count() == 0 and (await fresh()).points_balance == 1000
    assert (await Reward.get(id=vip.id)).stock == 5
    await api.ok(REDEEM, {"i": {"rewardId": once.id, "idempotencyKey": "o1"}}, member_token("m1"))
    second = (await api.ok(REDEEM, {"i": {"rewardId": once.id, "idempotencyKey": "o2"}}, member_token("m1")))["redeemReward"]
    assert second["errors"][0]["code"] == "LIMIT_REACHED"
    await assert_no_drift()


async def test_code_validate_use_and_replay(api, admin_token, storefront_token):
    reward = await save_reward(None, {"name": "Free shipping", "type": "FREE_SHIPPING", "points_cost": 100})
    await funded(api, admin_token)
    code = (await api.ok(REDEEM, {"i": {"rewardId": reward.id, "idempotencyKey": "a"}}, member_token("m1")))["redeemReward"]["redemption"]["code"]
    check = await api.ok('query($c: String!) { rewardCode(code: $c) { status memberExternalId reward { type } } }', {"c": code.lower()}, storefront_token)
    assert check["rewardCode"] == {"status": "ISSUED", "memberExternalId": "m1", "reward": {"type": "FREE_SHIPPING"}}
    use = 'mutation($c: String!, $o: String!) { markRewardCodeUsed(input: {code: $c, orderExternalId: $o}) { redemption { status orderExternalId } errors { code } } }'
    await helpers.order("order-9")  # the code is used on an order Patron has recorded for its member
    await helpers.order("order-10")
    used = await api.ok(use, {"c": code, "o": "order-9"}, storefront_token)
    assert used["markRewardCodeUsed"]["redemption"] == {"status": "USED", "orderExternalId": "order-9"}
    assert (await api.ok(use, {"c": code, "o": "order-9"}, storefront_token))["markRewardCodeUsed"]["errors"] == []
    other = await api.ok(use, {"c": code, "o": "order-10"}, storefront_token)
    assert other["markRewardCodeUsed"]["errors"] == [{"code": "CODE_NOT_USABLE"}]
    assert (await api.ok('query { rewardCode(code: "PTN-NOPE-NOPE-NOPE") { status } }', token=storefront_token))["rewardCode"] is None
    assert await Event.filter(type="reward.code_used").count() == 1


async def test_cancel_returns_points_as_a_new_credit_and_restores_stock(api, admin_token):
    reward = await save_reward(None, {"name": "Tote", "type": "FREE_PRODUCT", "points_cost": 300, "sku": "tote", "stock": 1})
    await funded(api, admin_token, points=300)
    code = (await api.ok(REDEEM, {"i": {"rewardId": reward.id, "idempotencyKey": "a"}}, member_token("m1")))["redeemReward"]["redemption"]["code"]
    await helpers.member("m2")
    cancel = 'mutation($c: String!) { cancelRedemption(input: {code: $c}) { redemption { status } errors { code } } }'
    assert (await api.ok(cancel, {"c": code}, member_token("m2")))["cancelRedemption"]["errors"] == [{"code": "CODE_NOT_FOUND"}]
    done = await api.ok(cancel, {"c": code}, member_token("m1"))
    assert done["cancelRedemption"]["redemption"]["status"] == "CANCELLED"
    m = await assert_no_drift()
    assert m.points_balance == 300 and m.lifetime_earned == 0  # a refund of points, not an earning
    credit = await LedgerEntry.filter(member_id=m.id).order_by("-id").first()
    assert (credit.kind, credit.amount, credit.remaining) == ("reverse", 300, 300)
    assert (await Reward.get(id=reward.id)).stock == 1
    again = await api.ok(cancel, {"c": code}, member_token("m1"))
    assert again["cancelRedemption"]["errors"] == [{"code": "CODE_NOT_USABLE"}]


async def test_unused_codes_expire(api, admin_token):
    clock.set_now(T0)
    reward = await save_reward(None, {"name": "5%", "type": "PERCENTAGE", "points_cost": 50, "percent": 5, "code_valid_days": 7})
    await funded(api, admin_token)
    code = (await api.ok(REDEEM, {"i": {"rewardId": reward.id, "idempotencyKey": "a"}}, member_token("m1")))["redeemReward"]["redemption"]["code"]
    clock.set_now(T0 + timedelta(days=7, seconds=1))
    await jobs.JobRunner().run_due()
    assert (await Redemption.get(code=code)).status == "expired"
    assert await Event.filter(type="reward.code_expired").count() == 1
    assert (await fresh()).points_balance == 950


async def test_reward_admin_validation(api, admin_token):
    q = "mutation($i: RewardInput!) { createReward(input: $i) { reward { name } errors { field code } } }"
    bad = [({"name": "x", "type": "PERCENTAGE", "pointsCost": 10, "percent": 0}, "percent"),
           ({"name": "x", "type": "FIXED_AMOUNT", "pointsCost": 10}, "amount"),
           ({"name": "x", "type": "FREE_PRODUCT", "pointsCost": 10}, "sku"),
           ({"name": "x", "type": "FREE_SHIPPING", "pointsCost": -1}, "pointsCost")]
    for value, field in bad:
        assert (await api.ok(q, {"i": value}, admin_token))["createReward"]["errors"] == [{"field": field, "code": "INVALID"}]
    await api.ok(q, {"i": {"name": "Ship", "type": "FREE_SHIPPING", "pointsCost": 10}}, admin_token)
    assert (await api.ok("{ rewards { name } }"))["rewards"] == [{"name": "Ship"}]


@postgres_only
async def test_100_parallel_redemptions_of_stock_10_issue_exactly_10_codes(api, admin_token):
    reward = await save_reward(None, {"name": "Limited", "type": "EXPERIENTIAL", "points_cost": 100, "stock": 10})
    for i in range(100):
        await funded(api, admin_token, f"c{i}", 100)
    results = await asyncio.gather(*[
        api(REDEEM, {"i": {"rewardId": reward.id, "idempotencyKey": "k"}}, member_token(f"c{i}")) for i in range(100)])
    payloads = [r["data"]["redeemReward"] for r in results]
    issued = [p for p in payloads if p["redemption"]]
    assert len(issued) == 10
    assert {e["code"] for p in payloads if not p["redemption"] for e in p["errors"]} == {"OUT_OF_STOCK"}
    assert len({p["redemption"]["code"] for p in issued}) == 10
    assert (await Reward.get(id=reward.id)).stock == 0 and await Redemption.all().count() == 10
    for i in range(100):
        await assert_no_drift(f"c{i}")


@postgres_only
async def test_a_member_with_points_for_one_redemption_gets_exactly_one(api, admin_token):
    reward = await save_reward(None, {"name": "Cap", "type": "FREE_PRODUCT", "points_cost": 400, "sku": "cap"})
    await funded(api, admin_token, points=500)
    results = await asyncio.gather(*[
        api(REDEEM, {"i": {"rewardId": reward.id, "idempotencyKey": f"k{i}"}}, member_token("m1")) for i in range(20)])
    payloads = [r["data"]["redeemReward"] for r in results]
    assert sum(1 for p in payloads if p["redemption"]) == 1
    assert {e["code"] for p in payloads if not p["redemption"] for e in p["errors"]} == {"INSUFFICIENT_POINTS"}
    m = await assert_no_drift()
    assert m.points_balance == 100
