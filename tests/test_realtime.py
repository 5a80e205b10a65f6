"""GraphQL subscriptions over graphql-transport-ws, in one process and across two (Redis)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket

import httpx
import pytest
import uvicorn
import websockets

from domain import changes
from server import create_app
from tests import helpers
from tests.conftest import IS_POSTGRES, member_token, postgres_only
from tests.test_server_process import start_on_this_database, wait_ready



def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
async def served():
    """This process's app on a real port (the ORM is the test session's)."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(manage_db=False), host="127.0.0.1", port=port,
                                           log_level="warning", lifespan="off"))
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.01)
    yield port
    server.should_exit = True
    await task


class Subscriber:
    def __init__(self, port: int, token: str | None) -> None:
        self.port, self.token, self.ws = port, token, None

    async def start(self, query: str, variables: dict | None = None) -> None:
        self.ws = await websockets.connect(f"ws://127.0.0.1:{self.port}/graphql", subprotocols=["graphql-transport-ws"])
        init = {"type": "connection_init", "payload": {"Authorization": f"Bearer {self.token}"} if self.token else {}}
        await self.ws.send(json.dumps(init))
        ack = json.loads(await asyncio.wait_for(self.ws.recv(), 5))
        assert ack["type"] == "connection_ack", ack
        await self.ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": query, "variables": variables or {}}}))
        await asyncio.sleep(0.2)  # the server registers the subscription before we cause events

    async def next(self, timeout: float = 5) -> dict:
        message = json.loads(await asyncio.wait_for(self.ws.recv(), timeout))
        return message

    async def close(self) -> None:
        await self.ws.close()


async def test_member_receives_own_balance_changes_only(served, api, admin_token):
    await helpers.member("m1")
    await helpers.member("m2")
    sub = Subscriber(served, member_token("m1"))
    await sub.start("subscription { pointsBalanceChanged { balance pending eventType } }")
    adjust = 'mutation($m: String!, $k: String!) { adjustPoints(input: {memberExternalId: $m, amount: 25, reason: "gift", idempotencyKey: $k}) { errors { code } } }'
    await api.ok(adjust, {"m": "m2", "k": "x"}, admin_token)
    await api.ok(adjust, {"m": "m1", "k": "y"}, admin_token)
    message = await sub.next()
    assert message["type"] == "next"
    assert message["payload"]["data"]["pointsBalanceChanged"] == {"balance": 25, "pending": 0, "eventType": "points.adjusted"}
    await sub.close()


async def test_tier_changes_and_public_review_stream(served, api):
    from domain.catalog.service import upsert_products

    await helpers.tiers_bronze_silver_gold()
    await helpers.member("m1", name="Ann Lee")
    await upsert_products([{"external_id": "p1"}])
    tier_sub = Subscriber(served, member_token("m1"))
    await tier_sub.start("subscription { tierChanged { fromTier toTier } }")
    review_sub = Subscriber(served, None)
    await review_sub.start('subscription { reviewPublished(productExternalId: "p1") { rating author } }')
    await helpers.order("o1", amount=60_000)
    assert (await tier_sub.next())["payload"]["data"]["tierChanged"] == {"fromTier": "Bronze", "toTier": "Silver"}
    submit = 'mutation { submitReview(input: {productExternalId: "p1", rating: 4, body: "Comfortable and light, good for daily walks."}) { errors { code } } }'
    await api.ok(submit, token=member_token("m1"))
    assert (await review_sub.next())["payload"]["data"]["reviewPublished"] == {"rating": 4, "author": "Ann L."}
    await tier_sub.close()
    await review_sub.close()


async def test_subscription_auth(served, admin_token):
    bad = await websockets.connect(f"ws://127.0.0.1:{served}/graphql", subprotocols=["graphql-transport-ws"])
    await bad.send(json.dumps({"type": "connection_init", "payload": {"Authorization": "Bearer nope"}}))
    with pytest.raises(websockets.ConnectionClosed) as closed:
        await asyncio.wait_for(bad.recv(), 5)
    assert closed.value.rcvd.code == 4403
    anon = Subscriber(served, None)
    await anon.start('subscription { events(types: ["*"]) { type } }')
    error = await anon.next()
    assert error["payload"]["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    await anon.close()
    await helpers.member("m1")
    member = Subscriber(served, member_token("m1"))
    await member.start('subscription { events(types: ["*"]) { type } }')
    assert (await member.next())["payload"]["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    await member.close()


async def _ready(port: int) -> None:
    await asyncio.to_thread(wait_ready, port)


@postgres_only
async def test_event_caused_on_process_b_reaches_a_subscriber_on_process_a(admin_token):
    assert os.environ.get("REDIS_URL"), "the cross-process test needs Redis"
    port_a, port_b = free_port(), free_port()
    a, b = start_on_this_database(port_a), start_on_this_database(port_b)
    try:
        await asyncio.gather(_ready(port_a), _ready(port_b))
        sub = Subscriber(port_a, admin_token)
        await sub.start('subscription { events(types: ["member.*"]) { type data } }')
        async with httpx.AsyncClient() as client:
            q = {"query": 'mutation { upsertMember(input: {externalId: "cross", email: "c@example.com"}) { errors { code } } }'}
            r = await client.post(f"http://127.0.0.1:{port_b}/graphql", json=q, headers={"authorization": f"Bearer {admin_token}"})
            assert r.json() == {"data": {"upsertMember": {"errors": []}}}
        message = await sub.next(10)
        assert message["payload"]["data"]["events"]["type"] == "member.created"
        assert message["payload"]["data"]["events"]["data"]["externalId"] == "cross"
        await sub.close()
    finally:
        for proc in (a, b):
            proc.send_signal(signal.SIGINT)
        for proc in (a, b):
            proc.communicate(timeout=20)


@pytest.mark.skipif(IS_POSTGRES, reason="the in-process counter is the embedded mode")
async def test_change_counter_moves_after_writes():
    before = await changes.current()
    await helpers.member("m1")
    assert await changes.current() > before
