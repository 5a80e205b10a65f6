"""Jobs read only what is due, in SQL, and share a backlog between workers.

Birthdays are matched in SQL (month/day, the Feb 29 rule, not yet awarded this year); the tier
review locks only members whose review changes something; due-date jobs claim chunks with
SKIP LOCKED and other workers join a run while it has a backlog.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
from datetime import UTC, date, datetime, timedelta

from domain import clock, jobs
from domain.db import write_transaction
from domain.ledger.models import Award, LedgerEntry
from domain.members import birthdays
from domain.rules.service import save_rule
from domain.scheduler import chunks
from domain.scheduler.models import JobRun, JobState
from domain.tiers import service as tiers
from tests import helpers
from tests.conftest import postgres_only

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def spy_on_claims(monkeypatch) -> list[int]:
    """The number of rows each chunk claimed: what the job read from the database."""
    claimed: list[int] = []
    real = chunks.claim

    async def counting(qs, after_id):  # noqa: ANN001
        rows = await real(qs, after_id)
        claimed.append(len(rows))
        return rows

    monkeypatch.setattr(chunks, "claim", counting)
    return claimed


async def birthday_rule() -> None:
    await save_rule(None, {"name": "Birthday", "type": "BIRTHDAY", "points": 100, "apply_tier_multiplier": False})


async def awarded_members() -> list[str]:
    rows = await Award.filter(source_type="birthday").values_list("source_id", flat=True)
    return sorted(rows)


async def test_birthdays_are_matched_in_sql_and_only_the_due_members_are_read(monkeypatch):
    # given: 30 members with other birthdays and two whose birthday is today
    clock.set_now(datetime(2026, 6, 15, 9, 0, tzinfo=UTC))
    await birthday_rule()
    for i in range(30):
        await helpers.member(f"other-{i}", birthday=date(1990, 1 + i % 12, 1 + i % 27) if i % 12 != 5 else date(1990, 7, 1))
    await helpers.member("today-a", birthday=date(1985, 6, 15))
    await helpers.member("today-b", birthday=date(2001, 6, 15))
    await helpers.member("no-birthday")
    claimed = spy_on_claims(monkeypatch)
    # when: the job runs twice the same day
    first = await jobs.birthday_bonuses(clock.now())
    second = await jobs.birthday_bonuses(clock.now())
    # then: only the two were read and awarded, once; the second run read nobody
    assert (first, second) == (200, 0)
    assert claimed == [2, 0]
    assert await awarded_members() == ["today-a:2026", "today-b:2026"]
    for external_id in ("today-a", "today-b"):
        assert (await helpers.assert_no_drift(external_id)).points_balance == 100


async def test_feb_29_birthdays_are_celebrated_on_feb_28_in_other_years():
    # given: members born on Feb 28, Feb 29 and Mar 1
    await birthday_rule()
    for external_id, born in (("feb28", date(1990, 2, 28)), ("feb29", date(1992, 2, 29)), ("mar1", date(1990, 3, 1))):
        await helpers.member(external_id, birthday=born)
    # when/then: in 2027 (not a leap year) Feb 28 celebrates both Feb 28 and Feb 29
    assert await jobs.birthday_bonuses(datetime(2027, 2, 28, 8, tzinfo=UTC)) == 200
    assert await awarded_members() == ["feb28:2027", "feb29:2027"]
    # in 2028 (a leap year) Feb 29 is its own day
    assert await jobs.birthday_bonuses(datetime(2028, 2, 28, 8, tzinfo=UTC)) == 100
    assert await jobs.birthday_bonuses(datetime(2028, 2, 29, 8, tzinfo=UTC)) == 100
    assert await jobs.birthday_bonuses(datetime(2028, 3, 1, 8, tzinfo=UTC)) == 100
    assert await awarded_members() == ["feb28:2027", "feb28:2028", "feb29:2027", "feb29:2028", "mar1:2028"]


async def test_a_birthday_rule_added_later_in_the_day_still_pays_once():
    # given: a member already got today's bonus from the first rule
    await birthday_rule()
    await helpers.member("m1", birthday=date(1990, 9, 9))
    now = datetime(2026, 9, 9, 8, tzinfo=UTC)
    assert await jobs.birthday_bonuses(now) == 100
    # when: a second birthday rule is created and the job runs again
    await save_rule(None, {"name": "Extra", "type": "BIRTHDAY", "points": 7, "apply_tier_multiplier": False})
    # then: only the new rule pays, once
    assert await jobs.birthday_bonuses(now) == 7
    assert await jobs.birthday_bonuses(now) == 0
    assert (await helpers.assert_no_drift("m1")).points_balance == 107


def test_the_birthday_index_of_the_migration_matches_the_query():
    migration = importlib.import_module("migrations.0011_fencing_and_due_indexes")
    assert migration.BIRTHDAY_INDEX == birthdays.PG_INDEX
    assert f"(({birthdays.PG_KEY}))" in migration.BIRTHDAY_INDEX


async def test_the_tier_review_locks_only_members_whose_tier_would_change(monkeypatch):
    # given: 25 members keeping their tier and one whose spend left the rolling window
    clock.set_now(T0)
    await helpers.tiers_bronze_silver_gold()
    for i in range(25):
        await helpers.member(f"steady-{i}")
    await helpers.member("lapsing")
    await helpers.order("lapsing-o1", member_id="lapsing", amount=60_000)
    clock.set_now(T0 + timedelta(days=200))
    for i in range(25):  # the steady ones order later: still inside the window at the review
        await helpers.order(f"steady-p{i}", member_id=f"steady-{i}", amount=1_000 if i % 2 else 60_000)
    locked: list[int] = []
    real_lock = tiers.lock_members

    async def counting_lock(member_ids: list[int]):  # noqa: ANN202
        locked.extend(member_ids)
        return await real_lock(member_ids)

    monkeypatch.setattr(tiers, "lock_members", counting_lock)
    clock.set_now(T0 + timedelta(days=366))
    # when: the hourly review runs
    reviewed = await jobs.review_tiers(clock.now())
    # then: one member was locked and reviewed: the grace of the lapsing one starts
    lapsing = await helpers.fresh("lapsing")
    assert (reviewed, locked) == (1, [lapsing.id])
    assert lapsing.downgrade_pending_since == clock.now()
    # and an hour later nothing is locked (the grace is running)
    locked.clear()
    clock.set_now(T0 + timedelta(days=366, hours=1))
    assert (await jobs.review_tiers(clock.now()), locked) == (0, [])


async def test_the_tier_review_upgrades_when_the_program_lowers_a_threshold():
    # given: a Bronze member with 40,000 of spend; Silver asks 50,000
    from domain.tiers.models import Tier
    from domain.tiers.service import save_tier

    clock.set_now(T0)
    await helpers.tiers_bronze_silver_gold()
    await helpers.member("m1")
    await helpers.order("o1", amount=40_000)
    assert (await helpers.fresh("m1")).tier_id == (await Tier.get(name="Bronze")).id
    # when: Silver is lowered to 30,000 and the review runs
    silver = await Tier.get(name="Silver")
    await save_tier(silver.id, {"min_spend": 30_000})
    # then: the member moves up at review
    assert await jobs.review_tiers(clock.now()) == 1
    assert (await helpers.fresh("m1")).tier_id == silver.id


async def held_awards(members: int, orders_each: int) -> None:
    await helpers.order_rule()  # points held for the 14-day return window
    for m in range(members):
        await helpers.member(f"m{m}")
        for o in range(orders_each):
            await helpers.order(f"o{m}-{o}", member_id=f"m{m}", amount=10_000)


async def test_one_run_drains_a_backlog_larger_than_a_chunk(monkeypatch):
    # given: 23 held awards due, chunks of 5
    monkeypatch.setattr(chunks, "CHUNK", 5)
    clock.set_now(T0)
    await held_awards(members=23, orders_each=1)
    clock.set_now(T0 + timedelta(days=15))
    # when: one worker runs the release job
    assert await jobs.ledger_jobs.release_due(clock.now()) == 23
    # then: every award released once, with no drift
    assert await Award.filter(status="held").count() == 0
    assert await LedgerEntry.filter(kind="earn").count() == 23
    for m in range(23):
        assert (await helpers.assert_no_drift(f"m{m}")).points_balance == 100


@postgres_only
async def test_two_workers_share_a_backlog_and_no_item_is_processed_twice(monkeypatch):
    # given: 60 held awards of 20 members, due; chunks of 5; only the release job is scheduled
    monkeypatch.setattr(chunks, "CHUNK", 5)
    monkeypatch.setattr(jobs, "JOBS", [("release_pending_points", jobs.ledger_jobs.release_due, 0)])
    clock.set_now(T0)
    await held_awards(members=20, orders_each=3)
    clock.set_now(T0 + timedelta(days=15))
    leader, helper = jobs.JobRunner("leader"), jobs.JobRunner("helper")

    async def join_when_the_backlog_opens() -> dict[str, int]:
        for _ in range(500):
            state = await JobState.get_or_none(name="release_pending_points")
            if state is not None and state.backlog_until is not None:
                return await helper.run_due()
            await asyncio.sleep(0.005)
        raise AssertionError("the leader never opened its backlog")

    # when: the leader's run and the helper run at once
    led, helped = await asyncio.gather(leader.run_due(), join_when_the_backlog_opens())
    # then: both released awards, together exactly the 60, each once, with no drift
    runs = {r.worker: r for r in await JobRun.filter(name="release_pending_points")}
    assert (runs["leader"].status, runs["helper"].status) == ("ok", "helped")
    assert runs["leader"].lease_token == runs["helper"].lease_token
    assert runs["leader"].result > 0 and runs["helper"].result > 0
    assert runs["leader"].result + runs["helper"].result == 60
    assert (led, helped) == ({"release_pending_points": runs["leader"].result}, {})  # the lease: the leader's only
    assert await Award.filter(status="held").count() == 0
    assert await LedgerEntry.filter(kind="earn").count() == 60
    for m in range(20):
        member = await helpers.assert_no_drift(f"m{m}")
        assert (member.points_balance, member.points_pending) == (300, 0)
    state = await JobState.get(name="release_pending_points")
    assert (state.backlog_until, state.lease_until, state.last_result) == (None, None, runs["leader"].result)


@postgres_only
async def test_a_chunk_reads_the_due_ids_unordered_then_locks_them_by_id(monkeypatch, caplog):
    # "<due filter> ORDER BY id LIMIT n" made PostgreSQL walk the whole primary key whenever it
    # overestimated the due rows: 5.5 s per chunk over 3M awards (bench/scale.py at 1M members)
    monkeypatch.setattr(chunks, "CHUNK", 5)
    clock.set_now(T0)
    await held_awards(members=7, orders_each=1)
    due_ids = sorted(await Award.filter(status="held").values_list("id", flat=True))
    await Award.filter(id=due_ids[1]).update(status="released")  # no longer due
    clock.set_now(T0 + timedelta(days=15))
    caplog.set_level(logging.DEBUG, logger="tortoise.db_client")
    async with write_transaction():
        first = await chunks.claim(Award.filter(status="held", release_at__lte=clock.now()), 0)
        rest = await chunks.claim(Award.filter(status="held", release_at__lte=clock.now()), first[-1].id)
    # Then the chunks hold the due rows in id order, five and the last one, skipping the released one
    assert [a.id for a in first] == [due_ids[0]] + due_ids[2:6]
    assert [a.id for a in rest] == due_ids[6:]
    sql = [r.getMessage().upper() for r in caplog.records if '"AWARDS"' in r.getMessage().upper()]
    read, lock = sql[0], sql[1]
    assert "LIMIT" not in read and "ORDER BY" not in read and "FOR UPDATE" not in read
    assert '"ID" IN' in lock and '"STATUS"=' in lock and "FOR UPDATE SKIP LOCKED" in lock  # still due when locked
