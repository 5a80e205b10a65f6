"""Leases on periodic jobs: each job runs once per period across any number of workers.

A worker claims a due job by locking its `job_states` row with SELECT … FOR UPDATE SKIP
LOCKED (PostgreSQL; on SQLite the one process serialises writers), moving `next_run_at` one
period ahead and taking a lease with a fresh token. Other workers skip the locked row or
find it not due. The outcome is recorded only while the token still matches (fencing): a
worker that outlived its lease and was taken over records nothing.

Why the database and not procrastinate, arq or APScheduler: the database is the one
dependency every deployment already has (SQLite embedded, PostgreSQL at scale); arq needs
Redis for every schedule, procrastinate is PostgreSQL-only (the embedded default would need
a second scheduler), and APScheduler 3's job stores do not coordinate several schedulers
(4.x, which does, is still pre-release).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from tortoise.expressions import F
from tortoise.transactions import in_transaction

from domain import db
from domain.scheduler.models import JobRun, JobState

MIN_LEASE_SECONDS = 300
MAX_LEASE_SECONDS = 3600
ERROR_CHARS = 1000


@dataclass(frozen=True)
class Lease:
    name: str
    token: int
    run_id: int
    started_at: datetime


def lease_seconds(period_seconds: int) -> int:
    """Long enough for a slow run; a crashed worker's job is taken over after it."""
    return max(MIN_LEASE_SECONDS, min(period_seconds, MAX_LEASE_SECONDS))


async def register(periods: dict[str, int], now: datetime) -> None:
    """Create the rows of jobs seen for the first time (due at once); keep periods current."""
    known = dict(await JobState.all().values_list("name", "period_seconds"))
    missing = [JobState(name=n, period_seconds=p, next_run_at=now) for n, p in periods.items() if n not in known]
    if missing:
        await JobState.bulk_create(missing, ignore_conflicts=True)  # another worker may race us
    for name, period in periods.items():
        if name in known and known[name] != period:
            await JobState.filter(name=name).update(period_seconds=period)


async def claim(name: str, worker: str, now: datetime) -> Lease | None:
    """Take the job if it is due and nobody holds a live lease on it."""
    async with db.serialized_writes(), in_transaction():
        state = await JobState.filter(name=name).select_for_update(skip_locked=True).first()
        if state is None or state.next_run_at > now:
            return None
        if state.lease_until is not None and state.lease_until > now:
            return None
        state.lease_token += 1
        state.lease_owner = worker[:100]
        state.lease_until = now + timedelta(seconds=lease_seconds(state.period_seconds))
        state.next_run_at = now + timedelta(seconds=state.period_seconds)
        await state.save(update_fields=["lease_token", "lease_owner", "lease_until", "next_run_at"])
        run = await JobRun.create(name=name, worker=worker[:100], lease_token=state.lease_token,
                                  status="running", started_at=now)
    return Lease(name=name, token=state.lease_token, run_id=run.id, started_at=now)


async def finish(lease: Lease, duration_ms: int, result: int | None, error: str | None, now: datetime) -> bool:
    """Record the outcome and release the lease; False when the lease was taken over."""
    error = error[:ERROR_CHARS] if error else None
    async with db.serialized_writes(), in_transaction():
        kept = await JobState.filter(name=lease.name, lease_token=lease.token).update(
            lease_owner=None, lease_until=None, backlog_until=None, last_run_at=lease.started_at,
            last_duration_ms=duration_ms, last_result=result, last_error=error)
        status = "fenced" if not kept else ("failed" if error else "ok")
        await JobRun.filter(id=lease.run_id).update(
            status=status, finished_at=now, duration_ms=duration_ms, result=result, error=error)
    return bool(kept)


async def open_backlog(lease: Lease) -> None:
    """The holder has more than one chunk of work: other workers may join until its lease ends."""
    async with db.serialized_writes():
        await JobState.filter(name=lease.name, lease_token=lease.token).update(backlog_until=F("lease_until"))


async def open_backlogs(worker: str, now: datetime) -> list[tuple[str, int]]:
    """(job, lease token) of runs held by other workers that ask for help now."""
    rows = await JobState.filter(backlog_until__gt=now, lease_until__gt=now).exclude(
        lease_owner=worker[:100]).values_list("name", "lease_token")
    return [(name, token) for name, token in rows]


async def record_help(name: str, token: int, worker: str, started_at: datetime, duration_ms: int,
                      result: int | None, error: str | None, now: datetime) -> None:
    """A run of `helped` status: this worker drained chunks of the run holding `token`."""
    async with db.serialized_writes():
        await JobRun.create(name=name, worker=worker[:100], lease_token=token, status="helped",
                            started_at=started_at, finished_at=now, duration_ms=duration_ms, result=result,
                            error=error[:ERROR_CHARS] if error else None)


async def prune_runs(before: datetime) -> int:
    return await JobRun.filter(started_at__lt=before).delete()
