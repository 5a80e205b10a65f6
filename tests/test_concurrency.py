"""Concurrency on PostgreSQL (row locks): no drift, no negative balance, exactly-once effects."""

from __future__ import annotations

import asyncio
import os

from domain.ledger.models import Award, LedgerEntry
from domain.orders.models import Order
from domain.settings import reload_settings
from tests import helpers
from tests.conftest import postgres_only
from tests.helpers import assert_no_drift

SPEND = """mutation($k: String!) { spendPoints(input: {memberExternalId: "m1", amount: 7, idempotencyKey: $k}) {
  entry { amount } errors { code } } }"""
RECORD = """mutation($i: RecordOrderInput!) { recordOrder(input: $i) { order { externalId } pointsAwarded replayed errors { code } } }"""
REFUND = """mutation($i: RecordRefundInput!) { recordRefund(input: $i) { pointsReversed errors { code } } }"""


def order_input(ext: str, amount: int = 10_000) -> dict:
    return {"externalId": ext, "memberExternalId": "m1", "currency": "USD", "placedAt": "2026-01-01T00:00:00Z",
            "lines": [{"sku": "s", "quantity": 1, "unitPrice": amount}]}


@postgres_only
async def test_200_parallel_spends_with_awards_and_refunds_interleaved(api, admin_token, storefront_token):
    os.environ["PATRON_REFUND_SPENT_POLICY"] = "cap_at_zero"
    reload_settings()
    try:
        await helpers.order_rule(pending_days=0, currency="USD")
        await helpers.member()
        for i in range(5):  # 5 x 100 points to start with
            await api.ok(RECORD, {"i": order_input(f"seed-{i}")}, storefront_token)
        calls = []
        for i in range(200):
            calls.append(api(SPEND, {"k": f"spend-{i}"}, admin_token))
            if i % 20 == 0:
                calls.append(api(RECORD, {"i": order_input(f"late-{i}", 5_000)}, storefront_token))
            if i % 40 == 0:
                calls.append(api(REFUND, {"i": {"externalId": f"r-{i}", "orderExternalId": f"seed-{i // 40}"}}, storefront_token))
        results = await asyncio.gather(*calls)
        assert all("errors" not in r for r in results), [r for r in results if "errors" in r][:3]
        spends = [r["data"]["spendPoints"] for r in results if "spendPoints" in r["data"]]
        succeeded = [s for s in spends if s["entry"]]
        refused = [s for s in spends if s["errors"]]
        assert len(succeeded) + len(refused) == 200
        assert {e["code"] for s in refused for e in s["errors"]} <= {"INSUFFICIENT_POINTS"}
        m = await assert_no_drift()
        assert m.points_balance >= 0
        # Replaying the ledger in insertion order never dips below zero.
        running = 0
        for amount in await LedgerEntry.filter(member_id=m.id).order_by("id").values_list("amount", flat=True):
            running += amount
            assert running >= 0
        assert await LedgerEntry.filter(kind="redeem").count() == len(succeeded)
    finally:
        os.environ.pop("PATRON_REFUND_SPENT_POLICY", None)
        reload_settings()


@postgres_only
async def test_same_order_sent_100_times_concurrently_has_exactly_one_effect(api, storefront_token):
    await helpers.order_rule(currency="USD")
    await helpers.member()
    results = await asyncio.gather(*[api(RECORD, {"i": order_input("o-dup")}, storefront_token) for _ in range(100)])
    payloads = [r["data"]["recordOrder"] for r in results]
    assert all(p["errors"] == [] and p["pointsAwarded"] == 100 for p in payloads)
    assert sum(1 for p in payloads if not p["replayed"]) == 1
    assert await Order.filter(external_id="o-dup").count() == 1
    assert await Award.filter(source_id="o-dup").count() == 1
    m = await assert_no_drift()
    assert m.points_pending == 100


@postgres_only
async def test_same_spend_key_sent_50_times_concurrently_debits_once(api, admin_token):
    await helpers.member()
    await api.ok('mutation { adjustPoints(input: {memberExternalId: "m1", amount: 100, reason: "seed", idempotencyKey: "a"}) { errors { code } } }', token=admin_token)
    results = await asyncio.gather(*[api(SPEND, {"k": "same"}, admin_token) for _ in range(50)])
    assert all(r["data"]["spendPoints"]["entry"] == {"amount": -7} for r in results)
    m = await assert_no_drift()
    assert m.points_balance == 93


@postgres_only
async def test_concurrent_upserts_of_a_new_member_create_one(api, storefront_token):
    q = 'mutation { upsertMember(input: {externalId: "new", email: "n@example.com"}) { created errors { code } } }'
    results = await asyncio.gather(*[api(q, token=storefront_token) for _ in range(30)])
    created = [r["data"]["upsertMember"]["created"] for r in results]
    assert created.count(True) == 1 and all(r["data"]["upsertMember"]["errors"] == [] for r in results)
