"""Bulk import speed: review rows/s and order rows/s (orders with 2 lines) through the import
job runner (the same code as startImport and `server.py import`), on PostgreSQL.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/patron_bench .venv/bin/python bench/imports.py \
        [--reviews 20000] [--orders 10000]   (PATRON_IMPORT_BATCH_ROWS sets the batch, default 2000)

It migrates the database, EMPTIES the tables it writes (import_jobs, reviews, orders, members ...;
never point it at real data), writes a Patron CSV of each kind under a temp dir, then times
the whole job (counting pass + batches) and checks the resulting row counts. Targets
(issue 14): >= 5,000 review rows/s and >= 2,000 order rows/s.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tortoise import connections  # noqa: E402

from domain import db  # noqa: E402
from domain.catalog.service import note_ordered_products  # noqa: E402
from domain.imports import runner, service  # noqa: E402
from domain.imports.models import ImportJob  # noqa: E402
from domain.orders.models import Order, OrderLine  # noqa: E402
from domain.reviews.models import Review  # noqa: E402

TABLES = ("import_errors", "import_jobs", "review_revisions", "moderation_decisions", "review_media", "reviews",
          "order_lines", "orders", "products")
WORDS = "comfortable warm light sturdy soft fits true to size would buy again great color".split()


def reviews_csv(n: int) -> bytes:
    out = io.StringIO()
    out.write("externalId,productExternalId,rating,title,body,authorName,createdAt\n")
    for i in range(n):
        body = " ".join(WORDS[(i + k) % len(WORDS)] for k in range(30))
        out.write(f'r{i},p{i % 200},{1 + i % 5},Title {i},"{body}",Author {i},2024-0{1 + i % 9}-1{i % 10}\n')
    return out.getvalue().encode()


def orders_csv(n: int) -> bytes:
    out = io.StringIO()
    out.write("externalId,memberExternalId,currency,channel,placedAt,sku,quantity,unitPrice,productExternalId,category\n")
    for i in range(n):
        for line in range(2):
            out.write(f"o{i},,KRW,web,2024-02-0{1 + i % 9}T10:00:00Z,S{line},{1 + line},{1000 + i % 50},p{i % 200},c{line}\n")
    return out.getvalue().encode()


async def timed(kind: str, data: bytes) -> tuple[float, ImportJob]:
    path, size = service.store_file(io.BytesIO(data))
    job = await service.start_import(kind, "patron", path, size, f"{kind}.csv", "bench")
    started = time.perf_counter()
    await runner.run_pending()
    return time.perf_counter() - started, await ImportJob.get(id=job.id)


async def main(args: argparse.Namespace) -> None:
    url = os.environ["DATABASE_URL"]
    if not url.startswith(("postgres://", "postgresql://")):
        sys.exit("bench/imports.py measures PostgreSQL: set DATABASE_URL=postgres://...")
    await db.migrate(url)
    await db.init_orm(url)
    try:
        await connections.get("default").execute_script(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE;")
        await note_ordered_products([(f"p{i}", None) for i in range(200)])
        load = os.getloadavg()
        seconds, job = await timed("reviews", reviews_csv(args.reviews))
        assert (job.status, job.succeeded, await Review.all().count()) == ("succeeded", args.reviews, args.reviews), job
        print(f"reviews: {args.reviews:,} rows in {seconds:.2f} s = {args.reviews / seconds:,.0f} rows/s (target 5,000)")
        seconds2, job2 = await timed("orders", orders_csv(args.orders))
        assert (job2.status, job2.succeeded, await Order.all().count(), await OrderLine.all().count()) == (
            "succeeded", args.orders, args.orders, 2 * args.orders), job2
        print(f"orders: {args.orders:,} orders ({2 * args.orders:,} lines) in {seconds2:.2f} s = "
              f"{args.orders / seconds2:,.0f} orders/s (target 2,000)")
        print(f"load average before: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; after: "
              f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}; batch {os.environ.get('PATRON_IMPORT_BATCH_ROWS', 2000)}")
    finally:
        await db.close_orm()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--reviews", type=int, default=20_000)
    parser.add_argument("--orders", type=int, default=10_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        os.environ.setdefault("PATRON_IMPORT_DIR", tmp)
        asyncio.run(main(args))
