"""Running import jobs: a worker leases one job at a time and walks its file in batches.

Each batch (PATRON_IMPORT_BATCH_ROWS records) is one transaction that writes its rows, its
problems, and the job's counters and committed row offset together, and only while this
worker's lease token is still the job's (fencing). So a worker killed mid-batch leaves
nothing of that batch; once its lease runs out (LEASE after the last batch) another worker
claims the job and continues from the committed offset: no duplicates, no gaps. Rows carry
external ids besides, so even a replayed batch would only count `skipped`.

The leased job `import_jobs` (domain/jobs.py) runs this every tick in every worker; the
embedded default (SQLite, jobs in the API process) also starts it as soon as a job is queued.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

from tortoise.expressions import F, Q
from tortoise.transactions import in_transaction

from domain import clock, db
from domain.db import write_transaction
from domain.imports import bulk, formats, kinds, media
from domain.imports.formats import FormatMismatch, Record
from domain.imports.models import ImportJob, ImportProblem
from domain.imports.service import remove_file
from domain.settings import get_settings

log = logging.getLogger("patron.imports")
LEASE = timedelta(minutes=5)
MAX_BATCH_ATTEMPTS = 3  # a batch that failed this often is skipped as failed rows (a poison batch)
_background: dict[str, Any] = {"enabled": False, "task": None}


class Fenced(Exception):
    """The job's lease was taken over (or the job cancelled): this worker stops, writing nothing."""


async def claim(worker: str, now: datetime, job_id: int | None = None) -> ImportJob | None:
    """The oldest queued job (or `job_id`), or a running one whose worker's lease ran out (it crashed)."""
    qs = ImportJob.filter(status__in=["queued", "running"]).filter(Q(lease_until__isnull=True) | Q(lease_until__lt=now))
    if job_id is not None:
        qs = qs.filter(id=job_id)
    async with db.serialized_writes(), in_transaction():
        job = await qs.order_by("id").select_for_update(skip_locked=True).first()
        if job is None:
            return None
        job.lease_token += 1
        job.lease_owner = worker[:100]
        job.lease_until = now + LEASE
        job.status = "running"
        job.started_at = job.started_at or now
        job.updated_at = now
        await job.save(update_fields=["lease_token", "lease_owner", "lease_until", "status", "started_at", "updated_at"])
    return job


async def _end(job: ImportJob, status: str, message: str | None = None) -> bool:
    now = clock.now()
    async with db.serialized_writes():
        done = await ImportJob.filter(id=job.id, lease_token=job.lease_token, status="running").update(
            status=status, message=message[:1000] if message else None, finished_at=now, updated_at=now,
            lease_owner=None, lease_until=None)
    if done:
        remove_file(job)
    return bool(done)


def _take(stream: Iterator[Record], size: int) -> tuple[list[Record], int]:
    """Up to `size` records (blank rows ride along), and the file rows they span."""
    batch: list[Record] = []
    rows = 0
    counted = 0
    for rec in stream:
        batch.append(rec)
        rows += rec.rows
        counted += 0 if rec.blank else 1
        if counted >= size:
            break
    return batch, rows


def _skip(stream: Iterator[Record], committed: int) -> None:
    rows = 0
    while rows < committed:
        rows += next(stream).rows


def _parse(job: ImportJob, batch: list[Record], outcome: kinds.Outcome) -> list[Any]:
    items = []
    for rec in batch:
        if rec.blank:
            continue
        if rec.problem:
            outcome.fail(rec.row, *rec.problem)
            continue
        try:
            if job.kind == "reviews":
                items.append(kinds.parse_review(rec, job.format))
            elif job.kind == "orders":
                items.append(kinds.parse_order(rec))
            elif job.kind == "points_balances":
                items.append(kinds.parse_balance(rec))
            else:
                items.append(kinds.parse_member(rec))
        except kinds.RowError as exc:
            outcome.fail(rec.row, exc.field, exc.message)
    return items


async def _write(job: ImportJob, items: list[Any], outcome: kinds.Outcome, fetched: dict[str, media.Fetched]) -> None:
    if not items:
        return
    if job.kind == "reviews":
        await kinds.write_reviews(items, outcome, job.dry_run, f"import:{job.id}", fetched)
    elif job.kind == "orders":
        await kinds.write_orders(items, outcome, job.dry_run, job.award_points)
    elif job.kind == "points_balances":
        await kinds.write_balances(items, outcome, job.dry_run, f"import:{job.id}")
    else:
        await kinds.write_members(items, outcome, job.dry_run)


async def _attempt(job: ImportJob) -> int:
    """Count an attempt at the job's next batch before running it (committed on its own, so a
    worker killed by the batch still counts); a committed batch resets it. Raises Fenced."""
    async with db.serialized_writes():
        if not await ImportJob.filter(id=job.id, lease_token=job.lease_token, status="running").update(
                batch_attempts=F("batch_attempts") + 1):
            raise Fenced()
    return (await ImportJob.filter(id=job.id).values_list("batch_attempts", flat=True))[0]


def _poisoned(batch: list[Record], attempts: int) -> kinds.Outcome:
    """A batch that failed MAX_BATCH_ATTEMPTS times (crash, database error): its records are
    counted failed, each listed, and the job goes on after it; nothing of it is written."""
    outcome = kinds.Outcome()
    for rec in batch:
        if not rec.blank:
            outcome.fail(rec.row, None, f"Not imported: the batch holding this row failed {attempts - 1} times "
                                        "(see the server log); import these rows again in a smaller file")
    return outcome


async def run_batch(job: ImportJob, batch: list[Record], rows: int) -> kinds.Outcome:
    """One transaction: the batch's rows, its problems, the counters and the new offset."""
    attempts = await _attempt(job)
    poisoned = attempts > MAX_BATCH_ATTEMPTS
    outcome = _poisoned(batch, attempts) if poisoned else kinds.Outcome()
    items = [] if poisoned else _parse(job, batch, outcome)
    fetched = {} if poisoned or job.kind != "reviews" else await media.fetch_for(
        [(i.external_id, i.media_urls) for i in items], job.dry_run)
    processed = sum(1 for r in batch if not r.blank)
    now = clock.now()
    try:
        async with write_transaction():
            await _write(job, items, outcome, fetched)
            await _finish_batch(job, outcome, processed, rows, now)
    finally:
        media.discard(fetched, outcome.kept)
    return outcome


async def _finish_batch(job: ImportJob, outcome: kinds.Outcome, processed: int, rows: int, now: datetime) -> None:
    """The batch's problems, the job's counters and its new offset, under the lease (fencing)."""
    if outcome.problems:
        await bulk.insert(ImportProblem, [
            {"job_id": job.id, "row": row, "field": (name or None) and name[:100], "message": message, "level": level}
            for row, name, message, level in sorted(outcome.problems, key=lambda p: p[0])])
    kept = await ImportJob.filter(id=job.id, lease_token=job.lease_token, status="running").update(
        processed=F("processed") + processed, succeeded=F("succeeded") + outcome.succeeded,
        skipped=F("skipped") + outcome.skipped, failed=F("failed") + outcome.failed,
        warnings=F("warnings") + outcome.warnings, committed_rows=F("committed_rows") + rows,
        batch_attempts=0, lease_until=now + LEASE, updated_at=now)
    if not kept:
        raise Fenced()


async def _run_with_retries(job: ImportJob, batch: list[Record], rows: int) -> None:
    """A batch that raises (a database error, a bug) is tried again at once; the attempt
    counter makes the attempt after MAX_BATCH_ATTEMPTS write the batch as failed rows, so a
    poison batch never loops. If even that fails (the database is gone) the error propagates
    and the job waits for its lease to run out."""
    for tries in range(MAX_BATCH_ATTEMPTS + 1):
        try:
            await run_batch(job, batch, rows)
            return
        except Fenced:
            raise
        except Exception:
            if tries == MAX_BATCH_ATTEMPTS:
                raise
            log.exception("import %s: the batch from data row %s failed; trying again", job.id, batch[0].row)


async def run_job(job: ImportJob) -> int:
    """Walk the job's file from its committed offset to the end; returns records processed."""
    mapping = job.mapping or {}
    try:
        if job.total is None or job.encoding is None:
            total, encoding = await asyncio.to_thread(formats.count, job.kind, job.format, job.file_path,
                                                      job.encoding, mapping)
            async with db.serialized_writes():
                if not await ImportJob.filter(id=job.id, lease_token=job.lease_token).update(total=total, encoding=encoding):
                    return 0
            job.total, job.encoding = total, encoding
    except FormatMismatch as exc:
        await _end(job, "failed", str(exc))
        return 0
    except FileNotFoundError:
        await _end(job, "failed", "The uploaded file is no longer there (PATRON_IMPORT_DIR)")
        return 0
    assert job.encoding is not None
    stream = formats.records(job.kind, job.format, job.file_path, job.encoding, mapping)
    size = get_settings().import_batch_rows
    done = 0
    try:
        await asyncio.to_thread(_skip, stream, job.committed_rows)
        while True:
            batch, rows = await asyncio.to_thread(_take, stream, size)
            if not batch:
                break
            await _run_with_retries(job, batch, rows)
            done += sum(1 for r in batch if not r.blank)
    except Fenced:
        log.info("import %s: cancelled or taken over; stopping", job.id)
        return done
    except (FormatMismatch, UnicodeDecodeError) as exc:  # the counting pass read it; the file changed?
        await _end(job, "failed", str(exc))
        return done
    finally:
        stream.close()
    await _end(job, "succeeded")
    return done


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


async def run_pending(now: datetime | None = None) -> int:
    """Run queued (and abandoned) jobs until none is left; returns records processed."""
    total = 0
    while (job := await claim(worker_name(), clock.now())) is not None:
        total += await run_job(job)
    return total


async def tick(now: datetime) -> int:
    """The periodic job: in a worker loop the imports run beside the other jobs (a long file
    must not hold up points expiry or messages), else here and now."""
    if _background["enabled"]:
        kick()
        return 0
    return await run_pending(now)


def enable_background() -> None:
    """This process runs the job loop (`worker`, or the API on the embedded default): import
    jobs run in a task of their own, started at once when a job is queued here."""
    _background["enabled"] = True


def kick() -> None:
    """Start running queued jobs in this process now, unless a run is already going (or the
    process runs no jobs: then a worker's next tick takes it)."""
    if not _background["enabled"]:
        return
    task = _background["task"]
    if task is None or task.done():
        _background["task"] = asyncio.get_running_loop().create_task(_run_logged())


async def _run_logged() -> None:
    try:
        await run_pending()
    except Exception:
        log.exception("import jobs failed; a worker resumes them after their lease")
