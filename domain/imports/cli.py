"""`python server.py import KIND FILE --format F [--dry-run]`: the same job record and code
path as startImport, run in this process, with a progress line on a terminal."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import TextIO

from domain import clock
from domain.errors import DomainError
from domain.imports import runner, service
from domain.imports.models import ImportJob, ImportProblem

SHOWN_PROBLEMS = 20


def _line(job: ImportJob) -> str:
    total = "?" if job.total is None else f"{job.total:,}"
    return (f"import {job.id} {job.status.upper()}: {job.processed:,}/{total} rows, {job.succeeded:,} imported, "
            f"{job.skipped:,} skipped, {job.failed:,} failed, {job.warnings:,} warnings")


async def _progress(job_id: int, out: TextIO, done: asyncio.Event) -> None:
    while not done.is_set():
        job = await ImportJob.get(id=job_id)
        out.write("\r" + _line(job) + "  ")
        out.flush()
        try:
            await asyncio.wait_for(done.wait(), 0.5)
        except TimeoutError:
            pass
    out.write("\r")


async def run(kind: str, path: str, fmt: str, dry_run: bool = False, award_points: bool = False,
              encoding: str | None = None, mapping: str | None = None, out: TextIO = sys.stdout) -> int:
    """Exit status: 0 when the job succeeded (bad rows are listed, not fatal), 1 otherwise."""
    try:
        parsed = json.loads(mapping) if mapping else None
        service.check_options(kind, fmt, encoding, parsed)
        with open(path, "rb") as fh:
            stored, size = await asyncio.to_thread(service.store_file, fh)
        job = await service.start_import(kind, fmt, stored, size, Path(path).name, "cli", dry_run=dry_run,
                                         award_points=award_points, mapping=parsed, encoding=encoding)
    except (DomainError, OSError, ValueError) as exc:
        print(f"import: {getattr(exc, 'message', exc)}", file=sys.stderr)
        return 2
    done = asyncio.Event()
    ticker = asyncio.create_task(_progress(job.id, out, done)) if out.isatty() else None
    try:
        claimed = await runner.claim(runner.worker_name(), clock.now(), job.id)
        if claimed is not None:
            await runner.run_job(claimed)
        while (job := await ImportJob.get(id=job.id)).status not in service.TERMINAL:  # a worker took it
            await asyncio.sleep(0.5)
    finally:
        done.set()
        if ticker:
            await ticker
    print(_line(job) + (" (dry run)" if job.dry_run else ""), file=out)
    if job.message:
        print(f"  {job.message}", file=out)
    for p in await ImportProblem.filter(job_id=job.id).order_by("id").limit(SHOWN_PROBLEMS):
        print(f"  row {p.row} {p.field or '-'}: {p.level} {p.message}", file=out)
    more = job.failed + job.warnings - SHOWN_PROBLEMS
    if more > 0:
        print(f"  … {more} more (importJob(id) {{ errors }})", file=out)
    return 0 if job.status == "succeeded" else 1
