"""What the admin sees of the periodic jobs: their schedule and their runs."""

from __future__ import annotations

from domain.pagination import NEWEST_ID, Page, PageRequest, keyset_page
from domain.scheduler.models import JobRun, JobState


async def job_states() -> list[JobState]:
    return await JobState.all().order_by("name")


async def job_runs(name: str | None, request: PageRequest) -> Page[JobRun]:
    qs = JobRun.filter(name=name) if name else JobRun.all()
    return await keyset_page(qs, NEWEST_ID, request)
