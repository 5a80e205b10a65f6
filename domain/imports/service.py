"""Import jobs: start one from an uploaded file, read it, cancel it.

The upload is copied (streamed, size-checked) under PATRON_IMPORT_DIR and a QUEUED job row
is written; a worker runs it (domain/imports/runner.py). The file is removed when the job
ends (succeeded, failed or cancelled): it holds personal data and is needed only to resume.
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any, BinaryIO

from domain import clock
from domain.db import write_transaction
from domain.errors import DomainError, InvalidInput, NotFound
from domain.imports.formats import FORMATS, KINDS, check_mapping, python_encoding
from domain.imports.models import ImportJob, ImportProblem
from domain.pagination import NEWEST_ID, Page, PageRequest, keyset_page
from domain.settings import get_settings

TERMINAL = ("succeeded", "failed", "cancelled")
FORMATS_OF = {"members": ("patron", "jsonl"), "orders": ("patron", "jsonl", "shopify"),
              "reviews": ("patron", "jsonl", "okendo", "judgeme", "yotpo"), "points_balances": ("patron", "jsonl")}
COPY_CHUNK = 1024 * 1024


class FileTooLarge(DomainError):
    code = "MEDIA_TOO_LARGE"


def import_dir() -> Path:
    path = Path(get_settings().import_dir)
    path.mkdir(parents=True, exist_ok=True)
    return path


def max_bytes() -> int:
    return get_settings().import_max_mb * 1024 * 1024


def store_file(source: BinaryIO) -> tuple[str, int]:
    """Copy an upload under the import dir (blocking: run in a thread); refused past the limit."""
    limit = max_bytes()
    path = import_dir() / f"{secrets.token_hex(16)}.upload"
    size = 0
    try:
        with open(path, "wb") as out:
            while chunk := source.read(COPY_CHUNK):
                size += len(chunk)
                if size > limit:
                    raise FileTooLarge(f"The file is larger than PATRON_IMPORT_MAX_MB ({get_settings().import_max_mb} MB)", "file")
                out.write(chunk)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return str(path), size


def remove_file(job: ImportJob) -> None:
    if job.file_path:
        Path(job.file_path).unlink(missing_ok=True)


def check_options(kind: str, fmt: str, encoding: str | None, mapping: dict[str, Any] | None) -> dict[str, str]:
    if kind not in KINDS:
        raise InvalidInput(f"kind must be one of {', '.join(KINDS)}", "kind")
    if fmt not in FORMATS:
        raise InvalidInput(f"format must be one of {', '.join(FORMATS)}", "format")
    if fmt not in FORMATS_OF[kind]:
        raise InvalidInput(f"{kind} imports take the formats {', '.join(FORMATS_OF[kind])}", "format")
    if encoding is not None and python_encoding(encoding) is None:
        raise InvalidInput("encoding must be utf-8, cp949 or euc-kr (or left out to detect it)", "encoding")
    try:
        return check_mapping(kind, mapping)
    except ValueError as exc:
        raise InvalidInput(str(exc), "mapping") from None


async def start_import(kind: str, fmt: str, file_path: str, file_size: int, file_name: str, actor: str,
                       dry_run: bool = False, award_points: bool = False, mapping: dict[str, Any] | None = None,
                       encoding: str | None = None) -> ImportJob:
    """A QUEUED job for a file already stored by `store_file` (removed if this refuses)."""
    try:
        checked = check_options(kind, fmt, encoding, mapping)
        if award_points and kind != "orders":
            raise InvalidInput("awardPoints applies to ORDERS imports only", "awardPoints")
        now = clock.now()
        async with write_transaction():
            return await ImportJob.create(
                kind=kind, format=fmt, dry_run=dry_run, award_points=award_points, mapping=checked or None,
                encoding=python_encoding(encoding), file_path=file_path, file_name=(file_name or "upload")[:255],
                file_size=file_size, created_by=actor[:64], created_at=now, updated_at=now)
    except BaseException:
        Path(file_path).unlink(missing_ok=True)
        raise


async def get_job(job_id: int) -> ImportJob:
    job = await ImportJob.get_or_none(id=job_id)
    if job is None:
        raise NotFound("No import job with that id", "id")
    return job


async def cancel_import(job_id: int) -> ImportJob:
    """A queued or running job stops before its next batch; batches already committed stay."""
    async with write_transaction():
        job = await ImportJob.select_for_update().get_or_none(id=job_id)
        if job is None:
            raise NotFound("No import job with that id", "id")
        if job.status in TERMINAL:
            raise DomainError(f"The job already ended ({job.status.upper()})", "id", code="INVALID_STATE")
        job.status, job.finished_at, job.updated_at = "cancelled", clock.now(), clock.now()
        job.lease_owner, job.lease_until = None, None
        await job.save(update_fields=["status", "finished_at", "updated_at", "lease_owner", "lease_until"])
    remove_file(job)
    return job


async def list_jobs(request: PageRequest) -> Page[ImportJob]:
    return await keyset_page(ImportJob.all(), NEWEST_ID, request)


async def job_problems(job_id: int, request: PageRequest) -> Page[ImportProblem]:
    return await keyset_page(ImportProblem.filter(job_id=job_id), (("id", False),), request)

