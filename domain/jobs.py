"""The scheduled jobs, run by the API process (embedded default) or `server.py worker`.

Every job is safe to run concurrently from several processes: each item is re-checked
under the member lock in its own transaction.
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import datetime

from domain import clock
from domain.db import write_transaction
from domain.ledger import jobs as ledger_jobs
from domain.ledger.service import lock_member
from domain.members.models import Member
from domain.reviews import jobs as review_jobs
from domain.rewards import service as rewards
from domain.rules import activities
from domain.rules import service as rules
from domain.settings import get_settings
from domain.subscriptions import jobs as subscription_jobs
from domain.tiers import service as tiers
from domain.tiers.models import Tier
from domain.webhooks import retention as webhook_retention

log = logging.getLogger("patron.jobs")


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
    from domain.recommendations.training import train

    return int((await train()).stats["items"])


# (name, function, minimum seconds between runs in one process)
JOBS = [
    ("release_pending_points", ledger_jobs.release_due, 0),
    ("expire_points", ledger_jobs.expire_due, 0),
    ("birthday_bonuses", birthday_bonuses, 3600),
    ("tier_review", review_tiers, 3600),
    ("review_reply_overdue", review_jobs.announce_overdue_replies, 0),
    ("expire_reward_codes", rewards.expire_codes, 0),
    ("convert_referrals", activities.convert_referrals, 600),
    ("subscription_renewal_notices", subscription_jobs.send_renewal_notices, 0),
    ("subscription_dunning", subscription_jobs.retry_past_due, 0),
    ("subscription_pauses", subscription_jobs.end_pauses, 0),
    ("membership_ends", subscription_jobs.end_memberships, 0),
    ("train_recommender", _train, 3600),
    ("webhook_log_retention", webhook_retention.blank_old_excerpts, 3600),
]


class JobRunner:
    def __init__(self) -> None:
        self._last_run: dict[str, float] = {}

    async def run_due(self) -> dict[str, int]:
        results = {}
        for name, job, every in JOBS:
            if time.monotonic() - self._last_run.get(name, -1e12) < every:
                continue
            try:
                results[name] = await job(clock.now())
            except Exception:  # one failing job must not stop the others
                log.exception("job %s failed", name)
            self._last_run[name] = time.monotonic()
        return results

    async def run_forever(self, stop: asyncio.Event) -> None:
        interval = get_settings().job_interval_seconds
        while not stop.is_set():
            await self.run_due()
            try:
                await asyncio.wait_for(stop.wait(), timeout=interval)
            except TimeoutError:
                pass
