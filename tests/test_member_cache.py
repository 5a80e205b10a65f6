"""A member's own reads in the response cache (schema/member_cache.py): kept per member, moved
only by writes that name that member (or name no member), never stale after a commit, and the
same across processes through Redis."""

from __future__ import annotations

import asyncio
import os

import httpx
import pytest

from domain import changes, db
from tests import helpers
from tests.conftest import member_token
from tests.test_server_process import free_port, start_on_this_database, wait_ready

DASHBOARD = """{ me { externalId points { balance pending } tier { name rank }
  ledger(first: 10) { edges { node { amount kind reason createdAt } } } } }"""
ADJUST = """mutation($m: String!, $a: Int!, $k: String!) { adjustPoints(input: {memberExternalId: $m, amount: $a,
  reason: "thanks", idempotencyKey: $k}) { errors { code } } }"""
SPEND = """mutation($a: Int!, $k: String!) { spendPoints(input: {amount: $a, idempotencyKey: $k,
  reason: "checkout"}) { errors { code } } }"""
TIER = """mutation { createTier(input: {name: "Silver", rank: 1, minPoints: 1}) { errors { code } } }"""


async def dashboard(client: httpx.AsyncClient, member: str, query: str = DASHBOARD) -> tuple[str | None, dict]:
    r = await client.post("/graphql", json={"query": query}, headers={"authorization": f"Bearer {member_token(member)}"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert "errors" not in body, body
    return r.headers.get("x-patron-cache"), body


def balance(body: dict) -> int:
    return body["data"]["me"]["points"]["balance"]


async def test_own_reads_are_kept_per_member_and_refreshed_by_their_own_writes(api, client, admin_token):
    for m in ("m1", "m2"):
        await helpers.member(m)
    await api.ok(ADJUST, {"m": "m1", "a": 10, "k": "a1"}, admin_token)
    assert (await dashboard(client, "m1"))[0] is None
    how, first = await dashboard(client, "m1")
    assert how == "hit" and balance(first) == 10
    how, other = await dashboard(client, "m2")  # another member never gets m1's entry
    assert how is None and other["data"]["me"]["externalId"] == "m2" and balance(other) == 0
    await api.ok(ADJUST, {"m": "m2", "a": 7, "k": "a2"}, admin_token)  # names m2 only
    assert await dashboard(client, "m1") == ("hit", first)
    await api.ok(ADJUST, {"m": "m1", "a": 5, "k": "a3"}, admin_token)
    how, after = await dashboard(client, "m1")
    assert how is None and balance(after) == 15
    assert [e["node"]["amount"] for e in after["data"]["me"]["ledger"]["edges"]] == [5, 10]
    await api.ok(SPEND, {"a": 4, "k": "s1"}, member_token("m1"))  # the member's own write
    how, spent = await dashboard(client, "m1")
    assert how is None and balance(spent) == 11
    assert (await dashboard(client, "m2"))[1]["data"]["me"]["points"]["balance"] == 7


async def test_writes_that_name_no_member_move_every_members_reads(api, client, admin_token):
    await helpers.member("m1")
    await api.ok(ADJUST, {"m": "m1", "a": 10, "k": "a1"}, admin_token)
    await dashboard(client, "m1")
    assert (await dashboard(client, "m1"))[0] == "hit"
    await api.ok(TIER, None, admin_token)  # a tier the member may now be in: names no member
    how, body = await dashboard(client, "m1")
    assert how is None and body["data"]["me"]["points"]["balance"] == 10


@pytest.mark.parametrize("query", [
    "{ me { externalId email } }",  # personal data: not on the list
    "{ me { points { balance expiringSoon(days: 30) } } }",  # moves with the clock alone
    "{ me { externalId } tiers { name } }",  # another root field
    "query Q { ...F } fragment F on Query { me { orders(first: 5) { edges { node { externalId } } } } }",
])
async def test_member_queries_reading_more_than_their_own_data_are_never_kept(client, query):
    await helpers.member("m1", email="m1@example.com")
    for _ in range(3):
        assert (await dashboard(client, "m1", query))[0] is None


async def test_fragments_and_aliases_of_own_fields_are_kept(client):
    await helpers.member("m1")
    query = """query { mine: me { ...Own } } fragment Own on Member { externalId
      points { ... on Points { bal: balance } } }"""
    assert (await dashboard(client, "m1", query))[0] is None
    how, body = await dashboard(client, "m1", query)
    assert how == "hit" and body == {"data": {"mine": {"externalId": "m1", "points": {"bal": 0}}}}


async def test_only_the_outermost_transaction_names_the_members():
    async def write(outer: bool, inner: bool) -> set[str] | None:
        token = changes.begin_write()
        changes.touch()
        if outer:
            changes.touch_member("m1")
        with changes.joined_write():
            if inner:
                changes.touch_member("m2")
        return changes.end_write(token)

    assert await write(True, False) == {"member:m1"}
    assert await write(True, True) == {"member:m1", "member:m2"}
    assert await write(False, True) == {"member:m2", changes.MEMBERS}  # a joined service cannot narrow
    assert await write(False, False) == {changes.MEMBERS}
    token = changes.begin_write()
    changes.touch_member("m1")  # a member named, but not the public data: every cache moves
    assert changes.end_write(token) is None


async def test_a_write_inside_a_transaction_that_names_no_member_moves_members(api):
    before = await changes.versions([changes.MEMBERS, changes.member_tag("m1")])
    async with db.write_transaction():
        changes.touch_member("m1")
        changes.touch()
    mid = await changes.versions([changes.MEMBERS, changes.member_tag("m1")])
    assert mid == (before[0], before[1] + 1)
    async with db.write_transaction():
        changes.touch()
    assert await changes.versions([changes.MEMBERS, changes.member_tag("m1")]) == (mid[0] + 1, mid[1])


@pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="needs Redis (the PostgreSQL pass)")
@pytest.mark.skipif(not os.environ["DATABASE_URL"].startswith("postgres"), reason="shares the PostgreSQL database")
async def test_a_write_in_one_process_is_seen_by_the_next_read_in_another(api, admin_token):
    """A second API process (python server.py) keeps m1's dashboard; a write for m2 through
    this process keeps its hit, a write for m1 (or by m1) is seen by the very next read there."""
    for m in ("m1", "m2"):
        await helpers.member(m)
    await api.ok(ADJUST, {"m": "m1", "a": 10, "k": "a1"}, admin_token)
    port = free_port()
    proc = start_on_this_database(port)
    try:
        await asyncio.to_thread(wait_ready, port)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as other:
            assert (await dashboard(other, "m1"))[0] is None
            how, first = await dashboard(other, "m1")
            assert how == "hit" and balance(first) == 10
            await api.ok(ADJUST, {"m": "m2", "a": 3, "k": "a2"}, admin_token)
            assert await dashboard(other, "m1") == ("hit", first)
            await api.ok(ADJUST, {"m": "m1", "a": 5, "k": "a3"}, admin_token)
            how, after = await dashboard(other, "m1")
            assert how is None and balance(after) == 15
            assert (await dashboard(other, "m1"))[0] == "hit"
            await api.ok(SPEND, {"a": 6, "k": "s1"}, member_token("m1"))
            how, spent = await dashboard(other, "m1")
            assert how is None and balance(spent) == 9
    finally:
        proc.terminate()
        print(proc.communicate(timeout=20)[0])  # the other process's log, shown when the test fails
