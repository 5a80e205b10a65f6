"""redeemReward throughput on PostgreSQL vs a hand-written asyncpg transaction, + drift.

    .venv/bin/python bench/redeem.py [--redeems 800] [--rounds 2] [--members 100]
                                     [--concurrency 16] [--json out.json]

What it does, in one run:
  1. empties (or creates) the bench database (PATRON_BENCH_DB, default patron_bench; never
     `test`), runs `python server.py migrate`, starts the app and `bench.reference_app`;
  2. through GraphQL (admin key): a storefront key, createReward x3 (one per side with
     `stock` = 100,000, and a 50-unit one for the stock-out check), upsertMember for
     `members` members per side (app-*, ref-*), each funded with two adjustPoints credits
     (two lots, so debits walk the FEFO order);
  3. fires the same redeem sequence (round-robin over the side's members, one unique
     idempotency key each) at
       app  the redeemReward mutation through uvicorn (storefront key + memberExternalId),
       ref  POST /redeem on the reference: same body, one asyncpg transaction doing the same
            writes (member lock, reward lock, FEFO lots, debit entry, consumptions, balance,
            stock, redemption with a code, two outbox events),
     alternating for `rounds` rounds after a warm-up; every answer must carry a code;
  4. stock-out: 200 redeems of the 50-unit reward by 200 different members at once
     (32 in flight): exactly 50 must succeed, the rest answer OUT_OF_STOCK;
  5. replays: 20 keys already used are sent again, concurrently, 5 times each: no new rows;
  6. counts statements per redeem in-process (ASGI app + wrapped asyncpg, and the reference);
  7. checks in SQL: every member's points_balance = sum(ledger_entries.amount), no negative
     balance, the lots' remaining points = the balance, and for every reward
     stock + redemptions not cancelled = initial stock; events per redemption.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
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

REDEEM = """mutation Redeem($input: RedeemRewardInput!) {
  redeemReward(input: $input) { redemption { code status points } errors { field message code } }
}"""
SIDES = ("app", "ref")
STOCK = 100_000
LIMITED_STOCK = 50
COST = 100
CREDITS = (30_000, 20_000)  # two lots per member


def check_redeem(status: int, body: bytes) -> None:
    if status != 200:
        raise Failure(f"HTTP {status}: {body[:300]!r}")
    data = orjson.loads(body)
    payload = (data.get("data") or {}).get("redeemReward")
    if data.get("errors") or not payload or payload["errors"] or not payload["redemption"]["code"]:
        raise Failure(f"redeemReward failed: {body[:300]!r}")


def ok_check(status: int, body: bytes) -> None:
    data = orjson.loads(body)
    payloads = (data.get("data") or {}).values()
    if status != 200 or data.get("errors") or any(isinstance(p, dict) and p.get("errors") for p in payloads):
        raise Failure(f"setup call failed: {body[:300]!r}")


async def setup(port: int, members: int) -> tuple[str, dict[str, int]]:
    conn = await Conn.open(port)
    key = await gql(conn, """mutation { createApiKey(input: {name: "bench storefront", role: STOREFRONT}) {
        secret errors { message } } }""", token=ADMIN_KEY)
    storefront = key["createApiKey"]["secret"]
    create = """mutation($input: RewardInput!) { createReward(input: $input) { reward { rewardId stock } errors { message } } }"""
    rewards = {}
    for name, stock in (("app", STOCK), ("ref", STOCK), ("limited", LIMITED_STOCK)):
        out = await gql(conn, create, {"input": {"name": f"$5 off ({name})", "type": "FIXED_AMOUNT", "pointsCost": COST,
                                                 "amount": 500, "currency": "USD", "stock": stock,
                                                 "codeValidDays": 30}}, ADMIN_KEY)
        rewards[name] = out["createReward"]["reward"]["rewardId"]
    conn.close()
    auth = {"authorization": f"Bearer {ADMIN_KEY}"}
    upsert = """mutation($input: UpsertMemberInput!) { upsertMember(input: $input) { created errors { message } } }"""
    reqs = [build_request("POST", "/graphql", gql_body(upsert, {"input": {
        "externalId": f"{side}-m{i}", "email": f"{side}-m{i}@example.com", "name": f"Member {i}"}}), auth)
        for side in (*SIDES, "lim") for i in range(members if side != "lim" else 200)]
    await closed_loop(port, reqs, 8, ok_check)
    adjust = """mutation($input: AdjustPointsInput!) { adjustPoints(input: $input) { entry { id } errors { message } } }"""
    reqs = [build_request("POST", "/graphql", gql_body(adjust, {"input": {
        "memberExternalId": f"{side}-m{i}", "amount": amount, "reason": "Bench funding",
        "idempotencyKey": f"fund-{side}-{i}-{j}"}}), auth)
        for side in (*SIDES, "lim") for i in range(members if side != "lim" else 200)
        for j, amount in enumerate(CREDITS if side != "lim" else (COST,))]
    await closed_loop(port, reqs, 8, ok_check)
    return storefront, rewards


def redeem_input(side: str, tag: str, i: int, members: int, reward: int) -> dict[str, Any]:
    return {"memberExternalId": f"{side}-m{i % members}", "rewardId": reward, "idempotencyKey": f"{tag}-{i}"}


DRIFT_SQL = """
SELECT split_part(m.external_id, '-', 1) AS side, count(*) AS members,
       count(*) FILTER (WHERE m.points_balance <> coalesce(l.total, 0)) AS balance_drift,
       count(*) FILTER (WHERE m.points_balance < 0) AS negative,
       count(*) FILTER (WHERE greatest(m.points_balance, 0) <> coalesce(l.lots, 0)) AS lots_drift,
       coalesce(sum(m.points_balance), 0) AS points
FROM members m
LEFT JOIN (SELECT member_id, sum(amount) AS total, sum(remaining) FILTER (WHERE remaining > 0) AS lots
           FROM ledger_entries GROUP BY member_id) l ON l.member_id = m.id
GROUP BY 1 ORDER BY 1
"""

STOCK_SQL = """
SELECT r.id, r.name, r.stock,
       (SELECT count(*) FROM redemptions x WHERE x.reward_id = r.id AND x.status <> 'cancelled') AS issued,
       (SELECT count(*) FROM redemptions x WHERE x.reward_id = r.id) AS redemptions,
       (SELECT count(*) FROM ledger_entries e WHERE e.source_type = 'reward' AND e.source_id = r.id::text) AS debits,
       (SELECT count(*) FROM events e WHERE e.type = 'reward.redeemed' AND (e.payload->>'rewardId')::int = r.id)
         AS reward_events
FROM rewards r ORDER BY r.id
"""


async def count_statements(url: str, storefront: str, rewards: dict[str, int], members: int) -> dict[str, Any]:
    import asyncpg
    import httpx

    os.environ.update({"DATABASE_URL": url, "PATRON_INPROCESS_JOBS": "0", "PATRON_RATE_LIMIT_KEY": "0"})
    from bench.reference_app import redeem_tx
    from domain import db
    from domain.settings import reload_settings
    from server import create_app

    reload_settings()
    await db.init_orm(url)
    pool = await asyncpg.create_pool(url, min_size=1, max_size=2)
    app_samples: list[list[str]] = []
    ref_samples: list[list[str]] = []
    try:
        transport = httpx.ASGITransport(app=create_app(manage_db=False))
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            headers = {"authorization": f"Bearer {storefront}", "content-type": "application/json"}
            for i in range(2):  # warm-up: API-key cache, imports
                r = await client.post("/graphql", headers=headers, content=gql_body(REDEEM, {
                    "input": redeem_input("app", "sqlw", i, members, rewards["app"])}))
                check_redeem(r.status_code, r.content)
            with SqlCounter() as counter:
                for i in range(20):
                    with counter.measure() as stmts:
                        r = await client.post("/graphql", headers=headers, content=gql_body(REDEEM, {
                            "input": redeem_input("app", "sql", i, members, rewards["app"])}))
                    check_redeem(r.status_code, r.content)
                    app_samples.append(stmts)
                for i in range(20):
                    with counter.measure() as stmts:
                        async with pool.acquire() as conn:
                            await redeem_tx(conn, f"ref-m{i % members}", rewards["ref"], f"sql-{i}")
                    ref_samples.append(stmts)
    finally:
        await pool.close()
        await db.close_orm()
    return {"app": per_request(app_samples), "ref": per_request(ref_samples),
            "app_sample": [short_sql(s) for s in app_samples[-1]],
            "ref_sample": [short_sql(s) for s in ref_samples[-1]]}


async def measure(app: Server, ref: Server, url: str, a: argparse.Namespace) -> dict[str, Any]:
    import asyncpg

    t0 = time.monotonic()
    storefront, rewards = await setup(app.port, a.members)
    log(f"redeem: set up in {time.monotonic() - t0:.1f} s: rewards {rewards}, {a.members} members per side")
    auth = {"authorization": f"Bearer {storefront}"}
    paths = {"app": (app.port, "/graphql"), "ref": (ref.port, "/redeem")}

    def reqs(side: str, tag: str, count: int) -> list[bytes]:
        port, path = paths[side]
        return [build_request("POST", path, gql_body(REDEEM, {"input": redeem_input(
            side, tag, i, a.members, rewards[side])}), auth) for i in range(count)]

    for side in SIDES:
        await closed_loop(paths[side][0], reqs(side, "w", a.warmup), a.concurrency, check_redeem)
    results: dict[str, list[LoadResult]] = {s: [] for s in SIDES}
    for r in range(a.rounds):
        for side in SIDES:
            results[side].append(await closed_loop(paths[side][0], reqs(side, f"r{r}", a.redeems),
                                                   a.concurrency, check_redeem))
        log("round %d: " % (r + 1) + ", ".join(f"{s} {results[s][-1].rate:.0f}/s" for s in SIDES))

    def total(side: str) -> dict[str, Any]:
        runs = results[side]
        count = sum(x.count for x in runs)
        seconds = sum(x.seconds for x in runs)
        lat = [v for x in runs for v in x.latencies]
        return {"redeems": count, "seconds": round(seconds, 2), "per_second": round(count / seconds, 1),
                "p50_ms": round(percentile(lat, 50) * 1000, 1), "p99_ms": round(percentile(lat, 99) * 1000, 1),
                "rounds_per_second": [round(x.rate, 1) for x in runs]}

    figures = {s: total(s) for s in SIDES}

    # Stock-out: 200 members, one redeem each, 50 in stock.
    outcomes: dict[str, int] = {}

    def count_outcome(status: int, body: bytes) -> None:
        if status != 200:
            raise Failure(f"HTTP {status}: {body[:300]!r}")
        data = orjson.loads(body)
        if data.get("errors"):
            raise Failure(f"stock-out call failed: {body[:300]!r}")
        p = data["data"]["redeemReward"]
        key = "issued" if p["redemption"] else (p["errors"][0]["code"] if p["errors"] else "?")
        outcomes[key] = outcomes.get(key, 0) + 1

    lim = [build_request("POST", "/graphql", gql_body(REDEEM, {"input": {
        "memberExternalId": f"lim-m{i}", "rewardId": rewards["limited"], "idempotencyKey": f"lim-{i}"}}), auth)
        for i in range(200)]
    await closed_loop(app.port, lim, 32, count_outcome)
    log(f"stock-out: {outcomes}")

    # Replays: 20 used keys x 5, all at once: the same code back, nothing new written.
    replays = [build_request("POST", "/graphql", gql_body(REDEEM, {"input": redeem_input(
        "app", "r0", i, a.members, rewards["app"])}), auth) for i in range(20) for _ in range(5)]
    db = await asyncpg.connect(url)
    before = await db.fetchval("SELECT count(*) FROM redemptions")
    await closed_loop(app.port, replays, 25, check_redeem)
    after = await db.fetchval("SELECT count(*) FROM redemptions")
    await db.close()

    log("counting SQL statements per redeem in-process")
    statements = await count_statements(url, storefront, rewards, a.members)

    db = await asyncpg.connect(url)
    try:
        drift = [dict(r) for r in await db.fetch(DRIFT_SQL)]
        stock = [dict(r) for r in await db.fetch(STOCK_SQL)]
        events = {r["type"]: r["n"] for r in await db.fetch(
            "SELECT type, count(*) AS n FROM events WHERE type IN ('points.redeemed', 'reward.redeemed')"
            " GROUP BY type")}
    finally:
        await db.close()
    initial = {rewards["app"]: STOCK, rewards["ref"]: STOCK, rewards["limited"]: LIMITED_STOCK}
    for s in stock:
        s["initial"] = initial[s["id"]]
        s["ok"] = s["stock"] + s["issued"] == s["initial"] and s["redemptions"] == s["debits"] == s["reward_events"]
    return {
        "config": {"redeems_per_round": a.redeems, "rounds": a.rounds, "warmup": a.warmup, "members_per_side": a.members,
                   "concurrency": a.concurrency, "cost": COST, "credits_per_member": list(CREDITS), "stock": STOCK,
                   "database": url},
        "throughput": figures,
        "ratio_vs_ref": round(figures["app"]["per_second"] / figures["ref"]["per_second"], 3),
        "stock_out": {"attempts": 200, "stock": LIMITED_STOCK, "outcomes": outcomes,
                      "ok": outcomes.get("issued") == LIMITED_STOCK and outcomes.get("OUT_OF_STOCK") == 200 - LIMITED_STOCK},
        "replays": {"sent": len(replays), "new_redemptions": after - before},
        "statements": statements,
        "drift": drift,
        "drifting_members": sum(r["balance_drift"] for r in drift),
        "negative_balances": sum(r["negative"] for r in drift),
        "lots_drift": sum(r["lots_drift"] for r in drift),
        "stock": stock,
        "stock_ok": all(s["ok"] for s in stock),
        "events": events,
    }


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--redeems", type=int, default=800, help="redeems per side per round")
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--warmup", type=int, default=100)
    p.add_argument("--members", type=int, default=100, help="members per side")
    p.add_argument("--concurrency", type=int, default=16)
    p.add_argument("--json", help="write the figures here as JSON")
    return p.parse_args(argv)


def run(a: argparse.Namespace) -> dict[str, Any]:
    name = bench_db_name()
    url = db_url(name)
    log(f"redeem: recreating database {name}")
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
    t, s = r["throughput"], r["statements"]
    return "\n".join([
        f"redeemReward  app {t['app']['per_second']}/s (p99 {t['app']['p99_ms']} ms)  "
        f"ref {t['ref']['per_second']}/s (p99 {t['ref']['p99_ms']} ms)  ratio {r['ratio_vs_ref']}",
        f"SQL per redeem (total / queries): app {s['app']['total']} / {s['app']['queries']}  "
        f"ref {s['ref']['total']} / {s['ref']['queries']}",
        f"drifting members {r['drifting_members']}, negative {r['negative_balances']}, lots drift {r['lots_drift']}, "
        f"stock ok {r['stock_ok']}, stock-out {r['stock_out']['outcomes']}, replays -> "
        f"{r['replays']['new_redemptions']} new",
    ])


def main() -> None:
    a = parse()
    out = run(a)
    print(report(out))
    if a.json:
        Path(a.json).write_bytes(orjson.dumps(out, option=orjson.OPT_INDENT_2, default=str))


if __name__ == "__main__":
    main()
