from tortoise import fields
from tortoise.models import Model


class ImportJob(Model):
    # One bulk import of members, orders or reviews from an uploaded file, run in batches by
    # a worker. `committed_rows` is the resume point: every batch commits its rows together
    # with the new offset and counters, so a crashed job continues after its last batch.
    id = fields.IntField(primary_key=True)
    kind = fields.CharField(max_length=16)  # members | orders | reviews | points_balances
    format = fields.CharField(max_length=16)  # patron | jsonl | okendo | judgeme | yotpo | shopify
    status = fields.CharField(max_length=16, default="queued")  # queued|running|succeeded|failed|cancelled
    dry_run = fields.BooleanField(default=False)
    award_points = fields.BooleanField(default=False)
    mapping = fields.JSONField(null=True)  # {file column: field}
    encoding = fields.CharField(max_length=16, null=True)  # given, or detected when the job starts
    file_path = fields.CharField(max_length=500)  # under PATRON_IMPORT_DIR; removed when the job ends
    file_name = fields.CharField(max_length=255)
    file_size = fields.BigIntField()
    total = fields.IntField(null=True)  # records in the file, counted when the job starts
    processed = fields.IntField(default=0)
    succeeded = fields.IntField(default=0)
    skipped = fields.IntField(default=0)
    failed = fields.IntField(default=0)
    warnings = fields.IntField(default=0)
    committed_rows = fields.IntField(default=0)  # file data rows consumed by committed batches
    # Attempts at the batch after committed_rows, counted before each one runs (a crash counts);
    # past the limit that batch is written off as failed rows (runner.MAX_BATCH_ATTEMPTS).
    batch_attempts = fields.IntField(default=0, db_default=0)
    message = fields.CharField(max_length=1000, null=True)  # why the job failed
    created_by = fields.CharField(max_length=64)
    lease_owner = fields.CharField(max_length=100, null=True)
    lease_until = fields.DatetimeField(null=True)
    lease_token = fields.BigIntField(default=0)
    created_at = fields.DatetimeField()
    started_at = fields.DatetimeField(null=True)
    finished_at = fields.DatetimeField(null=True)
    updated_at = fields.DatetimeField()

    class Meta:
        table = "import_jobs"
        indexes = (("status", "id"),)


class ImportProblem(Model):
    # A row the job refused (level error, counted in `failed`) or imported with a remark
    # (level warning, e.g. a review held by moderation). Messages never quote the row's values.
    id = fields.BigIntField(primary_key=True)
    job = fields.ForeignKeyField("patron.ImportJob", related_name="problems", on_delete=fields.CASCADE)
    row = fields.IntField()  # the record's first data row in the file (1 = the row after the header)
    field = fields.CharField(max_length=100, null=True)
    message = fields.CharField(max_length=500)
    level = fields.CharField(max_length=8, default="error")  # error | warning

    class Meta:
        table = "import_errors"
        indexes = (("job_id", "id"),)
