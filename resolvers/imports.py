from __future__ import annotations

import asyncio

import strawberry
from strawberry.file_uploads import Upload
from strawberry.types import Info

from domain.imports import runner, service
from domain.errors import DomainError
from resolvers.common import attempt, lookup, user_error
from schema.common import parse_id
from schema.errors import bad_input
from schema.imports import ImportJob, ImportJobPayload, StartImportInput, job_or_none
from schema.pagination import Connection, paginate



async def start_import(info: Info, input: StartImportInput, file: Upload) -> ImportJobPayload:
    if not hasattr(getattr(file, "file", None), "read"):
        raise bad_input("file must be a file sent as a GraphQL multipart request")
    try:  # answered before the file is copied
        service.check_options(input.kind.value, input.format, input.encoding, input.mapping)
    except DomainError as exc:
        return ImportJobPayload(job=None, errors=[user_error(exc)])
    stored, errors = await attempt(asyncio.to_thread(service.store_file, file.file))
    if stored is None:
        return ImportJobPayload(job=None, errors=errors)
    path, size = stored
    job, errors = await attempt(service.start_import(
        input.kind.value, input.format, path, size, getattr(file, "filename", None) or "upload",
        info.context.viewer.actor, dry_run=input.dry_run, award_points=input.award_points,
        mapping=input.mapping, encoding=input.encoding))
    if job is not None:
        runner.kick()
    return ImportJobPayload(job=job_or_none(job), errors=errors)


async def cancel_import(info: Info, id: strawberry.ID) -> ImportJobPayload:
    job, errors = await attempt(service.cancel_import(parse_id(id, "ImportJob")))
    return ImportJobPayload(job=job_or_none(job), errors=errors)


async def import_job(info: Info, id: strawberry.ID) -> ImportJob | None:
    return job_or_none(await lookup(service.get_job(parse_id(id, "ImportJob"))))


async def import_jobs(info: Info, first: int | None = None, after: str | None = None,
                      last: int | None = None, before: str | None = None) -> Connection[ImportJob]:
    return await paginate("Query.importJobs", first, after, last, before, service.list_jobs, ImportJob.from_model)

