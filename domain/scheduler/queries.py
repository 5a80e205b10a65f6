"""What the admin sees of the periodic jobs: their schedule and their runs."""

from __future__ import annotations

from domain import db
from domain.scheduler.models import JobRun, JobState


async def job_states() -> list[JobState]:
    return await JobState.all().order_by("name")


async def job_runs(name: str | None, first: int, before_id: int | None) -> list[JobRun]:
    qs = JobRun.filter(name=name) if name else JobRun.all()
    return await db.newest_first(qs, first, before_id)
