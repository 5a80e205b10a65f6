"""Domain-level helpers shared by tests: set up a program, members and orders quickly."""

from __future__ import annotations

from datetime import datetime

from domain.ledger.models import LedgerEntry
from domain.ledger.queries import entries_sum
from domain.members.models import Member
from domain.members.service import upsert_member
from domain.orders.service import LineInput, record_order
from domain.rules.service import save_rule
from domain.tiers.service import save_tier


async def order_rule(**overrides) -> int:
    values = {"name": "1 point per 100", "type": "ORDER_PAID", "points_per_unit": 1, "currency_unit": 100}
    return (await save_rule(None, values | overrides)).id


async def member(external_id: str = "m1", **values) -> Member:
    return (await upsert_member(external_id, values))[0]


async def order(external_id: str, member_id: str = "m1", amount: int = 10_000, placed_at: datetime | None = None,
                currency: str = "USD", **line) -> int:
    from domain import clock

    lines = [LineInput(sku=line.get("sku", "sku-1"), quantity=line.get("quantity", 1), unit_price=amount,
                       category=line.get("category"))]
    result = await record_order(external_id, member_id, currency, "web", placed_at or clock.now(), lines)
    return result.points_awarded


async def tiers_bronze_silver_gold(window: str = "ROLLING_12_MONTHS") -> None:
    await save_tier(None, {"name": "Bronze", "rank": 0})
    await save_tier(None, {"name": "Silver", "rank": 1, "min_spend": 50_000, "currency": "USD",
                           "earn_multiplier": 1.5, "window": window, "perks": ["Free shipping"]})
    await save_tier(None, {"name": "Gold", "rank": 2, "min_spend": 100_000, "currency": "USD",
                           "earn_multiplier": 2, "window": window})


async def fresh(external_id: str = "m1") -> Member:
    return await Member.get(external_id=external_id)


async def assert_no_drift(external_id: str = "m1") -> Member:
    """The cached balance equals the sum of entries; lots never hold more than the balance."""
    m = await fresh(external_id)
    assert m.points_balance == await entries_sum(m.id)
    lots = await LedgerEntry.filter(member_id=m.id, remaining__gt=0).values_list("remaining", flat=True)
    assert sum(lots) == max(0, m.points_balance)
    return m
