"""A segment's filter and the one SQL query that finds its members.

Every condition given must hold (AND); a condition left out does not restrict. The query is
built with the ORM, so SQLite and PostgreSQL run the same statement: joins to
`member_insights` and `tiers` (one row per member each) and `IN (subquery)` semi-joins for
orders, order lines and consents — never a member list in Python. Anonymized members are in
no segment (nobody is to be targeted after erasure).

Orders count unless fully refunded (`refunded_amount < total_amount`, or nothing refunded);
order lines count unless every unit was refunded. Dates are whole UTC days.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any

from tortoise.expressions import F, Q, Subquery
from tortoise.functions import Count
from tortoise.queryset import QuerySet

from domain.errors import InvalidInput
from domain.members.models import Consent, Member
from domain.members.service import PURPOSES
from domain.orders.models import Order, OrderLine

RFM_SEGMENTS = ("CHAMPIONS", "LOYAL", "POTENTIAL_LOYALIST", "NEW", "PROMISING", "NEED_ATTENTION",
                "ABOUT_TO_SLEEP", "AT_RISK", "CANT_LOSE", "HIBERNATING", "LOST")


@dataclass(frozen=True)
class SegmentFilter:
    rfm_segments: tuple[str, ...] | None = None  # the member's rfm_segment is one of these
    min_churn_risk: float | None = None  # churn_risk >= this (members without a churn figure never match)
    tier_rank_at_least: int | None = None  # the member's tier rank >= this (members without a tier never match)
    last_order_before: date | None = None  # ordered, and the last order was placed before this day
    last_order_after: date | None = None  # the last order was placed on this day or later
    consent: str | None = None  # the consent purpose is granted now
    bought_category: str | None = None  # a kept line of this category (exact, case-sensitive)
    min_orders: int | None = None  # at least this many kept orders

    def stored(self) -> dict[str, Any]:
        """The JSON kept in segments.conditions: only the conditions given."""
        out: dict[str, Any] = {}
        for name, value in self.__dict__.items():
            if value is None:
                continue
            out[name] = list(value) if isinstance(value, tuple) else value.isoformat() if isinstance(value, date) else value
        return out

    @classmethod
    def from_stored(cls, data: dict[str, Any]) -> SegmentFilter:
        values = dict(data)
        for name in ("last_order_before", "last_order_after"):
            if values.get(name) is not None:
                values[name] = date.fromisoformat(values[name])
        if values.get("rfm_segments") is not None:
            values["rfm_segments"] = tuple(values["rfm_segments"])
        return cls(**values)


def validated(values: dict[str, Any]) -> SegmentFilter:
    """A filter from the caller's values (snake_case keys), or InvalidInput naming the field."""
    rfm = values.get("rfm_segments")
    if rfm is not None:
        if not rfm:
            raise InvalidInput("rfmSegments must name at least one segment (omit it for any)", "filter.rfmSegments")
        unknown = [s for s in rfm if s not in RFM_SEGMENTS]
        if unknown:
            raise InvalidInput(f"Unknown RFM segment {unknown[0]}", "filter.rfmSegments")
        rfm = tuple(sorted(set(rfm), key=RFM_SEGMENTS.index))
    risk = values.get("min_churn_risk")
    if risk is not None and not 0 <= risk <= 1:
        raise InvalidInput("minChurnRisk must be from 0 to 1", "filter.minChurnRisk")
    rank = values.get("tier_rank_at_least")
    if rank is not None and rank < 0:
        raise InvalidInput("tierRankAtLeast must not be negative", "filter.tierRankAtLeast")
    before, after = values.get("last_order_before"), values.get("last_order_after")
    if before is not None and after is not None and after >= before:
        raise InvalidInput("lastOrderAfter must be earlier than lastOrderBefore", "filter.lastOrderAfter")
    consent = values.get("consent")
    if consent is not None and consent not in PURPOSES:
        raise InvalidInput(f"consent must be one of {', '.join(PURPOSES)}", "filter.consent")
    category = values.get("bought_category")
    if category is not None and not 1 <= len(category) <= 255:
        raise InvalidInput("boughtCategory must be 1 to 255 characters", "filter.boughtCategory")
    orders = values.get("min_orders")
    if orders is not None and not 1 <= orders <= 1_000_000:
        raise InvalidInput("minOrders must be from 1 to 1000000", "filter.minOrders")
    return SegmentFilter(rfm, risk, rank, before, after, consent, category, orders)


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


def _kept_orders() -> QuerySet[Order]:
    # Orders of members that were not fully refunded.
    return Order.filter(Q(member_id__isnull=False), Q(refunded_amount=0) | Q(refunded_amount__lt=F("total_amount")))


def members_query(f: SegmentFilter) -> QuerySet[Member]:
    """The segment's members as one query (not run here): count it, page it, or select ids."""
    qs = Member.filter(anonymized_at__isnull=True)
    if f.rfm_segments is not None:
        qs = qs.filter(insight__rfm_segment__in=list(f.rfm_segments))
    if f.min_churn_risk is not None:
        qs = qs.filter(insight__churn_risk__gte=f.min_churn_risk)
    if f.tier_rank_at_least is not None:
        qs = qs.filter(tier__rank__gte=f.tier_rank_at_least)
    if f.last_order_before is not None:
        since = _day_start(f.last_order_before)
        qs = qs.filter(id__in=Subquery(_kept_orders().filter(placed_at__lt=since).values("member_id")))
        qs = qs.exclude(id__in=Subquery(_kept_orders().filter(placed_at__gte=since).values("member_id")))
    if f.last_order_after is not None:
        since = _day_start(f.last_order_after)
        qs = qs.filter(id__in=Subquery(_kept_orders().filter(placed_at__gte=since).values("member_id")))
    if f.consent is not None:
        qs = qs.filter(id__in=Subquery(Consent.filter(purpose=f.consent, granted=True).values("member_id")))
    if f.bought_category is not None:
        lines = OrderLine.filter(category=f.bought_category, refunded_quantity__lt=F("quantity"))
        kept = _kept_orders().filter(id__in=Subquery(lines.values("order_id")))
        qs = qs.filter(id__in=Subquery(kept.values("member_id")))
    if f.min_orders is not None:
        counted = (_kept_orders().annotate(n=Count("id")).group_by("member_id").filter(n__gte=f.min_orders)
                   .values("member_id"))
        qs = qs.filter(id__in=Subquery(counted))
    return qs
