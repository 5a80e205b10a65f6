"""`server.py generate-demo` at a tiny size: the generated data keeps the ledger invariants,
the product review summaries and the counts it reports (the scale run relies on them)."""

from __future__ import annotations

import pytest
from tortoise import connections

from domain.demo_scale import RefusedError, generate
from domain.ledger.models import Award, LedgerEntry
from domain.members.models import Consent, Member
from domain.orders.models import Order
from domain.reviews.models import Review
from tests.conftest import IS_POSTGRES, postgres_only
from tests.helpers import assert_no_drift


async def rows(sql: str) -> list[dict]:
    return await connections.get("default").execute_query_dict(sql)


@postgres_only
async def test_tiny_demo_keeps_the_ledger_invariants_for_every_member():
    # given an empty database, when the demo is generated at a tiny size
    counts = await generate(200, 600)

    # then the reported counts are what was written
    assert counts["members"] == await Member.all().count() == 200
    assert counts["orders"] == await Order.all().count()
    assert 540 <= counts["orders"] <= 660  # stochastic rounding around the target
    assert counts["awards"] == await Award.all().count()
    # and every member's cached balance, pending points and lots agree with the ledger
    drift = await rows("""
        SELECT m.id FROM members m
        WHERE m.points_balance <> coalesce((SELECT sum(amount) FROM ledger_entries e WHERE e.member_id = m.id), 0)
           OR greatest(m.points_balance, 0) <> coalesce((SELECT sum(remaining) FROM ledger_entries e
                                                          WHERE e.member_id = m.id AND remaining > 0), 0)
           OR m.points_pending <> coalesce((SELECT sum(amount - reversed) FROM awards a
                                            WHERE a.member_id = m.id AND status = 'held'), 0)
           OR m.lifetime_earned <> coalesce((SELECT sum(amount) FROM ledger_entries e
                                             WHERE e.member_id = m.id AND kind = 'earn'), 0)""")
    assert drift == []
    for member in await Member.all().order_by("id").limit(5):
        await assert_no_drift(member.external_id)
    # and each released award points at its earn lot, each expired lot has its consumption
    bad_awards = await rows("""SELECT a.id FROM awards a LEFT JOIN ledger_entries e ON e.id = a.entry_id
        WHERE (a.status = 'released') <> (e.id IS NOT NULL) OR (e.id IS NOT NULL AND e.amount <> a.amount)""")
    assert bad_awards == []
    unconsumed = await rows("""SELECT e.id FROM ledger_entries e WHERE e.kind = 'expire' AND NOT EXISTS
        (SELECT 1 FROM lot_consumptions c WHERE c.debit_id = e.id AND c.amount = -e.amount)""")
    assert unconsumed == []
    assert await LedgerEntry.filter(kind="expire").exists()
    assert await Member.filter(tier_id__isnull=True).count() == 0
    assert await Member.filter(birthday__isnull=True).count() == 0
    assert await Consent.all().count() > 0


@postgres_only
async def test_tiny_demo_gives_each_member_the_tier_the_rules_give():
    # given a generated demo (seed program: Bronze entry, Silver 100.00 USD, Gold 300.00 USD or 8 orders)
    from domain import clock, jobs
    from domain.tiers.models import Tier, TierChange

    await generate(300, 3000)

    # then the tiers are not all the entry tier (the heavy buyers qualify) ...
    by_name = {t.id: t.name for t in await Tier.all()}
    counts = {name: await Member.filter(tier_id=tier_id).count() for tier_id, name in by_name.items()}
    assert counts["Silver"] > 0 and counts["Gold"] > 0 and sum(counts.values()) == 300
    # ... each member's tier is the one the review computes: a review right after changes nothing
    assert await jobs.review_tiers(clock.now()) == 0
    assert await Member.filter(downgrade_pending_since__isnull=False).count() == 0
    # and each member has the one tier change that put them there
    wrong = await rows("""SELECT m.id FROM members m LEFT JOIN tier_changes c ON c.member_id = m.id
        GROUP BY m.id, m.tier_id, m.tier_achieved_at
        HAVING count(c.id) <> 1 OR max(c.to_tier_id) <> m.tier_id OR max(c.created_at) <> m.tier_achieved_at""")
    assert wrong == []
    assert await TierChange.filter(from_tier_id__isnull=False).count() == 0


@postgres_only
async def test_tiny_demo_review_summaries_match_the_published_reviews():
    # given a generated demo
    await generate(200, 600)

    # then each product's summary counts exactly its published reviews
    mismatched = await rows("""
        SELECT p.id FROM products p LEFT JOIN (
            SELECT product_id, count(*) AS n, sum(rating) AS total,
                   jsonb_build_array(count(*) FILTER (WHERE rating = 1), count(*) FILTER (WHERE rating = 2),
                                     count(*) FILTER (WHERE rating = 3), count(*) FILTER (WHERE rating = 4),
                                     count(*) FILTER (WHERE rating = 5)) AS histogram
            FROM reviews WHERE status = 'published' GROUP BY product_id) s ON s.product_id = p.id
        WHERE p.review_count <> coalesce(s.n, 0) OR p.rating_sum <> coalesce(s.total, 0)
           OR p.rating_histogram <> coalesce(s.histogram, '[0, 0, 0, 0, 0]'::jsonb)""")
    assert mismatched == []
    # and every review belongs to a member who ordered that product
    unbought = await rows("""SELECT r.id FROM reviews r WHERE NOT EXISTS (
        SELECT 1 FROM orders o JOIN order_lines l ON l.order_id = o.id JOIN products p
          ON p.external_id = l.product_external_id WHERE o.member_id = r.member_id AND p.id = r.product_id)""")
    assert unbought == []
    assert await Review.filter(status="published").count() > 0


@postgres_only
async def test_generate_demo_refuses_a_database_with_members_unless_forced():
    # given a generated demo
    first = await generate(20, 40)

    # when it is generated again without force, then it refuses and writes nothing
    with pytest.raises(RefusedError):
        await generate(20, 40)
    assert await Member.all().count() == 20
    # and with force it adds a second set next to the first
    await generate(20, 40, force=True)
    assert await Member.all().count() == 40
    assert await Order.all().count() > first["orders"]


@pytest.mark.skipif(IS_POSTGRES, reason="the SQLite refusal")
async def test_generate_demo_refuses_sqlite_politely():
    with pytest.raises(RefusedError, match="PostgreSQL"):
        await generate(10, 10)
    assert await Member.all().count() == 0
