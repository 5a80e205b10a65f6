"""Member insights: RFM scores and segments, churn risk, expected purchases and 12-month CLV.

The nightly leased job `member_insights` (domain/jobs.py; also `refreshMemberInsights` and
`server.py refresh-insights`) reads one aggregated row per member from SQL (order count,
revenue, first and last order), keeps them in numpy arrays (never member ORM objects),
scores, fits the purchase and spend models on those arrays (domain/insights/clv.py) and
writes `member_insights` in chunked upserts. The README ("Member insights") defines each
figure in one line.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

import numpy as np

from domain import money
from domain.db import is_sqlite, write_transaction
from domain.insights import clv
from domain.insights.models import MemberInsight
from domain.insights.service import _rows
from domain.settings import get_settings

READ_CHUNK = 20_000  # members per aggregate query
WRITE_CHUNK = 1_000  # rows per upsert statement and transaction
HORIZON_DAYS = 90  # expectedPurchases90d
CLV_DAYS = 365  # clv12m
DAY = 86_400.0

SEGMENTS = ("CHAMPIONS", "LOYAL", "POTENTIAL_LOYALIST", "NEW", "PROMISING", "NEED_ATTENTION", "ABOUT_TO_SLEEP",
            "AT_RISK", "CANT_LOSE", "HIBERNATING", "LOST")

# The segment of each (R, F) score pair: rows R = 5..1, columns F = 1..5. The common R×F
# grid of RFM practice, with its bottom-left "hibernating" corner split: R 2 = HIBERNATING,
# R 1 = LOST. M is scored and stored but does not choose the segment (README table).
_GRID = {
    5: ("NEW", "POTENTIAL_LOYALIST", "POTENTIAL_LOYALIST", "CHAMPIONS", "CHAMPIONS"),
    4: ("PROMISING", "POTENTIAL_LOYALIST", "POTENTIAL_LOYALIST", "LOYAL", "LOYAL"),
    3: ("ABOUT_TO_SLEEP", "ABOUT_TO_SLEEP", "NEED_ATTENTION", "LOYAL", "LOYAL"),
    2: ("HIBERNATING", "HIBERNATING", "AT_RISK", "AT_RISK", "CANT_LOSE"),
    1: ("LOST", "LOST", "AT_RISK", "AT_RISK", "CANT_LOSE"),
}

# Epoch seconds of a stored UTC timestamp, per dialect.
_EPOCH = {"sqlite": "((julianday({c}) - 2440587.5) * 86400.0)", "postgres": "EXTRACT(EPOCH FROM {c})"}


def segment(r: int, f: int) -> str:
    return _GRID[r][f - 1]


def scores(values: np.ndarray) -> np.ndarray:
    """Quintile score 1..5 of each value among all: 1 + floor(5 × (values strictly lower) / n),
    so equal values share a score (SQL: 1 + 5 * (RANK() OVER (ORDER BY v) - 1) / COUNT(*) OVER ())."""
    if len(values) == 0:
        return np.zeros(0, dtype=int)
    below = np.searchsorted(np.sort(values), values, side="left")
    return 1 + (5 * below) // len(values)


def money_text(minor: Decimal | float, currency: str) -> str:
    exponent = money.exponent(currency)
    return f"{float(minor) / 10 ** exponent:,.{exponent}f} {currency}"


@dataclass
class Aggregates:
    member_id: np.ndarray
    orders: np.ndarray  # orders not fully refunded
    revenue: np.ndarray  # their totals less refunds, minor units
    first_at: np.ndarray  # epoch seconds
    last_at: np.ndarray


async def aggregates(now: datetime, currency: str) -> Aggregates:
    """One row per member with an order in `currency` that is not fully refunded (anonymized
    members left out), read in keyset chunks of READ_CHUNK members."""
    epoch = _EPOCH["sqlite" if is_sqlite() else "postgres"]
    parts: list[np.ndarray] = [np.zeros((0, 5))]
    after = 0
    while True:
        rows = await _rows(
            f"SELECT o.member_id, COUNT(*), SUM(o.total_amount - o.refunded_amount),"
            f" {epoch.format(c='MIN(o.placed_at)')}, {epoch.format(c='MAX(o.placed_at)')}"
            " FROM orders o JOIN members m ON m.id = o.member_id"
            " WHERE o.member_id > :after AND o.currency = :cur AND o.refunded_amount < o.total_amount"
            " AND o.placed_at <= :now AND m.anonymized_at IS NULL"
            " GROUP BY o.member_id ORDER BY o.member_id LIMIT :take",
            after=after, cur=currency, now=now, take=READ_CHUNK)
        if rows:
            parts.append(np.array([[float(v) for v in row] for row in rows], dtype=float))
        if len(rows) < READ_CHUNK:
            break
        after = int(rows[-1][0])
    ids, n, revenue, first, last = np.concatenate(parts).T
    return Aggregates(ids.astype(np.int64), n.astype(np.int64), revenue, first, last)


@dataclass
class Refresh:
    members: int  # rows written
    purchase_model: clv.PurchaseModel | None
    spend_model: clv.SpendModel | None


def _explain(days: int, n: int, gap_days: float, average: Decimal, currency: str,
             churn: float | None, expected: float | None) -> str:
    parts = ["last order today" if days == 0 else f"no order for {days} day{'s' if days != 1 else ''}"]
    if n >= 2:
        gap = round(gap_days)
        parts.append("your orders came within a day of each other" if gap == 0
                     else f"you used to order every {gap} day{'s' if gap != 1 else ''}")
        parts.append(f"{n} orders, average {money_text(average, currency)}")
    else:
        parts.append(f"1 order of {money_text(average, currency)}")
    if churn is not None and expected is not None:
        parts.append(f"{round((1 - churn) * 100)}% likely still active, {expected:.1f} orders expected in "
                     f"{HORIZON_DAYS} days")
    return "; ".join(parts)


def _round(value: float) -> float | None:
    return round(float(value), 4) if math.isfinite(value) else None


async def refresh(now: datetime) -> Refresh:
    """Recompute every member's row: upsert those with orders, delete the others' rows."""
    currency = get_settings().insights_currency
    agg = await aggregates(now, currency)
    count = len(agg.member_id)
    now_s = now.timestamp()
    recency = np.floor(np.maximum(now_s - agg.last_at, 0) / DAY).astype(np.int64)
    T = np.maximum(now_s - agg.first_at, 0) / DAY
    t_x = np.maximum(agg.last_at - agg.first_at, 0) / DAY
    x = agg.orders - 1
    average = agg.revenue / np.maximum(agg.orders, 1)
    r, f, m = scores(-recency), scores(agg.orders), scores(average)

    purchases = clv.fit_purchases(x, t_x, T) if count else None
    spend = clv.fit_spend(agg.orders, average) if count else None
    churn = expected = lifetime = np.full(count, np.nan)
    if purchases is not None:
        churn = 1 - purchases.p_alive(x, t_x, T)
        expected = purchases.expected_purchases(HORIZON_DAYS, x, t_x, T)
        if spend is not None:
            lifetime = purchases.expected_purchases(CLV_DAYS, x, t_x, T) * spend.expected_average(agg.orders, average)

    def row(i: int) -> MemberInsight:
        avg = (Decimal(int(agg.revenue[i])) / int(agg.orders[i])).quantize(Decimal("0.01"), ROUND_HALF_UP)
        risk, exp90 = _round(churn[i]), _round(expected[i])
        return MemberInsight(
            member_id=int(agg.member_id[i]), recency_days=int(recency[i]), frequency=int(agg.orders[i]),
            monetary=avg, currency=currency, r_score=int(r[i]), f_score=int(f[i]), m_score=int(m[i]),
            rfm_segment=segment(int(r[i]), int(f[i])), churn_risk=risk, expected_purchases_90d=exp90,
            clv_12m=(Decimal(float(lifetime[i])).quantize(Decimal(1), ROUND_HALF_UP)
                     if math.isfinite(lifetime[i]) else None),
            explanation=_explain(int(recency[i]), int(agg.orders[i]), float(t_x[i] / max(x[i], 1)), avg, currency,
                                 risk, exp90),
            computed_at=now)

    # Rows are built per chunk (never all at once): member id order, each chunk one short
    # transaction that upserts its rows and deletes the rows of members in its id range who
    # no longer have an order; then the rows past the last member.
    previous = 0
    for start in range(0, count, WRITE_CHUNK):
        chunk = [row(i) for i in range(start, min(start + WRITE_CHUNK, count))]
        last = chunk[-1].member_id
        async with write_transaction():
            await MemberInsight.filter(member_id__gt=previous, member_id__lte=last).exclude(
                member_id__in=[item.member_id for item in chunk]).delete()
            await MemberInsight.bulk_create(chunk, on_conflict=["member_id"], update_fields=_UPDATED)
        previous = last
    async with write_transaction():
        await MemberInsight.filter(member_id__gt=previous).delete()
    return Refresh(members=count, purchase_model=purchases, spend_model=spend)


_UPDATED = ["recency_days", "frequency", "monetary", "currency", "r_score", "f_score", "m_score", "rfm_segment",
            "churn_risk", "expected_purchases_90d", "clv_12m", "explanation", "computed_at"]


async def refresh_job(now: datetime) -> int:
    return (await refresh(now)).members


# -- reading -------------------------------------------------------------------------------

async def member_insight(member_id: int) -> MemberInsight | None:
    return await MemberInsight.get_or_none(member_id=member_id)


async def segment_counts() -> list[tuple[str, int, float | None]]:
    """Every segment in SEGMENTS order with its members and share of all rows (4 decimals)."""
    counts = dict(await _rows("SELECT rfm_segment, COUNT(*) FROM member_insights GROUP BY rfm_segment"))
    total = sum(int(v) for v in counts.values())
    return [(name, int(counts.get(name, 0)), round(int(counts.get(name, 0)) / total, 4) if total else None)
            for name in SEGMENTS]
