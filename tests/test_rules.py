"""Earning rules: caps, date ranges, birthday job, multiplier switch, admin validation."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from domain import clock, jobs
from domain.ledger.models import Award
from tests import helpers
from tests.helpers import assert_no_drift

T0 = datetime(2026, 5, 1, 9, 0, tzinfo=UTC)


async def test_monthly_cap_limits_order_points():
    clock.set_now(T0)
    await helpers.order_rule(cap_points=500, cap_period="MONTH")
    await helpers.member()
    assert await helpers.order("o1", amount=40_000) == 400
    assert await helpers.order("o2", amount=40_000) == 100
    assert await helpers.order("o3", amount=40_000) == 0
    capped = await Award.get(source_id="o2")
    assert capped.details["cappedFrom"] == 400 and capped.details["cap"] == [500, "MONTH"]
    clock.set_now(datetime(2026, 6, 1, tzinfo=UTC))
    assert await helpers.order("o4", amount=40_000) == 400


async def test_rule_date_range_and_inactive_rules():
    clock.set_now(T0)
    await helpers.order_rule(starts_at=T0 + timedelta(days=1), ends_at=T0 + timedelta(days=2))
    await helpers.order_rule(name="off", active=False)
    await helpers.member()
    assert await helpers.order("o1") == 0
    clock.set_now(T0 + timedelta(days=1))
    assert await helpers.order("o2") == 100
    clock.set_now(T0 + timedelta(days=2))
    assert await helpers.order("o3") == 0


async def test_birthday_bonus_once_a_year_with_tier_multiplier_switch():
    from domain.rules.service import save_rule

    clock.set_now(datetime(2026, 5, 1, 0, 5, tzinfo=UTC))
    await helpers.tiers_bronze_silver_gold()
    await save_rule(None, {"name": "Birthday", "type": "BIRTHDAY", "points": 200, "apply_tier_multiplier": False})
    await helpers.member("m1", birthday=date(1990, 5, 1))
    await helpers.member("m2", birthday=date(1990, 5, 2))
    await helpers.order("o1", amount=60_000)  # m1 becomes Silver (1.5x), multiplier is off for this rule
    assert await jobs.birthday_bonuses(clock.now()) == 200
    assert await jobs.birthday_bonuses(clock.now()) == 0
    m = await assert_no_drift()
    assert m.points_balance == 200
    clock.set_now(datetime(2027, 5, 1, tzinfo=UTC))
    assert await jobs.birthday_bonuses(clock.now()) == 200


async def test_rule_admin_validation_and_public_listing(api, admin_token):
    create = "mutation($i: EarningRuleInput!) { createEarningRule(input: $i) { rule { name active } errors { field code } } }"
    bad = [({"name": "x", "type": "ORDER_PAID"}, "pointsPerUnit"),
           ({"name": "x", "type": "ORDER_PAID", "pointsPerUnit": 1, "currencyUnit": 0}, "currencyUnit"),
           ({"name": "x", "type": "SIGNUP", "points": 5, "capPoints": 10}, "capPeriod"),
           ({"name": "", "type": "SIGNUP"}, "name")]
    for value, field in bad:
        errors = (await api.ok(create, {"i": value}, admin_token))["createEarningRule"]["errors"]
        assert errors == [{"field": field, "code": "INVALID"}], value
    await api.ok(create, {"i": {"name": "Welcome", "type": "SIGNUP", "points": 100}}, admin_token)
    await api.ok(create, {"i": {"name": "Old", "type": "SIGNUP", "points": 1, "active": False}}, admin_token)
    public = await api.ok("{ earningRules { name } }")
    assert public == {"earningRules": [{"name": "Welcome"}]}
    everything = await api.ok("{ earningRules(includeInactive: true) { name } }", token=admin_token)
    assert [r["name"] for r in everything["earningRules"]] == ["Welcome", "Old"]
