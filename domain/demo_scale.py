"""A large demo data set for scale runs: `server.py generate-demo --members N --orders M`.

PostgreSQL only. Products go in with COPY; everything else is generated inside PostgreSQL
with set-based INSERT ... SELECT over generate_series (no row crosses the wire, which is
faster than COPY from Python), in one transaction, ids assigned explicitly and the
sequences moved past them at the end.

Distributions:
- order counts per member: Pareto weights (alpha 1.6, capped) scaled to the order total with
  stochastic rounding: many members with 0 or 1 order, a heavy tail of frequent buyers;
- order dates over the last 3 years: Nov/Dec peaks, weekend bumps (a weighted bag of days);
- 10k products (fewer for small runs) named after the Groceries items, ~50 categories, Zipf-like
  popularity (product k is bought with probability ~ k^-2/3);
- reviews for ~5 % of orders (one per member and product), summaries on products recounted;
- consents, birthdays uniform over the year (~N/365 due per day);
- tiers: each member gets the highest tier whose thresholds (read from the tiers table, each
  over its own window) their generated orders meet, as recording the orders would have given,
  with a matching tier_changes row and no pending downgrade: the first tier review has
  nothing to change.

The ledger is consistent with the invariants of domain/ledger/service.py: one ORDER_PAID award
per order (1 point per 100 minor units; tier multipliers are not replayed); awards older than
the return window are released into an earn lot; lots past their expiry are expired by an
`expire` entry with its lot consumption. The last hour of both is left due, so the release and
expiry jobs find a realistic backlog. No redemptions are generated.
"""

from __future__ import annotations

import csv
import random
from datetime import datetime, timedelta
from typing import Any

import asyncpg

from domain import clock, db
from domain.demo import GROCERIES, price_of, seed_program
from domain.rules.models import EarningRule
from domain.settings import get_settings
from domain.tiers.service import window_start

DAYS = 3 * 365
CATEGORIES = 50
# Share of the day weight: Nov and Dec (before Christmas) peak, January is quiet, weekends busier.
MONTH_WEIGHT = {1: 0.8, 11: 1.6, 12: 1.9}
WEEKDAY_WEIGHT = {4: 1.15, 5: 1.35, 6: 1.25}  # Fri, Sat, Sun
REVIEW_TEXTS = ["Great, would buy again.", "Does the job.", "Fresher than expected.", "Not what I hoped for.",
                "Arrived damaged.", "Good value for the price.", "My family loves it.", "Too expensive for what it is."]


class RefusedError(Exception):
    """The generator will not run here (SQLite, or members exist without --force)."""


def _pg_url(url: str) -> str:
    return "postgresql://" + url.split("://", 1)[1]


def day_bag(start: datetime) -> list[int]:
    """Day offsets 0..DAYS-1, each repeated in proportion to its weight (sampled uniformly)."""
    bag = []
    for d in range(DAYS):
        day = start + timedelta(days=d)
        weight = MONTH_WEIGHT.get(day.month, 1.0) * WEEKDAY_WEIGHT.get(day.weekday(), 1.0)
        if day.month == 12 and day.day > 24:
            weight = 0.9
        bag.extend([d] * round(weight * 10))
    return bag


def product_rows(count: int, first_id: int, now: datetime, rng: random.Random) -> list[tuple[Any, ...]]:
    """Products named after the Groceries items (or generic names if the data is absent)."""
    items: list[str] = []
    if GROCERIES.exists():
        with GROCERIES.open(newline="", encoding="utf-8") as fh:
            items = sorted({item.strip() for row in csv.reader(fh) for item in row if item.strip()})
    items = items or [f"item {i}" for i in range(169)]
    words = sorted({item.split(" ")[-1] for item in items})
    categories = [words[i % len(words)] if i < len(words) else f"{words[i % len(words)]}-{i // len(words)}"
                  for i in range(CATEGORIES)]
    rows = []
    for k in range(count):
        item = items[k % len(items)]
        variant = k // len(items)
        category = categories[hash_index(item, CATEGORIES)]
        price = price_of(item) + (variant * 37) % 400
        external = f"scale-p{first_id + k}"
        title = f"{item} ({'brand ' + str(variant) if variant else 'house brand'})"
        rows.append((first_id + k, external, title, f'["{category}"]', price, "USD", True, False, True,
                     0, 0, "[0, 0, 0, 0, 0]", 0, now, now))
    rng.shuffle(rows)  # popularity follows the id, names do not
    return [(first_id + i, *row[1:]) for i, row in enumerate(rows)]


def tier_figures_sql(tiers: list[dict[str, Any]], now: datetime) -> str:
    """Per tier, the member's qualifying figures over that tier's window, with the filters of
    domain/tiers/service.py member_stats (spend in the tier's currency, orders, points earned
    by awards created in the window); columns of g_stats, each followed by a comma."""
    parts = []
    for t in tiers:
        start = window_start(t["window"], now)
        since = f"o.placed_at >= timestamptz '{start.isoformat()}'" if start else "true"
        currency = "'" + (t["currency"] or "").replace("'", "''") + "'"
        parts.append(f"coalesce(sum(t.total) FILTER (WHERE {since} AND {currency} = 'USD'), 0) AS spend_{t['id']},")
        parts.append(f"count(o.id) FILTER (WHERE {since}) AS orders_{t['id']},")
        parts.append(f"coalesce(sum(a.amount) FILTER (WHERE {since}), 0) AS points_{t['id']},")
    return "\n         ".join(parts)


def tier_case_sql(tiers: list[dict[str, Any]]) -> str:
    """The highest tier whose thresholds the figures meet (tiers.service.qualifies: all or
    any of the thresholds set; none set is an entry tier), NULL when none does."""
    whens = []
    for t in sorted(tiers, key=lambda t: -t["rank"]):
        checks = []
        if t["min_spend"] is not None:
            checks.append(f"s.spend_{t['id']} >= {int(t['min_spend'])}")
        if t["min_points"] is not None:
            checks.append(f"s.points_{t['id']} >= {int(t['min_points'])}")
        if t["min_orders"] is not None:
            checks.append(f"s.orders_{t['id']} >= {int(t['min_orders'])}")
        condition = (" AND " if t["require_all"] else " OR ").join(checks) or "true"
        whens.append(f"WHEN {condition} THEN {int(t['id'])}")
    return f"CASE {' '.join(whens)} END" if whens else "NULL::int"


def hash_index(text: str, n: int) -> int:
    return sum(text.encode()) % n


async def generate(members: int, orders: int, force: bool = False, seed: int = 42,
                   products: int | None = None) -> dict[str, int]:
    """Generate the data set in the ORM's database; returns the row counts written."""
    if db.is_sqlite():
        raise RefusedError("generate-demo needs PostgreSQL (it uses PostgreSQL set-based SQL and COPY); "
                           "use `make seed` for a small SQLite demo")
    conn = await asyncpg.connect(_pg_url(db.current_url()))
    try:
        if await conn.fetchval("SELECT EXISTS (SELECT 1 FROM members)") and not force:
            raise RefusedError("the database already has members; pass --force to add the demo data anyway")
        await seed_program()
        rule_id = (await EarningRule.filter(type="ORDER_PAID", active=True).order_by("id").first()).id
        return await _generate(conn, members, orders, products or min(10_000, max(50, members // 10)),
                               rule_id, seed)
    finally:
        await conn.close()


async def _next_id(conn: asyncpg.Connection, table: str) -> int:
    return int(await conn.fetchval(f"SELECT coalesce(max(id), 0) + 1 FROM {table}"))


async def _generate(conn: asyncpg.Connection, members: int, orders: int, products: int, rule_id: int,
                    seed: int) -> dict[str, int]:
    settings = get_settings()
    now = clock.now()
    start = now - timedelta(days=DAYS)
    rng = random.Random(seed)
    tier_rows = [dict(r) for r in await conn.fetch(
        "SELECT id, rank, min_spend, currency, min_points, min_orders, require_all, \"window\" FROM tiers")]
    async with conn.transaction():
        await conn.execute("SET LOCAL work_mem = '256MB'")
        await conn.execute("SELECT setseed($1)", (seed % 1000) / 1000)
        ids = {t: await _next_id(conn, t) for t in ("members", "orders", "products", "ledger_entries",
                                                    "awards", "reviews", "lot_consumptions", "events")}
        await conn.copy_records_to_table(
            "products", records=product_rows(products, ids["products"], now, rng),
            columns=["id", "external_id", "title", "categories", "price", "currency", "active", "hidden",
                     "in_stock", "review_count", "rating_sum", "rating_histogram", "with_media_count",
                     "created_at", "updated_at"])
        params = {"now": now, "start": start, "bag": day_bag(start), "m0": ids["members"], "o0": ids["orders"],
                  "p0": ids["products"]}
        script = GENERATE_SQL.format(
            M=members, O=orders, P=products, rule=rule_id, window=settings.return_window_days,
            expiry=settings.points_expiry_days if settings.points_expiry_days > 0 else 36500,
            sla=settings.review_reply_sla_hours, l0=ids["ledger_entries"], a0=ids["awards"],
            r0=ids["reviews"], c0=ids["lot_consumptions"], e0=ids["events"],
            tier_figures=tier_figures_sql(tier_rows, now), tier_case=tier_case_sql(tier_rows))
        await conn.execute("CREATE TEMP TABLE g_param ON COMMIT DROP AS SELECT $1::timestamptz AS now, "
                           "$2::timestamptz AS start, $3::int[] AS bag, $4::int AS m0, $5::int AS o0, $6::int AS p0",
                           params["now"], params["start"], params["bag"], params["m0"], params["o0"], params["p0"])
        for statement in script.split(";\n"):
            if statement.strip():
                await conn.execute(statement)
        counts = {t: int(await conn.fetchval(f"SELECT count(*) FROM g_{t}"))
                  for t in ("members", "orders", "lines", "awards", "reviews")}
        for table in ("members", "orders", "order_lines", "products", "ledger_entries", "awards", "reviews",
                      "review_revisions", "lot_consumptions", "events", "consents", "consent_changes",
                      "tier_changes"):
            await conn.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                               f"(SELECT coalesce(max(id), 1) FROM {table}))")
    for table in ("members", "orders", "order_lines", "products", "ledger_entries", "awards", "reviews",
                  "lot_consumptions", "events", "consents", "consent_changes", "review_revisions", "tier_changes"):
        await conn.execute(f"ANALYZE {table}")
    return counts


# Run statement by statement (separated by ";\n") inside the caller's transaction.
GENERATE_SQL = """
CREATE TEMP TABLE g_bag ON COMMIT DROP AS
  SELECT n::int, day FROM g_param, unnest(bag) WITH ORDINALITY AS u(day, n);
CREATE TEMP TABLE g_w ON COMMIT DROP AS
  SELECT i, least(300.0, (1.0 - random()) ^ (-1.0 / 1.6)) AS w FROM generate_series(1, {M}) i;
CREATE TEMP TABLE g_members ON COMMIT DROP AS
  SELECT p.m0 + i - 1 AS id, floor(w * {O} / s.total + random())::int AS n,
         p.now - (random() * 1200 + 1) * interval '1 day' AS joined,
         date '1950-01-01' + floor(random() * 20000)::int AS birthday
  FROM g_w, g_param p, (SELECT sum(w) AS total FROM g_w) s;
CREATE TEMP TABLE g_orders ON COMMIT DROP AS
  SELECT p.o0 - 1 + row_number() OVER (ORDER BY placed_at) AS id, member_id, placed_at
  FROM (SELECT x.member_id, least(p.now - interval '1 minute',
                                  p.start + b.day * interval '1 day' + x.at * interval '1 day') AS placed_at
        FROM (SELECT m.id AS member_id, 1 + floor(random() * (SELECT count(*) FROM g_bag))::int AS pick,
                     random() AS at
              FROM g_members m CROSS JOIN LATERAL generate_series(1, m.n) k) x
        JOIN g_bag b ON b.n = x.pick CROSS JOIN g_param p) o, g_param p;
CREATE TEMP TABLE g_lines ON COMMIT DROP AS
  SELECT o.id AS order_id, p.p0 + floor({P} * random() ^ 3)::int AS product_id,
         1 + floor(-ln(1.0 - random()) * 0.4)::int AS quantity, l AS line_no
  FROM g_orders o CROSS JOIN g_param p
  CROSS JOIN LATERAL generate_series(1, 1 + least(11, floor(-ln(1.0 - random()) * 1.5 + o.id * 0)::int)) l;
CREATE TEMP TABLE g_totals ON COMMIT DROP AS
  SELECT l.order_id, sum(l.quantity * pr.price)::bigint AS total
  FROM g_lines l JOIN products pr ON pr.id = l.product_id GROUP BY l.order_id;
CREATE TEMP TABLE g_awards ON COMMIT DROP AS
  SELECT {a0} - 1 + row_number() OVER (ORDER BY o.id) AS id, o.id AS order_id, o.member_id, o.placed_at,
         (t.total / 100)::int AS amount, o.placed_at + interval '{window} days' AS release_at
  FROM g_orders o JOIN g_totals t ON t.order_id = o.id WHERE t.total >= 100;
ALTER TABLE g_awards ADD COLUMN entry_id bigint;
ALTER TABLE g_awards ADD COLUMN expires_at timestamptz;
UPDATE g_awards a SET entry_id = {l0} + (a.id - {a0}), expires_at = a.release_at + interval '{expiry} days'
  FROM g_param p WHERE a.release_at <= p.now - interval '1 hour';
CREATE TEMP TABLE g_expired ON COMMIT DROP AS
  SELECT row_number() OVER (ORDER BY a.entry_id) AS n, a.entry_id AS lot_id, a.amount, a.expires_at, a.member_id
  FROM g_awards a, g_param p WHERE a.expires_at <= p.now - interval '1 hour';
CREATE TEMP TABLE g_stats ON COMMIT DROP AS
  SELECT m.id,
         coalesce(sum(a.amount) FILTER (WHERE a.entry_id IS NOT NULL AND a.expires_at > p.now - interval '1 hour'), 0) AS balance,
         coalesce(sum(a.amount) FILTER (WHERE a.entry_id IS NULL), 0) AS pending,
         coalesce(sum(a.amount) FILTER (WHERE a.entry_id IS NOT NULL), 0) AS earned,
         {tier_figures}
         min(o.placed_at) AS first_order
  FROM g_members m CROSS JOIN g_param p
  LEFT JOIN g_orders o ON o.member_id = m.id LEFT JOIN g_totals t ON t.order_id = o.id
  LEFT JOIN g_awards a ON a.order_id = o.id
  GROUP BY m.id, p.now;
INSERT INTO members (id, external_id, email, name, birthday, signup_channel, created_at, updated_at,
                     points_balance, points_pending, lifetime_earned, tier_id, tier_achieved_at)
  SELECT m.id, 'scale-' || m.id, 'member' || m.id || '@example.com', 'Member ' || m.id, m.birthday,
         (ARRAY['web', 'web', 'pos', 'app'])[1 + floor(random() * 4)::int],
         least(m.joined, s.first_order - interval '1 hour'), p.now, s.balance, s.pending, s.earned,
         {tier_case},
         CASE WHEN ({tier_case}) IS NOT NULL THEN least(m.joined, s.first_order - interval '1 hour') END
  FROM g_members m JOIN g_stats s ON s.id = m.id, g_param p;
INSERT INTO tier_changes (member_id, from_tier_id, to_tier_id, reason, created_at)
  SELECT m.id, NULL, m.tier_id, 'Joined: generated demo data (the tier its qualifying figures give)',
         m.tier_achieved_at
  FROM members m WHERE m.id >= (SELECT m0 FROM g_param) AND m.tier_id IS NOT NULL;
INSERT INTO orders (id, external_id, currency, channel, placed_at, total_amount, refunded_amount, created_at, member_id)
  SELECT o.id, 'scale-o' || o.id, 'USD',
         (ARRAY['web', 'web', 'web', 'pos', 'pos', 'app'])[1 + floor(random() * 6)::int],
         o.placed_at, t.total, 0, o.placed_at, o.member_id
  FROM g_orders o JOIN g_totals t ON t.order_id = o.id;
INSERT INTO order_lines (sku, product_external_id, category, quantity, unit_price, refunded_quantity, order_id)
  SELECT 'sku-' || l.product_id, pr.external_id, pr.categories ->> 0, l.quantity, pr.price, 0, l.order_id
  FROM g_lines l JOIN products pr ON pr.id = l.product_id;
INSERT INTO awards (id, amount, reversed, status, reason, source_type, source_id, idempotency_key, rule_id,
                    details, release_at, created_at, entry_id, member_id)
  SELECT a.id, a.amount, 0, CASE WHEN a.entry_id IS NULL THEN 'held' ELSE 'released' END, 'Order scale-o' || a.order_id,
         'order', 'scale-o' || a.order_id, 'rule:{rule}:order:scale-o' || a.order_id, {rule},
         jsonb_build_object('eligibleAmount', a.amount * 100, 'currency', 'USD', 'generated', true),
         a.release_at, a.placed_at, a.entry_id, a.member_id
  FROM g_awards a;
INSERT INTO ledger_entries (id, amount, kind, reason, source_type, source_id, idempotency_key, rule_id, details,
                            expires_at, remaining, created_at, member_id)
  SELECT a.entry_id, a.amount, 'earn', 'Order scale-o' || a.order_id, 'order', 'scale-o' || a.order_id,
         'rule:{rule}:order:scale-o' || a.order_id, {rule}, jsonb_build_object('awardId', a.id),
         a.expires_at, CASE WHEN a.expires_at <= p.now - interval '1 hour' THEN 0 ELSE a.amount END,
         a.release_at, a.member_id
  FROM g_awards a, g_param p WHERE a.entry_id IS NOT NULL;
INSERT INTO ledger_entries (id, amount, kind, reason, source_type, source_id, created_at, member_id)
  SELECT {l0} + (SELECT count(*) FROM g_awards) + n, -amount, 'expire', 'Points expired', 'lot', lot_id::text,
         expires_at, member_id
  FROM g_expired;
INSERT INTO lot_consumptions (id, debit_id, lot_id, amount)
  SELECT {c0} - 1 + n, {l0} + (SELECT count(*) FROM g_awards) + n, lot_id, amount FROM g_expired;
INSERT INTO consents (purpose, granted, source, updated_at, member_id)
  SELECT purpose, random() < share, 'signup', m.joined, m.id
  FROM g_members m,
       (VALUES ('PERSONALIZATION', 0.7), ('MARKETING_EMAIL', 0.45), ('MARKETING_SMS', 0.15),
               ('REVIEW_REQUESTS', 0.6)) v(purpose, share)
  WHERE random() < 0.8;
INSERT INTO consent_changes (purpose, granted, source, created_at, member_id)
  SELECT purpose, granted, source, updated_at, member_id FROM consents c
  WHERE c.member_id >= (SELECT m0 FROM g_param);
CREATE TEMP TABLE g_reviews ON COMMIT DROP AS
  SELECT {r0} - 1 + row_number() OVER (ORDER BY created_at) AS id, *
  FROM (SELECT DISTINCT ON (l.product_id, o.member_id) l.product_id, o.member_id,
               least(p.now - interval '1 minute', o.placed_at + (3 + random() * 17) * interval '1 day') AS created_at,
               (ARRAY[5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 4, 4, 4, 4, 4, 3, 3, 2, 1, 1])[1 + floor(random() * 20)::int] AS rating,
               (ARRAY['published', 'published', 'published', 'published', 'published', 'published', 'published',
                      'published', 'published', 'published', 'published', 'published', 'published', 'published',
                      'published', 'published', 'published', 'published', 'pending', 'rejected'])
                 [1 + floor(random() * 20)::int] AS status,
               random() AS luck
        FROM (SELECT * FROM g_orders WHERE random() < 0.05) o CROSS JOIN g_param p
        JOIN g_lines l ON l.order_id = o.id AND l.line_no = 1
        ORDER BY l.product_id, o.member_id, o.placed_at) r;
INSERT INTO reviews (id, author_name, rating, title, body, attributes, status, reject_reason, verified_purchase,
                     incentivized, imported, has_media, helpful_count, not_helpful_count, open_reports,
                     reply_body, reply_by, replied_at, reply_overdue_at, counted_rating, counted_media,
                     created_at, updated_at, published_at, member_id, product_id, received_at, reply_sla_applies)
  SELECT r.id, 'Member ' || r.member_id, r.rating, NULL,
         (ARRAY{texts})[1 + (r.id % {ntexts})::int], '{{}}'::jsonb, r.status,
         CASE WHEN r.status = 'rejected' THEN 'spam' END, true, false, false, false, 0, 0, 0,
         CASE WHEN r.rating <= 2 AND r.luck < 0.3 THEN 'Sorry to hear that, we will make it right.' END,
         CASE WHEN r.rating <= 2 AND r.luck < 0.3 THEN 'merchant' END,
         CASE WHEN r.rating <= 2 AND r.luck < 0.3 THEN r.created_at + interval '5 hours' END,
         CASE WHEN r.status = 'published' AND r.rating <= 2 AND r.luck >= 0.3
                   AND r.created_at + interval '{sla} hours' <= p.now - interval '1 hour'
              THEN r.created_at + interval '{sla} hours' END,
         CASE WHEN r.status = 'published' THEN r.rating END, false,
         r.created_at, r.created_at, CASE WHEN r.status = 'published' THEN r.created_at END,
         r.member_id, r.product_id, r.created_at, true
  FROM g_reviews r, g_param p;
INSERT INTO review_revisions (rating, title, body, editor, created_at, review_id)
  SELECT rating, title, body, 'member', created_at, id FROM reviews WHERE id >= {r0};
UPDATE products pr SET review_count = s.n, rating_sum = s.total,
       rating_histogram = jsonb_build_array(s.h1, s.h2, s.h3, s.h4, s.h5)
  FROM (SELECT product_id, count(*) AS n, sum(counted_rating) AS total,
               count(*) FILTER (WHERE counted_rating = 1) AS h1, count(*) FILTER (WHERE counted_rating = 2) AS h2,
               count(*) FILTER (WHERE counted_rating = 3) AS h3, count(*) FILTER (WHERE counted_rating = 4) AS h4,
               count(*) FILTER (WHERE counted_rating = 5) AS h5
        FROM reviews WHERE counted_rating IS NOT NULL GROUP BY product_id) s
  WHERE pr.id = s.product_id;
INSERT INTO events (id, type, payload, member_id, created_at)
  SELECT {e0} - 1 + row_number() OVER (ORDER BY o.id), 'order.recorded',
         jsonb_build_object('orderExternalId', 'scale-o' || o.id, 'memberExternalId', 'scale-' || o.member_id,
                            'total', t.total, 'currency', 'USD', 'generated', true),
         o.member_id, o.placed_at
  FROM g_orders o JOIN g_totals t ON t.order_id = o.id

""".replace("{texts}", "[" + ", ".join("'" + t.replace("'", "''") + "'" for t in REVIEW_TEXTS) + "]").replace(
    "{ntexts}", str(len(REVIEW_TEXTS)))
