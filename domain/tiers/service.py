"""VIP tiers: qualification over a window, immediate upgrades, reviewed downgrades."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from tortoise.expressions import F
from tortoise.functions import Sum

from domain import changes, clock
from domain.errors import Conflict, InvalidInput, NotFound
from domain.events.service import record_event
from domain.ledger.models import Award
from domain.members.models import Member
from domain.orders.models import Order
from domain.tiers.models import Tier, TierChange

WINDOWS = ("ROLLING_12_MONTHS", "CALENDAR_YEAR", "LIFETIME")


@dataclass
class Stats:
    spend: int  # net of refunds, in the tier's currency
    points: int  # points earned (awards net of reversals), never the balance
    orders: int  # orders not fully refunded


def window_start(window: str, now: datetime) -> datetime | None:
    if window == "ROLLING_12_MONTHS":
        return now - timedelta(days=365)
    if window == "CALENDAR_YEAR":
        # What was earned last year keeps the tier through this year.
        return now.replace(year=now.year - 1, month=1, day=1, hour=0, minute=0, second=0, microsecond=0)
    return None


async def member_stats(
    member_id: int, window: str, currency: str | None, now: datetime, with_points: bool = True
) -> Stats:
    """Aggregates in SQL (indexed on member and placed_at); points only when asked for."""
    start = window_start(window, now)
    orders = Order.filter(member_id=member_id)
    if start is not None:
        orders = orders.filter(placed_at__gte=start)
    spend = 0
    if currency:
        row = await orders.filter(currency=currency).annotate(t=Sum("total_amount"), r=Sum("refunded_amount")).first().values("t", "r")
        spend = int(row["t"] or 0) - int(row["r"] or 0)
    count = await orders.filter(refunded_amount__lt=F("total_amount")).count()
    points = 0
    if with_points:
        awards = Award.filter(member_id=member_id)
        if start is not None:
            awards = awards.filter(created_at__gte=start)
        row = await awards.annotate(a=Sum("amount"), r=Sum("reversed")).first().values("a", "r")
        points = int(row["a"] or 0) - int(row["r"] or 0)
    return Stats(spend=spend, points=points, orders=count)


def qualifies(tier: Tier, stats: Stats) -> bool:
    checks = []
    if tier.min_spend is not None:
        checks.append(stats.spend >= tier.min_spend)
    if tier.min_points is not None:
        checks.append(stats.points >= tier.min_points)
    if tier.min_orders is not None:
        checks.append(stats.orders >= tier.min_orders)
    if not checks:
        return True  # an entry tier with no thresholds
    return all(checks) if tier.require_all else any(checks)


class StatsCache:
    """Stats per (window, currency) for one member during one evaluation."""

    def __init__(self, member_id: int, now: datetime) -> None:
        self.member_id, self.now, self._cache = member_id, now, {}

    async def get(self, tier: Tier) -> Stats:
        with_points = tier.min_points is not None
        key = (tier.window, tier.currency, with_points)
        if key not in self._cache:
            self._cache[key] = await member_stats(self.member_id, tier.window, tier.currency, self.now, with_points)
        return self._cache[key]


async def _load_tiers() -> list[Tier]:
    return await Tier.all().order_by("rank")


async def all_tiers() -> list[Tier]:
    return await changes.memo("tiers", _load_tiers)


async def granted_tier(member: Member, tiers: list[Tier]) -> Tier | None:
    """The highest tier a paid membership in force grants this member."""
    from domain.subscriptions.models import Subscription

    ids = set(await Subscription.filter(member_id=member.id, grant_active=True).values_list("plan__grants_tier_id", flat=True))
    granted = [t for t in tiers if t.id in ids]
    return max(granted, key=lambda t: t.rank) if granted else None


async def qualifying_tier(member: Member, tiers: list[Tier], stats: StatsCache, with_grants: bool = True) -> Tier | None:
    earned = None
    for tier in sorted(tiers, key=lambda t: -t.rank):
        if qualifies(tier, await stats.get(tier)):
            earned = tier
            break
    granted = await granted_tier(member, tiers) if with_grants else None
    if granted and (earned is None or granted.rank > earned.rank):
        return granted
    return earned


def _reason(tier: Tier, stats: Stats) -> str:
    parts = []
    if tier.min_spend is not None:
        parts.append(f"spend {stats.spend} of {tier.min_spend} {tier.currency}")
    if tier.min_points is not None:
        parts.append(f"points earned {stats.points} of {tier.min_points}")
    if tier.min_orders is not None:
        parts.append(f"orders {stats.orders} of {tier.min_orders}")
    return ", ".join(parts) or "entry tier"


async def _change(member: Member, new: Tier | None, old: Tier | None, reason: str) -> None:
    now = clock.now()
    member.tier_id = new.id if new else None
    member.tier_achieved_at = now
    member.downgrade_pending_since = None
    await member.save(update_fields=["tier_id", "tier_achieved_at", "downgrade_pending_since"])
    await TierChange.create(
        member_id=member.id, from_tier_id=old.id if old else None,
        to_tier_id=new.id if new else None, reason=reason, created_at=now,
    )
    payload = {
        "memberExternalId": member.external_id,
        "from": old.name if old else None,
        "to": new.name if new else None,
        "reason": reason,
    }
    await record_event("member.tier_changed", payload, member.id)


async def evaluate_upgrade(member: Member, cause: str) -> Tier | None:
    """After a qualifying event: move up at once; never down (that waits for a review)."""
    tiers = await all_tiers()
    if not tiers:
        return None
    current = next((t for t in tiers if t.id == member.tier_id), None)
    stats = StatsCache(member.id, clock.now())
    best = await qualifying_tier(member, tiers, stats)
    if best and (current is None or best.rank > current.rank):
        verb = "Joined" if current is None else "Upgrade"
        await _change(member, best, current, f"{verb} after {cause}: {_reason(best, await stats.get(best))}")
        return best
    if member.downgrade_pending_since and best and current and best.rank >= current.rank:
        member.downgrade_pending_since = None
        await member.save(update_fields=["downgrade_pending_since"])
    return current


async def review_member(member: Member, tiers: list[Tier], grace_days: int) -> None:
    """Periodic review: a member below their tier keeps it for the grace period, then drops."""
    now = clock.now()
    current = next((t for t in tiers if t.id == member.tier_id), None)
    stats = StatsCache(member.id, now)
    best = await qualifying_tier(member, tiers, stats)
    best_rank = best.rank if best else -(10**9)
    if current is None or best_rank >= current.rank:
        if best and (current is None or best.rank > current.rank):
            await _change(member, best, current, f"Upgrade at review: {_reason(best, await stats.get(best))}")
        elif member.downgrade_pending_since:
            member.downgrade_pending_since = None
            await member.save(update_fields=["downgrade_pending_since"])
        return
    if member.downgrade_pending_since is None:
        member.downgrade_pending_since = now
        await member.save(update_fields=["downgrade_pending_since"])
        return
    if now >= member.downgrade_pending_since + timedelta(days=grace_days):
        reason = (
            f"Downgrade at review after {grace_days} days' grace: "
            f"{_reason(current, await stats.get(current))} no longer met"
        )
        await _change(member, best, current, reason)


async def drop_to_qualified(member: Member, reason: str) -> None:
    """A grant ended: fall back at once to what the member qualifies for (no grace: the
    paid period was the grace)."""
    tiers = await all_tiers()
    current = next((t for t in tiers if t.id == member.tier_id), None)
    best = await qualifying_tier(member, tiers, StatsCache(member.id, clock.now()))
    if current is not None and (best is None or best.rank < current.rank):
        await _change(member, best, current, reason)


def next_tier(current: Tier | None, tiers: list[Tier]) -> Tier | None:
    rank = current.rank if current else -(10**9)
    higher = [t for t in tiers if t.rank > rank]
    return min(higher, key=lambda t: t.rank) if higher else None


# --- admin management -------------------------------------------------------------------

TIER_FIELDS = (
    "name", "rank", "min_spend", "currency", "min_points", "min_orders", "require_all",
    "window", "earn_multiplier", "perks",
)


def _validate_tier(values: dict[str, Any]) -> None:
    if not (values.get("name") or "").strip():
        raise InvalidInput("A name is required", "name")
    if values.get("window") not in WINDOWS:
        raise InvalidInput(f"window must be one of {', '.join(WINDOWS)}", "window")
    for name in ("min_spend", "min_points", "min_orders"):
        if values.get(name) is not None and values[name] < 0:
            raise InvalidInput(f"{name} must not be negative", name)
    if values.get("min_spend") is not None and not values.get("currency"):
        raise InvalidInput("A currency is required with minSpend", "currency")
    if Decimal(str(values.get("earn_multiplier", 1))) <= 0:
        raise InvalidInput("earnMultiplier must be positive", "earnMultiplier")


async def save_tier(tier_id: int | None, values: dict[str, Any]) -> Tier:
    if tier_id is None:
        merged = {"window": "ROLLING_12_MONTHS", "earn_multiplier": Decimal(1), "perks": [], **values}
        _validate_tier(merged)
        tier = Tier(**merged, created_at=clock.now())
    else:
        tier = await Tier.get_or_none(id=tier_id)
        if tier is None:
            raise NotFound("No such tier", "id", code="TIER_NOT_FOUND")
        _validate_tier({name: getattr(tier, name) for name in TIER_FIELDS} | values)
        tier.update_from_dict(values)
    clash = Tier.filter(rank=tier.rank) if tier.id is None else Tier.filter(rank=tier.rank).exclude(id=tier.id)
    if await clash.exists():
        raise Conflict(f"Another tier already has rank {tier.rank}", "rank")
    name_clash = Tier.filter(name=tier.name)
    if tier.id is not None:
        name_clash = name_clash.exclude(id=tier.id)
    if await name_clash.exists():
        raise Conflict(f"Another tier is already named {tier.name!r}", "name")
    await tier.save()
    await changes.bump()
    await changes.bump_program()
    return tier


async def tier_history(member_id: int) -> list[TierChange]:
    return await TierChange.filter(member_id=member_id).order_by("-id").prefetch_related("from_tier", "to_tier")

