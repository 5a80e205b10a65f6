"""The scheduled jobs, run by the API process (embedded default) or `server.py worker`.

Each job runs once per period across every worker process: a worker claims a due job's
lease in the database (domain/scheduler/lease.py) and records the run in `job_runs`.
Items inside a job are claimed in chunks (domain/scheduler/chunks.py): while the lease
holder has a backlog, other workers join its run and drain chunks too, and no item is
taken twice. Every job reads only what is due, by indexed columns (see the README).
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
import uuid
from datetime import datetime, timedelta

from prometheus_client import Counter, Histogram

from domain import clock
from domain.db import write_transaction
from domain.imports import runner as imports
from domain.insights import members as member_insights
from domain.ledger import jobs as ledger_jobs
from domain.members import birthdays
from domain.members.models import Member
from domain.messaging import occasions
from domain.messaging import sending as messaging
from domain.observability.context import log_context
from domain.recommendations import training
from domain.reviews import jobs as review_jobs
from domain.rewards import policies as grant_policies
from domain.rewards import service as rewards
from domain.rules import activities
from domain.rules import service as rules
from domain.scheduler import chunks, lease
from domain.segments import service as segments
from domain.settings import get_settings
from domain.subscriptions import jobs as subscription_jobs
from domain.tiers import service as tiers
from domain.tiers.models import Tier
from domain.webhooks import retention as webhook_retention

log = logging.getLogger("patron.jobs")
JOB_RUN_RETENTION_DAYS = 30
REVIEW_CHUNK = 1000  # members per grouped stats query in the tier review
JOB_SECONDS = Histogram("patron_job_duration_seconds", "Duration of periodic job runs", ["job"],
                        buckets=(0.01, 0.05, 0.1, 0.5, 1, 5, 15, 60, 300, 1800, 3600))
JOB_ITEMS = Counter("patron_job_items_total", "Items processed by periodic jobs", ["job"])
JOB_FAILURES = Counter("patron_job_failures_total", "Periodic job runs that failed", ["job"])


async def birthday_bonuses(now: datetime) -> int:
    """Award the birthday rules to members whose birthday is today and who did not get
    them yet this year: matched in SQL (domain/members/birthdays.py), in chunks."""
    active = await rules.active_rules("BIRTHDAY")
    if not active:
        return 0
    today = now.date()
    due = (Member.filter(birthday__isnull=False, anonymized_at__isnull=True)
           .annotate(birthday_key=birthdays.key_sql(), awarded=birthdays.awarded_sql(today.year, [r.id for r in active]))
           .filter(birthday_key__in=birthdays.keys_for(today), awarded__lt=len(active)))

    async def take(after: int) -> chunks.Chunk:
        awarded = 0
        async with write_transaction():
            # The members themselves are the items: locked with SKIP LOCKED (a member busy
            # now is found still due by the next hourly run).
            members = await chunks.claim(due, after)
            for member in members:
                tier = await Tier.get_or_none(id=member.tier_id) if member.tier_id else None
                awarded += await rules.award_fixed(
                    member, "BIRTHDAY", rules.birthday_source(member, today), "Birthday bonus", tier
                )
        return chunks.Chunk(len(members), awarded, members[-1].id if members else None)

    return await chunks.drain(take)


async def review_tiers(now: datetime) -> int:
    """Review members with a tier in keyset chunks of REVIEW_CHUNK: the qualifying figures of
    a whole chunk come from grouped SQL queries, and only the members a review would change
    are locked and written, set-based, in one transaction per chunk (tiers.review_chunk).
    Returns the members changed (tier or grace)."""
    all_tiers = await tiers.all_tiers()
    grace = get_settings().tier_grace_days
    after, reviewed = 0, 0
    while True:
        chunk = await (Member.filter(tier_id__isnull=False, id__gt=after).order_by("id").limit(REVIEW_CHUNK)
                       .values("id", "tier_id", "downgrade_pending_since"))
        if not chunk:
            return reviewed
        reviewed += await tiers.review_chunk(chunk, all_tiers, grace, now)
        after = chunk[-1]["id"]


async def _train(now: datetime) -> int:
    return int((await training.train()).stats["items"])


async def prune_job_runs(now: datetime) -> int:
    return await lease.prune_runs(now - timedelta(days=JOB_RUN_RETENTION_DAYS))


# (name, function, seconds between runs across all workers; 0 = every loop tick)
JOBS = [
    ("release_pending_points", ledger_jobs.release_due, 0),
    ("expire_points", ledger_jobs.expire_due, 0),
    ("birthday_bonuses", birthday_bonuses, 3600),
    ("tier_review", review_tiers, 3600),
    ("review_reply_overdue", review_jobs.announce_overdue_replies, 0),
    ("expire_reward_codes", rewards.expire_codes, 0),
    ("undo_unconfirmed_code_uses", rewards.undo_unconfirmed_uses, 60),
    ("convert_referrals", activities.convert_referrals, 600),
    ("subscription_renewal_notices", subscription_jobs.send_renewal_notices, 0),
    ("subscription_dunning", subscription_jobs.retry_past_due, 0),
    ("subscription_pauses", subscription_jobs.end_pauses, 0),
    ("membership_ends", subscription_jobs.end_memberships, 0),
    ("points_expiring_messages", occasions.plan_points_expiring, 3600),
    ("birthday_messages", occasions.plan_birthdays, 3600),
    ("win_back_messages", occasions.plan_win_back, 3600),
    ("cart_reminders", occasions.plan_cart_reminders, 600),
    ("send_messages", messaging.send_due, 0),
    ("import_jobs", imports.tick, 0),
    (training.TRAINING_JOB, _train, 3600),
    ("webhook_log_retention", webhook_retention.blank_old_excerpts, 3600),
    ("member_insights", member_insights.refresh_job, 86400),
    ("prune_job_runs", prune_job_runs, 86400),
    ("segment_membership", segments.evaluate_all, 86400),
    ("birthday_grants", grant_policies.grant_birthdays, 3600),
    ("win_back_grants", grant_policies.grant_win_back, 86400),
]


def job_periods() -> dict[str, int]:
    tick = get_settings().job_interval_seconds
    return {name: max(every, tick) for name, _, every in JOBS}


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


class JobRunner:
    def __init__(self, worker: str | None = None) -> None:
        self.worker = worker or worker_name()

    async def run_due(self) -> dict[str, int]:
        """Run every job that is due and not leased by another worker; {job: items}."""
        await lease.register(job_periods(), clock.now())
        results = {}
        for name, job, _ in JOBS:
            try:
                claimed = await lease.claim(name, self.worker, clock.now())
            except Exception:  # the database is away: try again next tick
                log.exception("job %s could not be claimed", name)
                continue
            if claimed is None:
                continue
            with log_context(job=name, job_run_id=claimed.run_id):  # on every log line of the run
                result = await self._run(name, job, claimed)
            if result is not None:
                results[name] = result
        await self.help_backlogs()
        return results

    async def help_backlogs(self) -> dict[str, int]:
        """Join the runs of other workers that have a backlog: drain their chunks too."""
        try:
            open_runs = await lease.open_backlogs(self.worker, clock.now())
        except Exception:
            log.exception("open backlogs could not be read")
            return {}
        by_name = {name: job for name, job, _ in JOBS}
        helped = {}
        for name, token in open_runs:
            if name not in by_name:
                continue
            started_at, started = clock.now(), time.monotonic()
            result, error = None, None
            try:
                result = int(await by_name[name](clock.now()))
                helped[name] = result
            except Exception as exc:
                log.exception("job %s failed while helping", name)
                error = f"{type(exc).__name__}: {exc}"
                JOB_FAILURES.labels(name).inc()
            if result:
                JOB_ITEMS.labels(name).inc(result)
            try:
                await lease.record_help(name, token, self.worker, started_at, int((time.monotonic() - started) * 1000),
                                        result, error, clock.now())
            except Exception:
                log.exception("job %s: could not record the help", name)
        return helped

    async def _run(self, name: str, job, claimed: lease.Lease) -> int | None:  # noqa: ANN001
        started = time.monotonic()
        result, error = None, None
        leader = chunks.leading.set(claimed)  # a backlog found by this run is opened to others
        try:
            result = int(await job(clock.now()))
        except Exception as exc:  # one failing job must not stop the others
            log.exception("job %s failed", name)
            error = f"{type(exc).__name__}: {exc}"
            JOB_FAILURES.labels(name).inc()
        finally:
            chunks.leading.reset(leader)
        elapsed = time.monotonic() - started
        JOB_SECONDS.labels(name).observe(elapsed)
        if result:
            JOB_ITEMS.labels(name).inc(result)
        try:
            if not await lease.finish(claimed, int(elapsed * 1000), result, error, clock.now()):
                log.warning("job %s: lease was taken over while it ran; outcome not recorded", name)
        except Exception:
            log.exception("job %s: could not record its outcome", name)
        return result

    async def run_forever(self, stop: asyncio.Event) -> None:
        interval = get_settings().job_interval_seconds
        while not stop.is_set():
            await self.run_due()
            try:
                await asyncio.wait_for(stop.wait(), timeout=interval)
            except TimeoutError:
                pass
