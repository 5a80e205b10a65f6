"""Crash test: pending deliveries, kill -9 the worker mid-run, restart: every event arrives
at least once and none is lost (the receiver de-duplicates on webhook-id)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from domain.webhooks.models import WebhookDelivery
from domain.webhooks.service import create_endpoint
from tests import helpers
from tests.conftest import postgres_only
from tests.receiver import Receiver, Reply

ROOT = Path(__file__).resolve().parent.parent
EVENTS = 60


def start_worker() -> subprocess.Popen:
    env = dict(os.environ) | {"PATRON_WEBHOOK_TIMEOUT": "1", "PATRON_WEBHOOK_BATCH": "5", "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen([sys.executable, "server.py", "worker"], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


@pytest.fixture
async def slow_receiver():
    r = Receiver()
    await r.start()
    yield r
    await r.stop()


@postgres_only
async def test_kill_9_worker_loses_no_event(slow_receiver):
    url = slow_receiver.script("/crash", Reply(200, delay=0.05))
    await create_endpoint(url, ["member.created"], "crash test", None)
    for i in range(EVENTS):
        await helpers.member(f"crash-{i}")
    assert await WebhookDelivery.filter(status="pending").count() == EVENTS

    worker = start_worker()
    for _ in range(300):
        if len(slow_receiver.received) >= 10:
            break
        await asyncio.sleep(0.05)
    worker.send_signal(signal.SIGKILL)  # kill -9 in the middle of the run
    worker.wait(timeout=10)
    delivered_before = len({r.headers["webhook-id"] for r in slow_receiver.received})
    assert 0 < delivered_before < EVENTS

    worker = start_worker()
    try:
        for _ in range(600):  # leases of the killed worker run out after timeout + 5 s
            if await WebhookDelivery.filter(status="succeeded").count() == EVENTS:
                break
            await asyncio.sleep(0.1)
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=20)
    ids = {r.headers["webhook-id"] for r in slow_receiver.at("/crash")}
    assert len(ids) == EVENTS  # every event at least once
    assert await WebhookDelivery.filter(status="succeeded").count() == EVENTS
    assert worker.returncode == 0  # SIGTERM: finished what it held, then stopped
