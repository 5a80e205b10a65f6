"""P4: recordOrder throughput on PostgreSQL vs a hand-written asyncpg transaction, + drift.

    .venv/bin/python bench/record_order.py [--orders 1200] [--rounds 2] [--members 100]
                                           [--concurrency 16] [--json out.json]

What it does, in one run:
  1. empties (or creates) the bench database (PATRON_BENCH_DB, default patron_bench; never
     `test`), runs `python server.py migrate`;
  2. starts the app (`uvicorn --factory server:create_app`, 1 worker) and the hand-written
     reference (`bench.reference_app`, same flags) against that database;
  3. sets the program up through GraphQL: a storefront API key, createTier x2 (Silver,
     Gold: spend thresholds, 1.5x / 2x), createEarningRule ORDER_PAID (1 point per 100),
     upsertMember for three identical member sets (app-*, ref-*, dir-*);
  4. fires the same order sequence (2 lines each, ~16 in flight) at
       app    recordOrder mutations through uvicorn (storefront key),
       ref    POST /orders on the reference: same body, one asyncpg transaction,
       direct the same asyncpg transaction called in this process (no HTTP at all),
     alternating app/ref/direct for `rounds` rounds after a warm-up;
  5. counts SQL statements per recordOrder in-process (ASGI app + wrapped asyncpg);
  6. checks the writes and the drift in SQL.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import (  # noqa: E402
    ADMIN_KEY,
    Conn,
    Failure,
    LoadResult,
    Server,
    SqlCounter,
    app_env,
    bench_db_name,
    build_request,
    closed_loop,
    db_url,
    gql,
    gql_body,
    log,
    migrate,
    per_request,
    percentile,
    recreate_db,
    run_loop,
    serving,
    short_sql,
    use_app_dir,
)

use_app_dir()

RECORD_ORDER = """mutation RecordOrder($input: RecordOrderInput!) {
  recordOrder(input: $input) {
    order { id externalId }
    pointsAwarded
    replayed
    errors { field message code }
  }
}"""

SIDES = ("app", "ref", "dir")
SKUS = [("sku-tee", "apparel"), ("sku-mug", "home"), ("sku-cap", "apparel"), ("sku-book", "books"),
        ("sku-lamp", "home"), ("sku-sock", "apparel")]


def order_inputs(tag: str, count: int, members: int, seed: int) -> list[dict[str, Any]]:
    """The same sequence for every side: side prefixes are added by `for_side`."""
    rnd = random.Random(seed)
    placed = datetime.now(UTC).isoformat()
    out = []
    for i in range(count):
        lines = []
        for sku, cat in rnd.sample(SKUS, 2):
            lines.append({"sku": sku, "category": cat, "productExternalId": f"p-{sku}",
                          "quantity": rnd.randint(1, 3), "unitPrice": rnd.randint(500, 2500)})
        out.append({"externalId": f"{tag}-o{i}", "member": i % members, "currency": "USD",
                    "channel": "web", "placedAt": placed, "lines": lines})
    return out


def for_side(side: str, o: dict[str, Any]) -> dict[str, Any]:
    return {**{k: v for k, v in o.items() if k != "member"}, "externalId": f"{side}-{o['externalId']}",
            "memberExternalId": f"{side}-m{o['member']}"}


def check_order(status: int, body: bytes) -> None:
    if status != 200:
        raise Failure(f"HTTP {status}: {body[:300]!r}")
    data = orjson.loads(body)
    payload = (data.get("data") or {}).get("recordOrder")
    if data.get("errors") or not payload or payload["errors"] or payload["replayed"]:
        raise Failure(f"recordOrder failed: {body[:300]!r}")


async def setup_program(conn: Conn, members: int) -> str:
    key = await gql(conn, """mutation { createApiKey(input: {name: "bench storefront", role: STOREFRONT}) {
        secret errors { message } } }""", token=ADMIN_KEY)
    storefront = key["createApiKey"]["secret"]
    tier = """mutation($input: TierInput!) { createTier(input: $input) { tier { id } errors { message } } }"""
    await gql(conn, tier, {"input": {"name": "Silver", "rank": 1, "minSpend": 50_000, "currency": "USD",
                                     "earnMultiplier": "1.5", "perks": ["Free shipping"]}}, ADMIN_KEY)
    await gql(conn, tier, {"input": {"name": "Gold", "rank": 2, "minSpend": 150_000, "currency": "USD",
                                     "earnMultiplier": "2"}}, ADMIN_KEY)
    await gql(conn, """mutation($input: EarningRuleInput!) { createEarningRule(input: $input) {
        rule { id } errors { message } } }""",
              {"input": {"name": "1 point per 100", "type": "ORDER_PAID", "pointsPerUnit": 1,
                         "currencyUnit": 100}}, ADMIN_KEY)
    return storefront


async def upsert_members(port: int, members: int, token: str) -> None:
    query = """mutation($input: UpsertMemberInput!) { upsertMember(input: $input) { created errors { message } } }"""
    reqs = [build_request("POST", "/graphql", gql_body(query, {"input": {
        "externalId": f"{side}-m{i}", "email": f"{side}-m{i}@example.com", "name": f"Member {i}"}}),
        {"authorization": f"Bearer {token}"}) for side in SIDES for i in range(members)]

    def check(status: int, body: bytes) -> None:
        data = orjson.loads(body)
        if status != 200 or data.get("errors") or not data["data"]["upsertMember"]["created"]:
            raise Failure(f"upsertMember failed: {body[:300]!r}")

    await closed_loop(port, reqs, 8, check)


async def direct_loop(pool: Any, program: Any, orders: list[dict[str, Any]], concurrency: int) -> LoadResult:
    from bench.reference_app import record_order_tx

    latencies: list[float] = []
    it = iter(orders)

    async def worker() -> None:
        for o in it:
            t0 = time.perf_counter()
            async with pool.acquire() as conn:
                payload = await record_order_tx(conn, program, o)
            latencies.append(time.perf_counter() - t0)
            if payload["errors"] or payload["replayed"]:
                raise Failure(f"direct reference failed: {payload}")

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return LoadResult(len(latencies), time.perf_counter() - start, latencies)


DRIFT_SQL = """
SELECT split_part(m.external_id, '-', 1) AS side, count(*) AS members,
       count(*) FILTER (WHERE m.points_balance <> coalesce(l.total, 0)) AS balance_drift,
       count(*) FILTER (WHERE m.points_pending <> coalesce(a.total, 0)) AS pending_drift,
       count(*) FILTER (WHERE m.points_balance <> coalesce(l.total, 0)
                           OR m.points_pending <> coalesce(a.total, 0)) AS drifting
FROM members m
LEFT JOIN (SELECT member_id, sum(amount) AS total FROM ledger_entries GROUP BY member_id) l
       ON l.member_id = m.id
LEFT JOIN (SELECT member_id, sum(amount - reversed) AS total FROM awards WHERE status = 'held'
           GROUP BY member_id) a ON a.member_id = m.id
GROUP BY 1 ORDER BY 1
"""

WRITES_SQL = """
SELECT split_part(m.external_id, '-', 1) AS side,
  (SELECT count(*) FROM orders o WHERE o.member_id = ANY(array_agg(m.id))) AS orders,
  (SELECT count(*) FROM order_lines ol JOIN orders o ON o.id = ol.order_id
    WHERE o.member_id = ANY(array_agg(m.id))) AS order_lines,
  (SELECT count(*) FROM awards a WHERE a.member_id = ANY(array_agg(m.id))) AS awards,
  (SELECT coalesce(sum(a.amount), 0) FROM awards a WHERE a.member_id = ANY(array_agg(m.id))) AS points,
  (SELECT count(*) FROM events e WHERE e.member_id = ANY(array_agg(m.id)) AND e.type = 'order.recorded')
    AS ev_order_recorded,
  (SELECT count(*) FROM events e WHERE e.member_id = ANY(array_agg(m.id)) AND e.type = 'points.earned')
    AS ev_points_earned,
  (SELECT count(*) FROM events e WHERE e.member_id = ANY(array_agg(m.id)) AND e.type = 'member.tier_changed')
    AS ev_tier_changed,
  (SELECT count(*) FROM tier_changes t WHERE t.member_id = ANY(array_agg(m.id))) AS tier_changes,
  count(*) FILTER (WHERE m.tier_id IS NOT NULL) AS members_with_tier
FROM members m GROUP BY 1 ORDER BY 1
"""


async def count_statements(url: str, storefront: str, members: int) -> dict[str, Any]:
    """SQL statements per recordOrder: the app in-process (ASGI, httpx) and the reference tx."""
    import asyncpg
    import httpx

    os.environ.update({"DATABASE_URL": url, "PATRON_INPROCESS_JOBS": "0"})
    from bench.reference_app import load_program, record_order_tx
    from domain import db
    from domain.settings import reload_settings
    from server import create_app

    reload_settings()
    await db.init_orm(url)
    pool = await asyncpg.create_pool(url, min_size=1, max_size=2)
    n = 20
    orders = order_inputs("sql", n, members, seed=99)
    app_samples: list[list[str]] = []
    ref_samples: list[list[str]] = []
    try:
        transport = httpx.ASGITransport(app=create_app(manage_db=False))
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            headers = {"authorization": f"Bearer {storefront}", "content-type": "application/json"}
            for o in order_inputs("sqlw", 2, members, seed=98):  # warm-up: API-key cache, imports
                r = await client.post("/graphql", headers=headers,
                                      content=gql_body(RECORD_ORDER, {"input": for_side("app", o)}))
                check_order(r.status_code, r.content)
            with SqlCounter() as counter:
                for o in orders:
                    with counter.measure() as stmts:
                        r = await client.post("/graphql", headers=headers,
                                              content=gql_body(RECORD_ORDER, {"input": for_side("app", o)}))
                    check_order(r.status_code, r.content)
                    app_samples.append(stmts)
                async with pool.acquire() as conn:
                    program = await load_program(conn)
                    for o in order_inputs("sqlw", 2, members, seed=98):  # the same warm-up orders
                        await record_order_tx(conn, program, for_side("ref", o))
                for o in orders:  # as the reference endpoint does: a pooled connection per order
                    with counter.measure() as stmts:
                        async with pool.acquire() as conn:
                            await record_order_tx(conn, program, for_side("ref", o))
                    ref_samples.append(stmts)
    finally:
        await pool.close()
        await db.close_orm()
    return {
        "app": per_request(app_samples), "ref": per_request(ref_samples),
        "app_sample": [short_sql(s) for s in app_samples[-1]],
        "ref_sample": [short_sql(s) for s in ref_samples[-1]],
    }


async def measure(app: Server, ref: Server, url: str, a: argparse.Namespace) -> dict[str, Any]:
    import asyncpg

    from bench.reference_app import POOL_MAX, load_program

    conn = await Conn.open(app.port)
    storefront = await setup_program(conn, a.members)
    conn.close()
    await upsert_members(app.port, a.members, storefront)
    log(f"program set up, {a.members} members per side")

    pool = await asyncpg.create_pool(url, min_size=POOL_MAX, max_size=POOL_MAX)
    async with pool.acquire() as c:
        program = await load_program(c)
    auth = {"authorization": f"Bearer {storefront}"}

    def http_requests(side: str, path: str, orders: list[dict[str, Any]]) -> list[bytes]:
        return [build_request("POST", path, gql_body(RECORD_ORDER, {"input": for_side(side, o)}), auth)
                for o in orders]

    # Warm-up (not timed): imports, caches, connection pools, the API-key cache.
    warm = order_inputs("w", a.warmup, a.members, seed=1)
    await closed_loop(app.port, http_requests("app", "/graphql", warm), a.concurrency, check_order)
    await closed_loop(ref.port, http_requests("ref", "/orders", warm), a.concurrency, check_order)
    await direct_loop(pool, program, [for_side("dir", o) for o in warm], a.concurrency)

    results: dict[str, list[LoadResult]] = {s: [] for s in SIDES}
    for r in range(a.rounds):
        orders = order_inputs(f"r{r}", a.orders, a.members, seed=100 + r)
        results["app"].append(await closed_loop(app.port, http_requests("app", "/graphql", orders),
                                                a.concurrency, check_order))
        results["ref"].append(await closed_loop(ref.port, http_requests("ref", "/orders", orders),
                                                a.concurrency, check_order))
        results["dir"].append(await direct_loop(pool, program, [for_side("dir", o) for o in orders],
                                                a.concurrency))
        log("round %d: app %.0f/s, ref %.0f/s, direct %.0f/s" % (
            r + 1, results["app"][-1].rate, results["ref"][-1].rate, results["dir"][-1].rate))

    def total(side: str) -> dict[str, float]:
        runs = results[side]
        count = sum(x.count for x in runs)
        seconds = sum(x.seconds for x in runs)
        lat = [v for x in runs for v in x.latencies]
        return {"orders": count, "seconds": round(seconds, 2), "per_second": round(count / seconds, 1),
                "p50_ms": round(percentile(lat, 50) * 1000, 1), "p99_ms": round(percentile(lat, 99) * 1000, 1),
                "rounds_per_second": [round(x.rate, 1) for x in runs]}

    figures = {s: total(s) for s in SIDES}

    # Plans of the tier check as the table stands (orders.member_id has no index).
    async with pool.acquire() as c:
        mid = await c.fetchval("SELECT id FROM members WHERE external_id = 'app-m0'")
        plan = [r[0] for r in await c.fetch(
            "EXPLAIN SELECT total_amount, refunded_amount FROM orders WHERE member_id = $1"
            " AND placed_at >= now() - interval '365 days'", mid)]
        indexes = [r[0] for r in await c.fetch(
            "SELECT indexdef FROM pg_indexes WHERE tablename IN ('orders', 'order_lines') ORDER BY 1")]
    await pool.close()

    log("counting SQL statements per recordOrder in-process")
    statements = await count_statements(url, storefront, a.members)

    drift_conn = await asyncpg.connect(url)
    try:
        drift = [dict(r) for r in await drift_conn.fetch(DRIFT_SQL)]
        writes = [dict(r) for r in await drift_conn.fetch(WRITES_SQL)]
    finally:
        await drift_conn.close()

    by_side = {w["side"]: {k: v for k, v in w.items() if k != "side"} for w in writes}
    expected = a.warmup + a.rounds * a.orders
    return {
        "config": {"orders_per_round": a.orders, "rounds": a.rounds, "warmup": a.warmup,
                   "members_per_side": a.members, "concurrency": a.concurrency, "pool_max": POOL_MAX,
                   "database": url},
        "commands": {"app": " ".join(app.command[1:]), "ref": " ".join(ref.command[1:])},
        "throughput": figures,
        "ratio_vs_ref_http": round(figures["app"]["per_second"] / figures["ref"]["per_second"], 3),
        "ratio_vs_direct": round(figures["app"]["per_second"] / figures["dir"]["per_second"], 3),
        "statements": statements,
        "drift": drift,
        "drifting_members": sum(r["drifting"] for r in drift),
        "writes": writes,
        # The app and the HTTP reference got exactly the same orders: every count must match.
        "app_ref_writes_equal": by_side.get("app") == by_side.get("ref"),
        "expected_orders_per_side": expected,
        "tier_check_plan": plan,
        "order_indexes": indexes,
    }


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--orders", type=int, default=1200, help="orders per side per round")
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--warmup", type=int, default=150)
    p.add_argument("--members", type=int, default=100, help="members per side")
    p.add_argument("--concurrency", type=int, default=16)
    p.add_argument("--json", help="write the figures here as JSON")
    return p.parse_args(argv)


def run(a: argparse.Namespace) -> dict[str, Any]:
    name = bench_db_name()
    url = db_url(name)
    log(f"recordOrder: recreating database {name}")
    run_loop(recreate_db(name))
    migrate(url)
    env = app_env(url)
    app = Server("server:create_app", env)
    ref = Server("bench.reference_app:create_app", env)
    started = time.monotonic()
    with serving(app, ref):
        out = run_loop(measure(app, ref, url, a))
    out["wall_seconds"] = round(time.monotonic() - started, 1)
    return out


def report(r: dict[str, Any]) -> str:
    t = r["throughput"]
    s = r["statements"]
    lines = [
        f"recordOrder  app {t['app']['per_second']}/s  ref(HTTP) {t['ref']['per_second']}/s  "
        f"direct {t['dir']['per_second']}/s",
        f"ratio app/ref(HTTP) = {r['ratio_vs_ref_http']}   app/direct = {r['ratio_vs_direct']}   (target >= 0.6)",
        f"p99 ms: app {t['app']['p99_ms']}  ref {t['ref']['p99_ms']}  direct {t['dir']['p99_ms']}",
        f"SQL statements per order (total / queries): app {s['app']['total']} / {s['app']['queries']}"
        f"  ref {s['ref']['total']} / {s['ref']['queries']}",
        f"drifting members: {r['drifting_members']}   app and reference wrote the same rows: "
        f"{r['app_ref_writes_equal']}",
    ]
    return "\n".join(lines)


def main() -> None:
    a = parse()
    out = run(a)
    print(report(out))
    if a.json:
        Path(a.json).write_bytes(orjson.dumps(out, option=orjson.OPT_INDENT_2, default=str))


if __name__ == "__main__":
    main()
