"""programInsights: the program's KPIs over a period and a currency (README, "Program insights").

Each section is computed only when selected (its own few SQL aggregates, domain/insights).
PII-free: counts, sums and rates only, never a member."""

from __future__ import annotations

import datetime as dt
from enum import Enum

import strawberry

from domain.insights import service as insights
from schema.rewards import Reward
from schema.tiers import Tier


@strawberry.type(description="A sum of money in whole minor units. Float, because totals pass GraphQL's 32-bit Int.")
class MoneyTotal:
    amount: float = strawberry.field(description="Whole minor units of `currency` (e.g. cents, won).")
    currency: str = strawberry.field(description="The period's ISO 4217 code, e.g. KRW.")


@strawberry.type
class MemberInsights:
    total: int = strawberry.field(description="Members who joined before the end of the period.")
    active: int = strawberry.field(description="Members with an order in the period's currency in the period.")
    new_in_period: int = strawberry.field(description="Members who joined in the period.")


@strawberry.type
class OrderInsights:
    count: int = strawberry.field(description="Orders in the currency placed in the period, guests' included.")
    revenue: MoneyTotal = strawberry.field(description="Their totals less their refunds.")
    average_order_value: MoneyTotal | None = strawberry.field(description="revenue / count; null without orders.")
    repeat_purchase_rate: float | None = strawberry.field(
        description="Share of ordering members with 2+ orders in the period.")
    purchase_frequency: float | None = strawberry.field(description="Member orders per ordering member.")
    member_share_of_revenue: float | None = strawberry.field(description="Members' orders' share of revenue.")
    guest_orders: int = strawberry.field(description="Orders recorded without a member.")


@strawberry.type
class PointInsights:
    issued: int = strawberry.field(description="Points that became spendable (earn entries) in the period.")
    redeemed: int = strawberry.field(description="Points spent (redeem entries) in the period.")
    expired: int = strawberry.field(description="Points expired in the period.")
    outstanding: int = strawberry.field(description="Spendable points at the end of the period (balances above 0).")
    pending: int = strawberry.field(description="Points held for the return window at the end of the period.")
    liability: MoneyTotal = strawberry.field(description="(outstanding + pending) x PATRON_POINT_VALUE.")
    breakage_rate: float | None = strawberry.field(description="expired / issued.")
    earn_burn_ratio: float | None = strawberry.field(description="issued / redeemed.")


@strawberry.type
class RewardCount:
    reward: Reward = strawberry.field(description="The reward redeemed.")
    count: int = strawberry.field(description="Its redemptions in the period, less cancelled ones.")


@strawberry.type
class RedemptionInsights:
    count: int = strawberry.field(description="Redemptions made in the period, less cancelled ones.")
    rate: float | None = strawberry.field(description="Members who redeemed in the period / members (total).")
    median_days_to_first_redemption: float | None = strawberry.field(
        description="Median days from joining to a member's first redemption, for first redemptions in the period.")
    top_rewards: list[RewardCount] = strawberry.field(description="The 5 most redeemed rewards in the period.")


@strawberry.type
class TierInsights:
    tier: Tier = strawberry.field(description="The tier these figures are about.")
    members: int = strawberry.field(description="Members in the tier at the end of the period.")
    upgrades: int = strawberry.field(description="Moves up into this tier in the period.")
    downgrades: int = strawberry.field(description="Moves down out of this tier in the period.")


@strawberry.type
class ReviewInsights:
    published: int = strawberry.field(description="Reviews published in the period (and still published).")
    average_rating: float | None = strawberry.field(
        description="Mean rating (1–5) of the reviews published in the period; null without any.")
    with_media_share: float | None = strawberry.field(
        description="Share (0–1) of the reviews published in the period that carry photos or videos; null without any.")
    reply_median_hours: float | None = strawberry.field(
        description="Median hours from receiving a review to replying, for replies made in the period.")
    negative_replied_within_sla_share: float | None = strawberry.field(
        description="Negative reviews received in the period answered within PATRON_REVIEW_REPLY_SLA_HOURS.")
    request_conversion_rate: float | None = strawberry.field(
        description="Review requests sent in the period answered by a review of a product they asked about within "
                    "30 days / review requests sent; null without any.")


@strawberry.type
class SatisfactionInsights:
    responses: int = strawberry.field(description="Satisfaction survey answers given in the period.")
    nps: float | None = strawberry.field(
        description="Net Promoter Score, -100..100: % of answers scoring 9-10 minus % scoring 0-6; null without any.")
    csat_average: float | None = strawberry.field(description="Mean CSAT score (1-5) of those answers; null without any.")


@strawberry.type
class CartInsights:
    abandoned: int = strawberry.field(
        description="Members' add-to-carts in the period followed by neither an order nor another add-to-cart "
                    "within 48 hours (carts still inside those 48 hours are not counted yet).")
    recovered_by_reminder: int = strawberry.field(
        description="Of those, carts whose CART_REMINDER (sent after the add-to-cart, before the next one) was "
                    "followed by an order within 7 days.")


@strawberry.enum
class InsightMetric(Enum):
    REVENUE = "REVENUE"
    ORDERS = "ORDERS"
    NEW_MEMBERS = "NEW_MEMBERS"
    POINTS_ISSUED = "POINTS_ISSUED"


@strawberry.enum
class InsightInterval(Enum):
    DAY = "DAY"
    WEEK = "WEEK"
    MONTH = "MONTH"


@strawberry.type
class SeriesPoint:
    at: dt.date = strawberry.field(description="The bucket's first day (weeks start on Monday).")
    value: float = strawberry.field(description="Revenue in minor units, or a count.")


@strawberry.type(description="The program's KPIs from `from` to `to` (both days included, UTC) in one currency.")
class ProgramInsights:
    period: strawberry.Private[insights.Period]

    @strawberry.field(description="Member counts: total, active and new.")
    async def members(self) -> MemberInsights:
        k = await insights.members(self.period)
        return MemberInsights(total=k.total, active=k.active, new_in_period=k.new_in_period)

    @strawberry.field(description="Orders in the period's currency: count, revenue, value and repeat rates.")
    async def orders(self) -> OrderInsights:
        k = await insights.orders(self.period)
        cur = self.period.currency
        return OrderInsights(
            count=k.count, revenue=MoneyTotal(amount=k.revenue, currency=cur),
            average_order_value=None if k.average_order_value is None else MoneyTotal(
                amount=k.average_order_value, currency=cur),
            repeat_purchase_rate=k.repeat_purchase_rate, purchase_frequency=k.purchase_frequency,
            member_share_of_revenue=k.member_share_of_revenue, guest_orders=k.guest_orders)

    @strawberry.field(description="Points issued, redeemed, expired and outstanding, and their liability.")
    async def points(self) -> PointInsights:
        k = await insights.points(self.period)
        return PointInsights(
            issued=k.issued, redeemed=k.redeemed, expired=k.expired, outstanding=k.outstanding, pending=k.pending,
            liability=MoneyTotal(amount=k.liability, currency=self.period.currency),
            breakage_rate=k.breakage_rate, earn_burn_ratio=k.earn_burn_ratio)

    @strawberry.field(description="Reward redemptions: count, rate, time to first one and the top rewards.")
    async def redemptions(self) -> RedemptionInsights:
        k = await insights.redemptions(self.period)
        return RedemptionInsights(
            count=k.count, rate=k.rate, median_days_to_first_redemption=k.median_days_to_first_redemption,
            top_rewards=[RewardCount(reward=Reward.from_model(r), count=n) for r, n in k.top_rewards])

    @strawberry.field(description="One entry per tier, lowest rank first: members held and moves in and out.")
    async def tiers(self) -> list[TierInsights]:
        return [TierInsights(tier=Tier.from_model(k.tier), members=k.members, upgrades=k.upgrades,
                             downgrades=k.downgrades) for k in await insights.tiers(self.period)]

    @strawberry.field(description="Reviews published, their ratings and how fast they were answered.")
    async def reviews(self) -> ReviewInsights:
        k = await insights.reviews(self.period)
        return ReviewInsights(
            published=k.published, average_rating=k.average_rating, with_media_share=k.with_media_share,
            reply_median_hours=k.reply_median_hours,
            negative_replied_within_sla_share=k.negative_replied_within_sla_share,
            request_conversion_rate=k.request_conversion_rate)

    @strawberry.field(description="Satisfaction survey answers in the period: count, NPS and mean CSAT.")
    async def satisfaction(self) -> SatisfactionInsights:
        k = await insights.satisfaction(self.period)
        return SatisfactionInsights(responses=k.responses, nps=k.nps, csat_average=k.csat_average)

    @strawberry.field(description="Abandoned carts in the period and those a cart reminder brought back.")
    async def carts(self) -> CartInsights:
        k = await insights.carts(self.period)
        return CartInsights(abandoned=k.abandoned, recovered_by_reminder=k.recovered_by_reminder)

    @strawberry.field(description="One point per day, week or month the period touches, zeros included.")
    async def series(self, metric: InsightMetric, interval: InsightInterval) -> list[SeriesPoint]:
        return [SeriesPoint(at=at, value=v) for at, v in await insights.series(self.period, metric.value, interval.value)]


# -- member insights (README, "Member insights") ------------------------------------------

@strawberry.enum(description="The RFM segment of a member, from their recency and frequency scores (README table).")
class RfmSegment(Enum):
    CHAMPIONS = "CHAMPIONS"
    LOYAL = "LOYAL"
    POTENTIAL_LOYALIST = "POTENTIAL_LOYALIST"
    NEW = "NEW"
    PROMISING = "PROMISING"
    NEED_ATTENTION = "NEED_ATTENTION"
    ABOUT_TO_SLEEP = "ABOUT_TO_SLEEP"
    AT_RISK = "AT_RISK"
    CANT_LOSE = "CANT_LOSE"
    HIBERNATING = "HIBERNATING"
    LOST = "LOST"


@strawberry.type(description="A member's figures as the nightly member_insights job last computed them from "
                             "their orders in PATRON_INSIGHTS_CURRENCY.")
class MemberInsight:
    recency_days: int = strawberry.field(description="Whole days since the member's last order.")
    frequency: int = strawberry.field(description="Orders not fully refunded.")
    monetary: MoneyTotal = strawberry.field(description="Average order value (totals less refunds), minor units.")
    r_score: int = strawberry.field(description="Recency quintile 1..5 among ordering members (5: most recent).")
    f_score: int = strawberry.field(description="Frequency quintile 1..5 (5: most orders).")
    m_score: int = strawberry.field(description="Monetary quintile 1..5 (5: highest average order).")
    rfm_segment: RfmSegment = strawberry.field(description="The segment of (rScore, fScore).")
    churn_risk: float | None = strawberry.field(
        description="1 - P(still active) from the MBG/NBD model, 0..1; null when too few members to fit it.")
    expected_purchases90d: float | None = strawberry.field(
        name="expectedPurchases90d", description="Orders the model expects in the next 90 days; null as churnRisk.")
    clv12m: MoneyTotal | None = strawberry.field(
        name="clv12m", description="Expected orders in 365 days x Gamma-Gamma expected average order "
                                   "(undiscounted); null when either model could not be fitted.")
    explanation: str = strawberry.field(description="The figures in words, e.g. no order for 140 days; "
                                                    "you used to order every 35 days; 3 orders, average 42,000 KRW.")
    computed_at: dt.datetime = strawberry.field(description="When the job computed these figures (UTC).")

    @classmethod
    def from_model(cls, row: object) -> MemberInsight:
        currency = row.currency  # type: ignore[attr-defined]
        clv_value = row.clv_12m  # type: ignore[attr-defined]
        return cls(
            recency_days=row.recency_days, frequency=row.frequency,  # type: ignore[attr-defined]
            monetary=MoneyTotal(amount=float(row.monetary), currency=currency),  # type: ignore[attr-defined]
            r_score=row.r_score, f_score=row.f_score, m_score=row.m_score,  # type: ignore[attr-defined]
            rfm_segment=RfmSegment(row.rfm_segment), churn_risk=row.churn_risk,  # type: ignore[attr-defined]
            expected_purchases90d=row.expected_purchases_90d,  # type: ignore[attr-defined]
            clv12m=MoneyTotal(amount=float(clv_value), currency=currency) if clv_value is not None else None,
            explanation=row.explanation, computed_at=row.computed_at)  # type: ignore[attr-defined]


@strawberry.type(description="How many members one RFM segment holds.")
class RfmSegmentCount:
    segment: RfmSegment = strawberry.field(description="The segment.")
    members: int = strawberry.field(description="Members in it at the last member_insights run.")
    share: float | None = strawberry.field(
        description="members / members with insights, 4 decimals; null when no member has insights.")
