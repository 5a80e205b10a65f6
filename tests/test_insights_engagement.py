"""programInsights' engagement figures against a small hand-built program, every value computed
by hand: `reviews.requestConversionRate` (review requests answered by a review), `satisfaction`
(survey answers: NPS and CSAT) and `carts` (abandoned carts and those a reminder brought back).

The period is March 2026 in KRW (from 2026-03-01 00:00 to 2026-04-01 00:00 UTC, exclusive);
"now" is 2026-04-10 12:00 UTC unless a test moves it. Rows are written directly with the exact
timestamps the figures depend on; each expected value says where it comes from."""

from __future__ import annotations

from datetime import UTC, datetime

from domain import clock
from domain.catalog.models import Product
from domain.feedback.models import SurveyResponse
from domain.members.models import Member
from domain.messaging.models import Message
from domain.orders.models import Order
from domain.recommendations.models import Signal
from domain.reviews.models import Review

QUERY = """query($from: Date!, $to: Date!, $cur: String!) { programInsights(from: $from, to: $to, currency: $cur) {
  reviews { requestConversionRate } satisfaction { responses nps csatAverage }
  carts { abandoned recoveredByReminder } } }"""
MARCH = {"from": "2026-03-01", "to": "2026-03-31", "cur": "KRW"}
NOW = datetime(2026, 4, 10, 12, 0, tzinfo=UTC)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


async def _members() -> dict[str, Member]:
    return {ext: await Member.create(external_id=ext, created_at=at("2026-01-01"), updated_at=at("2026-01-01"))
            for ext in ("m1", "m2", "m3", "m4")}


async def _message(n: int, member: Member, type_: str, sent: str | None, products: list[str],
                   status: str = "SENT") -> None:
    when = at(sent) if sent else at("2026-03-01")
    await Message.create(member_id=member.id, type=type_, channel="EMAIL", status=status,
                         consent_purpose="REVIEW_REQUESTS", scheduled_for=when, sent_at=at(sent) if sent else None,
                         products=products, dedupe_key=f"k{n}", created_at=when, updated_at=when)


async def _review(member: Member, product: Product, received: str, status: str = "published") -> None:
    await Review.create(product_id=product.id, member_id=member.id, author_name="A.", rating=5, body="",
                        status=status, created_at=at(received), received_at=at(received), updated_at=at(received))


async def test_review_request_conversion(api, admin_token):
    clock.set_now(NOW)
    m = await _members()
    p = {ext: await Product.create(external_id=ext, created_at=at("2026-01-01"), updated_at=at("2026-01-01"))
         for ext in ("p1", "p2", "p3")}
    await _message(1, m["m1"], "REVIEW_REQUEST", "2026-03-02 00:00:00", ["p1", "p2"])
    await _review(m["m1"], p["p2"], "2026-03-05 00:00:00")  # q1: p2 reviewed 3 days later: converted
    await _message(2, m["m2"], "REVIEW_REQUEST", "2026-03-10 00:00:00", ["p1"])
    await _review(m["m2"], p["p1"], "2026-04-09 00:00:00")  # q2: exactly 30 days later: too late
    await _message(3, m["m3"], "REVIEW_REQUEST", "2026-03-20 00:00:00", ["p1"])
    await _review(m["m3"], p["p3"], "2026-03-21 00:00:00")  # q3: a product it did not ask about
    await _review(m["m4"], p["p1"], "2026-03-21 00:00:00")  # q3: another member's review
    await _message(4, m["m1"], "REVIEW_REQUEST", "2026-03-25 00:00:00", ["p3"])
    await _review(m["m1"], p["p3"], "2026-03-24 00:00:00")  # q4: reviewed before the request
    await _message(5, m["m2"], "REVIEW_REQUEST", "2026-03-28 00:00:00", ["p2"])
    await _review(m["m2"], p["p2"], "2026-03-29 00:00:00", status="deleted")  # q5: deleted: not an answer
    await _message(6, m["m4"], "REVIEW_REQUEST", "2026-03-31 23:59:59", ["p2"])
    await _review(m["m4"], p["p2"], "2026-04-02 00:00:00", status="pending")  # q6: answered after March: counts
    # Not requests sent in March: one still scheduled, one sent in April, a reminder, one sent in February.
    await _message(7, m["m3"], "REVIEW_REQUEST", None, ["p2"], status="SCHEDULED")
    await _message(8, m["m3"], "REVIEW_REQUEST", "2026-04-01 00:00:00", ["p2"])
    await _message(9, m["m3"], "REVIEW_REMINDER", "2026-03-22 00:00:00", ["p1"])
    await _message(10, m["m1"], "REVIEW_REQUEST", "2026-02-28 23:59:59", ["p1"])
    data = (await api.ok(QUERY, MARCH, admin_token))["programInsights"]
    assert data["reviews"] == {"requestConversionRate": 0.3333}  # q1 and q6 of q1-q6


async def test_satisfaction(api, admin_token):
    m = await _members()
    for n, (nps, csat, when) in enumerate([
        (10, 5, "2026-03-01 00:00:00"), (9, 4, "2026-03-05 00:00:00"), (9, 5, "2026-03-06 00:00:00"),  # promoters
        (7, 4, "2026-03-10 00:00:00"),  # passive
        (6, 3, "2026-03-20 00:00:00"), (2, 1, "2026-03-31 23:59:59"),  # detractors
        (0, 1, "2026-02-28 23:59:59"), (10, 5, "2026-04-01 00:00:00"),  # before, after
    ]):
        await SurveyResponse.create(member_id=m["m1"].id, order_external_id=f"o{n}", nps=nps, csat=csat,
                                    negative=nps <= 6 or csat <= 2, via="link", created_at=at(when))
    data = (await api.ok(QUERY, MARCH, admin_token))["programInsights"]
    assert data["satisfaction"] == {
        "responses": 6,
        "nps": 16.67,  # 100 x (3 promoters - 2 detractors) / 6
        "csatAverage": 3.6667,  # (5 + 4 + 5 + 4 + 3 + 1) / 6
    }


async def _add(member: Member | None, when: str, type_: str = "ADD_TO_CART") -> None:
    await Signal.create(member_id=member.id if member else None, session_id=None if member else "s1",
                        product_external_id="p1", type=type_, at=at(when))


async def _order(n: int, member: Member, placed: str) -> None:
    await Order.create(external_id=f"o{n}", member_id=member.id, currency="KRW", channel="web",
                       placed_at=at(placed), total_amount=1000, refunded_amount=0, created_at=at(placed))


async def build_carts() -> None:
    m = await _members()
    m1, m2, m3, m4 = m["m1"], m["m2"], m["m3"], m["m4"]
    await _add(m1, "2026-03-02 10:00:00")  # c1: no order, no reminder: abandoned
    await _add(m2, "2026-03-05 10:00:00")  # an add followed by another within 48 h: the cart is the later one
    await _add(m2, "2026-03-06 09:00:00")  # c2: abandoned ...
    await _message(1, m2, "CART_REMINDER", "2026-03-08 10:00:00", ["p1"])
    await _order(1, m2, "2026-03-10 10:00:00")  # ... and recovered: an order 2 days after the reminder
    await _add(m3, "2026-03-10 00:00:00")  # c3: ordered 47 h later: not abandoned
    await _order(2, m3, "2026-03-11 23:00:00")
    await _add(m4, "2026-03-12 00:00:00")  # c4: abandoned ...
    await _message(2, m4, "CART_REMINDER", "2026-03-14 01:00:00", ["p1"])
    await _order(3, m4, "2026-03-22 01:00:00")  # ... the order came 8 days after the reminder: not recovered
    await _add(m1, "2026-03-20 00:00:00")  # c5: the order came exactly 48 h later: abandoned
    await _message(3, m1, "CART_REMINDER", "2026-03-21 00:00:00", ["p1"], status="FAILED")  # not sent
    await _order(4, m1, "2026-03-22 00:00:00")
    await _add(m3, "2026-03-25 00:00:00")  # c6: abandoned; its reminder came before m3's next add ...
    await _message(4, m3, "CART_REMINDER", "2026-03-27 00:00:00", ["p1"])
    await _add(m3, "2026-03-28 00:00:00")  # c7: 72 h after c6, a cart of its own, ordered the same day
    await _order(5, m3, "2026-03-28 12:00:00")  # ... so c6 is recovered (an order 1.5 days after it)
    await _add(m2, "2026-03-31 00:00:00")  # c8: abandoned (m2's reminder was before it)
    await _add(m4, "2026-02-27 00:00:00")  # before March
    await _add(m1, "2026-04-01 00:00:00")  # after March
    await _add(None, "2026-03-05 00:00:00")  # an anonymous session: no member, no order to tell
    await _add(m3, "2026-03-15 00:00:00", type_="VIEW")  # not an add-to-cart


async def test_abandoned_and_recovered_carts(api, admin_token):
    clock.set_now(NOW)
    await build_carts()
    data = (await api.ok(QUERY, MARCH, admin_token))["programInsights"]
    assert data["carts"] == {"abandoned": 6, "recoveredByReminder": 2}  # c1, c2, c4, c5, c6, c8; c2, c6
    clock.set_now(at("2026-03-31 12:00:00"))  # c8 is 12 hours old: not abandoned yet
    data = (await api.ok(QUERY, MARCH, admin_token))["programInsights"]
    assert data["carts"] == {"abandoned": 5, "recoveredByReminder": 2}


async def test_no_engagement_answers_zeros_and_nulls(api, admin_token):
    data = (await api.ok(QUERY, MARCH, admin_token))["programInsights"]
    assert data == {"reviews": {"requestConversionRate": None},
                    "satisfaction": {"responses": 0, "nps": None, "csatAverage": None},
                    "carts": {"abandoned": 0, "recoveredByReminder": 0}}
