"""CPU per uncached product page, in-process (load-independent enough to compare code changes).

    .venv/bin/python bench/cpu_product_page.py [--n 100] [--requests 60] [--profile]

A SQLite world (a temporary file) (1 product, 200 imported reviews, 40 with a merchant reply), the
app driven through httpx's ASGITransport as an anonymous caller, each request with a unique
unused `_nonce` variable per request (a response-cache miss, like P1's `app_miss`). Prints
the CPU seconds (time.process_time) per request of this one process (client, app and SQLite
together), which other agents' load inflates far less than wall-clock throughput (cache and
frequency effects remain: compare two revisions in one sitting); `--profile` prints the top
functions (`--sort cumulative --top 'wt-speed/(schema|domain)'` narrows it to our code).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import os
import pstats
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.update({"REDIS_URL": "", "PATRON_INPROCESS_JOBS": "0",
                   "PATRON_RATE_LIMIT_KEY": "0", "PATRON_RATE_LIMIT_MEMBER": "0", "PATRON_RATE_LIMIT_ANONYMOUS": "0"})

import httpx  # noqa: E402
from tortoise import Tortoise  # noqa: E402
import orjson  # noqa: E402

from bench.product_page import NAMES, PAGE, PRODUCT, review_body  # noqa: E402
from domain import db  # noqa: E402
from domain.auth import service as auth  # noqa: E402
from domain.settings import reload_settings  # noqa: E402
from server import create_app  # noqa: E402

IMPORT = """mutation($input: [ImportReviewInput!]!) { importReviews(input: $input) { errors { message } } }"""
PRODUCTS = """mutation($input: [ProductInput!]!) { upsertProducts(input: $input) { errors { message } } }"""
REPLY = """mutation($input: ReplyInput!) { replyToReview(input: $input) { errors { message } } }"""
IDS = "query($p: String!) { product(externalId: $p) { reviews(first: 100) { edges { node { reviewId } } } } }"


async def world(c: httpx.AsyncClient, admin: dict[str, str]) -> None:
    async def ok(query: str, variables: dict) -> dict:
        r = await c.post("/graphql", json={"query": query, "variables": variables}, headers=admin)
        body = r.json()
        assert "errors" not in body and not any(v.get("errors") for v in body["data"].values() if isinstance(v, dict)), body
        return body["data"]

    await ok(PRODUCTS, {"input": [{"externalId": PRODUCT, "title": "Trail Runner 2", "price": 12900, "currency": "USD"}]})
    for batch in range(2):
        await ok(IMPORT, {"input": [{
            "externalId": f"bench-{i}", "productExternalId": PRODUCT, "rating": (5, 4, 5, 3, 5, 4, 2, 5, 1, 4)[i % 10],
            "title": None if i % 7 == 0 else f"Review number {i}", "body": review_body(i),
            "authorName": NAMES[i % len(NAMES)], "createdAt": f"2026-01-{1 + i // 24:02d}T{i % 24:02d}:00:00+00:00"}
            for i in range(batch * 100, batch * 100 + 100)]})
    ids = [e["node"]["reviewId"] for e in (await ok(IDS, {"p": PRODUCT}))["product"]["reviews"]["edges"]]
    for rid in ids[::5][:40]:
        await ok(REPLY, {"input": {"reviewId": rid, "body": "Thank you for the kind words, see you soon!"}})


async def main(a: argparse.Namespace) -> None:
    url = f"sqlite://{tempfile.mkdtemp(prefix='patron-cpu-')}/bench.sqlite3"  # migrations + ORM share it
    os.environ["DATABASE_URL"] = url
    reload_settings()
    await db.migrate(url)
    await Tortoise.close_connections()
    await db.init_orm(url)
    admin = {"authorization": f"Bearer {(await auth.create_api_key('bench admin', 'admin'))[1]}"}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(manage_db=False)),
                                 base_url="http://bench") as c:
        await world(c, admin)

        async def one(i: int) -> bytes:
            r = await c.post("/graphql", json={"query": PAGE, "variables": {"p": PRODUCT, "n": a.n, "_nonce": i}})
            assert r.status_code == 200 and b'"errors"' not in r.content, r.text[:300]
            return r.content

        for i in range(5):
            await one(-1 - i)
        profiler = cProfile.Profile() if a.profile else None
        start = time.process_time()
        if profiler:
            profiler.enable()
        for i in range(a.requests):
            body = await one(i)
        if profiler:
            profiler.disable()
        cpu = (time.process_time() - start) / a.requests
        edges = orjson.loads(body)["data"]["product"]["reviews"]["edges"]
        print(f"first: {a.n}: {len(edges)} reviews, {len(body):,} bytes; app {cpu * 1000:.2f} ms CPU per request")
        if profiler:
            pstats.Stats(profiler).sort_stats(a.sort).print_stats(int(a.top) if a.top.isdigit() else a.top)
    await db.close_orm()


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n", type=int, default=100)
    p.add_argument("--requests", type=int, default=60)
    p.add_argument("--profile", action="store_true")
    p.add_argument("--sort", default="tottime", help="pstats order of the profile (tottime, cumulative)")
    p.add_argument("--top", default="25", help="pstats restriction: a count or a regular expression")
    asyncio.run(main(p.parse_args()))
