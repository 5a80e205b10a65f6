"""Points ledger: pending → spendable, FEFO, expiry, spend, adjust, refunds, no drift."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from domain import clock
from domain.events.models import Event
from domain.ledger import jobs
from domain.ledger.models import Award, LedgerEntry, LotConsumption
from domain.settings import reload_settings
from tests import helpers
from tests.helpers import assert_no_drift, fresh

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)

SPEND = """mutation($m: String, $a: Int!, $k: String!) {
  spendPoints(input: {memberExternalId: $m, amount: $a, idempotencyKey: $k, reason: "checkout"}) {
    entry { amount kind } member { points { balance } } errors { field message code } } }"""
ADJUST = """mutation($m: String!, $a: Int!, $r: String!, $k: String!) {
  adjustPoints(input: {memberExternalId: $m, amount: $a, reason: $r, idempotencyKey: $k}) {
    entry { amount kind details } member { points { balance } } errors { field code } } }"""


async def test_order_points_are_pending_for_the_return_window_then_released():
    clock.set_now(T0)
    await helpers.order_rule()
    await helpers.member()
    assert await helpers.order("o1", amount=25_050) == 250  # floor(25050 / 100) * 1
    m = await fresh()
    assert (m.points_balance, m.points_pending, m.lifetime_earned) == (0, 250, 0)

    clock.set_now(T0 + timedelta(days=13, hours=23))
    assert await jobs.release_due(clock.now()) == 0
    clock.set_now(T0 + timedelta(days=14))
    assert await jobs.release_due(clock.now()) == 1
    m = await assert_no_drift()
    assert (m.points_balance, m.points_pending, m.lifetime_earned) == (250, 0, 250)
    lot = await LedgerEntry.get(member_id=m.id, kind="earn")
    assert lot.remaining == 250 and lot.expires_at == T0 + timedelta(days=14 + 365)
    assert lot.details["eligibleAmount"] == 25_050 and lot.details["ruleType"] == "ORDER_PAID"
    assert await jobs.release_due(clock.now()) == 0  # running again changes nothing


async def _member_with_lots(api, admin_token, amounts_and_days):
    """Credit lots at different times so their expiry differs (adjustments expire too)."""
    await helpers.member()
    for i, (amount, day) in enumerate(amounts_and_days):
        clock.set_now(T0 + timedelta(days=day))
        await api.ok(ADJUST, {"m": "m1", "a": amount, "r": "grant", "k": f"g{i}"}, admin_token)


async def test_spending_consumes_the_soonest_expiring_lot_first(api, admin_token):
    await _member_with_lots(api, admin_token, [(100, 10), (100, 0), (100, 5)])
    data = await api.ok(SPEND, {"m": "m1", "a": 150, "k": "s1"}, admin_token)
    assert data["spendPoints"]["entry"] == {"amount": -150, "kind": "REDEEM"}
    assert data["spendPoints"]["member"]["points"]["balance"] == 150
    debit = await LedgerEntry.get(kind="redeem")
    used = await LotConsumption.filter(debit_id=debit.id).order_by("id").values("lot__reason", "lot__created_at", "amount")
    assert [(u["lot__created_at"], u["amount"]) for u in used] == [(T0, 100), (T0 + timedelta(days=5), 50)]
    await assert_no_drift()


async def test_expiry_job_expires_only_what_is_left_of_due_lots(api, admin_token):
    await _member_with_lots(api, admin_token, [(100, 0), (40, 30)])
    await api.ok(SPEND, {"m": "m1", "a": 30, "k": "s1"}, admin_token)  # takes 30 of the first lot
    clock.set_now(T0 + timedelta(days=365))
    assert await jobs.expire_due(clock.now()) == 1
    m = await assert_no_drift()
    assert m.points_balance == 40
    expired = await LedgerEntry.get(kind="expire")
    assert expired.amount == -70
    assert await Event.filter(type="points.expired").count() == 1
    assert await jobs.expire_due(clock.now()) == 0


async def test_spend_never_goes_below_zero_and_leaves_nothing_on_failure(api, admin_token):
    await _member_with_lots(api, admin_token, [(100, 0)])
    events_before = await Event.all().count()
    data = await api.ok(SPEND, {"m": "m1", "a": 101, "k": "s1"}, admin_token)
    assert data["spendPoints"]["entry"] is None
    assert data["spendPoints"]["errors"] == [
        {"field": "amount", "message": "Needs 101 points, 100 available", "code": "INSUFFICIENT_POINTS"}]
    assert (await fresh()).points_balance == 100
    assert await LedgerEntry.filter(kind="redeem").count() == 0
    assert await Event.all().count() == events_before


async def test_spend_is_idempotent_on_its_key(api, admin_token):
    await _member_with_lots(api, admin_token, [(500, 0)])
    first = await api.ok(SPEND, {"m": "m1", "a": 300, "k": "k1"}, admin_token)
    again = await api.ok(SPEND, {"m": "m1", "a": 300, "k": "k1"}, admin_token)
    assert first["spendPoints"]["entry"] == again["spendPoints"]["entry"] == {"amount": -300, "kind": "REDEEM"}
    assert again["spendPoints"]["member"]["points"]["balance"] == 200
    assert await LedgerEntry.filter(kind="redeem").count() == 1
    other = await api.ok(SPEND, {"m": "m1", "a": 5, "k": "k1"}, admin_token)
    assert other["spendPoints"]["errors"][0]["code"] == "CONFLICT"


async def test_spend_rejects_bad_amounts_and_unknown_members(api, admin_token):
    await helpers.member()
    zero = await api.ok(SPEND, {"m": "m1", "a": 0, "k": "k"}, admin_token)
    assert zero["spendPoints"]["errors"][0] == {"field": "amount", "message": "Amount must be positive", "code": "INVALID"}
    ghost = await api.ok(SPEND, {"m": "ghost", "a": 1, "k": "k"}, admin_token)
    assert ghost["spendPoints"]["errors"][0]["code"] == "MEMBER_NOT_FOUND"


async def test_adjust_requires_a_reason_records_the_actor_and_cannot_overdraw(api, admin_token):
    await helpers.member()
    blank = await api.ok(ADJUST, {"m": "m1", "a": 10, "r": "  ", "k": "a1"}, admin_token)
    assert blank["adjustPoints"]["errors"] == [{"field": "reason", "code": "INVALID"}]
    ok = await api.ok(ADJUST, {"m": "m1", "a": 10, "r": "goodwill", "k": "a2"}, admin_token)
    assert ok["adjustPoints"]["entry"]["kind"] == "ADJUST"
    assert ok["adjustPoints"]["entry"]["details"]["actor"].startswith("admin:")
    over = await api.ok(ADJUST, {"m": "m1", "a": -11, "r": "fix", "k": "a3"}, admin_token)
    assert over["adjustPoints"]["errors"] == [{"field": "amount", "code": "INSUFFICIENT_POINTS"}]
    down = await api.ok(ADJUST, {"m": "m1", "a": -4, "r": "fix", "k": "a4"}, admin_token)
    assert down["adjustPoints"]["member"]["points"]["balance"] == 6
    assert await Event.filter(type="points.adjusted").count() == 2
    await assert_no_drift()


async def test_refund_inside_the_window_cancels_pending_points_proportionally():
    clock.set_now(T0)
    await helpers.order_rule()
    await helpers.member()
    await helpers.order("o1", amount=1_000, quantity=4)  # 4000 -> 40 points pending
    from domain.orders.service import RefundLineInput, record_refund

    refund, replayed = await record_refund("r1", "o1", [RefundLineInput("sku-1", 1)])
    assert (refund.amount, refund.points_reversed, replayed) == (1_000, 10, False)
    assert (await fresh()).points_pending == 30
    clock.set_now(T0 + timedelta(days=14))
    await jobs.release_due(clock.now())
    m = await assert_no_drift()
    assert (m.points_balance, m.points_pending, m.lifetime_earned) == (30, 0, 30)
    refund2, _ = await record_refund("r2", "o1", None)  # the rest, after release
    assert refund2.points_reversed == 30
    m = await assert_no_drift()
    assert (m.points_balance, m.points_pending) == (0, 0)
    award = await Award.get(source_id="o1")
    assert (award.amount, award.reversed) == (40, 40)


async def test_refund_of_spent_points_follows_the_policy(api, admin_token):
    for policy, expected_balance, expected_reverse in (("allow_negative", -60, -100), ("cap_at_zero", 0, -40)):
        import os

        os.environ["PATRON_REFUND_SPENT_POLICY"] = policy
        reload_settings()
        try:
            clock.set_now(T0)
            await helpers.order_rule(pending_days=0, name=f"rule {policy}")
            ext = f"m-{policy}"
            await helpers.member(ext)
            await helpers.order(f"o-{policy}", member_id=ext, amount=10_000)  # 100 points, spendable
            await api.ok(SPEND, {"m": ext, "a": 60, "k": "s"}, admin_token)
            from domain.orders.service import record_refund

            await record_refund(f"r-{policy}", f"o-{policy}", None)
            m = await assert_no_drift(ext)
            assert m.points_balance == expected_balance
            reverse = await LedgerEntry.get(member_id=m.id, kind="reverse")
            assert reverse.amount == expected_reverse
        finally:
            os.environ.pop("PATRON_REFUND_SPENT_POLICY", None)
            reload_settings()
            from domain.rules.models import EarningRule

            await EarningRule.all().delete()


async def test_debt_from_a_refund_is_repaid_by_the_next_credit(api, admin_token):
    clock.set_now(T0)
    await helpers.order_rule(pending_days=0)
    await helpers.member()
    await helpers.order("o1", amount=10_000)
    await api.ok(SPEND, {"m": "m1", "a": 100, "k": "s"}, admin_token)
    from domain.orders.service import record_refund

    await record_refund("r1", "o1", None)
    assert (await assert_no_drift()).points_balance == -100
    await helpers.order("o2", amount=15_000)  # 150 points: 100 repay the debt
    m = await assert_no_drift()
    assert m.points_balance == 50
    lot = await LedgerEntry.get(member_id=m.id, kind="earn", source_id="o2")
    assert lot.remaining == 50


async def test_member_points_and_ledger_through_graphql(api, admin_token):
    clock.set_now(T0)
    await helpers.order_rule()
    await helpers.member()
    await helpers.order("o1", amount=30_000)
    q = """{ member(externalId: "m1") { points { balance pending lifetimeEarned expiringSoon(days: 400)
             pendingAwards { amount availableAt } }
           ledger(first: 1) { edges { node { amount kind } cursor } pageInfo { hasNextPage endCursor } } } }"""
    data = await api.ok(q, token=admin_token)
    assert data["member"]["points"] == {"balance": 0, "pending": 300, "lifetimeEarned": 0, "expiringSoon": 0,
                                        "pendingAwards": [{"amount": 300, "availableAt": "2026-03-15T12:00:00+00:00"}]}
    release = await api.ok('mutation { releasePendingPoints(input: {memberExternalId: "m1"}) { released member { points { balance pending } } } }', token=admin_token)
    assert release["releasePendingPoints"] == {"released": 1, "member": {"points": {"balance": 300, "pending": 0}}}
    await api.ok(ADJUST, {"m": "m1", "a": 5, "r": "x", "k": "a"}, admin_token)
    page1 = (await api.ok(q, token=admin_token))["member"]["ledger"]
    assert [e["node"] for e in page1["edges"]] == [{"amount": 5, "kind": "ADJUST"}]
    assert page1["pageInfo"]["hasNextPage"] is True
    q2 = '{ member(externalId: "m1") { ledger(first: 5, after: "%s") { edges { node { amount kind } } pageInfo { hasNextPage } } } }'
    page2 = (await api.ok(q2 % page1["pageInfo"]["endCursor"], token=admin_token))["member"]["ledger"]
    assert [e["node"] for e in page2["edges"]] == [{"amount": 300, "kind": "EARN"}]
    assert page2["pageInfo"]["hasNextPage"] is False
    soon = await api.ok('{ member(externalId: "m1") { points { expiringSoon(days: 400) } } }', token=admin_token)
    assert soon["member"]["points"]["expiringSoon"] == 305
