"""A demo program: tiers, earning rules, and members whose orders are real market baskets
from ../shared/data/groceries/groceries.csv (the arules "Groceries" data)."""

from __future__ import annotations

import csv
import hashlib
from datetime import timedelta
from pathlib import Path

from domain import clock
from domain.members.models import Member
from domain.members.service import upsert_member
from domain.orders.service import LineInput, record_order
from domain.rules.models import EarningRule
from domain.rules.service import save_rule
from domain.settings import get_settings
from domain.tiers.models import Tier
from domain.tiers.service import save_tier

GROCERIES = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "groceries" / "groceries.csv"


def price_of(item: str) -> int:
    """A stable made-up price in cents (the data set has none)."""
    return 99 + int(hashlib.sha256(item.encode()).hexdigest()[:6], 16) % 900


async def seed_program() -> None:
    if not await Tier.exists():
        await save_tier(None, {"name": "Bronze", "rank": 0, "perks": ["Birthday bonus"]})
        await save_tier(None, {"name": "Silver", "rank": 1, "min_spend": 10_000, "currency": "USD",
                               "earn_multiplier": 1.25, "perks": ["Free shipping"]})
        await save_tier(None, {"name": "Gold", "rank": 2, "min_spend": 30_000, "currency": "USD",
                               "min_orders": 8, "earn_multiplier": 1.5, "perks": ["Free shipping", "Early access"]})
    if not await EarningRule.exists():
        await save_rule(None, {"name": "1 point per $1", "type": "ORDER_PAID", "points_per_unit": 1,
                               "currency_unit": 100, "currency": "USD"})
        await save_rule(None, {"name": "Welcome bonus", "type": "SIGNUP", "points": 100})
        await save_rule(None, {"name": "Birthday bonus", "type": "BIRTHDAY", "points": 200,
                               "cap_points": 200, "cap_period": "YEAR"})


async def seed(baskets: int | None = None, members: int = 200) -> str:
    await seed_program()
    if not GROCERIES.exists():
        return f"Program seeded (tiers, rules). Skipped demo orders: {GROCERIES} is absent."
    limit = baskets or get_settings().seed_baskets
    if await Member.filter(external_id__startswith="demo-").exists():
        return "Demo data already present; nothing to do."
    now = clock.now()
    with GROCERIES.open(newline="", encoding="utf-8") as fh:
        rows = [row for row in csv.reader(fh) if row][:limit]
    for i in range(members):
        await upsert_member(f"demo-{i:04d}", {"email": f"demo{i}@example.com", "name": f"Demo Member {i}",
                                             "signup_channel": "seed"})
    for n, items in enumerate(rows):
        member_id = f"demo-{n % members:04d}"
        counts: dict[str, int] = {}
        for item in items:
            counts[item.strip()] = counts.get(item.strip(), 0) + 1
        lines = [LineInput(sku=item.replace(" ", "-").replace("/", "-"), product_external_id=item,
                           category=item.split(" ")[-1], quantity=q, unit_price=price_of(item))
                 for item, q in counts.items()]
        placed = now - timedelta(days=90) + timedelta(minutes=n * 90 * 24 * 60 // max(len(rows), 1))
        await record_order(f"demo-order-{n:05d}", member_id, "USD", "web", placed, lines)
    return f"Seeded tiers, rules, {members} members and {len(rows)} orders from {GROCERIES.name}."
