"""programInsights against a small hand-built program with every figure computed by hand.

The period is March 2026 (from 2026-03-01 to 2026-03-31, both days whole, UTC) in KRW. Rows
are written directly with the exact timestamps the KPIs depend on; each expected value says
in a comment where it comes from. Rows just outside the period (the last second of February,
the first second of April) and in another currency must not count."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from domain.auth import service as auth
from domain.catalog.models import Product
from domain.ledger.models import Award, LedgerEntry
from domain.members.models import Member
from domain.orders.models import Order
from domain.reviews.models import Review
from domain.rewards.models import Redemption, Reward
from domain.settings import reload_settings
from domain.tiers.models import Tier, TierChange

QUERY = """query($from: Date!, $to: Date!, $cur: String!) { programInsights(from: $from, to: $to, currency: $cur) {
  members { total active newInPeriod }
  orders { count revenue { amount currency } averageOrderValue { amount currency } repeatPurchaseRate
           purchaseFrequency memberShareOfRevenue guestOrders }
  points { issued redeemed expired outstanding pending liability { amount currency } breakageRate earnBurnRatio }
  redemptions { count rate medianDaysToFirstRedemption topRewards { reward { name } count } }
  tiers { tier { name } members upgrades downgrades }
  reviews { published averageRating withMediaShare replyMedianHours negativeRepliedWithinSlaShare }
  weekly: series(metric: REVENUE, interval: WEEK) { at value }
  monthlyOrders: series(metric: ORDERS, interval: MONTH) { at value }
  monthlyPoints: series(metric: POINTS_ISSUED, interval: MONTH) { at value }
  daily: series(metric: NEW_MEMBERS, interval: DAY) { at value } } }"""
MARCH = {"from": "2026-03-01", "to": "2026-03-31", "cur": "KRW"}


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


async def _member(ext: str, created: str) -> Member:
    return await Member.create(external_id=ext, created_at=at(created), updated_at=at(created))


async def _order(ext: str, member: Member | None, placed: str, total: int, refunded: int = 0, cur: str = "KRW") -> None:
    await Order.create(external_id=ext, member_id=member.id if member else None, currency=cur, channel="web",
                       placed_at=at(placed), total_amount=total, refunded_amount=refunded, created_at=at(placed))


async def _entry(member: Member, kind: str, amount: int, created: str) -> LedgerEntry:
    return await LedgerEntry.create(member_id=member.id, kind=kind, amount=amount, reason=kind, created_at=at(created))


async def _award(member: Member, n: int, amount: int, created: str, status: str = "held", reversed_: int = 0,
                 entry: LedgerEntry | None = None) -> None:
    await Award.create(member_id=member.id, amount=amount, reversed=reversed_, status=status, reason="order",
                       source_type="order", source_id=f"a{n}", idempotency_key=f"a{n}", release_at=at(created),
                       created_at=at(created), entry_id=entry.id if entry else None)


async def _redemption(n: int, member: Member, reward: Reward, status: str, created: str) -> None:
    await Redemption.create(reward_id=reward.id, member_id=member.id, points=100, code=f"PTN-{n}", status=status,
                            idempotency_key=f"r{n}", debit_entry_id=n, created_at=at(created))


async def _review(n: int, rating: int, status: str = "published", published: str | None = None,
                  received: str | None = None, replied: str | None = None, media: bool = False,
                  sla: bool = True) -> None:
    product = await Product.create(external_id=f"p{n}", created_at=at("2026-01-01"), updated_at=at("2026-01-01"))
    await Review.create(product_id=product.id, author_name="A.", rating=rating, body="", status=status,
                        has_media=media, reply_sla_applies=sla, created_at=at(received or "2026-01-01"),
                        received_at=at(received) if received else None, updated_at=at("2026-01-01"),
                        published_at=at(published) if published else None,
                        replied_at=at(replied) if replied else None)


async def build_program() -> None:
    m1 = await _member("m1", "2026-01-10 00:00:00")
    m2 = await _member("m2", "2026-03-01 00:00:00")  # first second of the period: new
    m3 = await _member("m3", "2026-03-31 23:59:59")  # last second of the period: new
    await _member("m4", "2026-04-01 00:00:00")  # after the period: counted nowhere

    await _order("o1", m1, "2026-03-01 00:00:00", 10_000)
    await _order("o2", m1, "2026-03-15 12:00:00", 20_000, refunded=5_000)
    await _order("o3", m2, "2026-03-31 23:59:59", 30_000)
    await _order("o4", None, "2026-03-10 08:00:00", 40_000)  # a guest order
    await _order("o5", m3, "2026-03-20 00:00:00", 99_999, cur="USD")  # another currency
    await _order("o6", m1, "2026-02-28 23:59:59", 7_777)  # before
    await _order("o7", None, "2026-04-01 00:00:00", 5_555)  # after

    await _entry(m1, "earn", 1000, "2026-01-15 00:00:00")  # before: outstanding only
    await _entry(m1, "redeem", -300, "2026-03-05 00:00:00")
    await _entry(m1, "earn", 500, "2026-03-10 00:00:00")
    await _entry(m1, "expire", -200, "2026-03-20 00:00:00")
    await _entry(m2, "earn", 400, "2026-03-02 00:00:00")
    await _entry(m2, "redeem", -400, "2026-03-03 00:00:00")
    await _entry(m2, "reverse", -100, "2026-03-04 00:00:00")  # m2 ends at -100: outstanding 0
    released_later = await _entry(m1, "earn", 150, "2026-04-05 00:00:00")  # after: not issued in March
    await _entry(m3, "earn", 50, "2026-04-02 00:00:00")
    await _award(m2, 1, 300, "2026-03-31 00:00:00", reversed_=100)  # held at the end: 200 pending
    await _award(m1, 2, 150, "2026-03-28 00:00:00", status="released", entry=released_later)  # pending then: 150
    await _award(m1, 3, 500, "2026-03-01 00:00:00", status="released",
                 entry=await LedgerEntry.get(member_id=m1.id, amount=500))  # released in March: not pending
    await _award(m3, 4, 999, "2026-04-01 00:00:00")  # made after the period

    coffee = await Reward.create(name="Coffee", type="FREE_PRODUCT", points_cost=100, created_at=at("2026-01-01"))
    tote = await Reward.create(name="Tote", type="FREE_PRODUCT", points_cost=100, created_at=at("2026-01-01"))
    await _redemption(1, m1, coffee, "issued", "2026-03-05 00:00:00")  # m1's first: 54 days after joining
    await _redemption(2, m2, tote, "used", "2026-03-03 12:00:00")  # m2's first: 2.5 days after joining
    await _redemption(3, m2, coffee, "used", "2026-03-06 00:00:00")
    await _redemption(4, m1, tote, "cancelled", "2026-03-07 00:00:00")  # cancelled: not counted
    await _redemption(5, m3, coffee, "issued", "2026-04-01 00:00:00")  # after

    bronze = await Tier.create(name="Bronze", rank=0, created_at=at("2026-01-01"))
    silver = await Tier.create(name="Silver", rank=1, created_at=at("2026-01-01"))
    gold = await Tier.create(name="Gold", rank=2, created_at=at("2026-01-01"))
    for member, source, target, when in [
        (m1, None, bronze, "2026-01-10 00:00:00"), (m2, None, bronze, "2026-03-01 00:00:00"),
        (m1, bronze, silver, "2026-03-05 00:00:00"), (m2, bronze, silver, "2026-03-10 00:00:00"),
        (m1, silver, gold, "2026-03-20 00:00:00"), (m2, silver, bronze, "2026-03-25 00:00:00"),
        (m3, None, bronze, "2026-03-31 23:59:59"), (m1, gold, silver, "2026-04-01 00:00:00"),
    ]:
        await TierChange.create(member_id=member.id, from_tier=source, to_tier=target, reason="test",
                                created_at=at(when))

    await _review(1, 5, published="2026-03-02 00:00:00", received="2026-03-02 00:00:00",
                  replied="2026-03-02 10:00:00", media=True)  # reply in 10 h
    await _review(2, 1, published="2026-03-10 00:00:00", received="2026-03-10 00:00:00",
                  replied="2026-03-10 20:00:00")  # negative, within the 24 h SLA
    await _review(3, 2, published="2026-03-11 00:00:00", received="2026-03-11 00:00:00",
                  replied="2026-03-13 00:00:00")  # negative, 48 h: late
    await _review(4, 2, published="2026-03-12 00:00:00", received="2026-03-12 00:00:00")  # negative, no reply
    await _review(5, 1, published="2026-03-12 00:00:00", received="2026-03-12 00:00:00", sla=False)  # old import
    await _review(6, 4, status="rejected", published="2026-03-05 00:00:00", received="2026-03-05 00:00:00",
                  replied="2026-03-05 01:00:00")  # rejected: counted nowhere
    await _review(7, 3, published="2026-04-01 00:00:00", received="2026-03-31 21:00:00",
                  replied="2026-03-31 23:00:00")  # published after, replied in March in 2 h


async def test_every_kpi_on_the_hand_built_program(api, admin_token):
    await build_program()
    data = (await api.ok(QUERY, MARCH, admin_token))["programInsights"]
    assert data["members"] == {"total": 3, "active": 2, "newInPeriod": 2}  # m1-m3; m1 and m2 ordered in KRW; m2, m3
    assert data["orders"] == {
        "count": 4,  # o1-o4
        "revenue": {"amount": 95_000, "currency": "KRW"},  # 10,000 + (20,000 - 5,000) + 30,000 + 40,000
        "averageOrderValue": {"amount": 23_750, "currency": "KRW"},  # 95,000 / 4
        "repeatPurchaseRate": 0.5,  # m1 (2 orders) of m1, m2
        "purchaseFrequency": 1.5,  # 3 member orders / 2 ordering members
        "memberShareOfRevenue": 0.5789,  # 55,000 / 95,000
        "guestOrders": 1,  # o4
    }
    assert data["points"] == {
        "issued": 900, "redeemed": 700, "expired": 200,  # 500 + 400; 300 + 400; 200
        "outstanding": 1000,  # m1: 1000 - 300 + 500 - 200; m2: -100 counts as 0; m3 earned in April
        "pending": 350,  # award 1: 300 - 100 held; award 2 released in April: 150
        "liability": {"amount": 1350, "currency": "KRW"},  # (1000 + 350) x 1
        "breakageRate": 0.2222,  # 200 / 900
        "earnBurnRatio": 1.2857,  # 900 / 700
    }
    assert data["redemptions"] == {
        "count": 3,  # 1, 2, 3 (4 cancelled, 5 in April)
        "rate": 0.6667,  # m1, m2 of 3 members
        "medianDaysToFirstRedemption": 28.25,  # (54 + 2.5) / 2
        "topRewards": [{"reward": {"name": "Coffee"}, "count": 2}, {"reward": {"name": "Tote"}, "count": 1}],
    }
    assert data["tiers"] == [
        {"tier": {"name": "Bronze"}, "members": 2, "upgrades": 2, "downgrades": 0},  # m2, m3; m2 and m3 joined it
        {"tier": {"name": "Silver"}, "members": 0, "upgrades": 2, "downgrades": 1},  # m1, m2 up; m2 down
        {"tier": {"name": "Gold"}, "members": 1, "upgrades": 1, "downgrades": 0},  # m1 (April's move is after)
    ]
    assert data["reviews"] == {
        "published": 5,  # reviews 1-5
        "averageRating": 2.2,  # (5 + 1 + 2 + 2 + 1) / 5
        "withMediaShare": 0.2,  # review 1
        "replyMedianHours": 15.0,  # 2, 10, 20, 48
        "negativeRepliedWithinSlaShare": 0.3333,  # review 2 of 2, 3, 4 (5 is an import older than the SLA)
    }
    # March 1, 2026 is a Sunday: its week starts on February 23.
    assert data["weekly"] == [{"at": "2026-02-23", "value": 10_000.0}, {"at": "2026-03-02", "value": 0.0},
                              {"at": "2026-03-09", "value": 55_000.0}, {"at": "2026-03-16", "value": 0.0},
                              {"at": "2026-03-23", "value": 0.0}, {"at": "2026-03-30", "value": 30_000.0}]
    assert data["monthlyOrders"] == [{"at": "2026-03-01", "value": 4.0}]
    assert data["monthlyPoints"] == [{"at": "2026-03-01", "value": 900.0}]
    assert len(data["daily"]) == 31 and sum(p["value"] for p in data["daily"]) == 2
    assert data["daily"][0] == {"at": "2026-03-01", "value": 1.0} and data["daily"][30] == {"at": "2026-03-31", "value": 1.0}


async def test_members_without_tier_history_count_in_their_current_tier(api, admin_token):
    bronze = await Tier.create(name="Bronze", rank=0, created_at=at("2026-01-01"))
    gold = await Tier.create(name="Gold", rank=1, created_at=at("2026-01-01"))
    for ext, created in (("imported-1", "2026-02-01"), ("imported-2", "2026-03-31 23:59:59"), ("late", "2026-04-01")):
        member = await _member(ext, created)
        await Member.filter(id=member.id).update(tier_id=gold.id)  # no tier_changes row: imported
    moved = await _member("moved", "2026-01-01")
    await Member.filter(id=moved.id).update(tier_id=gold.id)  # its history says Bronze at the end of March
    await TierChange.create(member_id=moved.id, from_tier=None, to_tier=bronze, reason="t", created_at=at("2026-01-01"))
    await TierChange.create(member_id=moved.id, from_tier=bronze, to_tier=gold, reason="t", created_at=at("2026-04-02"))
    q = "query($from: Date!, $to: Date!, $cur: String!) { programInsights(from: $from, to: $to, currency: $cur) { tiers { tier { name } members upgrades downgrades } } }"
    assert (await api.ok(q, MARCH, admin_token))["programInsights"]["tiers"] == [
        {"tier": {"name": "Bronze"}, "members": 1, "upgrades": 0, "downgrades": 0},  # moved (its April move is after)
        {"tier": {"name": "Gold"}, "members": 2, "upgrades": 0, "downgrades": 0},  # imported-1, imported-2 (late joined after)
    ]


async def test_other_currency_and_point_value(api, admin_token, monkeypatch):
    await build_program()
    monkeypatch.setenv("PATRON_POINT_VALUE", "0.25")
    reload_settings()
    q = """query($from: Date!, $to: Date!, $cur: String!) { programInsights(from: $from, to: $to, currency: $cur) {
      members { active } orders { count revenue { amount currency } guestOrders memberShareOfRevenue }
      points { liability { amount currency } } } }"""
    data = (await api.ok(q, MARCH | {"cur": "USD"}, admin_token))["programInsights"]
    assert data == {"members": {"active": 1}, "orders": {"count": 1, "revenue": {"amount": 99_999, "currency": "USD"},
                                                          "guestOrders": 0, "memberShareOfRevenue": 1.0},
                    "points": {"liability": {"amount": 338, "currency": "USD"}}}  # 1350 x 0.25 = 337.5, half up


async def test_an_empty_program_answers_zeros_and_nulls(api, admin_token):
    q = """query { programInsights(from: "2026-03-01", to: "2026-03-02", currency: "KRW") {
      members { total active newInPeriod } orders { count revenue { amount } averageOrderValue { amount }
      repeatPurchaseRate purchaseFrequency memberShareOfRevenue guestOrders }
      points { issued outstanding liability { amount } breakageRate earnBurnRatio }
      redemptions { count rate medianDaysToFirstRedemption topRewards { count } } tiers { members }
      reviews { published averageRating withMediaShare replyMedianHours negativeRepliedWithinSlaShare }
      series(metric: REVENUE, interval: DAY) { at value } } }"""
    assert (await api.ok(q, token=admin_token))["programInsights"] == {
        "members": {"total": 0, "active": 0, "newInPeriod": 0},
        "orders": {"count": 0, "revenue": {"amount": 0.0}, "averageOrderValue": None, "repeatPurchaseRate": None,
                   "purchaseFrequency": None, "memberShareOfRevenue": None, "guestOrders": 0},
        "points": {"issued": 0, "outstanding": 0, "liability": {"amount": 0.0}, "breakageRate": None,
                   "earnBurnRatio": None},
        "redemptions": {"count": 0, "rate": None, "medianDaysToFirstRedemption": None, "topRewards": []},
        "tiers": [],
        "reviews": {"published": 0, "averageRating": None, "withMediaShare": None, "replyMedianHours": None,
                    "negativeRepliedWithinSlaShare": None},
        "series": [{"at": "2026-03-01", "value": 0.0}, {"at": "2026-03-02", "value": 0.0}],
    }


@pytest.mark.parametrize(("variables", "message"), [
    ({"from": "2026-03-02", "to": "2026-03-01"}, "to: `to` must not be before `from`"),
    ({"from": "2021-01-01", "to": "2026-01-02"}, "to: The period is at most 5 years (1827 days)"),
    ({"from": "9999-12-31", "to": "9999-12-31"}, "to: `to` is outside the supported date range"),
    ({"cur": "krw"}, "currency: currency must be an ISO 4217 code such as KRW or USD"),
    ({"cur": "KRWX"}, "currency: currency must be an ISO 4217 code such as KRW or USD"),
    ({"cur": "ＫＲＷ"}, "currency: currency must be an ISO 4217 code such as KRW or USD"),
])
async def test_bad_questions_are_bad_user_input(api, admin_token, variables, message):
    body = await api(QUERY, MARCH | variables, admin_token)
    assert body["data"] is None
    assert [(e["message"], e["extensions"]["code"]) for e in body["errors"]] == [(message, "BAD_USER_INPUT")]


async def test_five_years_is_the_longest_period_and_bad_dates_are_refused(api, admin_token):
    q = "query($from: Date!, $to: Date!) { programInsights(from: $from, to: $to, currency: \"KRW\") { orders { count } } }"
    assert (await api.ok(q, {"from": "2021-01-01", "to": "2026-01-01"}, admin_token))["programInsights"] == {
        "orders": {"count": 0}}
    body = await api(q, {"from": "2026-02-30", "to": "2026-03-01"}, admin_token)
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_who_may_read_insights(api, storefront_token, partner_token):
    q = '{ programInsights(from: "2026-03-01", to: "2026-03-01", currency: "KRW") { orders { count } } }'
    bi_key = (await auth.create_api_key("bi tool", "partner", scopes=["insights:read"]))[1]
    assert (await api.ok(q, token=bi_key))["programInsights"] == {"orders": {"count": 0}}
    for token, code in ((None, "UNAUTHENTICATED"), (storefront_token, "FORBIDDEN"), (partner_token, "FORBIDDEN")):
        body = await api(q, token=token)
        assert body["data"] is None and body["errors"][0]["extensions"]["code"] == code
