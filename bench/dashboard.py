"""P3: the member dashboard query (member JWT) vs a hand-written endpoint, + SQL per request.

    .venv/bin/python bench/dashboard.py [--seconds 4] [--rounds 3] [--concurrency 16]
                                        [--rate 200] [--rate-seconds 5] [--json out.json]

What it does, in one run:
  1. empties (or creates) the bench database (PATRON_BENCH_DB, default patron_bench; never
     `test`), runs `python server.py migrate`, starts the app and `bench.reference_app`
     (uvicorn --workers 1 --no-access-log --log-level warning each);
  2. through GraphQL: tiers, an ORDER_PAID rule, 20 members, 12 adjustPoints + 1 order
     (which lifts the member to a tier and leaves points pending) + 1 spendPoints each, so
     every member has 13 ledger entries, a tier, a balance and pending points;
  3. checks that the app and both references return the same JSON for the same JWT;
  4. counts SQL statements per request in-process: the ASGI apps are driven with httpx
     ASGITransport while asyncpg.Connection is wrapped (see _common.SqlCounter);
  5. req/s with a closed loop (`concurrency` in flight), alternating app / reference
     (tortoise .values()) / reference (asyncpg) for `rounds` rounds of `seconds` each;
  6. p50/p99 at a fixed `rate` req/s (open loop, latency counted from each request's
     scheduled time) for the app and the reference, and for the app at half that rate.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

import jwt
import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import (  # noqa: E402
    ADMIN_KEY,
    JWT_SECRET,
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
    fixed_rate,
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

DASHBOARD = """{ me { externalId points { balance pending } tier { name rank }
  ledger(first: 10) { edges { node { amount kind reason createdAt } } } } }"""

MEMBERS = 20
TARGET = "dash-m0"


def member_token(external_id: str) -> str:
    """What domain.auth.service.issue_member_token does, with the bench secret."""
    now = int(time.time())
    return jwt.encode({"sub": external_id, "iat": now, "exp": now + 3600}, JWT_SECRET, algorithm="HS256")


def check_ok(status: int, body: bytes) -> None:
    if status != 200 or b'"errors"' in body or b'"me":null' in body:
        raise Failure(f"dashboard failed ({status}): {body[:300]!r}")


async def setup(port: int) -> None:
    conn = await Conn.open(port)
    tier = """mutation($input: TierInput!) { createTier(input: $input) { tier { id } errors { message } } }"""
    await gql(conn, tier, {"input": {"name": "Silver", "rank": 1, "minSpend": 50_000, "currency": "USD",
                                     "earnMultiplier": "1.5", "perks": ["Free shipping"]}}, ADMIN_KEY)
    await gql(conn, tier, {"input": {"name": "Gold", "rank": 2, "minSpend": 150_000, "currency": "USD",
                                     "earnMultiplier": "2"}}, ADMIN_KEY)
    await gql(conn, """mutation($input: EarningRuleInput!) { createEarningRule(input: $input) {
        rule { id } errors { message } } }""",
              {"input": {"name": "1 point per 100", "type": "ORDER_PAID", "pointsPerUnit": 1,
                         "currencyUnit": 100}}, ADMIN_KEY)
    conn.close()
    auth = {"authorization": f"Bearer {ADMIN_KEY}"}
    reqs = [build_request("POST", "/graphql", gql_body(
        """mutation($input: UpsertMemberInput!) { upsertMember(input: $input) { created errors { message } } }""",
        {"input": {"externalId": f"dash-m{i}", "email": f"dash{i}@example.com", "name": f"Member {i}"}}), auth)
        for i in range(MEMBERS)]

    def ok(status: int, body: bytes) -> None:
        data = orjson.loads(body)
        payloads = (data.get("data") or {}).values()
        if status != 200 or data.get("errors") or any(p.get("errors") for p in payloads):
            raise Failure(f"setup call failed: {body[:300]!r}")

    await closed_loop(port, reqs, 4, ok)
    adjust = """mutation($input: AdjustPointsInput!) { adjustPoints(input: $input) { entry { id } errors { message } } }"""
    order = """mutation($input: RecordOrderInput!) { recordOrder(input: $input) { pointsAwarded errors { message } } }"""
    spend = """mutation($input: SpendPointsInput!) { spendPoints(input: $input) { entry { id } errors { message } } }"""
    reqs = []
    for i in range(MEMBERS):
        for j in range(12):
            reqs.append(build_request("POST", "/graphql", gql_body(adjust, {"input": {
                "memberExternalId": f"dash-m{i}", "amount": 100 + j, "reason": f"Goodwill credit #{j}",
                "idempotencyKey": f"adj-{i}-{j}"}}), auth))
    await closed_loop(port, reqs, 4, ok)
    reqs = [build_request("POST", "/graphql", gql_body(order, {"input": {
        "externalId": f"dash-o{i}", "memberExternalId": f"dash-m{i}", "currency": "USD",
        "placedAt": "2026-01-15T10:00:00+00:00",
        "lines": [{"sku": "sku-coat", "category": "apparel", "quantity": 1, "unitPrice": 60_000}]}}), auth)
        for i in range(MEMBERS)]
    await closed_loop(port, reqs, 4, ok)
    reqs = [build_request("POST", "/graphql", gql_body(spend, {"input": {
        "memberExternalId": f"dash-m{i}", "amount": 250, "idempotencyKey": f"spend-{i}",
        "reason": "Points used at checkout"}}), auth) for i in range(MEMBERS)]
    await closed_loop(port, reqs, 4, ok)


async def count_statements(url: str, token: str, n: int = 50) -> dict[str, Any]:
    """Statements per request, in-process: ASGI apps via httpx.ASGITransport, asyncpg wrapped."""
    import asyncpg
    import httpx

    os.environ.update({"DATABASE_URL": url, "PATRON_MEMBER_JWT_SECRET": JWT_SECRET, "PATRON_INPROCESS_JOBS": "0"})
    from bench import reference_app
    from domain import db
    from domain.settings import reload_settings
    from server import create_app

    reload_settings()
    await db.init_orm(url)
    reference_app.State.pool = await asyncpg.create_pool(url, min_size=1, max_size=reference_app.POOL_MAX)
    targets = {
        "app": (create_app(manage_db=False), "/graphql"),
        "ref": (reference_app.create_app(manage_db=False), "/dashboard"),
        "ref_asyncpg": (reference_app.create_app(manage_db=False), "/dashboard-asyncpg"),
    }
    body = gql_body(DASHBOARD)
    headers = {"authorization": f"Bearer {token}", "content-type": "application/json"}
    out: dict[str, Any] = {}
    try:
        with SqlCounter() as counter:
            for name, (asgi, path) in targets.items():
                async with httpx.AsyncClient(transport=httpx.ASGITransport(app=asgi), base_url="http://bench") as c:
                    for _ in range(5):  # warm-up: first-use queries are not per-request costs
                        r = await c.post(path, content=body, headers=headers)
                        check_ok(r.status_code, r.content)
                    samples: list[list[str]] = []
                    for _ in range(n):
                        with counter.measure() as stmts:
                            r = await c.post(path, content=body, headers=headers)
                        check_ok(r.status_code, r.content)
                        samples.append(stmts)
                out[name] = {**per_request(samples), "statements": [short_sql(s) for s in samples[-1]]}
    finally:
        await reference_app.State.pool.close()
        await db.close_orm()
    return out


async def measure(app: Server, ref: Server, url: str, a: argparse.Namespace) -> dict[str, Any]:
    await setup(app.port)
    log(f"dashboard: {MEMBERS} members set up")
    token = member_token(TARGET)
    headers = {"authorization": f"Bearer {token}"}
    body = gql_body(DASHBOARD)
    targets = {
        "app": (app.port, build_request("POST", "/graphql", body, headers)),
        "ref": (ref.port, build_request("POST", "/dashboard", body, headers)),
        "ref_asyncpg": (ref.port, build_request("POST", "/dashboard-asyncpg", body, headers)),
    }

    # Same JSON from all three, and the member has what the benchmark claims.
    answers = {}
    for name, (port, raw) in targets.items():
        conn = await Conn.open(port)
        status, resp = await conn.send(raw)
        conn.close()
        check_ok(status, resp)
        answers[name] = orjson.loads(resp)
    me = answers["app"]["data"]["me"]
    same_json = answers["app"] == answers["ref"] == answers["ref_asyncpg"]
    if not same_json:
        raise Failure(f"the references answer differently:\n{answers}")
    if len(me["ledger"]["edges"]) != 10 or me["tier"] is None:
        raise Failure(f"unexpected dashboard: {me}")

    # Warm-up, then alternating closed-loop rounds.
    for port, raw in targets.values():
        await closed_loop(port, lambda i, raw=raw: raw, a.concurrency, check_ok, duration=1.0)
    runs: dict[str, list[LoadResult]] = {k: [] for k in targets}
    for r in range(a.rounds):
        for name, (port, raw) in targets.items():
            runs[name].append(await closed_loop(port, lambda i, raw=raw: raw, a.concurrency, check_ok,
                                                duration=a.seconds))
        log("round %d: " % (r + 1) + ", ".join(f"{k} {v[-1].rate:.0f}/s" for k, v in runs.items()))

    def total(name: str) -> dict[str, Any]:
        count = sum(x.count for x in runs[name])
        seconds = sum(x.seconds for x in runs[name])
        lat = [v for x in runs[name] for v in x.latencies]
        return {"requests": count, "seconds": round(seconds, 2), "per_second": round(count / seconds, 1),
                "p50_ms": round(percentile(lat, 50) * 1000, 2), "p99_ms": round(percentile(lat, 99) * 1000, 2),
                "rounds_per_second": [round(x.rate, 1) for x in runs[name]]}

    throughput = {k: total(k) for k in targets}

    fixed = {}
    for key, name, rate in (("app", "app", a.rate), ("ref", "ref", a.rate), ("app_low", "app", a.rate / 2)):
        port, raw = targets[name]
        res = await fixed_rate(port, raw, rate, a.rate_seconds, check_ok)
        fixed[key] = {"rate": rate, "seconds": a.rate_seconds, "requests": res.count,
                      "drained_seconds": round(res.seconds, 2),
                      "p50_ms": round(percentile(res.latencies, 50) * 1000, 2),
                      "p99_ms": round(percentile(res.latencies, 99) * 1000, 2),
                      "max_ms": round(max(res.latencies) * 1000, 2)}
        log(f"fixed {rate:.0f}/s {name}: p99 {fixed[key]['p99_ms']} ms, all answered after "
            f"{res.seconds:.1f} s")

    log("counting SQL statements per request in-process")
    statements = await count_statements(url, token)
    return {
        "config": {"seconds_per_round": a.seconds, "rounds": a.rounds, "concurrency": a.concurrency,
                   "member": TARGET, "ledger_entries_per_member": 13, "database": url},
        "commands": {"app": " ".join(app.command[1:]), "ref": " ".join(ref.command[1:])},
        "query": " ".join(DASHBOARD.split()),
        "same_json": same_json,
        "sample": me,
        "throughput": throughput,
        "ratio_vs_ref": round(throughput["app"]["per_second"] / throughput["ref"]["per_second"], 3),
        "ratio_vs_ref_asyncpg": round(throughput["app"]["per_second"] / throughput["ref_asyncpg"]["per_second"], 3),
        "fixed_rate": fixed,
        "statements": statements,
    }


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seconds", type=float, default=4.0, help="seconds per target per round")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--concurrency", type=int, default=16)
    p.add_argument("--rate", type=float, default=200.0, help="fixed request rate for the p99 figure")
    p.add_argument("--rate-seconds", type=float, default=5.0)
    p.add_argument("--json", help="write the figures here as JSON")
    return p.parse_args(argv)


def run(a: argparse.Namespace) -> dict[str, Any]:
    name = bench_db_name()
    url = db_url(name)
    log(f"dashboard: recreating database {name}")
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
    t, s, f = r["throughput"], r["statements"], r["fixed_rate"]
    return "\n".join([
        f"dashboard  app {t['app']['per_second']}/s  ref(tortoise .values) {t['ref']['per_second']}/s  "
        f"ref(asyncpg) {t['ref_asyncpg']['per_second']}/s",
        f"ratio app/ref = {r['ratio_vs_ref']}  app/ref(asyncpg) = {r['ratio_vs_ref_asyncpg']}  (target >= 0.7)",
        f"SQL per request (queries / incl. pool resets): app {s['app']['queries']} / {s['app']['total']}  "
        f"ref {s['ref']['queries']} / {s['ref']['total']}  ref(asyncpg) {s['ref_asyncpg']['queries']} / "
        f"{s['ref_asyncpg']['total']}",
        f"p99 at {f['app']['rate']:.0f} req/s: app {f['app']['p99_ms']} ms  ref {f['ref']['p99_ms']} ms (target <= 50)"
        f"; app at {f['app_low']['rate']:.0f} req/s: {f['app_low']['p99_ms']} ms",
    ])


def main() -> None:
    a = parse()
    out = run(a)
    print(report(out))
    if a.json:
        Path(a.json).write_bytes(orjson.dumps(out, option=orjson.OPT_INDENT_2, default=str))


if __name__ == "__main__":
    main()
