"""Member insights (README, "Member insights"): RFM scores and segments on a hand-built fixture
with every figure computed by hand, the purchase and spend models against hand-computed
formula values and on a larger generated population, and who may read what.

Now is 2026-06-01 00:00 UTC; insights use USD orders (PATRON_INSIGHTS_CURRENCY's default)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import numpy as np
import pytest

from domain import clock
from domain.auth import service as auth
from domain.insights import clv
from domain.insights import members as insights
from domain.insights.models import MemberInsight
from domain.jobs import JOBS
from domain.members.models import Member
from domain.orders.models import Order
from tests.conftest import member_token

NOW = datetime(2026, 6, 1, tzinfo=UTC)
INSIGHTS = """query($ext: String!) { member(externalId: $ext) { insights { recencyDays frequency
  monetary { amount currency } rScore fScore mScore rfmSegment churnRisk expectedPurchases90d
  clv12m { amount currency } explanation } } }"""
SEGMENTS = "{ rfmSegments { segment members share } }"

# member: (days ago of each order, amount of each order) — figures by hand below.
FIXTURE = {
    "m01": ([2, 12, 22, 32, 42, 52], [50_000] * 6),
    "m02": ([5, 35, 65, 95, 125], [40_000] * 5),
    "m03": ([10.125], [20_000]),  # 10 days 3 hours ago: recency 10 (whole days)
    "m04": ([20, 40, 60, 80], [30_000] * 4),  # plus the orders of `_extras`: still avg 30,000
    "m05": ([40, 90], [20_000, 30_000]),
    "m06": ([60, 100, 140], [15_000] * 3),
    "m07": ([90], [12_000]),
    "m08": ([150, 170, 190, 210, 230], [60_000] * 5),
    "m09": ([200, 300], [8_000] * 2),
    "m10": ([400], [5_000]),
}


async def _order(ext: str, member: Member | None, days_ago: float, total: int, refunded: int = 0,
                 currency: str = "USD") -> None:
    placed = NOW - timedelta(days=days_ago)
    await Order.create(external_id=ext, member_id=member.id if member else None, currency=currency, channel="web",
                       placed_at=placed, total_amount=total, refunded_amount=refunded, created_at=placed)


async def _member(ext: str, anonymized: bool = False) -> Member:
    created = NOW - timedelta(days=500)
    return await Member.create(external_id=ext, created_at=created, updated_at=created,
                               anonymized_at=NOW if anonymized else None)


async def build_fixture() -> dict[str, Member]:
    members = {}
    for ext, (days, amounts) in FIXTURE.items():
        members[ext] = member = await _member(ext)
        for i, (d, amount) in enumerate(zip(days, amounts, strict=True)):
            await _order(f"{ext}-{i}", member, d, amount)
    m04 = members["m04"]
    # m04's 4 orders above are 30,000 each; a partly refunded one counts at total - refunded,
    # a fully refunded one, another currency's and a future one do not count at all.
    await Order.filter(external_id="m04-2").update(total_amount=40_000, refunded_amount=10_000)
    await _order("m04-refunded", m04, 1, 90_000, refunded=90_000)
    await _order("m04-krw", m04, 1, 1_000_000, currency="KRW")
    await _order("m04-future", m04, -1, 70_000)
    await _order("guest", None, 1, 99_000)  # guests have no insights and change nobody's scores
    members["m11"] = await _member("m11")  # only a fully refunded order: no row
    await _order("m11-0", members["m11"], 3, 10_000, refunded=10_000)
    members["m12"] = await _member("m12")  # never ordered; holds a stale row from an earlier run
    await MemberInsight.create(member_id=members["m12"].id, recency_days=1, frequency=1, monetary=1, currency="USD",
                               r_score=5, f_score=1, m_score=1, rfm_segment="NEW", explanation="old",
                               computed_at=NOW - timedelta(days=1))
    members["m13"] = await _member("m13", anonymized=True)  # erased members get no row
    await _order("m13-0", members["m13"], 3, 10_000)
    return members


# (recencyDays, frequency, monetary, R, F, M, segment, explanation). Scores: 1 + floor(5 x
# members strictly worse / 10). Recency days (fewer is better) 2 5 10 20 40 60 90 150 200 400
# give R 5 5 4 4 3 3 2 2 1 1. Frequencies 6 5 1 4 2 3 1 5 2 1: sorted 1 1 1 2 2 3 4 5 5 6, so
# 1 -> 1, 2 -> 1 + 15 // 10 = 2, 3 -> 1 + 25 // 10 = 3, 4 -> 4, 5 -> 1 + 35 // 10 = 4, 6 -> 5.
# Averages 50k 40k 20k 30k 25k 15k 12k 60k 8k 5k: sorted 5k 8k 12k 15k 20k 25k 30k 40k 50k 60k.
EXPECTED = {
    "m01": (2, 6, 50_000, 5, 5, 5, "CHAMPIONS",
            "no order for 2 days; you used to order every 10 days; 6 orders, average 500.00 USD"),
    "m02": (5, 5, 40_000, 5, 4, 4, "CHAMPIONS",
            "no order for 5 days; you used to order every 30 days; 5 orders, average 400.00 USD"),
    "m03": (10, 1, 20_000, 4, 1, 3, "PROMISING", "no order for 10 days; 1 order of 200.00 USD"),
    "m04": (20, 4, 30_000, 4, 4, 4, "LOYAL",
            "no order for 20 days; you used to order every 20 days; 4 orders, average 300.00 USD"),
    "m05": (40, 2, 25_000, 3, 2, 3, "ABOUT_TO_SLEEP",
            "no order for 40 days; you used to order every 50 days; 2 orders, average 250.00 USD"),
    "m06": (60, 3, 15_000, 3, 3, 2, "NEED_ATTENTION",
            "no order for 60 days; you used to order every 40 days; 3 orders, average 150.00 USD"),
    "m07": (90, 1, 12_000, 2, 1, 2, "HIBERNATING", "no order for 90 days; 1 order of 120.00 USD"),
    "m08": (150, 5, 60_000, 2, 4, 5, "AT_RISK",
            "no order for 150 days; you used to order every 20 days; 5 orders, average 600.00 USD"),
    "m09": (200, 2, 8_000, 1, 2, 1, "LOST",
            "no order for 200 days; you used to order every 100 days; 2 orders, average 80.00 USD"),
    "m10": (400, 1, 5_000, 1, 1, 1, "LOST", "no order for 400 days; 1 order of 50.00 USD"),
}


@pytest.fixture(autouse=True)
def frozen_clock():
    clock.set_now(NOW)
    yield
    clock.set_now(None)


async def test_rfm_scores_segments_and_explanations_by_hand(api, admin_token):
    members = await build_fixture()
    result = await insights.refresh(clock.now())
    # 10 members with orders: fewer than clv.MIN_CUSTOMERS, so no model is fitted.
    assert (result.members, result.purchase_model, result.spend_model) == (10, None, None)
    for ext, (days, n, avg, r, f, m, segment, words) in EXPECTED.items():
        data = (await api.ok(INSIGHTS, {"ext": ext}, admin_token))["member"]["insights"]
        assert data == {"recencyDays": days, "frequency": n, "monetary": {"amount": avg, "currency": "USD"},
                        "rScore": r, "fScore": f, "mScore": m, "rfmSegment": segment, "churnRisk": None,
                        "expectedPurchases90d": None, "clv12m": None, "explanation": words}, ext
    for ext in ("m11", "m12", "m13"):
        assert (await api.ok(INSIGHTS, {"ext": ext}, admin_token))["member"]["insights"] is None
    assert await MemberInsight.all().count() == 10
    row = await MemberInsight.get(member_id=members["m01"].id)
    assert (row.monetary, row.currency, row.computed_at) == (Decimal("50000.00"), "USD", NOW)
    assert (await api.ok(SEGMENTS, token=admin_token))["rfmSegments"] == [
        {"segment": "CHAMPIONS", "members": 2, "share": 0.2},
        {"segment": "LOYAL", "members": 1, "share": 0.1},
        {"segment": "POTENTIAL_LOYALIST", "members": 0, "share": 0.0},
        {"segment": "NEW", "members": 0, "share": 0.0},
        {"segment": "PROMISING", "members": 1, "share": 0.1},
        {"segment": "NEED_ATTENTION", "members": 1, "share": 0.1},
        {"segment": "ABOUT_TO_SLEEP", "members": 1, "share": 0.1},
        {"segment": "AT_RISK", "members": 1, "share": 0.1},
        {"segment": "CANT_LOSE", "members": 0, "share": 0.0},
        {"segment": "HIBERNATING", "members": 1, "share": 0.1},
        {"segment": "LOST", "members": 2, "share": 0.2},
    ]


async def test_a_second_run_updates_rows_and_drops_members_without_orders(api, admin_token):
    members = await build_fixture()
    await insights.refresh(clock.now())
    # m10 refunds their only order; m03 orders again today; 30 days pass.
    await Order.filter(external_id="m10-0").update(refunded_amount=5_000)
    await _order("m03-1", members["m03"], 0, 40_000)
    clock.set_now(NOW + timedelta(days=30))
    await _order("m03-2", members["m03"], -30, 60_000)  # placed at the new now
    assert (await insights.refresh(clock.now())).members == 9
    assert not await MemberInsight.exists(member_id=members["m10"].id)
    row = await MemberInsight.get(member_id=members["m03"].id)
    # m03: orders 10.125 and 0 days before NOW, and at NOW + 30 days: 3 orders, average 40,000,
    # gaps (40.125 days) / 2 = 20.06 -> every 20 days.
    assert (row.recency_days, row.frequency, row.monetary, row.computed_at) == (0, 3, Decimal("40000.00"), clock.now())
    assert row.explanation == "last order today; you used to order every 20 days; 3 orders, average 400.00 USD"


async def test_no_orders_at_all_writes_nothing_and_lists_every_segment_empty(api, admin_token):
    assert (await insights.refresh(clock.now())).members == 0
    data = (await api.ok(SEGMENTS, token=admin_token))["rfmSegments"]
    assert [d["segment"] for d in data] == list(insights.SEGMENTS)
    assert all(d["members"] == 0 and d["share"] is None for d in data)


def test_segment_grid_covers_every_score_pair_and_every_segment():
    seen = {insights.segment(r, f) for r in range(1, 6) for f in range(1, 6)}
    assert seen == set(insights.SEGMENTS)
    assert (insights.segment(5, 1), insights.segment(1, 5), insights.segment(2, 5), insights.segment(3, 3)) == (
        "NEW", "CANT_LOSE", "CANT_LOSE", "NEED_ATTENTION")


def test_money_text_uses_the_currency_minor_unit():
    assert insights.money_text(Decimal(42_000), "KRW") == "42,000 KRW"
    assert insights.money_text(Decimal("4200050"), "USD") == "42,000.50 USD"
    assert insights.money_text(Decimal(1234), "KWD") == "1.234 KWD"


def test_model_formulas_against_hand_computed_values():
    # r = 1, alpha = 10, a = 2, b = 3; x = 2 repeat orders, t_x = 20, T = 30 days:
    # ((alpha + T) / (alpha + t_x))^(r + x) = (40 / 30)^3 = 64 / 27.
    bg = clv.PurchaseModel(r=1, alpha=10, a=2, b=3, modified=False)
    mbg = clv.PurchaseModel(r=1, alpha=10, a=2, b=3, modified=True)
    # BG/NBD: 1 / (1 + a / (b + x - 1) x 64/27) = 1 / (1 + 2/4 x 64/27) = 27 / 59.
    assert bg.p_alive(np.array([2]), np.array([20]), np.array([30]))[0] == pytest.approx(27 / 59, rel=1e-12)
    # MBG/NBD: 1 / (1 + a / (b + x) x 64/27) = 1 / (1 + 2/5 x 64/27) = 135 / 263.
    assert mbg.p_alive(np.array([2]), np.array([20]), np.array([30]))[0] == pytest.approx(135 / 263, rel=1e-12)
    # No repeat order: BG/NBD says alive for sure; MBG/NBD 1 / (1 + 2/3 x (40/10)^1) = 3 / 11.
    assert bg.p_alive(np.array([0]), np.array([0]), np.array([30]))[0] == 1.0
    assert mbg.p_alive(np.array([0]), np.array([0]), np.array([30]))[0] == pytest.approx(3 / 11, rel=1e-12)
    # Nothing is expected in 0 days.
    assert bg.expected_purchases(0, np.array([2]), np.array([20]), np.array([30]))[0] == pytest.approx(0, abs=1e-12)
    # BG/NBD, x = 0, T = 0 (a new customer): E[Y(t)] = (a + b - 1)/(a - 1) x [1 - (alpha / (alpha + t))^r
    # 2F1(r, b; a + b - 1; t / (alpha + t))]; t = 10: z = 1/2, and 2F1(1, 3; 4; z) = sum_k 3 z^k / (3 + k)
    # = 3 z^-3 (-ln(1 - z) - z - z^2 / 2) = 24 (ln 2 - 0.625) = 1.635532; so 4 x (1 - 1/2 x 1.635532) = 0.728935.
    assert bg.expected_purchases(10, np.array([0]), np.array([0]), np.array([0]))[0] == pytest.approx(
        4 * (1 - 0.5 * 24 * (np.log(2) - 0.625)), rel=1e-9)
    # Gamma-Gamma: p (v + n m) / (p n + q - 1); p = 2, q = 3, v = 100, n = 2, m = 50 -> 2 x 200 / 6.
    assert clv.SpendModel(p=2, q=3, v=100).expected_average(np.array([2]), np.array([50]))[0] == pytest.approx(400 / 6)


def test_the_purchase_model_recovers_the_parameters_it_was_simulated_with():
    # 4,000 customers drawn from the MBG/NBD story (rates ~ Gamma(r, alpha), drop-out
    # probability ~ Beta(a, b), checked at the first order and after each repeat), 365 days.
    rng = np.random.default_rng(7)
    r, alpha, a, b, days = 0.8, 40.0, 1.5, 4.0, 365.0
    x, t_x, T = [], [], []
    for _ in range(4000):
        rate, p = rng.gamma(r, 1 / alpha), rng.beta(a, b)
        first = rng.uniform(0, days / 2)
        t, last, n = first, first, 0
        while rng.uniform() >= p:  # still active after this order
            t += rng.exponential(1 / rate)
            if t > days:
                break
            last, n = t, n + 1
        x.append(n), t_x.append(last - first), T.append(days - first)
    model = clv.fit_purchases(np.array(x), np.array(t_x), np.array(T))
    assert model is not None and model.modified
    assert model.r == pytest.approx(r, rel=0.25) and model.alpha == pytest.approx(alpha, rel=0.35)
    assert model.a == pytest.approx(a, rel=0.5) and model.b == pytest.approx(b, rel=0.5)


async def test_models_are_fitted_and_explained_on_a_larger_population(api, admin_token):
    # 40 members in 4 patterns of 10: orders every 10 days until 5/100 days ago, or 2 orders
    # 60 days apart until 20/300 days ago; amounts vary per member.
    for i in range(40):
        member = await _member(f"g{i:02}")
        regular, recent = i % 2 == 0, (i // 2) % 2 == 0
        last = 5 if recent else 100
        days = [last + 10 * k for k in range(6)] if regular else [last + 15, last + 75]
        for k, d in enumerate(days):
            await _order(f"g{i:02}-{k}", member, d, 10_000 + 1_000 * i + 500 * k)
    result = await insights.refresh(clock.now())
    model, spend = result.purchase_model, result.spend_model
    assert result.members == 40 and model is not None and spend is not None
    data = (await api.ok(INSIGHTS, {"ext": "g00"}, admin_token))["member"]["insights"]
    # g00: 6 orders 5, 15, ..., 55 days ago: x = 5, t_x = 50, T = 55.
    args = np.array([5.0]), np.array([50.0]), np.array([55.0])
    churn = round(float(1 - model.p_alive(*args)[0]), 4)
    expected = round(float(model.expected_purchases(90, *args)[0]), 4)
    average = (10_000 + 10_500 + 11_000 + 11_500 + 12_000 + 12_500) / 6
    lifetime = float(model.expected_purchases(365, *args)[0] * spend.expected_average(np.array([6]),
                                                                                      np.array([average]))[0])
    assert data["churnRisk"] == churn and data["expectedPurchases90d"] == expected
    assert data["clv12m"] == {"amount": float(round(lifetime)), "currency": "USD"}
    assert data["explanation"] == (f"no order for 5 days; you used to order every 10 days; 6 orders, average "
                                   f"112.50 USD; {round((1 - churn) * 100)}% likely still active, {expected:.1f} "
                                   f"orders expected in 90 days")
    # The regular member who stopped 100 days ago is at more risk than the one seen 5 days ago.
    gone = (await api.ok(INSIGHTS, {"ext": "g02"}, admin_token))["member"]["insights"]
    assert gone["churnRisk"] > data["churnRisk"] and gone["expectedPurchases90d"] < data["expectedPurchases90d"]


async def test_who_sees_insights(api, admin_token, storefront_token):
    await build_fixture()
    await insights.refresh(clock.now())
    mine = await api.ok(INSIGHTS, {"ext": "m01"}, member_token("m01"))
    assert mine["member"]["insights"]["rfmSegment"] == "CHAMPIONS"  # the member themself
    body = await api(INSIGHTS, {"ext": "m02"}, member_token("m01"))  # another member: the root refuses
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    bi_key = (await auth.create_api_key("bi tool", "partner", scopes=["insights:read"]))[1]
    assert len((await api.ok(SEGMENTS, token=bi_key))["rfmSegments"]) == 11
    for token, code in ((None, "UNAUTHENTICATED"), (storefront_token, "FORBIDDEN"), (member_token("m01"), "FORBIDDEN")):
        body = await api(SEGMENTS, token=token)
        assert body["data"] is None and body["errors"][0]["extensions"]["code"] == code


def test_the_job_is_scheduled_nightly():
    assert ("member_insights", insights.refresh_job, 86400) in JOBS
