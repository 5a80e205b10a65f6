"""Engagement messages: planning and sending throughput (issue 12).

    # synthetic: N members with one two-product order each, in an empty database
    .venv/bin/python bench/messaging.py --members 2000 [--database-url postgres://…/bench_db]
    # on the scale generator's data (server.py generate-demo --members 1000000 …)
    nice -n 10 .venv/bin/python bench/messaging.py --generated --fulfil 20000 --send-seconds 600 \
        --database-url postgres://postgres@127.0.0.1:5432/patron_scale_msg

Synthetic mode creates N members with REVIEW_REQUESTS consent and one two-product order each
(bulk SQL), then measures planning — `recordFulfillment` (domain service, one transaction each:
the order.fulfilled event, its webhook fan-out and the planned REVIEW_REQUEST) — and sending —
the `send_messages` job at the due time, e-mails to an in-process SMTP server (aiosmtpd) on
127.0.0.1. The database must be empty of members (a fresh SQLite file by default); never `test`.

Generated mode (bench_generated.py) runs on a database made by `generate-demo`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from aiosmtpd.controller import Controller  # noqa: E402

from bench import messaging_generated  # noqa: E402
from bench._common import FORBIDDEN_DBS  # noqa: E402

from composition import subscribers  # noqa: E402
from domain import clock, db  # noqa: E402
from domain.members.models import Consent, Member  # noqa: E402
from domain.messaging.models import Message  # noqa: E402
from domain.messaging.sending import send_due  # noqa: E402
from domain.orders.models import Order, OrderLine  # noqa: E402
from domain.orders.service import record_fulfillment  # noqa: E402
from domain.settings import reload_settings  # noqa: E402

T0 = datetime(2026, 1, 3, 1, 0, tzinfo=UTC)  # 10:00 in Seoul: no quiet-hours move


class Sink:
    def __init__(self) -> None:
        self.count = 0

    async def handle_DATA(self, server, session, envelope):  # noqa: ANN001, N802
        self.count += 1
        return "250 OK"


async def main(members: int, url: str) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    sink = Sink()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    os.environ["PATRON_SMTP_URL"] = f"smtp://127.0.0.1:{port}"
    os.environ["PATRON_PUBLIC_URL"] = "https://patron.bench"
    reload_settings()
    subscribers.wire()
    await db.migrate(url)
    await db.init_orm(url)
    try:
        if await Member.exists():
            raise SystemExit("the database already has members: use an empty one")
        clock.set_now(T0)
        await Member.bulk_create([Member(external_id=f"b{i}", email=f"b{i}@example.com", name=f"Bench {i}",
                                         created_at=T0, updated_at=T0) for i in range(members)], batch_size=1000)
        ids = dict(await Member.all().values_list("external_id", "id"))
        await Consent.bulk_create([Consent(member_id=mid, purpose="REVIEW_REQUESTS", granted=True, source="bench",
                                           updated_at=T0) for mid in ids.values()], batch_size=1000)
        await Order.bulk_create([Order(external_id=f"o{i}", member_id=ids[f"b{i}"], currency="KRW", channel="web",
                                       placed_at=T0 - timedelta(days=2), total_amount=15000, created_at=T0)
                                 for i in range(members)], batch_size=1000)
        orders = dict(await Order.all().values_list("external_id", "id"))
        await OrderLine.bulk_create([OrderLine(order_id=orders[f"o{i}"], sku=f"s{k}", product_external_id=f"p{k}",
                                               quantity=1, unit_price=7500) for i in range(members) for k in (i % 50, 50 + i % 50)],
                                    batch_size=1000)
        started = time.perf_counter()
        for i in range(members):
            await record_fulfillment(f"o{i}", T0)
        planning = time.perf_counter() - started
        planned = await Message.filter(status="SCHEDULED").count()
        due = T0 + timedelta(hours=336)
        clock.set_now(due)
        started = time.perf_counter()
        sent = await send_due(due)
        sending = time.perf_counter() - started
        print(f"database: {url.split('://')[0]}, members: {members}")
        print(f"planning: {planned} review requests in {planning:.2f} s = {planned / planning:.0f}/s "
              "(recordFulfillment, one transaction each)")
        print(f"sending: {sent} e-mails in {sending:.2f} s = {sent / sending:.0f}/s "
              f"(send_messages job, SMTP 127.0.0.1; server received {sink.count})")
    finally:
        await db.close_orm()
        controller.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--members", type=int, default=2000)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--generated", action="store_true",
                        help="run on a generate-demo database (bench/messaging_generated.py)")
    parser.add_argument("--fulfil", type=int, default=20000, help="generated mode: orders fulfilled")
    parser.add_argument("--send-seconds", type=float, default=600,
                        help="generated mode: each sending run is stopped after this long")
    args = parser.parse_args()
    url = args.database_url or f"sqlite://{tempfile.mkdtemp(prefix='patron-bench-msg-')}/bench.sqlite3"
    if url.rstrip("/").rsplit("/", 1)[-1] in FORBIDDEN_DBS:
        raise SystemExit("refusing that database")
    os.environ["DATABASE_URL"] = url
    if args.generated:
        asyncio.run(messaging_generated.main(args.fulfil, url, args.send_seconds))
    else:
        asyncio.run(main(args.members, url))
