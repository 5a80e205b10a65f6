from tortoise import fields
from tortoise.models import Model


class JobState(Model):
    # One row per periodic job: the lease that makes it run once per period across every
    # worker process, and what its last run did.
    name = fields.CharField(max_length=64, primary_key=True)
    period_seconds = fields.IntField()
    next_run_at = fields.DatetimeField()
    # The lease: who runs it now, until when, and a token that grows with every claim so a
    # worker whose lease was taken over cannot record its outcome (fencing).
    lease_owner = fields.CharField(max_length=100, null=True)
    lease_until = fields.DatetimeField(null=True)
    lease_token = fields.BigIntField(default=0)
    # Set by the lease holder while its run has a backlog of chunks: until then other
    # workers join the run and claim chunks too (domain/scheduler/chunks.py).
    backlog_until = fields.DatetimeField(null=True)
    last_run_at = fields.DatetimeField(null=True)
    last_duration_ms = fields.IntField(null=True)
    last_result = fields.BigIntField(null=True)
    last_error = fields.CharField(max_length=1000, null=True)

    class Meta:
        table = "job_states"


class JobRun(Model):
    # One row per run of a job, kept `JOB_RUN_RETENTION_DAYS`.
    id = fields.BigIntField(primary_key=True)
    name = fields.CharField(max_length=64)
    worker = fields.CharField(max_length=100)
    lease_token = fields.BigIntField()
    status = fields.CharField(max_length=16)  # running | ok | failed | fenced
    started_at = fields.DatetimeField()
    finished_at = fields.DatetimeField(null=True)
    duration_ms = fields.IntField(null=True)
    result = fields.BigIntField(null=True)
    error = fields.CharField(max_length=1000, null=True)

    class Meta:
        table = "job_runs"
        indexes = (("name", "id"), ("started_at",))
