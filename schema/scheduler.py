"""Periodic jobs as admins see them: schedule, lease and the record of each run."""

from __future__ import annotations

from datetime import datetime

import strawberry

from domain import clock
from domain.scheduler.models import JobRun as JobRunModel
from domain.scheduler.models import JobState
from schema.common import global_id
from schema.node import Node


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


@strawberry.type(description="A periodic job. It runs once per period across every worker process.")
class Job:
    name: str = strawberry.field(description='The job\'s name, e.g. "release_pending_points".')
    schedule: str = strawberry.field(description='Its period, e.g. "every 30 s", "every 1 h".')
    period_seconds: int = strawberry.field(description="Its period in seconds.")
    last_run_at: str | None = strawberry.field(
        description="When its last finished run started, UTC ISO 8601; null until one has finished.")
    last_duration_ms: int | None = strawberry.field(
        description="How long the last run took, in milliseconds; null until one has finished.")
    last_result: int | None = strawberry.field(description="Items the last run processed.")
    last_error: str | None = strawberry.field(
        description="The last run's error, up to 1000 characters; null when it succeeded.")
    running: bool = strawberry.field(description="A worker holds a live lease on it now.")
    running_on: str | None = strawberry.field(description="The worker holding the lease.")
    next_run_at: str = strawberry.field(description="When it is due next, UTC ISO 8601.")

    @classmethod
    def from_model(cls, s: JobState) -> Job:
        running = s.lease_until is not None and s.lease_until > clock.now()
        return cls(name=s.name, schedule=describe_period(s.period_seconds), period_seconds=s.period_seconds,
                   last_run_at=_iso(s.last_run_at), last_duration_ms=s.last_duration_ms,
                   last_result=s.last_result, last_error=s.last_error, running=running,
                   running_on=s.lease_owner if running else None, next_run_at=s.next_run_at.isoformat())




@strawberry.type(description="One run of a periodic job. FENCED: its lease was taken over, outcome discarded.")
class JobRun(Node):
    name: str = strawberry.field(description="The job it was a run of.")
    worker: str = strawberry.field(description='The worker process that ran it ("host:pid:random").')
    status: str = strawberry.field(
        description="RUNNING, OK, FAILED, FENCED, or HELPED (this worker drained chunks of another worker's run).")
    started_at: str = strawberry.field(description="When it started, UTC ISO 8601.")
    finished_at: str | None = strawberry.field(description="When it ended, UTC ISO 8601; null while RUNNING.")
    duration_ms: int | None = strawberry.field(description="How long it took, in milliseconds; null while RUNNING.")
    result: int | None = strawberry.field(description="Items it processed; null while RUNNING or when the job "
                                                      "reports no count.")
    error: str | None = strawberry.field(description="Its error, up to 1000 characters; null when it did not fail.")

    @classmethod
    def from_model(cls, r: JobRunModel) -> JobRun:
        return cls(id=global_id("JobRun", r.id), name=r.name, worker=r.worker, status=r.status.upper(), started_at=r.started_at.isoformat(),
                   finished_at=_iso(r.finished_at), duration_ms=r.duration_ms, result=r.result, error=r.error)


def describe_period(seconds: int) -> str:
    if seconds % 3600 == 0:
        return f"every {seconds // 3600} h"
    if seconds % 60 == 0:
        return f"every {seconds // 60} min"
    return f"every {seconds} s"
