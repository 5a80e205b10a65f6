"""The public response cache (schema/response_cache.py): tag-scoped invalidation, never a stale
read after a committed write, coalesced misses, and the same across processes through Redis."""

from __future__ import annotations

import asyncio
import os

import httpx
import pytest

import resolvers.catalog
from domain import changes, db
from domain.catalog.service import upsert_products
from domain.rewards.service import save_reward
from tests import helpers
from tests.conftest import member_token
from tests.test_server_process import free_port, start_on_this_database, wait_ready

PAGE = """query($p: String!) { product(externalId: $p) { title reviewSummary { count average }
  reviews(first: 10) { edges { node { rating body author { displayName } } } } } }"""
BAYES = "query($p: String!) { product(externalId: $p) { reviewSummary { bayesianAverage } } }"
SUBMIT = """mutation($i: SubmitReviewInput!) { submitReview(input: $i) { review { status } errors { code } } }"""
ADJUST = """mutation($m: String!, $k: String!) { adjustPoints(input: {memberExternalId: $m, amount: 5,
  reason: "thanks", idempotencyKey: $k}) { errors { code } } }"""
REDEEM = "mutation($i: RedeemRewardInput!) { redeemReward(input: $i) { errors { code } } }"
BODY = "Great fit, very comfortable on long runs and the grip is excellent."


async def _world() -> None:
    await upsert_products([{"external_id": "p1", "title": "Runner"}, {"external_id": "p2", "title": "Cap"}])
    for m in ("m1", "m2", "m3"):
        await helpers.member(m, name=f"{m.upper()} Kim")


async def review(api, member: str, product: str, rating: int = 5) -> None:
    data = (await api(SUBMIT, {"i": {"productExternalId": product, "rating": rating, "body": BODY}},
                      member_token(member)))["data"]["submitReview"]
    assert data == {"review": {"status": "PUBLISHED"}, "errors": []}


async def page(client: httpx.AsyncClient, product: str = "p1", query: str = PAGE) -> tuple[str | None, dict]:
    r = await client.post("/graphql", json={"query": query, "variables": {"p": product}})
    assert r.status_code == 200, r.text
    return r.headers.get("x-patron-cache"), r.json()


def reviews_of(body: dict) -> list[int]:
    return [e["node"]["rating"] for e in body["data"]["product"]["reviews"]["edges"]]


async def test_unrelated_writes_keep_the_page_and_its_own_writes_refresh_it(api, client, admin_token):
    await _world()
    await review(api, "m1", "p1", 4)
    assert (await page(client))[0] is None
    how, first = await page(client)
    assert how == "hit" and reviews_of(first) == [4]
    assert first["data"]["product"]["reviewSummary"] == {"count": 1, "average": 4.0}

    await review(api, "m2", "p2", 1)  # another product's review
    assert await api.ok(ADJUST, {"m": "m1", "k": "a1"}, admin_token) == {"adjustPoints": {"errors": []}}
    assert await page(client) == ("hit", first)

    await review(api, "m3", "p1", 2)  # this product's review: the next read has it
    how, after = await page(client)
    assert how is None and sorted(reviews_of(after)) == [2, 4]
    assert after["data"]["product"]["reviewSummary"] == {"count": 2, "average": 3.0}
    assert (await page(client))[0] == "hit"

    await upsert_products([{"external_id": "p1", "title": "Runner 2"}])  # a write naming no tag: all
    how, renamed = await page(client)
    assert how is None and renamed["data"]["product"]["title"] == "Runner 2"


async def test_the_store_wide_mean_follows_every_review(api, client):
    await _world()
    await review(api, "m1", "p1", 5)
    await review(api, "m1", "p2", 5)
    _, before = await page(client, query=BAYES)
    assert (await page(client, query=BAYES))[0] == "hit"
    await review(api, "m2", "p2", 1)  # moves the store mean, so p1's bayesianAverage
    how, after = await page(client, query=BAYES)
    assert how is None
    assert before["data"]["product"]["reviewSummary"]["bayesianAverage"] == 5.0
    # store mean (5 + 5 + 1) / 3; p1: (5 * 11/3 + 5) / 6
    assert after["data"]["product"]["reviewSummary"]["bayesianAverage"] == round((5 * 11 / 3 + 5) / 6, 3)


async def test_an_unknown_product_and_untagged_root_fields_follow_every_write(api, client, admin_token):
    await _world()
    assert await page(client, "p9") == (None, {"data": {"product": None}})
    assert (await page(client, "p9"))[0] == "hit"
    await api.ok(ADJUST, {"m": "m1", "k": "a1"}, admin_token)
    assert (await page(client, "p9"))[0] is None  # "nothing there" depends on every write
    mixed = "query($p: String!) { product(externalId: $p) { title } earningPreview: __typename recommendations { __typename } }"
    assert (await page(client, query=mixed))[0] is None
    assert (await page(client, query=mixed))[0] == "hit"
    await api.ok(ADJUST, {"m": "m1", "k": "a2"}, admin_token)
    assert (await page(client, query=mixed))[0] is None


async def test_a_redemption_refreshes_the_rewards_catalog_stock(api, client, admin_token):
    await _world()
    reward = await save_reward(None, {"name": "Ship", "type": "FREE_SHIPPING", "points_cost": 10, "stock": 3})
    await api.ok(ADJUST, {"m": "m1", "k": "a1"}, admin_token)
    await api.ok(ADJUST, {"m": "m1", "k": "a2"}, admin_token)
    q = "{ rewards { name stock } tiers { name } }"
    first = await client.post("/graphql", json={"query": q})
    assert first.json() == {"data": {"rewards": [{"name": "Ship", "stock": 3}], "tiers": []}}
    assert (await client.post("/graphql", json={"query": q})).headers.get("x-patron-cache") == "hit"
    await api.ok(ADJUST, {"m": "m1", "k": "a3"}, admin_token)  # points only: still a hit
    assert (await client.post("/graphql", json={"query": q})).headers.get("x-patron-cache") == "hit"
    data = await api.ok(REDEEM, {"i": {"rewardId": reward.id, "idempotencyKey": "r1"}}, member_token("m1"))
    assert data == {"redeemReward": {"errors": []}}
    after = await client.post("/graphql", json={"query": q})
    assert after.headers.get("x-patron-cache") is None
    assert after.json() == {"data": {"rewards": [{"name": "Ship", "stock": 2}], "tiers": []}}


async def test_a_failed_write_moves_no_counter(api, admin_token):
    await _world()
    before = await changes.versions([changes.ANY, changes.ALL])
    bad = await api.ok(ADJUST, {"m": "nobody", "k": "a1"}, admin_token)
    assert bad == {"adjustPoints": {"errors": [{"code": "MEMBER_NOT_FOUND"}]}}
    assert await changes.versions([changes.ANY, changes.ALL]) == before


async def test_only_the_outermost_transaction_narrows_what_a_write_invalidates():
    tags = [changes.ANY, changes.ALL, "product:1", changes.REWARDS]
    v0 = await changes.versions(tags)
    async with db.write_transaction():  # names nothing itself: all, whatever a joined service says
        async with db.write_transaction():
            changes.touch("product:1")
    v1 = await changes.versions(tags)
    assert [b - a for a, b in zip(v0, v1)] == [1, 1, 0, 0]  # `all` covers every entry
    async with db.write_transaction():
        changes.touch(changes.REWARDS)
        async with db.write_transaction():
            changes.touch("product:1")
    v2 = await changes.versions(tags)
    assert [b - a for a, b in zip(v1, v2)] == [1, 0, 1, 1]
    with pytest.raises(RuntimeError):
        async with db.write_transaction():
            changes.touch(changes.REWARDS)
            raise RuntimeError("rolled back")
    assert await changes.versions(tags) == v2


async def test_concurrent_misses_of_one_key_are_computed_once(client, monkeypatch):
    await _world()
    calls = []
    real = resolvers.catalog.ProductModel

    class Slow:
        @staticmethod
        async def get_or_none(**kw):  # noqa: ANN003, ANN205
            calls.append(kw)
            await asyncio.sleep(0.3)
            return await real.get_or_none(**kw)

    monkeypatch.setattr(resolvers.catalog, "ProductModel", Slow)
    answers = await asyncio.gather(*(page(client) for _ in range(6)))
    assert len(calls) == 1
    assert sorted(str(how) for how, _ in answers) == ["None"] + ["coalesced"] * 5
    assert all(body == answers[0][1] for _, body in answers)


async def test_a_miss_started_before_a_write_is_neither_kept_nor_shared(api, client, monkeypatch):
    """A write that commits while a page is computed: the page is not cached (its tag versions
    could be newer than its data), and a request arriving after the write does not wait for it."""
    await _world()
    real = resolvers.catalog.ProductModel
    gate = asyncio.Event()

    class Held:
        @staticmethod
        async def get_or_none(**kw):  # noqa: ANN003, ANN205
            row = await real.get_or_none(**kw)
            await gate.wait()
            return row

    monkeypatch.setattr(resolvers.catalog, "ProductModel", Held)
    early = asyncio.create_task(page(client))
    await asyncio.sleep(0.05)
    monkeypatch.setattr(resolvers.catalog, "ProductModel", real)
    await review(api, "m1", "p1", 3)  # commits while `early` is computing
    how, late = await page(client)  # computed on its own, with the review
    assert how is None and reviews_of(late) == [3]
    gate.set()
    await early
    how, again = await page(client)
    assert reviews_of(again) == [3]


@pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="needs Redis (the PostgreSQL pass)")
@pytest.mark.skipif(not os.environ["DATABASE_URL"].startswith("postgres"), reason="shares the PostgreSQL database")
async def test_two_processes_share_invalidation_through_redis(api, admin_token):
    """A second API process (python server.py) caches the page; writes through this process
    reach it through Redis: an unrelated write keeps its hit, a write to the product does not."""
    await _world()
    await review(api, "m1", "p1", 4)
    port = free_port()
    proc = start_on_this_database(port)
    try:
        await asyncio.to_thread(wait_ready, port)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as other:
            assert (await page(other))[0] is None
            how, first = await page(other)
            assert how == "hit" and reviews_of(first) == [4]
            await review(api, "m2", "p2", 1)
            await api.ok(ADJUST, {"m": "m1", "k": "a1"}, admin_token)
            assert await page(other) == ("hit", first)
            await review(api, "m3", "p1", 2)
            how, after = await page(other)
            assert how is None and sorted(reviews_of(after)) == [2, 4]
    finally:
        proc.terminate()
        proc.communicate(timeout=20)
