"""P1/P2: the public product page (anonymous) vs a hand-written endpoint, + SQL per request.

    .venv/bin/python bench/product_page.py [--seconds 2] [--rounds 2] [--concurrency 16]
                                           [--sizes 20,100] [--write-rate 10] [--json out.json]

What it does, in one run:
  1. empties (or creates) the bench database (PATRON_BENCH_DB, default patron_bench; never
     `test`), runs `python server.py migrate`, starts the app and `bench.reference_app`
     (uvicorn --workers 1 --no-access-log --log-level warning each);
  2. seeds one product with 200 published reviews of ~200 characters: upsertProducts and
     importReviews (2 x 100) and replyToReview (every 5th review) through GraphQL as admin,
     then photo rows in SQL (review_media: 1-2 published photos on every 4th review, and a
     pending photo on every 10th that must not show), with the product's with-media count
     and the reviews' has_media set as the app's summary code would; the summary is checked
     against the rows;
  3. checks that the app (anonymous, cached and uncached, and admin) and both references
     answer the same JSON, for first: 20 and first: 100;
  4. counts SQL statements per request in-process (ASGI apps via httpx.ASGITransport,
     asyncpg.Connection wrapped: _common.SqlCounter) for each way of asking, both sizes;
  5. req/s, closed loop, alternating rounds over:
       app_cached  anonymous, the same body every time: the public response cache answers
       app_miss    anonymous, every body unique (an unused extra variable `_nonce` = i), so
                   the cache misses and the query runs in full, then is stored
       app_admin   the same body with the admin key: the cache is bypassed (not looked up)
       app_cached_writes  as app_cached, while another connection makes `--write-rate`
                   adjustPoints calls a second (points changes touch no public tag: the
                   page stays cached; schema/response_cache.py)
       ref         Starlette + tortoise .values() + orjson (TARGETS.md's hand-written)
       ref_asyncpg Starlette + raw asyncpg + orjson
       ceiling     Starlette answering {"ok":1}
     for first: 20 (all seven) and first: 100 (app_cached, app_miss, app_admin, ref).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from datetime import UTC, datetime, timedelta
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

PAGE = """query($p: String!, $n: Int) { product(externalId: $p) { reviewSummary { count average
  histogram { rating count } withMediaCount } reviews(first: $n) { edges { node { rating title body
  author { displayName } media { url thumbnailUrl } reply { body } } } } } }"""

PRODUCT = "bench-p1"
REVIEWS = 200
WORDS = ("comfortable light sturdy true to size great value runs small soft breathable warm quick "
         "delivery would buy again color as pictured stitching neat sole grips well after a month").split()
NAMES = ["Ann Lee", "Bo Kim", "Carla Diaz", "Dev Patel", "Eun-ji Park", "Femi Ade", "Gus Berg", "Hana Sato"]
# Modes of asking, in measuring order.
APP_MODES = ("app_cached", "app_miss", "app_admin")
REF_MODES = ("ref", "ref_asyncpg")


def review_body(i: int) -> str:
    words, k = [], i
    while len(" ".join(words)) < 200:
        words.append(WORDS[k % len(WORDS)])
        k = (k * 7 + 3) % 1009
    return " ".join(words)[:200].capitalize() + "."


def check_ok(status: int, body: bytes) -> None:
    if status != 200 or b'"errors"' in body or b'"product":null' in body:
        raise Failure(f"product page failed ({status}): {body[:300]!r}")


def page_body(n: int, nonce: int | None = None) -> bytes:
    variables: dict[str, Any] = {"p": PRODUCT, "n": n}
    if nonce is not None:
        variables["_nonce"] = nonce  # not declared by the query: ignored, but the body differs
    return gql_body(PAGE, variables)


def ok_check(status: int, body: bytes) -> None:
    data = orjson.loads(body)
    payloads = (data.get("data") or {}).values()
    if status != 200 or data.get("errors") or any(isinstance(p, dict) and p.get("errors") for p in payloads):
        raise Failure(f"setup call failed: {body[:300]!r}")


async def seed(port: int, url: str) -> dict[str, Any]:
    import asyncpg

    conn = await Conn.open(port)
    products = """mutation($input: [ProductInput!]!) { upsertProducts(input: $input) { products { id } errors { message } } }"""
    await gql(conn, products, {"input": [{"externalId": PRODUCT, "title": "Trail Runner 2", "categories": ["shoes"],
                                          "price": 12900, "currency": "USD"}]}, ADMIN_KEY)
    imp = """mutation($input: [ImportReviewInput!]!) { importReviews(input: $input) { reviews { reviewId } errors { message } } }"""
    start = datetime(2026, 1, 1, tzinfo=UTC)
    ids: list[int] = []
    for batch in range(REVIEWS // 100):
        items = []
        for j in range(100):
            i = batch * 100 + j
            rating = (5, 4, 5, 3, 5, 4, 2, 5, 1, 4)[i % 10]
            items.append({"externalId": f"bench-{i}", "productExternalId": PRODUCT, "rating": rating,
                          "title": None if i % 7 == 0 else f"Review number {i}", "body": review_body(i),
                          "authorName": NAMES[i % len(NAMES)],
                          "createdAt": (start + timedelta(hours=i)).isoformat()})
        out = await gql(conn, imp, {"input": items}, ADMIN_KEY)
        ids += [r["reviewId"] for r in out["importReviews"]["reviews"]]
    conn.close()
    if len(ids) != REVIEWS:
        raise Failure(f"imported {len(ids)} reviews, wanted {REVIEWS}")
    reply = """mutation($input: ReplyInput!) { replyToReview(input: $input) { review { reviewId } errors { message } } }"""
    replied = ids[::5]
    auth = {"authorization": f"Bearer {ADMIN_KEY}"}
    reqs = [build_request("POST", "/graphql", gql_body(reply, {"input": {
        "reviewId": rid, "body": f"Thank you for the review #{rid}! Our team read it and passed it on."}}), auth)
        for rid in replied]
    await closed_loop(port, reqs, 4, ok_check)

    # Photos straight into review_media (uploads are exercised by the test suite; here only
    # the read path matters), with the counters the app's summary code keeps.
    with_media = ids[::4]
    now = datetime.now(UTC)
    rows = []
    for k, rid in enumerate(with_media):
        for m in range(1 + k % 2):
            rows.append((rid, "photo", "image/jpeg", f"r{rid}-{m}-a1b2c3d4e5f6.jpg", f"r{rid}-{m}-a1b2c3d4e5f6.thumb.jpg",
                         1600, 1200, 250_000 + rid, "published", now))
    for rid in ids[::10]:  # a pending photo must not show on the public page
        rows.append((rid, "photo", "image/jpeg", f"r{rid}-pending.jpg", f"r{rid}-pending.thumb.jpg", 800, 600,
                     90_000, "pending", now))
    db = await asyncpg.connect(url)
    try:
        async with db.transaction():
            await db.executemany(
                "INSERT INTO review_media (review_id, kind, content_type, file_name, thumb_name, width, height,"
                " size, status, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)", rows)
            await db.execute("UPDATE reviews SET has_media = true, counted_media = true WHERE id = ANY($1::int[])",
                             with_media)
            await db.execute("UPDATE products SET with_media_count = with_media_count + $1 WHERE external_id = $2",
                             len(with_media), PRODUCT)
        summary = dict(await db.fetchrow(
            "SELECT p.review_count, p.rating_sum, p.rating_histogram::text AS histogram, p.with_media_count,"
            " (SELECT count(*) FROM reviews r WHERE r.product_id = p.id AND r.status = 'published') AS published,"
            " (SELECT sum(rating) FROM reviews r WHERE r.product_id = p.id AND r.status = 'published') AS sum,"
            " (SELECT count(DISTINCT r.id) FROM reviews r JOIN review_media m ON m.review_id = r.id"
            "   WHERE r.product_id = p.id AND r.status = 'published' AND m.status = 'published') AS media_reviews,"
            " (SELECT count(*) FROM review_media) AS media_rows"
            " FROM products p WHERE p.external_id = $1", PRODUCT))
    finally:
        await db.close()
    if (summary["review_count"], summary["rating_sum"], summary["with_media_count"]) != (
            summary["published"], summary["sum"], summary["media_reviews"]):
        raise Failure(f"summary does not match the rows: {summary}")
    # A write through the app after the SQL: the change counter moves, so no cached answer
    # from before the photos can be served. And the member the background writer credits.
    conn = await Conn.open(port)
    await gql(conn, products, {"input": [{"externalId": PRODUCT, "title": "Trail Runner 2"}]}, ADMIN_KEY)
    await gql(conn, """mutation { upsertMember(input: {externalId: "pp-writer", email: "w@example.com"}) {
        created errors { message } } }""", token=ADMIN_KEY)
    conn.close()
    return {"reviews": REVIEWS, "replied": len(replied), "with_media": len(with_media),
            "published_photos": sum(1 for r in rows if r[8] == "published"),
            "pending_photos": sum(1 for r in rows if r[8] == "pending"), "summary": summary}


def requests_for(mode: str, n: int, app_port: int, ref_port: int) -> tuple[int, Any]:
    """(port, request i -> raw bytes) for one way of asking."""
    admin = {"authorization": f"Bearer {ADMIN_KEY}"}
    if mode in ("app_cached", "app_cached_writes"):
        raw = build_request("POST", "/graphql", page_body(n))
        return app_port, lambda i, raw=raw: raw
    if mode == "app_miss":
        seed_ = time.time_ns()  # unique across rounds and runs (the cache lives in the server)
        return app_port, lambda i: build_request("POST", "/graphql", page_body(n, seed_ + i))
    if mode == "app_admin":
        raw = build_request("POST", "/graphql", page_body(n), admin)
        return app_port, lambda i, raw=raw: raw
    if mode == "ref":
        raw = build_request("POST", "/product", page_body(n))
        return ref_port, lambda i, raw=raw: raw
    if mode == "ref_asyncpg":
        raw = build_request("POST", "/product-asyncpg", page_body(n))
        return ref_port, lambda i, raw=raw: raw
    if mode == "ceiling":
        raw = build_request("POST", "/ok", b"{}")
        return ref_port, lambda i, raw=raw: raw
    raise ValueError(mode)


async def writer(port: int, rate: float, stop: asyncio.Event, done: list[int]) -> None:
    """adjustPoints at `rate` per second (each commit moves the every-write counter, not the product's tag)."""
    adjust = """mutation($input: AdjustPointsInput!) { adjustPoints(input: $input) { entry { id } errors { message } } }"""
    conn = await Conn.open(port)
    start = time.perf_counter()
    try:
        while not stop.is_set():
            delay = start + len(done) / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            await gql(conn, adjust, {"input": {"memberExternalId": "pp-writer", "amount": 1, "reason": "bench write",
                                               "idempotencyKey": f"w-{time.time_ns()}"}}, ADMIN_KEY)
            done.append(1)
    finally:
        conn.close()


def ceiling_check(status: int, body: bytes) -> None:
    if status != 200 or body != b'{"ok":1}':
        raise Failure(f"ceiling failed: {status} {body[:100]!r}")


async def same_json(app_port: int, ref_port: int, n: int) -> dict[str, Any]:
    """Every way of asking answers the same JSON; the cached one says it came from the cache."""
    answers: dict[str, Any] = {}
    cache_headers = []
    for mode in (*APP_MODES, *REF_MODES):
        port, make = requests_for(mode, n, app_port, ref_port)
        conn = await Conn.open(port)
        for i in range(2):  # the second app_cached answer comes from the cache
            status, body = await conn.send(make(i))
            check_ok(status, body)
            if mode == "app_cached":
                cache_headers.append(b"x-patron-cache: hit" in conn.last_head.lower())
        conn.close()
        answers[mode] = orjson.loads(body)
    first = answers["ref"]
    same = all(a == first for a in answers.values())
    if not same:
        diff = {k: v for k, v in answers.items() if v != first}
        raise Failure(f"answers differ for first: {n}: {orjson.dumps(diff)[:2000]!r}\nref: {orjson.dumps(first)[:2000]!r}")
    edges = first["data"]["product"]["reviews"]["edges"]
    if len(edges) != n:
        raise Failure(f"first: {n} gave {len(edges)} reviews")
    return {"same": same, "cache_hit_on_repeat": cache_headers == [False, True] or cache_headers == [True, True],
            "cache_headers": cache_headers, "bytes": len(orjson.dumps(first)),
            "with_media": sum(1 for e in edges if e["node"]["media"]),
            "with_reply": sum(1 for e in edges if e["node"]["reply"])}


async def count_statements(url: str, sizes: list[int], n_req: int = 30) -> dict[str, Any]:
    """Statements per request, in-process: ASGI apps via httpx.ASGITransport, asyncpg wrapped."""
    import asyncpg
    import httpx

    os.environ.update({"DATABASE_URL": url, "PATRON_INPROCESS_JOBS": "0", "PATRON_RATE_LIMIT_ANONYMOUS": "0",
                       "PATRON_RATE_LIMIT_KEY": "0"})
    from bench import reference_app
    from domain import db
    from domain.settings import reload_settings
    from server import create_app

    reload_settings()
    await db.init_orm(url)
    reference_app.State.pool = await asyncpg.create_pool(url, min_size=1, max_size=reference_app.POOL_MAX)
    app = create_app(manage_db=False)
    ref = reference_app.create_app(manage_db=False)
    out: dict[str, Any] = {}
    try:
        with SqlCounter() as counter:
            for n in sizes:
                for mode in (*APP_MODES, *REF_MODES):
                    asgi = app if mode.startswith("app") else ref
                    path = {"ref": "/product", "ref_asyncpg": "/product-asyncpg"}.get(mode, "/graphql")
                    headers = {"content-type": "application/json"}
                    if mode == "app_admin":
                        headers["authorization"] = f"Bearer {ADMIN_KEY}"
                    nonce = time.time_ns()

                    def body(i: int, mode: str = mode, nonce: int = nonce) -> bytes:
                        return page_body(n, nonce + i if mode == "app_miss" else None)

                    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=asgi), base_url="http://b") as c:
                        for i in range(3):  # warm-up: API-key cache, first imports, the cached answer
                            r = await c.post(path, content=body(-1 - i), headers=headers)
                            check_ok(r.status_code, r.content)
                        samples: list[list[str]] = []
                        for i in range(n_req):
                            with counter.measure() as stmts:
                                r = await c.post(path, content=body(i), headers=headers)
                            check_ok(r.status_code, r.content)
                            samples.append(stmts)
                    out[f"{mode}@{n}"] = {**per_request(samples), "statements": [short_sql(s) for s in samples[-1]]}
    finally:
        await reference_app.State.pool.close()
        await db.close_orm()
    return out


def summarize(runs: list[LoadResult]) -> dict[str, Any]:
    count = sum(x.count for x in runs)
    seconds = sum(x.seconds for x in runs)
    lat = [v for x in runs for v in x.latencies]
    return {"requests": count, "seconds": round(seconds, 2), "per_second": round(count / seconds, 1),
            "p50_ms": round(percentile(lat, 50) * 1000, 2), "p99_ms": round(percentile(lat, 99) * 1000, 2),
            "rounds_per_second": [round(x.rate, 1) for x in runs]}


async def measure(app: Server, ref: Server, url: str, a: argparse.Namespace) -> dict[str, Any]:
    seeded = await seed(app.port, url)
    log(f"product page: {REVIEWS} reviews seeded ({seeded['with_media']} with photos, {seeded['replied']} replied)")
    sizes = [int(s) for s in a.sizes.split(",")]
    checks = {n: await same_json(app.port, ref.port, n) for n in sizes}

    plan: list[tuple[str, int]] = []
    for n in sizes:
        modes = (*APP_MODES, "app_cached_writes", *REF_MODES, "ceiling") if n == sizes[0] else (*APP_MODES, "ref")
        plan += [(m, n) for m in modes]
    targets = {f"{m}@{n}": requests_for(m, n, app.port, ref.port) for m, n in plan}

    def check_for(key: str):  # noqa: ANN202
        return ceiling_check if key.startswith("ceiling") else check_ok

    for key, (port, make) in targets.items():  # warm-up
        await closed_loop(port, make, a.concurrency, check_for(key), duration=0.5)
    runs: dict[str, list[LoadResult]] = {k: [] for k in targets}
    writes: list[float] = []
    for r in range(a.rounds):
        for key, (port, make) in targets.items():
            stop, done = asyncio.Event(), []
            task = asyncio.create_task(writer(app.port, a.write_rate, stop, done)) if "writes" in key else None
            t0 = time.perf_counter()
            runs[key].append(await closed_loop(port, make, a.concurrency, check_for(key), duration=a.seconds))
            if task:
                stop.set()
                await task
                writes.append(len(done) / (time.perf_counter() - t0))
        log("round %d: " % (r + 1) + ", ".join(f"{k} {v[-1].rate:.0f}/s" for k, v in runs.items()))
    throughput = {k: summarize(v) for k, v in runs.items()}

    ratios: dict[str, Any] = {}
    for n in sizes:
        ref_rate = throughput[f"ref@{n}"]["per_second"]
        ratios[str(n)] = {m: round(throughput[f"{m}@{n}"]["per_second"] / ref_rate, 3)
                          for m in (*APP_MODES, "app_cached_writes") if f"{m}@{n}" in throughput}
        if f"ref_asyncpg@{n}" in throughput:
            ra = throughput[f"ref_asyncpg@{n}"]["per_second"]
            ratios[str(n)].update({f"{m}_vs_asyncpg": round(throughput[f"{m}@{n}"]["per_second"] / ra, 3)
                                   for m in APP_MODES})
        if f"ceiling@{n}" in throughput:
            ceil = throughput[f"ceiling@{n}"]["per_second"]
            ratios[str(n)]["share_of_ceiling"] = {
                k.split("@")[0]: round(throughput[k]["per_second"] / ceil, 3) for k in throughput if k.endswith(f"@{n}")}

    log("counting SQL statements per request in-process")
    statements = await count_statements(url, sizes)
    return {
        "config": {"seconds_per_round": a.seconds, "rounds": a.rounds, "concurrency": a.concurrency,
                   "sizes": sizes, "product": PRODUCT, "write_rate": a.write_rate, "database": url},
        "writes_per_second_achieved": [round(w, 1) for w in writes],
        "query": " ".join(PAGE.split()),
        "seeded": seeded,
        "checks": {str(k): v for k, v in checks.items()},
        "throughput": throughput,
        "ratios": ratios,
        "statements": statements,
    }


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seconds", type=float, default=2.0, help="seconds per target per round")
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--concurrency", type=int, default=16)
    p.add_argument("--sizes", default="20,100", help="page sizes; the first gets every target")
    p.add_argument("--write-rate", type=float, default=10.0, help="adjustPoints/s during app_cached_writes")
    p.add_argument("--json", help="write the figures here as JSON")
    return p.parse_args(argv)


def run(a: argparse.Namespace) -> dict[str, Any]:
    name = bench_db_name()
    url = db_url(name)
    log(f"product page: recreating database {name}")
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
    lines = []
    for n in r["config"]["sizes"]:
        rates = "  ".join(f"{k.split('@')[0]} {v['per_second']:.0f}/s" for k, v in t.items() if k.endswith(f"@{n}"))
        lines.append(f"product page first: {n}: {rates}")
        lines.append(f"  ratios to ref (tortoise .values): {r['ratios'][str(n)]}")
        lines.append("  SQL queries per request: " + "  ".join(
            f"{k.split('@')[0]} {v['queries']} (+{v['pool_resets']} resets, {v['tx_control']} tx)"
            for k, v in s.items() if k.endswith(f"@{n}")))
    return "\n".join(lines)


def main() -> None:
    a = parse()
    out = run(a)
    print(report(out))
    if a.json:
        Path(a.json).write_bytes(orjson.dumps(out, option=orjson.OPT_INDENT_2, default=str))


if __name__ == "__main__":
    main()
