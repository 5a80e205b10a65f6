"""Webhook delivery fencing: a worker whose lease was taken over neither sends nor records.

The clock is injected (domain/clock.py) to make a lease run out while worker A is "busy";
worker B then claims the row and delivers it to a local receiver on 127.0.0.1.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from domain import clock
from domain.webhooks import delivery
from domain.webhooks.delivery import Deliverer
from domain.webhooks.models import WebhookDelivery
from domain.webhooks.service import create_endpoint
from tests import helpers
from tests.receiver import Receiver, Reply

T0 = datetime(2026, 5, 4, 9, 0, tzinfo=UTC)


@pytest.fixture
async def workers():
    a, b = Deliverer("worker-a"), Deliverer("worker-b")
    yield a, b
    for d in (a, b):
        await d.client.aclose()


async def one_pending_delivery(receiver: Receiver) -> None:
    clock.set_now(T0)
    await create_endpoint(receiver.script("/hook", Reply(200)), ["member.created"], "fencing", None)
    await helpers.member("m1")
    assert await WebhookDelivery.filter(status="pending").count() == 1


async def test_a_worker_taken_over_neither_sends_nor_records(receiver, workers):
    # given: worker A claimed the delivery, then stayed busy past its lease
    a, b = workers
    await one_pending_delivery(receiver)
    [held_by_a] = await delivery.claim(10, a.worker)
    clock.set_now(T0 + delivery.lease_length() + timedelta(seconds=1))
    # when: worker B claims the row and delivers it; then A wakes up and carries on
    [held_by_b] = await delivery.claim(10, b.worker)
    assert (held_by_b.id, held_by_b.lease_token, held_by_b.lease_owner) == (held_by_a.id, held_by_a.lease_token + 1, "worker-b")
    assert await delivery.deliver(b.client, held_by_b) == "succeeded"
    late_send = await delivery.deliver(a.client, held_by_a)
    late_outcome = await delivery.record_outcome(held_by_a.id, held_by_a.endpoint_id, 500, None, "late", "late", None, 9,
                                                 lease_token=held_by_a.lease_token)
    # then: exactly one request reached the receiver, and A changed nothing
    assert (late_send, late_outcome) == ("fenced", "fenced")
    assert len(receiver.at("/hook")) == 1
    row = await WebhookDelivery.get(id=held_by_a.id)
    assert (row.status, row.attempts, row.last_status_code, row.lease_token, row.lease_owner) == ("succeeded", 1, 200, 2, None)
    assert row.response_excerpt == "ok"


async def test_a_busy_worker_whose_lease_ran_out_does_not_send(receiver, workers):
    # given: worker A claimed the delivery and was busy past its lease; nobody took it yet
    a, b = workers
    await one_pending_delivery(receiver)
    [held_by_a] = await delivery.claim(10, a.worker)
    clock.set_now(T0 + delivery.lease_length() + timedelta(seconds=1))
    # when: A gets round to sending it
    result = await delivery.deliver(a.client, held_by_a)
    # then: nothing is sent or written; the row is claimable again and B delivers it once
    assert result == "fenced" and receiver.received == []
    row = await WebhookDelivery.get(id=held_by_a.id)
    assert (row.status, row.attempts, row.lease_token) == ("in_flight", 0, 1)
    assert await b.run_once() == 1
    assert len(receiver.at("/hook")) == 1
    assert (await WebhookDelivery.get(id=row.id)).status == "succeeded"


async def test_the_holder_of_a_live_lease_records_its_outcome(receiver, workers):
    # given: worker A claimed the delivery and its lease is live
    a, _ = workers
    await one_pending_delivery(receiver)
    [held] = await delivery.claim(10, a.worker)
    assert (held.lease_token, held.lease_owner) == (1, "worker-a")
    # when: A sends it
    result = await delivery.deliver(a.client, held)
    # then: one request, the outcome recorded, the lease released
    row = await WebhookDelivery.get(id=held.id)
    assert result == "succeeded" and len(receiver.at("/hook")) == 1
    assert (row.status, row.attempts, row.lease_until, row.lease_owner) == ("succeeded", 1, None, None)
