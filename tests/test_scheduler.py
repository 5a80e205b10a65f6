"""Leased periodic jobs: once per period across workers, fencing, and the admin's view."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from domain import clock, jobs
from domain.scheduler import lease
from domain.scheduler.models import JobRun, JobState

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
TICK_JOBS = {name for name, period in jobs.job_periods().items() if period == 30}


async def runs_per_job() -> dict[str, int]:
    counts: dict[str, int] = {}
    for name in await JobRun.all().values_list("name", flat=True):
        counts[name] = counts.get(name, 0) + 1
    return counts


async def test_three_workers_at_once_run_each_job_exactly_once():
    clock.set_now(T0)
    workers = [jobs.JobRunner(f"worker-{i}") for i in range(3)]
    results = await asyncio.gather(*(w.run_due() for w in workers))
    assert await runs_per_job() == {name: 1 for name, _, _ in jobs.JOBS}
    ran = [name for r in results for name in r]
    assert sorted(ran) == sorted(name for name, _, _ in jobs.JOBS)  # each job by one worker only
    assert set(await JobRun.all().values_list("status", flat=True)) == {"ok"}


async def test_a_job_runs_again_only_when_its_period_has_passed():
    clock.set_now(T0)
    runner = jobs.JobRunner("w")
    await runner.run_due()
    clock.set_now(T0 + timedelta(seconds=29))
    assert await runner.run_due() == {}
    clock.set_now(T0 + timedelta(seconds=31))
    assert set(await runner.run_due()) == TICK_JOBS
    clock.set_now(T0 + timedelta(hours=1, seconds=1))
    again = set(await runner.run_due())
    assert {"tier_review", "birthday_bonuses", "train_recommender"} <= again
    assert "prune_job_runs" not in again  # daily
    counts = await runs_per_job()
    assert counts["tier_review"] == 2 and counts["expire_points"] == 3 and counts["prune_job_runs"] == 1


async def test_a_worker_whose_lease_was_taken_over_records_nothing():
    clock.set_now(T0)
    await lease.register({"demo": 30}, T0)
    first = await lease.claim("demo", "slow-worker", T0)
    assert first is not None
    assert await lease.claim("demo", "other", T0 + timedelta(seconds=60)) is None  # lease still live
    takeover_at = T0 + timedelta(seconds=lease.lease_seconds(30) + 1)
    second = await lease.claim("demo", "other", takeover_at)
    assert second is not None and second.token == first.token + 1
    assert await lease.finish(first, 1234, 7, None, takeover_at) is False
    state = await JobState.get(name="demo")
    assert (state.lease_owner, state.last_result, state.last_run_at) == ("other", None, None)
    assert await lease.finish(second, 10, 3, None, takeover_at) is True
    state = await JobState.get(name="demo")
    assert (state.lease_owner, state.last_result, state.last_duration_ms) == (None, 3, 10)
    statuses = dict(await JobRun.filter(name="demo").values_list("worker", "status"))
    assert statuses == {"slow-worker": "fenced", "other": "ok"}


async def test_a_failing_job_is_recorded_and_the_others_still_run(monkeypatch):
    async def broken(now: datetime) -> int:
        raise RuntimeError("boom")

    async def fine(now: datetime) -> int:
        return 4

    monkeypatch.setattr(jobs, "JOBS", [("broken", broken, 0), ("fine", fine, 0)])
    clock.set_now(T0)
    assert await jobs.JobRunner("w").run_due() == {"fine": 4}
    broken_state = await JobState.get(name="broken")
    assert (broken_state.last_error, broken_state.last_result, broken_state.lease_until) == ("RuntimeError: boom", None, None)
    assert (await JobState.get(name="fine")).last_result == 4
    assert dict(await JobRun.all().values_list("name", "status")) == {"broken": "failed", "fine": "ok"}


async def test_admin_sees_jobs_and_their_runs(api, admin_token, monkeypatch):
    async def counted(now: datetime) -> int:
        return 2

    monkeypatch.setattr(jobs, "JOBS", [("counted", counted, 3600), ("stuck", counted, 0)])
    clock.set_now(T0)
    await lease.register(jobs.job_periods(), T0)
    stuck = await lease.claim("stuck", "crashed-worker", T0)  # claimed, never finished
    await jobs.JobRunner("w1").run_due()
    data = await api.ok("{ jobs { name schedule periodSeconds lastRunAt lastResult lastError running runningOn nextRunAt } }",
                        token=admin_token)
    assert data["jobs"] == [
        {"name": "counted", "schedule": "every 1 h", "periodSeconds": 3600, "lastRunAt": T0.isoformat(),
         "lastResult": 2, "lastError": None, "running": False, "runningOn": None,
         "nextRunAt": (T0 + timedelta(hours=1)).isoformat()},
        {"name": "stuck", "schedule": "every 30 s", "periodSeconds": 30, "lastRunAt": None, "lastResult": None,
         "lastError": None, "running": True, "runningOn": "crashed-worker",
         "nextRunAt": (T0 + timedelta(seconds=30)).isoformat()},
    ]
    # The crashed worker's lease runs out; another worker takes the job over.
    clock.set_now(T0 + timedelta(seconds=lease.lease_seconds(30) + 1))
    assert await jobs.JobRunner("w2").run_due() == {"stuck": 2}
    assert stuck is not None
    page = await api.ok('{ jobRuns(name: "stuck", first: 1) { edges { node { name worker status result } } pageInfo { hasNextPage endCursor } } }',
                        token=admin_token)
    assert page["jobRuns"]["edges"] == [{"node": {"name": "stuck", "worker": "w2", "status": "OK", "result": 2}}]
    assert page["jobRuns"]["pageInfo"]["hasNextPage"] is True
    rest = await api.ok('query($a: String) { jobRuns(name: "stuck", first: 5, after: $a) { edges { node { worker status } } } }',
                        {"a": page["jobRuns"]["pageInfo"]["endCursor"]}, admin_token)
    assert rest["jobRuns"]["edges"] == [{"node": {"worker": "crashed-worker", "status": "RUNNING"}}]


async def test_old_runs_are_pruned_after_the_retention():
    clock.set_now(T0)
    await jobs.JobRunner("w").run_due()
    before = await JobRun.all().count()
    assert await jobs.prune_job_runs(T0 + timedelta(days=jobs.JOB_RUN_RETENTION_DAYS - 1)) == 0
    assert await jobs.prune_job_runs(T0 + timedelta(days=jobs.JOB_RUN_RETENTION_DAYS, seconds=1)) == before
    assert await JobRun.all().count() == 0
