"""Issue 11, real clients: every WebSocket message Patron sends is a TEXT frame.

The reference `graphql-ws` client (Apollo Client, urql) and browsers reject a binary frame
("Message is missing the 'type' property"). The `websockets` client hands text frames over
as `str` and binary frames as `bytes`, so each test asserts the type of every message it
receives, for both subscription protocols and every message kind the server sends."""

from __future__ import annotations

import asyncio
import json

import websockets

from domain.catalog.service import upsert_products
from tests import helpers
from tests.conftest import member_token
from tests.media_samples import jpeg, png
from tests.test_realtime import served  # noqa: F401  (a real uvicorn on this process's app)

BALANCE = "subscription { pointsBalanceChanged { balance eventType } }"
ADJUST = ('mutation($m: String!, $k: String!) { adjustPoints(input: {memberExternalId: $m, amount: 25, '
          'reason: "gift", idempotencyKey: $k}) { errors { code } } }')


async def _recv_text(ws) -> dict:
    """The next message, which must be a text frame holding a JSON object with a type."""
    frame = await asyncio.wait_for(ws.recv(), 5)
    assert isinstance(frame, str), f"binary WebSocket frame sent: {frame!r}"
    message = json.loads(frame)
    assert isinstance(message.get("type"), str), message
    return message


async def _connect(port: int, protocol: str, init: dict):
    ws = await websockets.connect(f"ws://127.0.0.1:{port}/graphql", subprotocols=[protocol])
    await ws.send(json.dumps(init))
    return ws


async def test_graphql_transport_ws_sends_only_text_frames(served, api, admin_token):  # noqa: F811
    # Given a member subscribed to their balance over graphql-transport-ws
    await helpers.member("m1")
    ws = await _connect(served, "graphql-transport-ws",
                        {"type": "connection_init", "payload": {"Authorization": f"Bearer {member_token('m1')}"}})
    try:
        assert (await _recv_text(ws))["type"] == "connection_ack"
        await ws.send(json.dumps({"type": "ping"}))
        assert (await _recv_text(ws))["type"] == "pong"
        await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": BALANCE}}))
        await asyncio.sleep(0.2)  # the server registers the subscription before we cause events
        # When their points change
        await api.ok(ADJUST, {"m": "m1", "k": "frames-1"}, admin_token)
        # Then the event arrives as text
        event = await _recv_text(ws)
        assert event == {"id": "1", "type": "next",
                         "payload": {"data": {"pointsBalanceChanged": {"balance": 25, "eventType": "points.adjusted"}}}}
        # And a failing operation's error and a finished one's complete are text too
        await ws.send(json.dumps({"id": "2", "type": "subscribe", "payload": {"query": "subscription { nope }"}}))
        error = await _recv_text(ws)
        assert (error["id"], error["type"]) == ("2", "error")
        await ws.send(json.dumps({"id": "3", "type": "subscribe", "payload": {"query": "{ tiers { name } }"}}))
        assert await _recv_text(ws) == {"id": "3", "type": "next", "payload": {"data": {"tiers": []}}}
        assert await _recv_text(ws) == {"id": "3", "type": "complete"}
    finally:
        await ws.close()


async def test_legacy_graphql_ws_protocol_sends_only_text_frames(served, api, admin_token):  # noqa: F811
    # Given a member subscribed over the legacy subscriptions-transport-ws protocol
    await helpers.member("m2")
    ws = await _connect(served, "graphql-ws",
                        {"type": "connection_init", "payload": {"Authorization": f"Bearer {member_token('m2')}"}})
    try:
        assert (await _recv_text(ws))["type"] == "connection_ack"
        await ws.send(json.dumps({"id": "1", "type": "start", "payload": {"query": BALANCE}}))
        await asyncio.sleep(0.2)
        # When their points change
        await api.ok(ADJUST, {"m": "m2", "k": "frames-2"}, admin_token)
        # Then the data message is text, and so is the complete after a stop
        event = await _recv_text(ws)
        assert event == {"id": "1", "type": "data",
                         "payload": {"data": {"pointsBalanceChanged": {"balance": 25, "eventType": "points.adjusted"}}}}
        await ws.send(json.dumps({"id": "1", "type": "stop"}))
        assert await _recv_text(ws) == {"id": "1", "type": "complete"}
    finally:
        await ws.close()


# --- one uploaded file mapped to several variables (GraphQL multipart request spec) ----------------

SUBMIT = """mutation($i: SubmitReviewInput!, $media: [Upload!]) { submitReview(input: $i, media: $media) {
  review { media { kind contentType width height } } errors { field message code } } }"""


async def test_one_file_mapped_to_two_variables_is_read_whole_for_each(client):
    # Given a member and a product, and the multipart body extract-files / apollo-upload-client
    # send when the same File appears twice: one form field, its map listing both paths
    await upsert_products([{"external_id": "p1"}])
    await helpers.member("m1")
    operations = json.dumps({"query": SUBMIT, "variables": {
        "i": {"productExternalId": "p1", "rating": 5, "body": "Photos of the sole and the colour."},
        "media": [None, None, None]}})
    files_map = json.dumps({"1": ["variables.media.0", "variables.media.2"], "2": ["variables.media.1"]})
    # When it is posted
    response = await client.post("/graphql", data={"operations": operations, "map": files_map},
                                 files={"1": ("a.jpg", jpeg(64, 48), "image/jpeg"), "2": ("b.png", png(), "image/png")},
                                 headers={"authorization": f"Bearer {member_token('m1')}"})
    # Then each path got the whole file: three photos, in the variables' order
    assert response.status_code == 200, response.text
    result = response.json()["data"]["submitReview"]
    assert result["errors"] == []
    assert result["review"]["media"] == [
        {"kind": "PHOTO", "contentType": "image/jpeg", "width": 64, "height": 48},
        {"kind": "PHOTO", "contentType": "image/png", "width": 32, "height": 32},
        {"kind": "PHOTO", "contentType": "image/jpeg", "width": 64, "height": 48},
    ]
