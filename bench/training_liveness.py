"""Liveness while the recommender trains (issue 10, item 6).

An API process (uvicorn, 1 worker, PostgreSQL) trains the recommender through
`trainRecommender` on MEMBERS x ITEMS x INTERACTIONS synthetic signals while a prober sends
`GET /healthz` every 25 ms and `{ tiers { name } }` every 100 ms. Run twice: the build in a
child process (the default) and in the API process (PATRON_RECS_TRAIN_SUBPROCESS=0), so
the figures show what moving it off the event loop buys. Target: /healthz and the query
answer within 100 ms while training runs.

    .venv/bin/python bench/training_liveness.py [--members 100000 --items 10000 --interactions 1000000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx  # noqa: E402

from bench._common import (  # noqa: E402
    ADMIN_KEY, BENCH, Server, app_env, bench_db_name, db_url, log, machine, migrate, percentile, recreate_db,
    run_loop,
)


async def seed(url: str, members: int, items: int, interactions: int) -> None:
    """Members and VIEW/PURCHASE signals with a power-law item popularity, in SQL."""
    import asyncpg

    conn = await asyncpg.connect(url.replace("postgres://", "postgresql://", 1))
    try:
        await conn.execute(
            "INSERT INTO members (external_id, created_at, updated_at, points_balance, points_pending, lifetime_earned) "
            "SELECT 'm' || g, now(), now(), 0, 0, 0 FROM generate_series(1, $1) g", members)
        await conn.execute(
            "INSERT INTO signals (member_id, product_external_id, type, at) "
            "SELECT 1 + floor(random() * $1)::int, 'p' || floor($2 * power(random(), 3))::int, "
            "CASE WHEN random() < 0.2 THEN 'PURCHASE' ELSE 'VIEW' END, now() - random() * interval '60 days' "
            "FROM generate_series(1, $3)", members, items, interactions)
        await conn.execute("ANALYZE")
    finally:
        await conn.close()


async def probe(port: int, train_timeout: float) -> dict[str, Any]:
    base = f"http://127.0.0.1:{port}"
    health: list[float] = []
    query: list[float] = []
    done = asyncio.Event()

    async def loop(client: httpx.AsyncClient, every: float, send, out: list[float]) -> None:  # noqa: ANN001
        while not done.is_set():
            started = time.perf_counter()
            response = await send(client)
            response.raise_for_status()
            out.append((time.perf_counter() - started) * 1000)
            await asyncio.sleep(max(0.0, every - (time.perf_counter() - started)))

    async with httpx.AsyncClient(base_url=base, timeout=train_timeout) as client:
        probes = [
            asyncio.create_task(loop(client, 0.025, lambda c: c.get("/healthz"), health)),
            asyncio.create_task(loop(client, 0.1, lambda c: c.post("/graphql", json={"query": "{ tiers { name } }"}),
                                     query)),
        ]
        await asyncio.sleep(1.0)  # the probes settle before training starts
        health.clear()
        query.clear()
        started = time.perf_counter()
        trained = await client.post("/graphql", json={"query": "mutation { trainRecommender { items interactions seconds } }"},
                                    headers={"authorization": f"Bearer {ADMIN_KEY}"})
        seconds = time.perf_counter() - started
        done.set()
        await asyncio.gather(*probes)
    body = trained.json()
    if "errors" in body:
        raise RuntimeError(body)

    def summary(values: list[float]) -> dict[str, float]:
        return {"n": len(values), "p50_ms": round(percentile(values, 50), 1), "p99_ms": round(percentile(values, 99), 1),
                "max_ms": round(max(values), 1) if values else 0.0}

    return {"training_seconds": round(seconds, 1), "model": body["data"]["trainRecommender"],
            "healthz": summary(health), "graphql_tiers": summary(query)}


def run(a: argparse.Namespace) -> dict[str, Any]:
    name = bench_db_name("patron_bench_train")
    url = db_url(name)
    run_loop(recreate_db(name))
    migrate(url)
    log(f"seeding {a.members} members, {a.items} items, {a.interactions} signals")
    run_loop(seed(url, a.members, a.items, a.interactions))
    results: dict[str, Any] = {"machine_before": machine(), "size": vars(a)}
    for mode, flag in (("child process", "1"), ("in the API process", "0")):
        app = Server("server:create_app", app_env(url, PATRON_RECS_TRAIN_SUBPROCESS=flag))
        app.start()
        try:
            log(f"training ({mode})")
            results[mode] = run_loop(probe(app.port, a.timeout))
        finally:
            app.stop()
        log(json.dumps(results[mode]))
    results["machine_after"] = machine()
    return results


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--members", type=int, default=100_000)
    p.add_argument("--items", type=int, default=10_000)
    p.add_argument("--interactions", type=int, default=1_000_000)
    p.add_argument("--timeout", type=float, default=600.0)
    results = run(p.parse_args())
    out = BENCH / "results" / "training_liveness.json"
    out.write_text(json.dumps(results, indent=2) + "\n")
    for mode in ("child process", "in the API process"):
        r = results[mode]
        print(f"| {mode} | {r['training_seconds']} s | {r['healthz']['p50_ms']} / {r['healthz']['p99_ms']} / "
              f"{r['healthz']['max_ms']} ms | {r['graphql_tiers']['p50_ms']} / {r['graphql_tiers']['p99_ms']} / "
              f"{r['graphql_tiers']['max_ms']} ms |")


if __name__ == "__main__":
    main()
