"""Bulk imports (issue 14): import_jobs (kind, format, status, counters, the committed row offset
that a resumed job continues from, its lease) and import_errors (refused rows and warnings)."""

from tortoise import migrations
from tortoise.migrations import operations as ops
from orjson import loads
from tortoise.fields.base import OnDelete
from tortoise.fields.data import JSON_DUMPS
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('patron', '0015_member_insights')]

    initial = False

    operations = [
        ops.CreateModel(
            name='ImportJob',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('kind', fields.CharField(max_length=16)),
                ('format', fields.CharField(max_length=16)),
                ('status', fields.CharField(default='queued', max_length=16)),
                ('dry_run', fields.BooleanField(default=False)),
                ('award_points', fields.BooleanField(default=False)),
                ('mapping', fields.JSONField(null=True, encoder=JSON_DUMPS, decoder=loads)),
                ('encoding', fields.CharField(null=True, max_length=16)),
                ('file_path', fields.CharField(max_length=500)),
                ('file_name', fields.CharField(max_length=255)),
                ('file_size', fields.BigIntField()),
                ('total', fields.IntField(null=True)),
                ('processed', fields.IntField(default=0)),
                ('succeeded', fields.IntField(default=0)),
                ('skipped', fields.IntField(default=0)),
                ('failed', fields.IntField(default=0)),
                ('warnings', fields.IntField(default=0)),
                ('committed_rows', fields.IntField(default=0)),
                ('message', fields.CharField(null=True, max_length=1000)),
                ('created_by', fields.CharField(max_length=64)),
                ('lease_owner', fields.CharField(null=True, max_length=100)),
                ('lease_until', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('lease_token', fields.BigIntField(default=0)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('started_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('finished_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('updated_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'import_jobs', 'app': 'patron', 'indexes': [Index(fields=['status', 'id'])], 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='ImportProblem',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('job', fields.ForeignKeyField('patron.ImportJob', source_field='job_id', db_constraint=True, to_field='id', related_name='problems', on_delete=OnDelete.CASCADE)),
                ('row', fields.IntField()),
                ('field', fields.CharField(null=True, max_length=100)),
                ('message', fields.CharField(max_length=500)),
                ('level', fields.CharField(default='error', max_length=8)),
            ],
            options={'table': 'import_errors', 'app': 'patron', 'indexes': [Index(fields=['job_id', 'id'])], 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.AlterModelOptions(
            name='MemberInsight',
            options={'table': 'member_insights', 'app': 'patron', 'indexes': [Index(fields=['rfm_segment']), Index(fields=['churn_risk'])], 'pk_attr': 'member_id'},
        ),
    ]
