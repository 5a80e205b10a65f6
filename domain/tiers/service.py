"""VIP tiers: qualification over a window, immediate upgrades, reviewed downgrades."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from tortoise.expressions import F, Q
from tortoise.functions import Count, Sum

from domain import changes, clock
from domain.db import insert_rows, is_sqlite, write_transaction
from domain.errors import Conflict, InvalidInput, NotFound
from domain.events.service import record_event, record_events
from domain.ledger.models import Award
from domain.members.models import Member
from domain.orders.models import Order
from domain.subscriptions.models import Subscription
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


async def order_figures(member_id: int, window: str, currency: str | None, now: datetime) -> tuple[int, int]:
    """(spend net of refunds in `currency`, orders not fully refunded) in one statement
    (indexed on member and placed_at); spend is 0 without a currency."""
    start = window_start(window, now)
    orders = Order.filter(member_id=member_id)
    if start is not None:
        orders = orders.filter(placed_at__gte=start)
    live = Q(refunded_amount__lt=F("total_amount"))
    if not currency:
        return 0, await orders.filter(live).count()
    in_currency = Q(currency=currency)
    row = await orders.annotate(t=Sum("total_amount", _filter=in_currency), r=Sum("refunded_amount", _filter=in_currency),
                                n=Count("id", _filter=live)).first().values("t", "r", "n")
    return int(row["t"] or 0) - int(row["r"] or 0), int(row["n"] or 0)


async def earned_points(member_id: int, window: str, now: datetime) -> int:
    start = window_start(window, now)
    awards = Award.filter(member_id=member_id)
    if start is not None:
        awards = awards.filter(created_at__gte=start)
    row = await awards.annotate(a=Sum("amount"), r=Sum("reversed")).first().values("a", "r")
    return int(row["a"] or 0) - int(row["r"] or 0)


async def member_stats(
    member_id: int, window: str, currency: str | None, now: datetime, with_points: bool = True
) -> Stats:
    """Aggregates in SQL (indexed on member and placed_at); points only when asked for."""
    spend, count = await order_figures(member_id, window, currency, now)
    points = await earned_points(member_id, window, now) if with_points else 0
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
    """Stats per (window, currency) for one member during one evaluation: the order figures
    once per window and currency (a tier without a currency reuses the order count of any
    currency of its window), the points once per window."""

    def __init__(self, member_id: int, now: datetime) -> None:
        self.member_id, self.now = member_id, now
        self._orders: dict[tuple[str, str | None], tuple[int, int]] = {}
        self._points: dict[str, int] = {}

    async def get(self, tier: Tier) -> Stats:
        key = (tier.window, tier.currency)
        figures = self._orders.get(key)
        if figures is None and not tier.currency:
            count = next((n for (window, _), (_, n) in self._orders.items() if window == tier.window), None)
            figures = (0, count) if count is not None else None
        if figures is None:
            figures = self._orders[key] = await order_figures(self.member_id, tier.window, tier.currency, self.now)
        points = 0
        if tier.min_points is not None:
            if tier.window not in self._points:
                self._points[tier.window] = await earned_points(self.member_id, tier.window, self.now)
            points = self._points[tier.window]
        return Stats(spend=figures[0], points=points, orders=figures[1])


async def _load_tiers() -> list[Tier]:
    return await Tier.all().order_by("rank")


async def all_tiers() -> list[Tier]:
    return await changes.memo("tiers", _load_tiers)


async def granted_tier(member: Member, tiers: list[Tier]) -> tuple[Tier, str] | None:
    """The highest tier a paid membership in force grants this member, with the plan's name."""
    rows = await Subscription.filter(member_id=member.id, grant_active=True).order_by("id").values_list(
        "plan__grants_tier_id", "plan__name")
    by_tier = {t.id: t for t in tiers}
    granted = [(by_tier[tier_id], name) for tier_id, name in rows if tier_id in by_tier]
    return max(granted, key=lambda g: g[0].rank) if granted else None


async def qualification(
    member: Member, tiers: list[Tier], stats: StatsCache, with_grants: bool = True
) -> tuple[Tier | None, str | None]:
    """The tier the member is entitled to and why, naming what actually qualified: a paid
    membership, or the thresholds met (never one that was not)."""
    earned = None
    for tier in sorted(tiers, key=lambda t: -t.rank):
        if qualifies(tier, await stats.get(tier)):
            earned = tier
            break
    granted = await granted_tier(member, tiers) if with_grants else None
    if granted and (earned is None or granted[0].rank > earned.rank):
        return granted[0], f"paid membership {granted[1]}"
    if earned is None:
        return None, None
    return earned, _reason(earned, await stats.get(earned), met_only=True)


async def qualifying_tier(member: Member, tiers: list[Tier], stats: StatsCache, with_grants: bool = True) -> Tier | None:
    return (await qualification(member, tiers, stats, with_grants))[0]


def _reason(tier: Tier, stats: Stats, met_only: bool = False) -> str:
    """The thresholds with the member's figures; `met_only` keeps those that are met (why a
    member qualified), otherwise all of them (why a member no longer does)."""
    parts = []
    if tier.min_spend is not None and (not met_only or stats.spend >= tier.min_spend):
        parts.append(f"spend {stats.spend} of {tier.min_spend} {tier.currency}")
    if tier.min_points is not None and (not met_only or stats.points >= tier.min_points):
        parts.append(f"points earned {stats.points} of {tier.min_points}")
    if tier.min_orders is not None and (not met_only or stats.orders >= tier.min_orders):
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
    best, why = await qualification(member, tiers, stats)
    if best and (current is None or best.rank > current.rank):
        verb = "Joined" if current is None else "Upgrade"
        await _change(member, best, current, f"{verb} after {cause}: {why}")
        return best
    if member.downgrade_pending_since and best and current and best.rank >= current.rank:
        member.downgrade_pending_since = None
        await member.save(update_fields=["downgrade_pending_since"])
    return current


async def chunk_stats(member_ids: list[int], tier: Tier, now: datetime) -> dict[int, Stats]:
    """member_stats for many members at once, with the same filters: one grouped query over
    the orders of the chunk's id range (spend in the currency and orders not fully refunded,
    each an aggregate with a filter; an index range scan on orders (member_id, placed_at) rather than
    a list of ids) and, when a threshold asks for points, one over its awards."""
    stats = {m: Stats(spend=0, points=0, orders=0) for m in member_ids}
    if not member_ids:
        return stats
    start = window_start(tier.window, now)
    span = {"member_id__gte": min(member_ids), "member_id__lte": max(member_ids)}
    orders, awards = Order.filter(**span), Award.filter(**span)
    if start is not None:
        orders, awards = orders.filter(placed_at__gte=start), awards.filter(created_at__gte=start)
    in_currency = Q(currency=tier.currency or "")  # no currency: no spend (min_spend needs one)
    figures = orders.annotate(t=Sum("total_amount", _filter=in_currency), r=Sum("refunded_amount", _filter=in_currency),
                              n=Count("id", _filter=Q(refunded_amount__lt=F("total_amount"))))
    for row in await figures.group_by("member_id").values("member_id", "t", "r", "n"):
        if row["member_id"] in stats:  # the range also holds members without a tier
            figure = stats[row["member_id"]]
            figure.spend, figure.orders = int(row["t"] or 0) - int(row["r"] or 0), int(row["n"] or 0)
    if tier.min_points is not None:
        for row in await awards.annotate(a=Sum("amount"), r=Sum("reversed")).group_by("member_id").values("member_id", "a", "r"):
            if row["member_id"] in stats:
                stats[row["member_id"]].points = int(row["a"] or 0) - int(row["r"] or 0)
    return stats


@dataclass
class Evaluation:
    """What the thresholds and paid grants give one member (review_chunk)."""
    best: Tier | None
    why: str | None
    stats: dict[tuple[str, str | None, bool], Stats]


def _has_thresholds(tier: Tier) -> bool:
    return tier.min_spend is not None or tier.min_points is not None or tier.min_orders is not None


def _key(tier: Tier) -> tuple[str, str | None, bool]:
    return (tier.window, tier.currency, tier.min_points is not None)


async def evaluate_chunk(ids: list[int], tiers: list[Tier], now: datetime) -> dict[int, Evaluation]:
    """qualification() for many members at once: the figures come from grouped SQL queries
    over the whole chunk (chunk_stats, one set per distinct window/currency), the paid
    grants from one query; the same answer and reason as qualification() per member."""
    cached: dict[tuple[str, str | None, bool], dict[int, Stats]] = {}
    for tier in tiers:  # an entry tier (no thresholds) needs no figures
        if _key(tier) not in cached and _has_thresholds(tier):
            cached[_key(tier)] = await chunk_stats(ids, tier, now)
    by_id = {t.id: t for t in tiers}
    granted: dict[int, tuple[Tier, str]] = {}
    for member_id, tier_id, plan in await Subscription.filter(member_id__in=ids, grant_active=True).order_by(
            "id").values_list("member_id", "plan__grants_tier_id", "plan__name"):
        if tier_id in by_id and (member_id not in granted or by_id[tier_id].rank > granted[member_id][0].rank):
            granted[member_id] = (by_id[tier_id], plan)
    result = {}
    for member_id in ids:
        stats = defaultdict(lambda: Stats(spend=0, points=0, orders=0),
                            {key: figures[member_id] for key, figures in cached.items()})
        earned = next((t for t in sorted(tiers, key=lambda t: -t.rank) if qualifies(t, stats[_key(t)])), None)
        grant = granted.get(member_id)
        if grant and (earned is None or grant[0].rank > earned.rank):
            result[member_id] = Evaluation(grant[0], f"paid membership {grant[1]}", stats)
        elif earned is None:
            result[member_id] = Evaluation(None, None, stats)
        else:
            result[member_id] = Evaluation(earned, _reason(earned, stats[_key(earned)], met_only=True), stats)
    return result


@dataclass
class ReviewStep:
    """What the review does to one member: "change" (to `tier`, with `reason`), "start_grace"
    or "clear_grace"."""
    action: str
    tier: Tier | None = None
    reason: str = ""


def review_step(current: Tier | None, pending: datetime | None, evaluation: Evaluation, grace_days: int,
                now: datetime) -> ReviewStep | None:
    """The periodic review's rule: a member below their tier keeps it for the
    grace period, then drops; moving up is at once; requalifying clears a pending grace."""
    best = evaluation.best
    best_rank = best.rank if best else -(10**9)
    if current is None or best_rank >= current.rank:
        if best and (current is None or best.rank > current.rank):
            return ReviewStep("change", best, f"Upgrade at review: {evaluation.why}")
        return ReviewStep("clear_grace") if pending is not None else None
    if pending is None:
        return ReviewStep("start_grace")
    if now >= pending + timedelta(days=grace_days):
        reason = (f"Downgrade at review after {grace_days} days' grace: "
                  f"{_reason(current, evaluation.stats[_key(current)])} no longer met")
        return ReviewStep("change", best, reason)
    return None


async def lock_members(ids: list[int]) -> list[dict[str, Any]]:
    """Lock these members for the caller's transaction and read their tier state; on
    PostgreSQL members another transaction holds are skipped (the next review finds them
    still due), so a review never waits behind a request."""
    if not ids:
        return []
    qs = Member.filter(id__in=ids, tier_id__isnull=False).order_by("id")
    if not is_sqlite():  # SQLite: writers are serialised already
        qs = qs.select_for_update(skip_locked=True)
    return [{"id": m.id, "external_id": m.external_id, "tier_id": m.tier_id,
             "downgrade_pending_since": m.downgrade_pending_since} for m in await qs]


async def review_chunk(members: list[dict[str, Any]], tiers: list[Tier], grace_days: int, now: datetime) -> int:
    """Review a keyset chunk of members (id, tier_id, downgrade_pending_since) with set-based
    SQL: the figures of the whole chunk in grouped queries, then, only if some member is due,
    one transaction that locks just those members, re-evaluates them under the lock and
    writes in bulk: one UPDATE per new tier, per grace start and per grace clear, the
    tier changes in one INSERT, and a member.tier_changed event each through the bus's
    bulk path (record_events). Returns the members changed (tier or grace)."""
    by_id = {t.id: t for t in tiers}
    evaluation = await evaluate_chunk([m["id"] for m in members], tiers, now)
    due = [m["id"] for m in members
           if review_step(by_id.get(m["tier_id"]), m["downgrade_pending_since"], evaluation[m["id"]], grace_days, now)]
    if not due:
        return 0
    async with write_transaction():
        locked = await lock_members(due)
        fresh = await evaluate_chunk([m["id"] for m in locked], tiers, now)  # under the lock
        steps = {m["id"]: review_step(by_id.get(m["tier_id"]), m["downgrade_pending_since"], fresh[m["id"]],
                                      grace_days, now) for m in locked}
        for action, value in (("start_grace", now), ("clear_grace", None)):
            ids = [i for i, step in steps.items() if step and step.action == action]
            if ids:
                await Member.filter(id__in=ids).update(downgrade_pending_since=value)
        changed = [m for m in locked if steps[m["id"]] and steps[m["id"]].action == "change"]
        for tier_id in {steps[m["id"]].tier.id if steps[m["id"]].tier else None for m in changed}:
            ids = [m["id"] for m in changed if (steps[m["id"]].tier.id if steps[m["id"]].tier else None) == tier_id]
            await Member.filter(id__in=ids).update(tier_id=tier_id, tier_achieved_at=now, downgrade_pending_since=None)
        await insert_rows(TierChange, [
            {"member_id": m["id"], "from_tier_id": m["tier_id"], "reason": steps[m["id"]].reason, "created_at": now,
             "to_tier_id": steps[m["id"]].tier.id if steps[m["id"]].tier else None} for m in changed])
        # One event per change, in bulk: a wave of thousands costs a few INSERTs, not a round
        # trip (and a fan-out) per member.
        def payload(m: dict[str, Any]) -> dict[str, Any]:
            old, new = by_id.get(m["tier_id"]), steps[m["id"]].tier
            return {"memberExternalId": m["external_id"], "from": old.name if old else None,
                    "to": new.name if new else None, "reason": steps[m["id"]].reason}

        await record_events("member.tier_changed", [(payload(m), m["id"]) for m in changed])
        return sum(1 for step in steps.values() if step)


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


MAX_MULTIPLIER = Decimal(100)


def _validate_tier(values: dict[str, Any]) -> None:
    name = values.get("name") or ""
    if not name.strip() or len(name) > 100:
        raise InvalidInput("A name of 1 to 100 characters is required", "name")
    currency = values.get("currency")
    if currency is not None and (len(currency) != 3 or not currency.isascii() or not currency.isalpha()):
        raise InvalidInput("currency must be an ISO 4217 code such as USD", "currency")
    perks = values.get("perks") or []
    if len(perks) > 50 or any(not p.strip() or len(p) > 200 or "\x00" in p for p in perks):
        raise InvalidInput("perks: at most 50, each 1 to 200 characters", "perks")
    if values.get("window") not in WINDOWS:
        raise InvalidInput(f"window must be one of {', '.join(WINDOWS)}", "window")
    for name in ("min_spend", "min_points", "min_orders"):
        if values.get(name) is not None and values[name] < 0:
            raise InvalidInput(f"{name} must not be negative", name)
    if values.get("min_spend") is not None and not values.get("currency"):
        raise InvalidInput("A currency is required with minSpend", "currency")
    try:
        multiplier = Decimal(str(values.get("earn_multiplier", 1)))
        in_range = multiplier.is_finite() and 0 < multiplier <= MAX_MULTIPLIER
    except ArithmeticError:  # NaN compares as an error
        in_range = False
    if not in_range:
        raise InvalidInput(f"earnMultiplier must be above 0 and at most {MAX_MULTIPLIER}", "earnMultiplier")
    if multiplier != multiplier.quantize(Decimal("0.001"), rounding="ROUND_FLOOR"):
        raise InvalidInput("earnMultiplier has at most 3 decimal places", "earnMultiplier")


async def save_tier(tier_id: int | None, values: dict[str, Any]) -> Tier:
    if tier_id is None:
        for required in ("name", "rank"):  # a business rule of the program, like the checks below
            if values.get(required) is None:
                raise InvalidInput(f"{required} is required to create a tier", required)
        merged = {"window": "ROLLING_12_MONTHS", "earn_multiplier": Decimal(1), "perks": [], **values}
        _validate_tier(merged)
        tier = Tier(**merged, created_at=clock.now())
    else:
        tier = await Tier.get_or_none(id=tier_id)
        if tier is None:
            raise NotFound("No such tier", "id", code="TIER_NOT_FOUND")
        _validate_tier({name: getattr(tier, name) for name in TIER_FIELDS} | values)
        tier.update_from_dict(values)
    async with write_transaction():  # the checks and the write together: no other writer in between
        clash = Tier.filter(rank=tier.rank) if tier.id is None else Tier.filter(rank=tier.rank).exclude(id=tier.id)
        if await clash.exists():
            raise Conflict(f"Another tier already has rank {tier.rank}", "rank")
        name_clash = Tier.filter(name=tier.name)
        if tier.id is not None:
            name_clash = name_clash.exclude(id=tier.id)
        if await name_clash.exists():
            raise Conflict(f"Another tier is already named {tier.name!r}", "name")
        await tier.save()
    await changes.bump_program()
    return tier


async def tier_history(member_id: int) -> list[TierChange]:
    return await TierChange.filter(member_id=member_id).order_by("-id").prefetch_related("from_tier", "to_tier")

