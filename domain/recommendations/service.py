"""Serving recommendations: strategies, blending, filters, explanations, consent.

Without PERSONALIZATION consent only non-personal strategies run (trending, and
item-to-item on the product being viewed) and nothing about the member is read.
"""

from __future__ import annotations

import statistics
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
from tortoise.expressions import F

from domain import clock
from domain.catalog.models import Product
from domain.db import serialized_writes
from domain.errors import InvalidInput
from domain.members.models import Consent, Member
from domain.members.service import get_member
from domain.orders.models import Order, OrderLine
from domain.recommendations import algorithms as algo
from domain.recommendations import training
from domain.recommendations.models import Signal
from domain.reviews.models import Review
from domain.settings import get_settings

CONTEXTS = ("HOME", "PRODUCT", "CART", "EMAIL")
# REMOVE_FROM_CART takes a product out of the cart (cart reminders, domain/messaging/occasions.py);
# it is no interest in the product, so recommendations do not read it.
EVENT_TYPES = ("VIEW", "ADD_TO_CART", "REMOVE_FROM_CART", "PURCHASE", "REVIEW")
HISTORY = 50
SCORE_DECIMALS = 4  # a scored strategy's item whose score rounds to 0 contributed nothing: not shown


@dataclass
class Item:
    product: Product
    score: float
    strategy: str
    reason: str


async def personalization_allowed(member: Member | None) -> bool:
    if member is None or member.anonymized_at:
        return False
    return await Consent.exists(member_id=member.id, purpose="PERSONALIZATION", granted=True)


async def purchased_products(member: Member) -> set[str]:
    """Every product the member bought, whatever the path: an order line not fully refunded or
    a PURCHASE signal, all of them (DISTINCT in SQL: only product ids come back)."""
    ordered = await OrderLine.filter(order__member_id=member.id, product_external_id__isnull=False,
                                     refunded_quantity__lt=F("quantity")).distinct().values_list("product_external_id", flat=True)
    signalled = await Signal.filter(member_id=member.id, type="PURCHASE").distinct().values_list("product_external_id", flat=True)
    return set(ordered) | set(signalled)


async def _member_history(member: Member) -> tuple[list[tuple[float, str]], set[str], set[str], dict[str, list[datetime]], set[str]]:
    """Recent positive interactions (oldest first), purchased (all of them), disliked, recent
    purchase dates (for replenishment), all seen."""
    seen: dict[str, float] = {}
    purchases: dict[str, list[datetime]] = {}
    lines = await OrderLine.filter(order__member_id=member.id, product_external_id__isnull=False).order_by(
        "-order__placed_at").limit(500).values("product_external_id", "order__placed_at", "quantity", "refunded_quantity")
    for line in lines:
        if line["refunded_quantity"] >= line["quantity"]:
            continue
        pid, at = line["product_external_id"], line["order__placed_at"]
        purchases.setdefault(pid, []).append(at)
        seen[pid] = max(seen.get(pid, 0.0), at.timestamp())
    for row in await (Signal.filter(member_id=member.id).exclude(type="REMOVE_FROM_CART").order_by("-at")
                      .limit(HISTORY * 2).values("product_external_id", "at")):
        seen[row["product_external_id"]] = max(seen.get(row["product_external_id"], 0.0), row["at"].timestamp())
    disliked = set()
    for row in await Review.filter(member_id=member.id).exclude(status="deleted").values("product__external_id", "rating", "created_at"):
        if row["rating"] <= 2:
            disliked.add(row["product__external_id"])
        elif row["rating"] >= 4:
            seen[row["product__external_id"]] = max(seen.get(row["product__external_id"], 0.0), row["created_at"].timestamp())
    for pid in disliked:
        seen.pop(pid, None)
    ordered = sorted(((t, pid) for pid, t in seen.items()))[-HISTORY:]
    return ordered, await purchased_products(member), disliked, purchases, set(seen)


def replenishment(purchases: dict[str, list[datetime]], now: datetime) -> list[tuple[str, float, str]]:
    """Products bought at least twice whose usual interval has (nearly) passed since the last buy."""
    due = []
    for pid, dates in purchases.items():
        days = sorted({d.date() for d in dates})
        if len(days) < 2:
            continue
        gaps = [(b - a).days for a, b in zip(days, days[1:]) if (b - a).days > 0]
        if not gaps:
            continue
        cycle = statistics.median(gaps)
        since = (now.date() - days[-1]).days
        if since >= 0.85 * cycle:
            due.append((pid, min(1.0, since / cycle), f"You usually reorder every {round(cycle)} days; your last order was {since} days ago"))
    return sorted(due, key=lambda d: -d[1])


def _ranked(scores: np.ndarray, model: training.RecModel, banned: set[int], limit: int) -> list[tuple[str, float]]:
    idx = algo.top_n(scores, limit, np.fromiter(banned, dtype=np.int64) if banned else None)
    top = float(scores[idx[0]]) if idx.size else 1.0
    return [(model.items[i], float(scores[i]) / top) for i in idx]


def _weight(nbrs: algo.Neighbours, source: int, candidate: int) -> float:
    """The neighbour weight from source to candidate (0 when it is not a neighbour)."""
    hits = np.flatnonzero(nbrs.index[source] == candidate)
    return max(0.0, float(nbrs.weight[source][hits[0]])) if hits.size else 0.0


def _top_contributor(candidate: int, sources: list[tuple[str, int, float]],
                     parts: list[tuple[algo.Neighbours, float]]) -> str | None:
    """The source (pid, index, weight) that added most to the candidate's score, where a
    score is sum over parts of factor * sum over sources of weight * neighbour weight; None
    when no source added anything — then the strategy must not claim the item."""
    best, best_pid = 0.0, None
    for pid, idx, weight in sources:
        contribution = weight * sum(factor * _weight(nbrs, idx, candidate) for nbrs, factor in parts)
        if contribution > best:
            best, best_pid = contribution, pid
    return best_pid


def _blend_parts(model: training.RecModel, hist_idx: np.ndarray, recency: np.ndarray) -> list[tuple[algo.Neighbours, float]]:
    """algo.blend_scores as (neighbours, factor) parts: EASE and cosine, each divided by its top score."""
    n = len(model.items)
    top_ease = float(algo.score(hist_idx, recency, model.ease, n).max(initial=0.0)) or 1.0
    top_cos = float(algo.score(hist_idx, recency, model.cosine, n).max(initial=0.0)) or 1.0
    return [(model.ease, 1 / top_ease), (model.cosine, algo.COSINE_WEIGHT / top_cos)]


def _because(model: training.RecModel, candidate: str, history: list[tuple[str, int, float]],
             parts: list[tuple[algo.Neighbours, float]], titles: dict[str, str]) -> str | None:
    """Names the history item that contributed most to the candidate's blended score."""
    pid = _top_contributor(model.index[candidate], history, parts)
    return f"Because you liked {titles.get(pid) or pid}" if pid else None


def _bought_with(model: training.RecModel, candidate: str, anchors: list[tuple[str, int, float]],
                 titles: dict[str, str]) -> str | None:
    """Co-purchase when there is any, else similarity, naming the anchor that contributed."""
    c = model.index[candidate]
    pid = _top_contributor(c, anchors, [(model.together, 1.0)])
    if pid:
        return f"Often bought together with {titles.get(pid) or pid}"
    pid = _top_contributor(c, anchors, [(model.cosine, 1.0)])
    return f"Shoppers who chose {titles.get(pid) or pid} also chose this" if pid else None


async def recommend(
    member_external_id: str | None, context: str, anchors: list[str], first: int, category: str | None,
    exclude: list[str], now: datetime | None = None,
) -> tuple[bool, list[Item]]:
    if context not in CONTEXTS:
        raise InvalidInput(f"context must be one of {', '.join(CONTEXTS)}", "context")
    now = now or clock.now()
    model = await training.ensure()
    member = await get_member(member_external_id) if member_external_id else None
    personal = await personalization_allowed(member)
    want = max(first * 4, 40)
    pools: list[tuple[str, list[tuple[str, float]], dict[str, str]]] = []  # (strategy, [(pid, score)], reasons)
    purchased: set[str] = set()
    disliked: set[str] = set()
    history: list[str] = []
    due: list[tuple[str, float, str]] = []
    anchor_idx = [model.index[a] for a in anchors if a in model.index]
    if personal:
        ordered, purchased, disliked, purchases, seen_all = await _member_history(member)
        history = [pid for _, pid in ordered]
        due = replenishment(purchases, now)
        pools.append(("replenishment", [(pid, s) for pid, s, _ in due], {pid: r for pid, _, r in due}))
    if anchor_idx:
        weights = np.ones(len(anchor_idx), dtype=np.float32)
        together = algo.score(np.array(anchor_idx), weights, model.together, len(model.items))
        similar = algo.score(np.array(anchor_idx), weights, model.cosine, len(model.items))
        scores = algo.normalised(together) + 0.5 * algo.normalised(similar)
        ranked = _ranked(scores, model, set(anchor_idx), want)
        pools.append(("item_to_item", ranked, {}))
    scored_history: list[tuple[str, int, float]] = []  # (pid, model index, recency weight), oldest first
    blend_parts: list[tuple[algo.Neighbours, float]] = []
    if personal and history:
        in_model = [p for p in history if p in model.index]
        if in_model:
            hist_idx = np.array([model.index[p] for p in in_model], dtype=np.int64)
            recency = algo.recency_weights(hist_idx.size)
            scored_history = [(p, int(i), float(w)) for p, i, w in zip(in_model, hist_idx, recency)]
            blend_parts = _blend_parts(model, hist_idx, recency)
            scores = algo.blend_scores(hist_idx, recency, model.ease, model.cosine, len(model.items))
            # Everything the member already interacted with or bought is banned, not only the last 50.
            banned = {model.index[p] for p in seen_all | purchased if p in model.index}
            pools.append(("similar_customers", _ranked(scores, model, banned, want), {}))
    trending, popular = _popularity_pools(model, set(anchor_idx), want * 2)
    if personal and context in ("HOME", "EMAIL"):
        # filtered to unseen categories below; recent popularity first, then all-time
        recent = {pid for pid, _ in trending}
        pools.append(("exploration", trending + [p for p in popular if p[0] not in recent], {}))
    pools.append(("trending", trending, {}))
    pools.append(("popular", popular, {}))  # imported or quiet history: a list is never empty

    candidates = {pid for _, ranked, _ in pools for pid, _ in ranked}
    products = {p.external_id: p for p in await Product.filter(external_id__in=list(candidates | set(history) | set(anchors)))}
    titles = {pid: p.title or pid for pid, p in products.items()}
    bought_categories = {c for pid in purchased if pid in products for c in (products[pid].categories or [])}
    blocked = set(exclude) | set(anchors) | disliked
    anchor_sources = [(a, model.index[a], 1.0) for a in anchors if a in model.index]
    chosen: list[Item] = []
    per_category: Counter[str] = Counter()
    cap = max(0, get_settings().recs_max_per_category)
    exploration_slots = 2

    def allowed(pid: str, strategy: str) -> Product | None:
        product = products.get(pid)
        if product is None or not product.active or product.hidden or not product.in_stock or pid in blocked:
            return None
        if strategy != "replenishment" and pid in purchased:
            return None
        if category and category not in (product.categories or []):
            return None
        return product

    def reason_for(strategy: str, pid: str, score: float, cats: list[str], reasons: dict[str, str]) -> str | None:
        """A true sentence about why this strategy put the item here, or None: not shown."""
        if strategy in ("similar_customers", "item_to_item") and round(score, SCORE_DECIMALS) <= 0:
            return None  # contributed (next to) nothing
        if strategy == "similar_customers":
            return _because(model, pid, scored_history, blend_parts, titles)
        if strategy == "item_to_item":
            return _bought_with(model, pid, anchor_sources, titles)
        if strategy == "exploration":
            return f"Something new for you from {cats[0] if cats else 'our range'}"
        if strategy == "trending":
            return "Popular with shoppers this week"
        if strategy == "popular":
            return "Popular with shoppers"
        if strategy == "catalog":
            return "From our range"
        return reasons[pid]

    def take(strategy: str, pid: str, score: float, reasons: dict[str, str]) -> bool:
        nonlocal exploration_slots
        product = allowed(pid, strategy)
        if product is None or any(c.product.external_id == pid for c in chosen):
            return False
        cats = sorted(set(product.categories or []))
        if strategy == "exploration" and (exploration_slots == 0 or any(c in bought_categories for c in cats)
                                          or any(per_category[c] for c in cats)):
            return False
        # Diversity: every category of the product counts, not only its first one.
        if strategy != "replenishment" and cap and any(per_category[c] >= cap for c in cats):
            return False
        reason = reason_for(strategy, pid, score, cats, reasons)
        if reason is None:
            return False
        if strategy == "exploration":
            exploration_slots -= 1
        per_category.update(cats)
        chosen.append(Item(product, round(float(score), SCORE_DECIMALS), strategy, reason))
        return True

    for strategy, ranked, reasons in pools:
        for pid, s in ranked:
            if len(chosen) >= first or (strategy == "exploration" and exploration_slots == 0):
                break
            take(strategy, pid, s, reasons)
    if not chosen:
        # Nothing anyone interacted with qualifies: the catalog itself, newest first.
        extra = await Product.filter(active=True, hidden=False, in_stock=True).exclude(
            external_id__in=list(blocked | purchased)).order_by("-id").limit(want * 2)
        for product in extra:
            if len(chosen) >= first:
                break
            products.setdefault(product.external_id, product)
            take("catalog", product.external_id, 0.0, {})
    return personal, chosen


def _popularity_pools(model: training.RecModel, banned: set[int], limit: int) -> tuple[list[tuple[str, float]], list[tuple[str, float]]]:
    """Trending: decayed popularity of items with an interaction in the last TRENDING_DAYS
    before training (so "this week" is true). Popular: all-time counts, for everything else."""
    recent_since = model.trained_at.timestamp() - training.TRENDING_DAYS * 86400
    stale = set(np.flatnonzero(model.last_at[:len(model.items)] < recent_since).tolist())
    trending = _ranked(model.popularity, model, banned | stale, limit)
    popular = _ranked(model.popularity_all, model, banned | {model.index[p] for p, _ in trending}, limit)
    return trending, popular


async def track(events: list[dict], member_scope: str | None) -> int:
    """Store a batch of signals. member_scope: a member token may only track itself."""
    if not events or len(events) > 100:
        raise InvalidInput("Send 1 to 100 events", "events")
    now = clock.now()
    rows = []
    members: dict[str, int] = {}
    for i, e in enumerate(events):
        if e["type"] not in EVENT_TYPES:
            raise InvalidInput(f"type must be one of {', '.join(EVENT_TYPES)}", f"events.{i}.type")
        ext, session = e.get("member_external_id"), e.get("session_id")
        if member_scope is not None and ext not in (None, member_scope):
            raise InvalidInput("A member can only track their own events", f"events.{i}.memberExternalId")
        if member_scope is not None:
            # A signed-in member's signal is theirs even when a sessionId comes along: stored as an
            # anonymous session row, another member could claim it with mergeSession.
            ext = member_scope
        if not ext and not session:
            raise InvalidInput("memberExternalId or sessionId is required", f"events.{i}")
        if not e["product_external_id"] or len(e["product_external_id"]) > 255 or (session and len(session) > 128):
            raise InvalidInput("productExternalId (1-255) and sessionId (up to 128) lengths", f"events.{i}")
        at = e.get("at") or now
        if at > now + timedelta(minutes=5):
            raise InvalidInput("at is in the future", f"events.{i}.at")
        if ext and ext not in members:
            members[ext] = (await get_member(ext, f"events.{i}.memberExternalId")).id
        rows.append(Signal(member_id=members.get(ext) if ext else None, session_id=None if ext else session,
                           product_external_id=e["product_external_id"], type=e["type"], at=at))
    async with serialized_writes():  # bookkeeping: no event, no cached answer changes (domain/db.py)
        await Signal.bulk_create(rows)
    return len(rows)


async def merge_session(session_id: str, member_external_id: str) -> int:
    """After login: the anonymous session's signals become the member's (only rows of no member:
    a member's own signals are never stored under a session id, so they cannot be claimed)."""
    member = await get_member(member_external_id)
    async with serialized_writes():
        return await Signal.filter(session_id=session_id, member_id__isnull=True).update(member_id=member.id,
                                                                                         session_id=None)


async def preferred_contact_hour(member: Member) -> int | None:
    """The UTC hour the member is most often active (their own orders and signals)."""
    if not await personalization_allowed(member):
        return None
    hours: Counter[int] = Counter()
    for at in await Order.filter(member_id=member.id).order_by("-placed_at").limit(200).values_list("placed_at", flat=True):
        hours[at.hour] += 1
    for at in await Signal.filter(member_id=member.id).order_by("-at").limit(500).values_list("at", flat=True):
        hours[at.hour] += 1
    if not hours:
        return None
    return sorted(hours.items(), key=lambda kv: (-kv[1], kv[0]))[0][0]
