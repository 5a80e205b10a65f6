"""Engagement messages on the scale generator's data (issue 12's "1M members" benchmark).

Called by `bench/messaging.py --generated --fulfil K --database-url …` on a database made by
`server.py generate-demo` (PostgreSQL). Writes to it: consents, messages, fulfilments, events.

Clock T: the first 01:00 UTC (10:00 in Seoul, outside quiet hours) after the generation time.
1. Data the generator does not make: SERVICE_NOTICES consent for the members who hold
   REVIEW_REQUESTS (60 %; the notices would all be SUPPRESSED otherwise), in one SQL statement.
   The messages of an earlier run are deleted first, so a run is repeatable.
2. Planning, timed per source, each as the app runs it:
   - the hourly occasion jobs at T over all members (points expiring, birthdays, win-back, cart
     reminders), reading only what is due by their indexes;
   - recordFulfillment (domain service, one transaction each: order.fulfilled, its webhook
     fan-out, the planned REVIEW_REQUEST and SATISFACTION_SURVEY) for the K newest orders not
     yet fulfilled, fulfilled at T.
3. Sending: the `send_messages` job (send_due) at T + 1 day (occasion messages, which the
   preferred contact hour may move by up to 23 h) and at T + 16 days (review requests due 14
   days after fulfilment, moved likewise), e-mails to an SMTP server (aiosmtpd's Sink, its own process) on 127.0.0.1.
   Every due message is decided (SENT, or SUPPRESSED/CANCELLED with its reason); both counts are
   given.
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

from tortoise import connections

from composition import subscribers
from domain import clock, db
from domain.members.models import Member
from domain.messaging import occasions
from domain.messaging.models import Message
from domain.messaging.sending import send_due
from domain.orders.models import Order
from domain.orders.service import record_fulfillment
from domain.settings import reload_settings

OCCASION_JOBS = (("points_expiring", occasions.plan_points_expiring), ("birthday", occasions.plan_birthdays),
                 ("win_back", occasions.plan_win_back), ("cart_reminder", occasions.plan_cart_reminders))


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


async def _count_by(field: str) -> dict[str, int]:
    """Messages by `type` or `status` (a trusted column name)."""
    conn = connections.get("default")
    rows = await conn.execute_query_dict(f"SELECT {field} AS k, count(*) AS n FROM messages GROUP BY {field}")
    return {r["k"]: r["n"] for r in rows}


async def _send(at: datetime, budget: float) -> None:
    """send_due at `at`, stopped after `budget` seconds (the chunk in flight rolls back): the
    rate is what the committed chunks sent."""
    clock.set_now(at)
    before = await _count_by("status")
    started = time.perf_counter()
    try:
        await asyncio.wait_for(send_due(at), budget)
        stopped = ""
    except TimeoutError:
        stopped = f" (stopped after {budget:.0f} s, backlog left)"
    took = time.perf_counter() - started
    after = await _count_by("status")
    sent = after.get("SENT", 0) - before.get("SENT", 0)
    decided = before.get("SCHEDULED", 0) - after.get("SCHEDULED", 0)
    log(f"sending at {at.isoformat()}{stopped}: {sent} sent, {decided} due messages decided (net of reminders "
        f"planned) in {took:.1f} s = {sent / took:.1f} sent/s; statuses now {after}; load {os.getloadavg()}")


async def main(fulfil: int, url: str, send_seconds: float) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    # The SMTP server in its own process (aiosmtpd's Sink handler accepts and drops): in this
    # process its thread would take the GIL from the sender being measured.
    sink = subprocess.Popen([sys.executable, "-m", "aiosmtpd", "-n", "-c", "aiosmtpd.handlers.Sink",
                             "-l", f"127.0.0.1:{port}"])
    time.sleep(1.5)
    os.environ["PATRON_SMTP_URL"] = f"smtp://127.0.0.1:{port}"
    os.environ["PATRON_PUBLIC_URL"] = "https://patron.bench"
    reload_settings()
    subscribers.wire()
    await db.migrate(url)
    await db.init_orm(url)
    conn = connections.get("default")
    try:
        members = await Member.all().count()
        generated_at = (await Order.all().order_by("-placed_at").first()).placed_at
        t0 = datetime.combine(generated_at.astimezone(UTC).date() + timedelta(days=1),
                              datetime.min.time().replace(hour=1), tzinfo=UTC)
        log(f"members {members}, orders {await Order.all().count()}, T = {t0.isoformat()}, load {os.getloadavg()}")
        await conn.execute_script("DELETE FROM messages")
        await conn.execute_script(
            "INSERT INTO consents (purpose, granted, source, updated_at, member_id) "
            "SELECT 'SERVICE_NOTICES', TRUE, 'bench', updated_at, member_id FROM consents "
            "WHERE purpose = 'REVIEW_REQUESTS' AND granted ON CONFLICT (member_id, purpose) DO NOTHING")
        consents = await conn.execute_query_dict(
            "SELECT purpose, count(*) AS n FROM consents WHERE granted GROUP BY purpose ORDER BY purpose")
        log(f"consents granted: {({r['purpose']: r['n'] for r in consents})}")
        clock.set_now(t0)
        total_planned, total_time = 0, 0.0
        for name, job in OCCASION_JOBS:
            started = time.perf_counter()
            planned = await job(t0)
            took = time.perf_counter() - started
            total_planned, total_time = total_planned + planned, total_time + took
            log(f"planning {name}: {planned} messages in {took:.1f} s = {planned / took:.0f}/s")
        log(f"occasion jobs: {total_planned} messages in {total_time:.1f} s = {total_planned / total_time:.0f}/s; "
            f"by type/status {await _count_by('type')} {await _count_by('status')}")
        ids = await Order.filter(fulfilled_at__isnull=True, member_id__isnull=False).order_by(
            "-placed_at").limit(fulfil).values_list("external_id", flat=True)
        before = await Message.all().count()
        started = time.perf_counter()
        for external_id in ids:
            await record_fulfillment(external_id, t0)
        took = time.perf_counter() - started
        planned = await Message.all().count() - before  # (a fulfilment plans no occasion message)
        log(f"planning recordFulfillment: {len(ids)} orders in {took:.1f} s = {len(ids) / took:.0f} orders/s, "
            f"{planned} messages = {planned / took:.0f} messages/s (REVIEW_REQUEST + SATISFACTION_SURVEY)")
        log(f"messages by type {await _count_by('type')}, by status {await _count_by('status')}, "
            f"load {os.getloadavg()}")
        await _send(t0 + timedelta(days=1), send_seconds)
        await _send(t0 + timedelta(days=16), send_seconds)
        log(f"done; load {os.getloadavg()}")
    finally:
        await db.close_orm()
        sink.terminate()
        sink.wait()
