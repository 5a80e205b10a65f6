from __future__ import annotations

from strawberry.types import Info

from domain.scheduler import queries
from schema.errors import bad_input
from schema.pagination import Connection, paginate
from schema.scheduler import Job, JobRun


async def jobs(info: Info) -> list[Job]:
    return [Job.from_model(s) for s in await queries.job_states()]


async def job_runs(info: Info, name: str | None = None, first: int | None = None,
                   after: str | None = None, last: int | None = None,
                   before: str | None = None) -> Connection[JobRun]:
    if name is not None and len(name) > 64:
        raise bad_input("name: no job has a name that long")
    return await paginate("Query.jobRuns", first, after, last, before,
                          lambda req: queries.job_runs(name, req), JobRun.from_model)
