"""Program insights: the KPIs a brand runs its loyalty program by, over a period and a currency.

Every figure is one SQL aggregate (a few result rows at most) run as the same statement on
SQLite and PostgreSQL; only two expressions differ by dialect (elapsed days between two
timestamps, and the day/week/month bucket of a timestamp), kept in `_DIALECT` below. The
period is [from 00:00 UTC, to + 1 day 00:00 UTC): both dates are included whole. The README
("Program insights") defines each KPI in one line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from tortoise import connections

from domain import clock
from domain.db import is_sqlite
from domain.errors import InvalidInput
from domain.feedback.surveys import NEGATIVE_NPS
from domain.rewards.models import Reward
from domain.settings import get_settings
from domain.tiers.models import Tier

MAX_DAYS = 5 * 365 + 2  # 5 years, leap days included: the longest period asked in one query
TOP_REWARDS = 5
INTERVALS = ("DAY", "WEEK", "MONTH")
METRICS = ("REVENUE", "ORDERS", "NEW_MEMBERS", "POINTS_ISSUED")
REQUEST_ATTRIBUTION_DAYS = 30  # a review counts for a request when received this soon after it
NPS_PROMOTER = 9  # the usual NPS bands: 9-10 promoters, 0-6 detractors (surveys.NEGATIVE_NPS)
CART_ABANDONED_HOURS = 48  # an add-to-cart with no order (nor another add) this long after it
CART_RECOVERY_DAYS = 7  # an order this soon after a cart reminder was sent counts for the reminder

# Per dialect: days elapsed from {b} to {a} (a fraction), the bucket start of {c} as text
# YYYY-MM-DD (weeks start on Monday, ISO 8601), and whether the text {v} is an element of the
# JSON array {arr}. Timestamps are stored in UTC.
_DIALECT = {
    "sqlite": {
        "days": "(julianday({a}) - julianday({b}))",
        "DAY": "date({c})",
        "WEEK": "date({c}, 'weekday 0', '-6 days')",
        "MONTH": "strftime('%Y-%m-01', {c})",
        "in_json": "{v} IN (SELECT value FROM json_each({arr}))",
    },
    "postgres": {
        "days": "(EXTRACT(EPOCH FROM ({a} - {b})) / 86400.0)",
        "DAY": "to_char(date_trunc('day', {c} AT TIME ZONE 'UTC'), 'YYYY-MM-DD')",
        "WEEK": "to_char(date_trunc('week', {c} AT TIME ZONE 'UTC'), 'YYYY-MM-DD')",
        "MONTH": "to_char(date_trunc('month', {c} AT TIME ZONE 'UTC'), 'YYYY-MM-DD')",
        "in_json": "{v} IN (SELECT jsonb_array_elements_text({arr}))",
    },
}

_PARAM = re.compile(r"(?<![:\w]):([a-z_]+)\b")


@dataclass(frozen=True)
class Period:
    start: datetime  # inclusive
    end: datetime  # exclusive: the day after `to`, 00:00 UTC
    first_day: date
    last_day: date
    currency: str


def period(from_: date, to: date, currency: str) -> Period:
    """The period both dates included; refused: to before from, over 5 years, a malformed currency."""
    if to < from_:
        raise InvalidInput("`to` must not be before `from`", "to")
    if to >= date.max:  # the period ends the next day at 00:00, which must exist
        raise InvalidInput("`to` is outside the supported date range", "to")
    if (to - from_).days + 1 > MAX_DAYS:
        raise InvalidInput(f"The period is at most 5 years ({MAX_DAYS} days)", "to")
    if len(currency) != 3 or not currency.isascii() or not currency.isalpha() or not currency.isupper():
        raise InvalidInput("currency must be an ISO 4217 code such as KRW or USD", "currency")
    start = datetime.combine(from_, time(0), UTC)
    return Period(start, datetime.combine(to + timedelta(days=1), time(0), UTC), from_, to, currency)


def _dialect() -> dict[str, str]:
    return _DIALECT["sqlite" if is_sqlite() else "postgres"]


async def _rows(sql: str, **params: Any) -> list[tuple[Any, ...]]:
    """Run `sql` with :name parameters, bound as ? (SQLite) or $n (PostgreSQL)."""
    values: list[Any] = []
    sqlite = is_sqlite()

    def bind(match: re.Match[str]) -> str:
        name = match.group(1)
        if sqlite:
            values.append(params[name])
            return "?"
        if name not in order:
            order.append(name)
            values.append(params[name])
        return f"${order.index(name) + 1}"

    order: list[str] = []
    text = _PARAM.sub(bind, sql)
    _, rows = await connections.get("default").execute_query(text, values)
    return [tuple(row.values()) if isinstance(row, dict) else tuple(row) for row in rows]


async def _one(sql: str, **params: Any) -> tuple[Any, ...]:
    return (await _rows(sql, **params))[0]


def _ratio(part: float | int | None, whole: float | int | None) -> float | None:
    """part / whole rounded to 4 decimals; None when there is nothing to divide by."""
    if not whole:
        return None
    return round(float(part or 0) / float(whole), 4)


async def _median(sql_values: str, **params: Any) -> float | None:
    """Median of a one-column query (`SELECT v FROM …`): counted, then the middle one or two
    values read with ORDER BY/OFFSET, which both databases run alike (no percentile_cont on SQLite)."""
    (n,) = await _one(f"SELECT COUNT(*) FROM ({sql_values}) m", **params)
    if not n:
        return None
    middle = await _rows(f"SELECT v FROM ({sql_values}) m ORDER BY v LIMIT :take OFFSET :skip",
                         **params, take=2 - n % 2, skip=(n - 1) // 2)
    return round(sum(float(v) for (v,) in middle) / len(middle), 2)


# -- members -------------------------------------------------------------------------------

@dataclass
class MemberKpis:
    total: int
    active: int
    new_in_period: int


async def members(p: Period) -> MemberKpis:
    total, new, active = await _one(
        "SELECT (SELECT COUNT(*) FROM members WHERE created_at < :end),"
        " (SELECT COUNT(*) FROM members WHERE created_at >= :start AND created_at < :end),"
        " (SELECT COUNT(DISTINCT member_id) FROM orders WHERE member_id IS NOT NULL AND currency = :cur"
        "  AND placed_at >= :start AND placed_at < :end)",
        start=p.start, end=p.end, cur=p.currency)
    return MemberKpis(total=int(total), active=int(active), new_in_period=int(new))


# -- orders --------------------------------------------------------------------------------

@dataclass
class OrderKpis:
    count: int
    revenue: int
    average_order_value: int | None
    repeat_purchase_rate: float | None
    purchase_frequency: float | None
    member_share_of_revenue: float | None
    guest_orders: int


_ORDERS_IN = "FROM orders WHERE currency = :cur AND placed_at >= :start AND placed_at < :end"


async def orders(p: Period) -> OrderKpis:
    count, revenue, member_revenue, guests = await _one(
        "SELECT COUNT(*), COALESCE(SUM(total_amount - refunded_amount), 0),"
        " COALESCE(SUM(CASE WHEN member_id IS NOT NULL THEN total_amount - refunded_amount ELSE 0 END), 0),"
        f" COALESCE(SUM(CASE WHEN member_id IS NULL THEN 1 ELSE 0 END), 0) {_ORDERS_IN}",
        start=p.start, end=p.end, cur=p.currency)
    buyers, repeaters = await _one(
        "SELECT COUNT(*), COALESCE(SUM(CASE WHEN n >= 2 THEN 1 ELSE 0 END), 0) FROM"
        f" (SELECT member_id, COUNT(*) n {_ORDERS_IN} AND member_id IS NOT NULL GROUP BY member_id) b",
        start=p.start, end=p.end, cur=p.currency)
    count, revenue, guests = int(count), int(revenue), int(guests)
    aov = int((Decimal(revenue) / count).quantize(Decimal(1), ROUND_HALF_UP)) if count else None
    return OrderKpis(
        count=count, revenue=revenue, average_order_value=aov,
        repeat_purchase_rate=_ratio(repeaters, buyers), purchase_frequency=_ratio(count - guests, buyers),
        member_share_of_revenue=_ratio(int(member_revenue), revenue), guest_orders=guests)


# -- points --------------------------------------------------------------------------------

@dataclass
class PointKpis:
    issued: int
    redeemed: int
    expired: int
    outstanding: int
    pending: int
    liability: int
    breakage_rate: float | None
    earn_burn_ratio: float | None


async def points(p: Period) -> PointKpis:
    issued, redeemed, expired = await _one(
        "SELECT COALESCE(SUM(CASE WHEN kind = 'earn' THEN amount ELSE 0 END), 0),"
        " COALESCE(SUM(CASE WHEN kind = 'redeem' THEN -amount ELSE 0 END), 0),"
        " COALESCE(SUM(CASE WHEN kind = 'expire' THEN -amount ELSE 0 END), 0)"
        " FROM ledger_entries WHERE created_at >= :start AND created_at < :end",
        start=p.start, end=p.end)
    # Spendable at the end of the period: every member's balance then, negative ones as 0.
    (outstanding,) = await _one(
        "SELECT COALESCE(SUM(CASE WHEN b > 0 THEN b ELSE 0 END), 0) FROM"
        " (SELECT SUM(amount) b FROM ledger_entries WHERE created_at < :end GROUP BY member_id) x", end=p.end)
    # Pending at the end: awards made before it and not yet released then (still held, or
    # released later: then what the release credited).
    (pending,) = await _one(
        "SELECT COALESCE(SUM(CASE WHEN a.status = 'held' THEN a.amount - a.reversed ELSE e.amount END), 0)"
        " FROM awards a LEFT JOIN ledger_entries e ON e.id = a.entry_id"
        " WHERE a.created_at < :end AND (a.status = 'held' OR e.created_at >= :end)", end=p.end)
    issued, redeemed, expired, outstanding, pending = map(int, (issued, redeemed, expired, outstanding, pending))
    liability = (Decimal(outstanding + pending) * get_settings().point_value).quantize(Decimal(1), ROUND_HALF_UP)
    return PointKpis(issued=issued, redeemed=redeemed, expired=expired, outstanding=outstanding, pending=pending,
                     liability=int(liability), breakage_rate=_ratio(expired, issued),
                     earn_burn_ratio=_ratio(issued, redeemed))


# -- redemptions ---------------------------------------------------------------------------

@dataclass
class RedemptionKpis:
    count: int
    rate: float | None
    median_days_to_first_redemption: float | None
    top_rewards: list[tuple[Reward, int]] = field(default_factory=list)


_REDEEMED_IN = "FROM redemptions WHERE status <> 'cancelled' AND created_at >= :start AND created_at < :end"


async def redemptions(p: Period) -> RedemptionKpis:
    count, redeemers = await _one(f"SELECT COUNT(*), COUNT(DISTINCT member_id) {_REDEEMED_IN}", start=p.start, end=p.end)
    (members_total,) = await _one("SELECT COUNT(*) FROM members WHERE created_at < :end", end=p.end)
    days = _dialect()["days"].format(a="f.first_at", b="mb.created_at")
    median = await _median(
        f"SELECT {days} v FROM (SELECT member_id, MIN(created_at) first_at FROM redemptions"
        " WHERE status <> 'cancelled' GROUP BY member_id) f JOIN members mb ON mb.id = f.member_id"
        " WHERE f.first_at >= :start AND f.first_at < :end", start=p.start, end=p.end)
    top = await _rows(f"SELECT reward_id, COUNT(*) n {_REDEEMED_IN} GROUP BY reward_id ORDER BY n DESC, reward_id"
                      " LIMIT :top", start=p.start, end=p.end, top=TOP_REWARDS)
    rewards = {r.id: r for r in await Reward.filter(id__in=[row[0] for row in top])}
    return RedemptionKpis(count=int(count), rate=_ratio(redeemers, members_total),
                          median_days_to_first_redemption=median,
                          top_rewards=[(rewards[rid], int(n)) for rid, n in top])


# -- tiers ---------------------------------------------------------------------------------

@dataclass
class TierKpis:
    tier: Tier
    members: int
    upgrades: int
    downgrades: int


async def tiers(p: Period) -> list[TierKpis]:
    """Members in each tier at the end of the period (their last tier change before it; a
    member with no tier history at all — imported, generated — in their current tier), and the
    moves during it: an upgrade counts for the tier moved into, a downgrade for the tier left."""
    all_tiers = await Tier.all().order_by("rank")
    held = dict(await _rows(
        "SELECT t, COUNT(*) FROM (SELECT to_tier_id t FROM tier_changes WHERE id IN"
        "  (SELECT MAX(id) FROM tier_changes WHERE created_at < :end GROUP BY member_id)"
        " UNION ALL SELECT tier_id t FROM members m WHERE created_at < :end"
        "  AND NOT EXISTS (SELECT 1 FROM tier_changes c WHERE c.member_id = m.id)) x"
        " WHERE t IS NOT NULL GROUP BY t", end=p.end))
    moves = await _rows(
        "SELECT from_tier_id, to_tier_id, COUNT(*) FROM tier_changes WHERE created_at >= :start AND created_at < :end"
        " GROUP BY from_tier_id, to_tier_id", start=p.start, end=p.end)
    rank = {t.id: t.rank for t in all_tiers}
    up: dict[int, int] = {}
    down: dict[int, int] = {}
    for source, target, n in moves:
        if target is not None and (source is None or rank.get(target, 0) > rank.get(source, 0)):
            up[target] = up.get(target, 0) + int(n)
        elif source is not None and (target is None or rank.get(target, 0) < rank.get(source, 0)):
            down[source] = down.get(source, 0) + int(n)
    return [TierKpis(t, int(held.get(t.id, 0)), up.get(t.id, 0), down.get(t.id, 0)) for t in all_tiers]


# -- reviews -------------------------------------------------------------------------------

@dataclass
class ReviewKpis:
    published: int
    average_rating: float | None
    with_media_share: float | None
    reply_median_hours: float | None
    negative_replied_within_sla_share: float | None
    request_conversion_rate: float | None


async def reviews(p: Period) -> ReviewKpis:
    published, rating_sum, with_media = await _one(
        "SELECT COUNT(*), COALESCE(SUM(rating), 0), COALESCE(SUM(CASE WHEN has_media THEN 1 ELSE 0 END), 0)"
        " FROM reviews WHERE status = 'published' AND published_at >= :start AND published_at < :end",
        start=p.start, end=p.end)
    days = _dialect()["days"].format(a="replied_at", b="received_at")
    reply_hours = await _median(
        f"SELECT {days} * 24 v FROM reviews WHERE replied_at >= :start AND replied_at < :end"
        " AND received_at IS NOT NULL AND status = 'published'", start=p.start, end=p.end)
    settings = get_settings()
    negative, in_sla = await _one(
        f"SELECT COUNT(*), COALESCE(SUM(CASE WHEN replied_at IS NOT NULL AND {days} <= :sla_days THEN 1 ELSE 0 END), 0)"
        " FROM reviews WHERE status = 'published' AND rating <= :negative AND reply_sla_applies"
        " AND received_at >= :start AND received_at < :end",
        start=p.start, end=p.end, negative=settings.review_negative_max_rating,
        sla_days=settings.review_reply_sla_hours / 24)
    published = int(published)
    return ReviewKpis(
        published=published, average_rating=_ratio(rating_sum, published),
        with_media_share=_ratio(with_media, published), reply_median_hours=reply_hours,
        negative_replied_within_sla_share=_ratio(in_sla, negative),
        request_conversion_rate=await request_conversion_rate(p))


async def request_conversion_rate(p: Period) -> float | None:
    """Review requests sent in the period (one message per order and channel) answered by a
    review of one of the products they asked about, by the member, within
    REQUEST_ATTRIBUTION_DAYS of the sending (any status but deleted)."""
    d = _dialect()
    days = d["days"].format(a="r.received_at", b="m.sent_at")
    asked = d["in_json"].format(v="p.external_id", arr="m.products")
    # From the message's few products to reviews by the unique (product_id, member_id) index.
    sent, converted = await _one(
        "SELECT COUNT(*), COALESCE(SUM(CASE WHEN EXISTS (SELECT 1 FROM products p JOIN reviews r ON r.product_id = p.id"
        f"  AND r.member_id = m.member_id WHERE {asked} AND r.status <> 'deleted'"
        f"  AND {days} >= 0 AND {days} < :window) THEN 1 ELSE 0 END), 0)"
        " FROM messages m WHERE m.type = 'REVIEW_REQUEST' AND m.status = 'SENT'"
        " AND m.sent_at >= :start AND m.sent_at < :end",
        start=p.start, end=p.end, window=REQUEST_ATTRIBUTION_DAYS)
    return _ratio(converted, sent)


# -- satisfaction --------------------------------------------------------------------------

@dataclass
class SatisfactionKpis:
    responses: int
    nps: float | None
    csat_average: float | None


async def satisfaction(p: Period) -> SatisfactionKpis:
    """Survey answers (submitSurveyResponse) given in the period: NPS = % promoters (9-10)
    minus % detractors (0-6), -100..100; CSAT = the mean score 1-5."""
    n, promoters, detractors, csat_sum = await _one(
        "SELECT COUNT(*), COALESCE(SUM(CASE WHEN nps >= :promoter THEN 1 ELSE 0 END), 0),"
        " COALESCE(SUM(CASE WHEN nps <= :detractor THEN 1 ELSE 0 END), 0), COALESCE(SUM(csat), 0)"
        " FROM survey_responses WHERE created_at >= :start AND created_at < :end",
        start=p.start, end=p.end, promoter=NPS_PROMOTER, detractor=NEGATIVE_NPS)
    n = int(n)
    nps = round(100 * (int(promoters) - int(detractors)) / n, 2) if n else None
    return SatisfactionKpis(responses=n, nps=nps, csat_average=_ratio(csat_sum, n))


# -- carts ---------------------------------------------------------------------------------

@dataclass
class CartKpis:
    abandoned: int
    recovered_by_reminder: int


async def carts(p: Period) -> CartKpis:
    """A member's cart is their last add-to-cart (`signals`) before a CART_ABANDONED_HOURS gap
    with no other add-to-cart; it is abandoned when no order of theirs was placed in that gap,
    and counted in the period its add-to-cart falls in, once the gap is over (a cart still
    open now is not abandoned yet). Recovered by a reminder: a CART_REMINDER sent to the
    member after that add-to-cart and before their next one, followed by an order of theirs
    within CART_RECOVERY_DAYS of the sending."""
    days = _dialect()["days"]
    gap = CART_ABANDONED_HOURS / 24
    abandoned = (
        "FROM signals s WHERE s.type = 'ADD_TO_CART' AND s.member_id IS NOT NULL"
        " AND s.at >= :start AND s.at < :end AND s.at <= :closed"
        " AND NOT EXISTS (SELECT 1 FROM signals n WHERE n.member_id = s.member_id AND n.type = 'ADD_TO_CART'"
        f"  AND n.at > s.at AND {days.format(a='n.at', b='s.at')} < :gap)"
        " AND NOT EXISTS (SELECT 1 FROM orders o WHERE o.member_id = s.member_id AND o.placed_at >= s.at"
        f"  AND {days.format(a='o.placed_at', b='s.at')} < :gap)")
    recovered = (
        "EXISTS (SELECT 1 FROM messages m WHERE m.member_id = s.member_id AND m.type = 'CART_REMINDER'"
        " AND m.status = 'SENT' AND m.sent_at > s.at"
        " AND NOT EXISTS (SELECT 1 FROM signals n WHERE n.member_id = s.member_id AND n.type = 'ADD_TO_CART'"
        "  AND n.at > s.at AND n.at < m.sent_at)"
        " AND EXISTS (SELECT 1 FROM orders o WHERE o.member_id = s.member_id AND o.placed_at >= m.sent_at"
        f"  AND {days.format(a='o.placed_at', b='m.sent_at')} < :recovery))")
    total, back = await _one(
        f"SELECT COUNT(*), COALESCE(SUM(CASE WHEN {recovered} THEN 1 ELSE 0 END), 0) {abandoned}",
        start=p.start, end=p.end, closed=clock.now() - timedelta(hours=CART_ABANDONED_HOURS), gap=gap,
        recovery=CART_RECOVERY_DAYS)
    return CartKpis(abandoned=int(total), recovered_by_reminder=int(back))


# -- series --------------------------------------------------------------------------------

_SERIES = {
    "REVENUE": ("SUM(total_amount - refunded_amount)", "placed_at", f"{_ORDERS_IN}"),
    "ORDERS": ("COUNT(*)", "placed_at", f"{_ORDERS_IN}"),
    "NEW_MEMBERS": ("COUNT(*)", "created_at", "FROM members WHERE created_at >= :start AND created_at < :end"),
    "POINTS_ISSUED": ("SUM(amount)", "created_at",
                      "FROM ledger_entries WHERE kind = 'earn' AND created_at >= :start AND created_at < :end"),
}


def bucket_start(day: date, interval: str) -> date:
    if interval == "WEEK":
        return day - timedelta(days=day.weekday())
    if interval == "MONTH":
        return day.replace(day=1)
    return day


def _next_bucket(day: date, interval: str) -> date:
    if interval == "WEEK":
        return day + timedelta(days=7)
    if interval == "MONTH":
        return (day.replace(day=28) + timedelta(days=4)).replace(day=1)
    return day + timedelta(days=1)


async def series(p: Period, metric: str, interval: str) -> list[tuple[date, int]]:
    """One point per day / ISO week / month that the period touches (its start date), zeros
    included; only what falls inside the period counts (a first week may start before it)."""
    aggregate, column, source = _SERIES[metric]
    bucket = _dialect()[interval].format(c=column)
    rows = await _rows(f"SELECT {bucket} b, {aggregate} v {source} GROUP BY b",
                       start=p.start, end=p.end, cur=p.currency)
    values = {date.fromisoformat(str(b)[:10]): int(v or 0) for b, v in rows}
    points, at = [], bucket_start(p.first_day, interval)
    while at <= p.last_day:
        points.append((at, values.get(at, 0)))
        at = _next_bucket(at, interval)
    return points
