"""Bulk imports (issue 14): import_jobs.batch_attempts counts the attempts at a job's next
batch, so a batch that keeps failing (a crash, a database error) is written off as failed
rows instead of being retried forever."""

from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields


class Migration(migrations.Migration):
    dependencies = [('patron', '0023_grant_policies')]

    initial = False

    operations = [
        ops.AddField(
            model_name='ImportJob',
            name='batch_attempts',
            field=fields.IntField(default=0, db_default=0),
        ),
    ]
