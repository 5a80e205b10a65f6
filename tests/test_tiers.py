"""Tiers: immediate upgrades, multiplier, reviewed downgrades with grace, windows, nextTier."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from domain import clock, jobs
from domain.events.models import Event
from domain.tiers.models import TierChange
from tests import helpers
from tests.helpers import fresh

T0 = datetime(2026, 6, 1, tzinfo=UTC)
MEMBER_Q = """{ member(externalId: "m1") { tier { name rank benefits earnMultiplier perks }
  nextTier { name remainingSpend remainingPoints remainingOrders currency } tierHistory { fromTier toTier reason } } }"""


async def tier_name(external_id: str = "m1") -> str | None:
    m = await fresh(external_id)
    await m.fetch_related("tier")
    return m.tier.name if m.tier else None


async def test_entry_tier_on_signup_then_immediate_upgrade_and_multiplier(api, admin_token):
    clock.set_now(T0)
    await helpers.tiers_bronze_silver_gold()
    await helpers.order_rule(currency="USD")
    await helpers.member()
    assert await tier_name() == "Bronze"
    assert await helpers.order("o1", amount=60_000) == 600  # earned at Bronze (1x), then upgraded
    assert await tier_name() == "Silver"
    assert await helpers.order("o2", amount=10_000) == 150  # Silver: 1.5x
    data = (await api.ok(MEMBER_Q, token=admin_token))["member"]
    assert data["tier"] == {"name": "Silver", "rank": 1, "benefits": ["1.5x points", "Free shipping"],
                            "earnMultiplier": 1.5, "perks": ["Free shipping"]}
    assert data["nextTier"] == {"name": "Gold", "remainingSpend": 30_000, "remainingPoints": None,
                                "remainingOrders": None, "currency": "USD"}
    assert data["tierHistory"][0]["toTier"] == "Silver"
    assert data["tierHistory"][0]["reason"] == "Upgrade after order o1: spend 60000 of 50000 USD"
    assert await Event.filter(type="member.tier_changed").count() == 2


async def test_downgrade_only_at_review_after_the_grace_period():
    clock.set_now(T0)
    await helpers.tiers_bronze_silver_gold()
    await helpers.member()
    await helpers.order("o1", amount=60_000)
    assert await tier_name() == "Silver"
    # A year later the spend falls out of the rolling window: nothing happens until a review.
    clock.set_now(T0 + timedelta(days=366))
    await helpers.order("o2", amount=100)
    assert await tier_name() == "Silver"
    await jobs.review_tiers(clock.now())
    m = await fresh()
    assert await tier_name() == "Silver" and m.downgrade_pending_since == clock.now()
    clock.set_now(T0 + timedelta(days=366 + 29))
    await jobs.review_tiers(clock.now())
    assert await tier_name() == "Silver"
    clock.set_now(T0 + timedelta(days=366 + 30))
    await jobs.review_tiers(clock.now())
    assert await tier_name() == "Bronze"
    last = await TierChange.filter().order_by("-id").first().prefetch_related("from_tier", "to_tier")
    assert (last.from_tier.name, last.to_tier.name) == ("Silver", "Bronze")
    assert last.reason.startswith("Downgrade at review after 30 days' grace")


async def test_requalifying_during_grace_cancels_the_downgrade():
    clock.set_now(T0)
    await helpers.tiers_bronze_silver_gold()
    await helpers.member()
    await helpers.order("o1", amount=60_000)
    clock.set_now(T0 + timedelta(days=366))
    await jobs.review_tiers(clock.now())
    assert (await fresh()).downgrade_pending_since is not None
    await helpers.order("o2", amount=55_000)
    assert (await fresh()).downgrade_pending_since is None
    clock.set_now(T0 + timedelta(days=366 + 40))
    await jobs.review_tiers(clock.now())
    assert await tier_name() == "Silver"


async def test_calendar_year_window_keeps_last_years_status_through_this_year():
    clock.set_now(datetime(2025, 12, 20, tzinfo=UTC))
    await helpers.tiers_bronze_silver_gold(window="CALENDAR_YEAR")
    await helpers.member()
    await helpers.order("o1", amount=60_000)
    assert await tier_name() == "Silver"
    clock.set_now(datetime(2026, 12, 31, tzinfo=UTC))
    await jobs.review_tiers(clock.now())
    assert (await fresh()).downgrade_pending_since is None
    clock.set_now(datetime(2027, 1, 1, tzinfo=UTC))
    await jobs.review_tiers(clock.now())
    assert (await fresh()).downgrade_pending_since == clock.now()


async def test_refunds_count_against_qualifying_spend_and_points_threshold(api, admin_token):
    from domain.orders.service import record_refund
    from domain.tiers.service import save_tier

    clock.set_now(T0)
    await save_tier(None, {"name": "Base", "rank": 0})
    await save_tier(None, {"name": "Points VIP", "rank": 1, "min_points": 500, "min_orders": 3, "require_all": True})
    await helpers.order_rule()
    await helpers.member()
    await helpers.order("o1", amount=30_000)
    await helpers.order("o2", amount=30_000)
    assert await tier_name() == "Base"  # 600 points but only 2 orders
    await record_refund("r1", "o2", None)
    data = (await api.ok(MEMBER_Q, token=admin_token))["member"]["nextTier"]
    assert data == {"name": "Points VIP", "remainingSpend": None, "remainingPoints": 200,
                    "remainingOrders": 2, "currency": None}
    await helpers.order("o3", amount=30_000)
    await helpers.order("o4", amount=1_000)
    assert await tier_name() == "Points VIP"


async def test_tier_admin_validation(api, admin_token):
    create = """mutation($i: TierInput!) { createTier(input: $i) { tier { name } errors { field code } } }"""
    assert (await api.ok(create, {"i": {"name": "A", "rank": 0}}, admin_token))["createTier"]["errors"] == []
    dup = await api.ok(create, {"i": {"name": "B", "rank": 0}}, admin_token)
    assert dup["createTier"]["errors"] == [{"field": "rank", "code": "CONFLICT"}]
    no_currency = await api.ok(create, {"i": {"name": "C", "rank": 1, "minSpend": 5}}, admin_token)
    assert no_currency["createTier"]["errors"] == [{"field": "currency", "code": "INVALID"}]
    bad_mult = await api.ok(create, {"i": {"name": "D", "rank": 2, "earnMultiplier": "0"}}, admin_token)
    assert bad_mult["createTier"]["errors"] == [{"field": "earnMultiplier", "code": "INVALID"}]
    tiers = await api.ok("{ tiers { name } }")
    assert tiers == {"tiers": [{"name": "A"}]}
