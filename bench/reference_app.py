"""Hand-written references the app is measured against (served by uvicorn like the app).

    POST /orders            recordOrder as one hand-written asyncpg transaction; takes the
                            very same request body as the GraphQL mutation and answers the
                            same JSON shape.
    POST /dashboard         the member dashboard: Starlette + tortoise `.values()` + orjson
                            (the reference TARGETS.md defines), same JWT check, same JSON.
    POST /dashboard-asyncpg the same dashboard with raw asyncpg (a stricter reference).
    POST /redeem            redeemReward as one hand-written asyncpg transaction (same
                            body in, the same payload shape out).
    POST /product           the public product page (summary + a page of reviews with
                            author, media, reply): tortoise `.values()` + orjson, the same
                            GraphQL body in (variables p, n), the same JSON out.
    POST /product-asyncpg   the same with raw asyncpg.
    POST /ok                the ceiling: {"ok":1}.

Run: DATABASE_URL=... PATRON_MEMBER_JWT_SECRET=... PATRON_BOOTSTRAP_ADMIN_KEY=...
     uvicorn --factory bench.reference_app:create_app
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
from base64 import b64encode
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import ROUND_FLOOR, Decimal
from typing import Any

import asyncpg
import jwt
import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

POOL_MAX = 5  # what tortoise gives the app by default (asyncpg maxsize=5)


def gid(type_name: str, pk: int) -> str:
    return b64encode(f"{type_name}:{pk}".encode()).decode()


def _json(data: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(data), status, media_type="application/json")


def _error(status: int, message: str, code: str) -> Response:
    return _json({"data": None, "errors": [{"message": message, "extensions": {"code": code}}]}, status)


# --- the program (rules, tiers): read once, as a hand-written service would cache it --------


@dataclass
class Rule:
    id: int
    name: str
    type: str
    points_per_unit: int
    currency_unit: int
    currency: str | None
    include_categories: list[str]
    exclude_categories: list[str]
    include_skus: list[str]
    exclude_skus: list[str]
    apply_tier_multiplier: bool
    pending_days: int | None


@dataclass
class TierRow:
    id: int
    name: str
    rank: int
    min_spend: int | None
    currency: str | None
    min_orders: int | None
    require_all: bool
    window: str
    earn_multiplier: Decimal


@dataclass
class Program:
    rules: list[Rule]
    tiers: list[TierRow]  # highest rank first
    return_window_days: int


async def load_program(conn: asyncpg.Connection) -> Program:
    rules = []
    for r in await conn.fetch("SELECT * FROM earning_rules WHERE type='ORDER_PAID' AND active ORDER BY id"):
        if r["cap_points"] is not None or r["starts_at"] or r["ends_at"]:
            raise NotImplementedError("the reference does not do caps or rule schedules")
        rules.append(Rule(
            id=r["id"], name=r["name"], type=r["type"], points_per_unit=r["points_per_unit"],
            currency_unit=r["currency_unit"], currency=r["currency"],
            include_categories=orjson.loads(r["include_categories"]) or [],
            exclude_categories=orjson.loads(r["exclude_categories"]) or [],
            include_skus=orjson.loads(r["include_skus"]) or [],
            exclude_skus=orjson.loads(r["exclude_skus"]) or [],
            apply_tier_multiplier=r["apply_tier_multiplier"], pending_days=r["pending_days"],
        ))
    tiers = []
    for t in await conn.fetch("SELECT * FROM tiers ORDER BY rank DESC"):
        if t["min_points"] is not None:
            raise NotImplementedError("the reference does not do points thresholds")
        tiers.append(TierRow(
            id=t["id"], name=t["name"], rank=t["rank"], min_spend=t["min_spend"], currency=t["currency"],
            min_orders=t["min_orders"], require_all=t["require_all"], window=t["window"],
            earn_multiplier=t["earn_multiplier"],
        ))
    windows = {(t.window, t.currency) for t in tiers}
    if len(windows) > 1:
        raise NotImplementedError("the reference does one tier query: one window and currency")
    days = os.environ.get("PATRON_RETURN_WINDOW_DAYS")
    return Program(rules, tiers, int(days) if days else 14)


def window_start(window: str, now: datetime) -> datetime | None:
    if window == "ROLLING_12_MONTHS":
        return now - timedelta(days=365)
    if window == "CALENDAR_YEAR":
        return now.replace(year=now.year - 1, month=1, day=1, hour=0, minute=0, second=0, microsecond=0)
    return None


# --- recordOrder ----------------------------------------------------------------------------


class Invalid(Exception):
    def __init__(self, message: str, field: str, code: str = "INVALID_INPUT") -> None:
        super().__init__(message)
        self.field, self.code = field, code


def validate(o: dict[str, Any]) -> None:
    ext = o.get("externalId") or ""
    if not ext.strip() or len(ext) > 255:
        raise Invalid("externalId must be 1 to 255 characters", "externalId")
    cur = o.get("currency") or ""
    if len(cur) != 3 or not cur.isalpha() or not cur.isupper():
        raise Invalid("currency must be an ISO 4217 code", "currency")
    lines = o.get("lines") or []
    if not lines or len(lines) > 100:
        raise Invalid("An order needs 1 to 100 lines", "lines")
    for i, ln in enumerate(lines):
        if not 0 < ln["quantity"] <= 1_000_000:
            raise Invalid("quantity must be between 1 and 1000000", f"lines.{i}.quantity")
        if not 0 <= ln["unitPrice"] <= 10**12:
            raise Invalid("unitPrice out of range", f"lines.{i}.unitPrice")


def _eligible(rule: Rule, lines: list[dict[str, Any]]) -> int:
    total = 0
    for ln in lines:
        sku, cat = ln["sku"], ln.get("category")
        if rule.include_skus and sku not in rule.include_skus:
            continue
        if sku in rule.exclude_skus:
            continue
        if rule.include_categories and cat not in rule.include_categories:
            continue
        if cat in rule.exclude_categories:
            continue
        total += ln["quantity"] * ln["unitPrice"]
    return total


def _qualifies(t: TierRow, spend: int, orders: int) -> bool:
    checks = []
    if t.min_spend is not None:
        checks.append(spend >= t.min_spend)
    if t.min_orders is not None:
        checks.append(orders >= t.min_orders)
    if not checks:
        return True
    return all(checks) if t.require_all else any(checks)


async def record_order_tx(conn: asyncpg.Connection, program: Program, o: dict[str, Any]) -> dict[str, Any]:
    """One transaction doing the writes recordOrder does. Returns the mutation's payload."""
    validate(o)
    ext, member_ext, currency = o["externalId"], o["memberExternalId"], o["currency"]
    channel = o.get("channel") or "web"
    placed_at = datetime.fromisoformat(o["placedAt"])
    lines = o["lines"]
    now = datetime.now(UTC)
    async with conn.transaction():
        m = await conn.fetchrow(
            "SELECT id, tier_id, anonymized_at FROM members WHERE external_id = $1 FOR UPDATE", member_ext)
        if m is None:
            raise Invalid(f"No member {member_ext!r}", "memberExternalId", "MEMBER_NOT_FOUND")
        member_id, tier_id = m["id"], m["tier_id"]
        prior = await conn.fetchrow("SELECT id, member_id FROM orders WHERE external_id = $1", ext)
        if prior is not None:
            if prior["member_id"] != member_id:
                raise Invalid("This order externalId belongs to another member", "externalId", "CONFLICT")
            points = await conn.fetchval(
                "SELECT coalesce(sum(amount), 0) FROM awards WHERE source_type = 'order' AND source_id = $1", ext)
            return {"order": {"id": gid("Order", prior["id"]), "externalId": ext}, "pointsAwarded": points,
                    "replayed": True, "errors": []}
        if m["anonymized_at"]:
            raise Invalid("Member is anonymized", "memberExternalId", "MEMBER_ANONYMIZED")
        total = sum(ln["quantity"] * ln["unitPrice"] for ln in lines)
        order_id = await conn.fetchval(
            "INSERT INTO orders (external_id, member_id, currency, channel, placed_at, total_amount,"
            " refunded_amount, created_at) VALUES ($1, $2, $3, $4, $5, $6, 0, $7) RETURNING id",
            ext, member_id, currency, channel, placed_at, total, now)
        await conn.execute(
            "INSERT INTO order_lines (order_id, sku, product_external_id, category, quantity, unit_price,"
            " refunded_quantity) SELECT $1, s, p, c, q, u, 0"
            " FROM unnest($2::text[], $3::text[], $4::text[], $5::int[], $6::bigint[]) AS t(s, p, c, q, u)",
            order_id, [ln["sku"] for ln in lines], [ln.get("productExternalId") for ln in lines],
            [ln.get("category") for ln in lines], [ln["quantity"] for ln in lines],
            [ln["unitPrice"] for ln in lines])
        events: list[tuple[str, bytes]] = [("order.recorded", orjson.dumps({
            "externalId": ext, "memberExternalId": member_ext, "currency": currency, "channel": channel,
            "placedAt": placed_at.isoformat(), "total": {"amount": total, "currency": currency},
            "lines": [{"sku": ln["sku"], "productExternalId": ln.get("productExternalId"),
                       "category": ln.get("category"), "quantity": ln["quantity"], "unitPrice": ln["unitPrice"]}
                      for ln in lines],
        }))]
        tier = next((t for t in program.tiers if t.id == tier_id), None)
        awarded = 0
        for rule in program.rules:
            if rule.currency and rule.currency != currency:
                continue
            eligible = _eligible(rule, lines)
            base = eligible // rule.currency_unit * rule.points_per_unit
            mult = tier.earn_multiplier if (tier and rule.apply_tier_multiplier) else Decimal(1)
            points = int((Decimal(base) * mult).to_integral_value(rounding=ROUND_FLOOR))
            if points <= 0:
                continue
            pending = rule.pending_days if rule.pending_days is not None else program.return_window_days
            release_at = now + timedelta(days=pending)
            details = {
                "ruleId": rule.id, "ruleName": rule.name, "ruleType": rule.type, "eligibleAmount": eligible,
                "currency": currency, "currencyUnit": rule.currency_unit, "pointsPerUnit": rule.points_per_unit,
                "base": base, "multiplier": str(mult), "tier": tier.name if tier else None,
                "cappedFrom": None, "cap": None,
            }
            if pending <= 0:
                raise NotImplementedError("the reference holds awards (pending_days > 0)")
            award_id = await conn.fetchval(
                "INSERT INTO awards (member_id, amount, reversed, status, reason, source_type, source_id,"
                " idempotency_key, rule_id, details, release_at, created_at)"
                " VALUES ($1, $2, 0, 'held', $3, 'order', $4, $5, $6, $7::jsonb, $8, $9) RETURNING id",
                member_id, points, f"Order {ext}", ext, f"rule:{rule.id}:order:{ext}", rule.id,
                orjson.dumps(details).decode(), release_at, now)
            awarded += points
            events.append(("points.earned", orjson.dumps({
                "memberExternalId": member_ext, "awardId": award_id, "amount": points, "reason": f"Order {ext}",
                "source": {"type": "order", "id": ext}, "ruleId": rule.id, "pending": True,
                "availableAt": release_at.isoformat(),
            })))
        if awarded:
            await conn.execute("UPDATE members SET points_pending = points_pending + $1 WHERE id = $2",
                               awarded, member_id)
        # Tier check: spend and orders in the window (one query), then upgrade if earned.
        if program.tiers:
            t0 = program.tiers[0]
            start = window_start(t0.window, now) or datetime(1970, 1, 1, tzinfo=UTC)
            row = await conn.fetchrow(
                "SELECT coalesce(sum(total_amount) FILTER (WHERE currency = $2), 0)"
                " - coalesce(sum(refunded_amount) FILTER (WHERE currency = $2), 0) AS spend,"
                " count(*) FILTER (WHERE refunded_amount < total_amount) AS orders"
                " FROM orders WHERE member_id = $1 AND placed_at >= $3",
                member_id, t0.currency, start)
            best = next((t for t in program.tiers if _qualifies(t, row["spend"], row["orders"])), None)
            if best and (tier is None or best.rank > tier.rank):
                reason = f"Upgrade after order {ext}: spend {row['spend']} of {best.min_spend} {best.currency}"
                await conn.execute(
                    "UPDATE members SET tier_id = $1, tier_achieved_at = $2, downgrade_pending_since = NULL"
                    " WHERE id = $3", best.id, now, member_id)
                await conn.execute(
                    "INSERT INTO tier_changes (member_id, from_tier_id, to_tier_id, reason, created_at)"
                    " VALUES ($1, $2, $3, $4, $5)", member_id, tier.id if tier else None, best.id, reason, now)
                events.append(("member.tier_changed", orjson.dumps({
                    "memberExternalId": member_ext, "from": tier.name if tier else None, "to": best.name,
                    "reason": reason})))
        # All the outbox rows of this order in one statement, in order.
        await conn.execute(
            "INSERT INTO events (type, payload, member_id, created_at)"
            " SELECT t, p::jsonb, $3, $4 FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS e(t, p, n)"
            " ORDER BY n", [t for t, _ in events], [p.decode() for _, p in events], member_id, now)
    return {"order": {"id": gid("Order", order_id), "externalId": ext}, "pointsAwarded": awarded,
            "replayed": False, "errors": []}


class State:
    pool: asyncpg.Pool | None = None
    program: Program | None = None
    lock = asyncio.Lock()
    admin_hashes: set[str] = set()


async def program(conn: asyncpg.Connection) -> Program:
    if State.program is None:
        async with State.lock:
            if State.program is None:
                State.program = await load_program(conn)
    return State.program


async def _api_key_ok(request: Request) -> bool:
    """Same check as the app: Bearer key, sha256, looked up once then cached in memory."""
    scheme, _, token = (request.headers.get("authorization") or "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        return False
    digest = hashlib.sha256(token.strip().encode()).hexdigest()
    if digest in State.admin_hashes:
        return True
    assert State.pool is not None
    ok = await State.pool.fetchval(
        "SELECT role FROM api_keys WHERE key_hash = $1 AND revoked_at IS NULL", digest)
    if ok in ("admin", "storefront"):
        State.admin_hashes.add(digest)
        return True
    return False


async def orders(request: Request) -> Response:
    if not await _api_key_ok(request):
        return _error(401, "Unknown or revoked API key", "UNAUTHENTICATED")
    body = orjson.loads(await request.body())
    order = body["variables"]["input"]
    assert State.pool is not None
    async with State.pool.acquire() as conn:
        try:
            payload = await record_order_tx(conn, await program(conn), order)
        except Invalid as exc:
            payload = {"order": None, "pointsAwarded": 0, "replayed": False,
                       "errors": [{"field": exc.field, "message": str(exc), "code": exc.code}]}
    return _json({"data": {"recordOrder": payload}})


# --- dashboard ------------------------------------------------------------------------------


def _member_sub(request: Request) -> str | None:
    scheme, _, token = (request.headers.get("authorization") or "").partition(" ")
    if scheme.lower() != "bearer" or token.count(".") != 2:
        return None
    secret = os.environ["PATRON_MEMBER_JWT_SECRET"]
    try:
        claims = jwt.decode(token.strip(), secret, algorithms=["HS256"], options={"require": ["exp", "sub"]})
    except jwt.PyJWTError:
        return None
    sub = claims.get("sub")
    return sub if isinstance(sub, str) and sub else None


def _dashboard_json(m: dict[str, Any], entries: list[dict[str, Any]]) -> dict[str, Any]:
    return {"data": {"me": {
        "externalId": m["external_id"],
        "points": {"balance": m["points_balance"], "pending": m["points_pending"]},
        "tier": {"name": m["tier_name"], "rank": m["tier_rank"]} if m["tier_name"] is not None else None,
        "ledger": {"edges": [
            {"node": {"amount": e["amount"], "kind": e["kind"].upper(), "reason": e["reason"],
                      "createdAt": e["created_at"].isoformat()}}
            for e in entries
        ]},
    }}}


async def dashboard(request: Request) -> Response:
    """Starlette + tortoise .values() + orjson: two queries (member with its tier; ledger)."""
    from domain.ledger.models import LedgerEntry
    from domain.members.models import Member

    sub = _member_sub(request)
    if sub is None:
        return _error(401, "Invalid member token", "UNAUTHENTICATED")
    rows = await Member.filter(external_id=sub).values(
        "id", "external_id", "points_balance", "points_pending", tier_name="tier__name", tier_rank="tier__rank")
    if not rows:
        return _json({"data": {"me": None}})
    m = rows[0]
    entries = await LedgerEntry.filter(member_id=m["id"]).order_by("-id").limit(10).values(
        "amount", "kind", "reason", "created_at")
    return _json(_dashboard_json(m, entries))


async def dashboard_asyncpg(request: Request) -> Response:
    """The same with raw asyncpg: two queries on one pooled connection."""
    sub = _member_sub(request)
    if sub is None:
        return _error(401, "Invalid member token", "UNAUTHENTICATED")
    assert State.pool is not None
    async with State.pool.acquire() as conn:
        m = await conn.fetchrow(
            "SELECT m.id, m.external_id, m.points_balance, m.points_pending, t.name AS tier_name,"
            " t.rank AS tier_rank FROM members m LEFT JOIN tiers t ON t.id = m.tier_id"
            " WHERE m.external_id = $1", sub)
        if m is None:
            return _json({"data": {"me": None}})
        entries = await conn.fetch(
            "SELECT amount, kind, reason, created_at FROM ledger_entries WHERE member_id = $1"
            " ORDER BY id DESC LIMIT 10", m["id"])
    return _json(_dashboard_json(m, entries))


# --- redeemReward -----------------------------------------------------------------------------

CODE_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"  # 32 symbols, as domain.rewards.service


def new_code() -> str:
    import secrets

    body = "".join(secrets.choice(CODE_ALPHABET) for _ in range(12))
    return f"PTN-{body[:4]}-{body[4:8]}-{body[8:]}"


async def redeem_tx(conn: asyncpg.Connection, member_ext: str, reward_id: int, key: str) -> dict[str, Any]:
    """One transaction doing the writes redeemReward does (member then reward row locks,
    FEFO debit over the member's lots, stock, code, two outbox events). Returns the payload
    `redemption { code status points } errors { field message code }`."""
    if not key.strip() or len(key) > 255:
        raise Invalid("idempotencyKey must be 1 to 255 characters", "idempotencyKey")
    now = datetime.now(UTC)
    async with conn.transaction():
        m = await conn.fetchrow(
            "SELECT id, external_id, points_balance FROM members WHERE external_id = $1 FOR UPDATE", member_ext)
        if m is None:
            raise Invalid(f"No member {member_ext!r}", "memberExternalId", "MEMBER_NOT_FOUND")
        prior = await conn.fetchrow(
            "SELECT reward_id, code, status, points FROM redemptions WHERE member_id = $1 AND idempotency_key = $2",
            m["id"], key)
        if prior is not None:
            if prior["reward_id"] != reward_id:
                raise Invalid("This idempotency key was used for another reward", "idempotencyKey", "CONFLICT")
            return {"redemption": {"code": prior["code"], "status": prior["status"].upper(), "points": prior["points"]},
                    "errors": []}
        r = await conn.fetchrow("SELECT * FROM rewards WHERE id = $1 FOR UPDATE", reward_id)
        if r is None:
            raise Invalid("No such reward", "rewardId", "REWARD_NOT_FOUND")
        if not r["active"] or (r["starts_at"] and now < r["starts_at"]) or (r["ends_at"] and now >= r["ends_at"]):
            raise Invalid("This reward is not available now", "rewardId", "REWARD_UNAVAILABLE")
        if r["min_tier_rank"] is not None or r["per_member_limit"] is not None:
            raise NotImplementedError("the reference does not do tier or per-member limits")
        if r["stock"] is not None and r["stock"] <= 0:
            raise Invalid("This reward is out of stock", "rewardId", "OUT_OF_STOCK")
        cost = r["points_cost"]
        lots = await conn.fetch(
            "SELECT id, remaining, expires_at FROM ledger_entries WHERE member_id = $1 AND remaining > 0 ORDER BY id",
            m["id"])
        far = datetime.max.replace(tzinfo=UTC)
        lots = sorted(lots, key=lambda lot: (lot["expires_at"] or far, lot["id"]))
        if cost > sum(lot["remaining"] for lot in lots):
            raise Invalid(f"Needs {cost} points", "amount", "INSUFFICIENT_POINTS")
        reason = f"Reward: {r['name']}"
        entry_id = await conn.fetchval(
            "INSERT INTO ledger_entries (member_id, amount, kind, reason, source_type, source_id, idempotency_key,"
            " created_at) VALUES ($1, $2, 'redeem', $3, 'reward', $4, $5, $6) RETURNING id",
            m["id"], -cost, reason, str(reward_id), f"redeem:{key}", now)
        used_ids, used = [], []
        left = cost
        for lot in lots:
            if left == 0:
                break
            take = min(lot["remaining"], left)
            left -= take
            used_ids.append(lot["id"])
            used.append(take)
        await conn.execute(
            "UPDATE ledger_entries l SET remaining = l.remaining - u.used"
            " FROM unnest($1::bigint[], $2::int[]) AS u(id, used) WHERE l.id = u.id", used_ids, used)
        await conn.execute(
            "INSERT INTO lot_consumptions (debit_id, lot_id, amount) SELECT $1, i, a"
            " FROM unnest($2::bigint[], $3::int[]) AS u(i, a)", entry_id, used_ids, used)
        balance = await conn.fetchval(
            "UPDATE members SET points_balance = points_balance - $1 WHERE id = $2 RETURNING points_balance",
            cost, m["id"])
        if r["stock"] is not None:
            await conn.execute("UPDATE rewards SET stock = stock - 1 WHERE id = $1", reward_id)
        code = new_code()
        expires = now + timedelta(days=r["code_valid_days"]) if r["code_valid_days"] else None
        redemption_id = await conn.fetchval(
            "INSERT INTO redemptions (reward_id, member_id, points, code, status, idempotency_key, debit_entry_id,"
            " expires_at, created_at) VALUES ($1, $2, $3, $4, 'issued', $5, $6, $7, $8) RETURNING id",
            reward_id, m["id"], cost, code, key, entry_id, expires, now)
        events = [
            ("points.redeemed", {"memberExternalId": member_ext, "entryId": entry_id, "amount": -cost, "kind": "redeem",
                                 "reason": reason, "source": {"type": "reward", "id": str(reward_id)},
                                 "balance": balance}),
            ("reward.redeemed", {"redemptionId": redemption_id, "code": code, "rewardId": reward_id,
                                 "reward": r["name"], "type": r["type"], "points": cost,
                                 "memberExternalId": member_ext, "status": "issued",
                                 "expiresAt": expires.isoformat() if expires else None}),
        ]
        await conn.execute(
            "INSERT INTO events (type, payload, member_id, created_at)"
            " SELECT t, p::jsonb, $3, $4 FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS e(t, p, n)"
            " ORDER BY n", [t for t, _ in events], [orjson.dumps(p).decode() for _, p in events], m["id"], now)
    return {"redemption": {"code": code, "status": "ISSUED", "points": cost}, "errors": []}


async def redeem(request: Request) -> Response:
    if not await _api_key_ok(request):
        return _error(401, "Unknown or revoked API key", "UNAUTHENTICATED")
    body = orjson.loads(await request.body())
    i = body["variables"]["input"]
    assert State.pool is not None
    async with State.pool.acquire() as conn:
        try:
            payload = await redeem_tx(conn, i["memberExternalId"], i["rewardId"], i["idempotencyKey"])
        except Invalid as exc:
            payload = {"redemption": None, "errors": [{"field": exc.field, "message": str(exc), "code": exc.code}]}
    return _json({"data": {"redeemReward": payload}})


# --- public product page (P1) ---------------------------------------------------------------


def _media_url(name: str | None) -> str | None:
    """What domain.reviews.media.media_url answers."""
    return f"{os.environ.get('PATRON_MEDIA_BASE_URL', '/media').rstrip('/')}/{name}" if name else None


def _page_args(body: bytes) -> tuple[str, int]:
    """The product page takes the very GraphQL body the app gets: variables p and n."""
    variables = orjson.loads(body).get("variables") or {}
    n = variables.get("n")
    return variables["p"], 20 if n is None else max(0, min(int(n), 100))  # the app's page_size


def _product_json(p: Any, reviews: list[Any], media: list[Any]) -> dict[str, Any]:
    by_review: dict[int, list[dict[str, Any]]] = {r["id"]: [] for r in reviews}
    for m in media:
        by_review[m["review_id"]].append({"url": _media_url(m["file_name"]), "thumbnailUrl": _media_url(m["thumb_name"])})
    histogram = p["rating_histogram"]
    if isinstance(histogram, str):  # asyncpg hands jsonb over as text
        histogram = orjson.loads(histogram)
    count = p["review_count"]
    return {"data": {"product": {
        "reviewSummary": {
            "count": count, "average": round(p["rating_sum"] / count, 2) if count else None,
            "histogram": [{"rating": i + 1, "count": c} for i, c in enumerate(histogram)],
            "withMediaCount": p["with_media_count"],
        },
        "reviews": {"edges": [{"node": {
            "rating": r["rating"], "title": r["title"], "body": r["body"],
            "author": {"displayName": r["author_name"]},
            "media": by_review[r["id"]],
            "reply": {"body": r["reply_body"]} if r["reply_body"] and r["replied_at"] else None,
        }} for r in reviews]},
    }}}


async def product_page(request: Request) -> Response:
    """Starlette + tortoise `.values()` + orjson: product (with its summary columns), one
    page of published reviews (newest first), their published media: three queries."""
    from domain.catalog.models import Product
    from domain.reviews.models import Review, ReviewMedia

    external_id, n = _page_args(await request.body())
    rows = await Product.filter(external_id=external_id).values(
        "id", "review_count", "rating_sum", "rating_histogram", "with_media_count")
    if not rows:
        return _json({"data": {"product": None}})
    p = rows[0]
    reviews = await Review.filter(product_id=p["id"], status="published").order_by("-id").limit(n).values(
        "id", "rating", "title", "body", "author_name", "reply_body", "replied_at")
    media = await ReviewMedia.filter(review_id__in=[r["id"] for r in reviews], status="published").order_by(
        "id").values("review_id", "file_name", "thumb_name") if reviews else []
    return _json(_product_json(p, reviews, media))


async def product_page_asyncpg(request: Request) -> Response:
    """The same three queries with raw asyncpg on one pooled connection."""
    external_id, n = _page_args(await request.body())
    assert State.pool is not None
    async with State.pool.acquire() as conn:
        p = await conn.fetchrow(
            "SELECT id, review_count, rating_sum, rating_histogram, with_media_count FROM products"
            " WHERE external_id = $1", external_id)
        if p is None:
            return _json({"data": {"product": None}})
        reviews = await conn.fetch(
            "SELECT id, rating, title, body, author_name, reply_body, replied_at FROM reviews"
            " WHERE product_id = $1 AND status = 'published' ORDER BY id DESC LIMIT $2", p["id"], n)
        media = await conn.fetch(
            "SELECT review_id, file_name, thumb_name FROM review_media WHERE review_id = ANY($1::int[])"
            " AND status = 'published' ORDER BY id", [r["id"] for r in reviews]) if reviews else []
    return _json(_product_json(p, reviews, media))


async def ok(request: Request) -> Response:
    """The ceiling: Starlette answering {"ok":1}."""
    return _json({"ok": 1})


async def healthz(request: Request) -> Response:
    return _json({"status": "ok"})


async def startup() -> None:
    from domain import db

    url = os.environ["DATABASE_URL"]
    State.pool = await asyncpg.create_pool(url, min_size=1, max_size=POOL_MAX)
    await db.init_orm(url)


async def shutdown() -> None:
    from domain import db

    if State.pool is not None:
        await State.pool.close()
        State.pool = None
    await db.close_orm()


def create_app(manage_db: bool = True) -> Starlette:
    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if manage_db:
            await startup()
        try:
            yield
        finally:
            if manage_db:
                await shutdown()

    return Starlette(routes=[
        Route("/orders", orders, methods=["POST"]),
        Route("/dashboard", dashboard, methods=["POST"]),
        Route("/dashboard-asyncpg", dashboard_asyncpg, methods=["POST"]),
        Route("/redeem", redeem, methods=["POST"]),
        Route("/product", product_page, methods=["POST"]),
        Route("/product-asyncpg", product_page_asyncpg, methods=["POST"]),
        Route("/ok", ok, methods=["GET", "POST"]),
        Route("/healthz", healthz),
    ], lifespan=lifespan)
