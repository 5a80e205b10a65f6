"""Bulk imports as admins see them: jobs, their progress and the rows they refused."""

from __future__ import annotations

import datetime as dt
from enum import Enum

import strawberry

from domain.imports import service
from domain.imports.models import ImportJob as ImportJobModel
from domain.imports.models import ImportProblem as ImportProblemModel
from schema.common import JSON, global_id
from schema.errors import UserError
from schema.node import Node
from schema.pagination import Connection, paginate


@strawberry.enum(description="What a file holds.")
class ImportKind(Enum):
    MEMBERS = "members"
    ORDERS = "orders"
    REVIEWS = "reviews"
    POINTS_BALANCES = "points_balances"


@strawberry.enum(description="Where an import job is: QUEUED, RUNNING, then SUCCEEDED, FAILED or CANCELLED.")
class ImportStatus(Enum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


@strawberry.enum(description="ERROR: the row was not imported (counted in failed). WARNING: imported, with a remark.")
class ImportProblemLevel(Enum):
    ERROR = "error"
    WARNING = "warning"


@strawberry.type(description="A row an import refused, or imported with a remark (e.g. held for moderation).")
class ImportProblem:
    row: int = strawberry.field(description="The data row in the file (1 = the first row after the header; "
                                            "JSON Lines: the line number); an order's first row.")
    field: str | None = strawberry.field(description="The column or field at fault; null when the whole row is.")
    message: str = strawberry.field(description="What is wrong, in English; never quotes personal data.")
    level: ImportProblemLevel = strawberry.field(description="ERROR (not imported) or WARNING (imported).")

    @classmethod
    def from_model(cls, p: ImportProblemModel) -> ImportProblem:
        return cls(row=p.row, field=p.field, message=p.message, level=ImportProblemLevel(p.level))


@strawberry.type(description="A bulk import of members, orders or reviews from a file, run in batches by a worker.")
class ImportJob(Node):
    kind: ImportKind = strawberry.field(description="MEMBERS, ORDERS, REVIEWS or POINTS_BALANCES.")
    format: str = strawberry.field(description='The file format: "patron" (CSV), "jsonl", or a platform\'s export: '
                                               '"okendo", "judgeme", "yotpo" (REVIEWS), "shopify" (ORDERS).')
    status: ImportStatus = strawberry.field(description="QUEUED, RUNNING, SUCCEEDED, FAILED or CANCELLED.")
    dry_run: bool = strawberry.field(description="Rows were checked, nothing but this job was written.")
    award_points: bool = strawberry.field(description="ORDERS: points were awarded with the rules in force.")
    file_name: str = strawberry.field(description="The uploaded file's name.")
    file_size: float = strawberry.field(description="The uploaded file's size in bytes.")
    encoding: str | None = strawberry.field(description="The text encoding read (utf-8-sig or cp949); null until started.")
    total: int | None = strawberry.field(description="Records in the file (an order with its lines is one); "
                                                     "null until the job has counted them.")
    processed: int = strawberry.field(description="Records read so far (succeeded + skipped + failed).")
    succeeded: int = strawberry.field(description="Records imported (a dry run: that would be imported).")
    skipped: int = strawberry.field(description="Records imported before (same external id): left unchanged.")
    failed: int = strawberry.field(description="Records refused; each is listed in errors with row and field.")
    warnings: int = strawberry.field(description="Records imported with a remark (e.g. a review held by moderation).")
    message: str | None = strawberry.field(description="Why the job FAILED (e.g. the file is not the format declared).")
    created_at: dt.datetime = strawberry.field(description="When the job was queued.")
    started_at: dt.datetime | None = strawberry.field(description="When a worker first started it.")
    finished_at: dt.datetime | None = strawberry.field(description="When it ended; null while QUEUED or RUNNING.")
    job_pk: strawberry.Private[int]

    @classmethod
    def from_model(cls, j: ImportJobModel) -> ImportJob:
        return cls(id=global_id("ImportJob", j.id), job_pk=j.id, kind=ImportKind(j.kind), format=j.format,
                   status=ImportStatus(j.status), dry_run=j.dry_run, award_points=j.award_points,
                   file_name=j.file_name, file_size=float(j.file_size), encoding=j.encoding, total=j.total,
                   processed=j.processed, succeeded=j.succeeded, skipped=j.skipped, failed=j.failed,
                   warnings=j.warnings, message=j.message, created_at=j.created_at, started_at=j.started_at,
                   finished_at=j.finished_at)

    @strawberry.field(description="Refused rows (ERROR) and remarks (WARNING), in file order.")
    async def errors(self, first: int | None = None, after: str | None = None,
                     last: int | None = None, before: str | None = None) -> Connection[ImportProblem]:
        return await paginate("ImportJob.errors", first, after, last, before,
                              lambda req: service.job_problems(self.job_pk, req), ImportProblem.from_model)


@strawberry.type(description="How far a running import is (importProgress).")
class ImportProgress:
    status: ImportStatus = strawberry.field(description="The job's status now.")
    processed: int = strawberry.field(description="Records read so far.")
    total: int | None = strawberry.field(description="Records in the file; null until counted.")
    succeeded: int = strawberry.field(description="Records imported so far.")
    skipped: int = strawberry.field(description="Records skipped so far (imported before).")
    failed: int = strawberry.field(description="Records refused so far.")

    @classmethod
    def from_model(cls, j: ImportJobModel) -> ImportProgress:
        return cls(status=ImportStatus(j.status), processed=j.processed, total=j.total, succeeded=j.succeeded,
                   skipped=j.skipped, failed=j.failed)


@strawberry.input(description="What the uploaded file holds and how to read it.")
class StartImportInput:
    kind: ImportKind = strawberry.field(description="MEMBERS, ORDERS, REVIEWS or POINTS_BALANCES.")
    format: str = strawberry.field(description='"patron" (CSV with Patron\'s columns), "jsonl" (JSON Lines), '
                                               '"okendo", "judgeme" or "yotpo" (their review exports; REVIEWS), '
                                               'or "shopify" (Shopify\'s orders export; ORDERS).')
    dry_run: bool = strawberry.field(default=False, description="Check every row, write nothing but the job.")
    award_points: bool = strawberry.field(
        default=False, description="ORDERS only: award points with the rules in force (default: history, no points).")
    mapping: JSON | None = strawberry.field(
        default=None, description='File column → field, e.g. {"Order No": "externalId"}; see "Moving to Patron".')
    encoding: str | None = strawberry.field(
        default=None, description="utf-8, cp949 or euc-kr; default: detected (UTF-8 with or without BOM, else CP949).")


@strawberry.type
class ImportJobPayload:
    job: ImportJob | None = strawberry.field(description="The job; null when errors is not empty.")
    errors: list[UserError] = strawberry.field(description="Why nothing was done; empty on success.")


def job_or_none(job: ImportJobModel | None) -> ImportJob | None:
    return ImportJob.from_model(job) if job else None


__all__ = ["ImportJob", "ImportJobPayload", "ImportKind", "ImportProgress", "ImportStatus", "StartImportInput",
           "job_or_none", "service"]
