from __future__ import annotations

from strawberry.types import Info

from domain.scheduler import queries
from schema.errors import bad_input
from schema.pagination import Connection, connection, decode_cursor, page_size
from schema.scheduler import Job, JobRun


async def jobs(info: Info) -> list[Job]:
    return [Job.from_model(s) for s in await queries.job_states()]


async def job_runs(info: Info, name: str | None = None, first: int | None = 20,
                   after: str | None = None) -> Connection[JobRun]:
    if name is not None and len(name) > 64:
        raise bad_input("name: no job has a name that long")
    size = page_size(first)
    rows = await queries.job_runs(name, size, decode_cursor(after))
    return connection(rows, size, JobRun.from_model, lambda r: r.id)
