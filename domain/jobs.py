"""The scheduled jobs, run by the API process (embedded default) or `server.py worker`.

Each job runs once per period across every worker process: a worker claims a due job's
lease in the database (domain/scheduler/lease.py) and records the run in `job_runs`.
Items inside a job are still re-checked under the member lock in their own transaction,
so a job taken over after a lease expired does no double work.
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
from domain.ledger import jobs as ledger_jobs
from domain.ledger.service import lock_member
from domain.members.models import Member
from domain.observability.context import log_context
from domain.recommendations import training
from domain.reviews import jobs as review_jobs
from domain.rewards import service as rewards
from domain.rules import activities
from domain.rules import service as rules
from domain.scheduler import lease
from domain.settings import get_settings
from domain.subscriptions import jobs as subscription_jobs
from domain.tiers import service as tiers
from domain.tiers.models import Tier
from domain.webhooks import retention as webhook_retention

log = logging.getLogger("patron.jobs")
JOB_RUN_RETENTION_DAYS = 30
JOB_SECONDS = Histogram("patron_job_duration_seconds", "Duration of periodic job runs", ["job"],
                        buckets=(0.01, 0.05, 0.1, 0.5, 1, 5, 15, 60, 300, 1800, 3600))
JOB_ITEMS = Counter("patron_job_items_total", "Items processed by periodic jobs", ["job"])
JOB_FAILURES = Counter("patron_job_failures_total", "Periodic job runs that failed", ["job"])


async def birthday_bonuses(now: datetime) -> int:
    """Award the birthday rules to members whose birthday is today (once per year)."""
    if not await rules.active_rules("BIRTHDAY"):
        return 0
    today = now.date()
    awarded = 0
    candidates = await Member.filter(birthday__isnull=False, anonymized_at__isnull=True).values("id", "birthday")
    for row in candidates:
        bday = row["birthday"]
        if (bday.month, bday.day) != (today.month, today.day):
            # Feb 29 birthdays are celebrated on Feb 28 in other years.
            if not ((bday.month, bday.day) == (2, 29) and (today.month, today.day) == (2, 28)):
                continue
        async with write_transaction():
            member = await lock_member(row["id"])
            tier = await Tier.get_or_none(id=member.tier_id) if member.tier_id else None
            awarded += await rules.award_fixed(
                member, "BIRTHDAY", rules.birthday_source(member, today), "Birthday bonus", tier
            )
    return awarded


async def review_tiers(now: datetime) -> int:
    all_tiers = await tiers.all_tiers()
    grace = get_settings().tier_grace_days
    ids = await Member.filter(tier_id__isnull=False).values_list("id", flat=True)
    for member_id in ids:
        async with write_transaction():
            member = await lock_member(member_id)
            await tiers.review_member(member, all_tiers, grace)
    return len(ids)


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
    (training.TRAINING_JOB, _train, 3600),
    ("webhook_log_retention", webhook_retention.blank_old_excerpts, 3600),
    ("prune_job_runs", prune_job_runs, 86400),
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
        return results

    async def _run(self, name: str, job, claimed: lease.Lease) -> int | None:  # noqa: ANN001
        started = time.monotonic()
        result, error = None, None
        try:
            result = int(await job(clock.now()))
        except Exception as exc:  # one failing job must not stop the others
            log.exception("job %s failed", name)
            error = f"{type(exc).__name__}: {exc}"
            JOB_FAILURES.labels(name).inc()
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
