from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('patron', '0006_media_file_indexes')]

    initial = False

    operations = [
        ops.CreateModel(
            name='JobRun',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('name', fields.CharField(max_length=64)),
                ('worker', fields.CharField(max_length=100)),
                ('lease_token', fields.BigIntField()),
                ('status', fields.CharField(max_length=16)),
                ('started_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('finished_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('duration_ms', fields.IntField(null=True)),
                ('result', fields.BigIntField(null=True)),
                ('error', fields.CharField(null=True, max_length=1000)),
            ],
            options={'table': 'job_runs', 'app': 'patron', 'indexes': [Index(fields=['name', 'id']), Index(fields=['started_at'])], 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='JobState',
            fields=[
                ('name', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=64)),
                ('period_seconds', fields.IntField()),
                ('next_run_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('lease_owner', fields.CharField(null=True, max_length=100)),
                ('lease_until', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('lease_token', fields.BigIntField(default=0)),
                ('last_run_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('last_duration_ms', fields.IntField(null=True)),
                ('last_result', fields.BigIntField(null=True)),
                ('last_error', fields.CharField(null=True, max_length=1000)),
            ],
            options={'table': 'job_states', 'app': 'patron', 'pk_attr': 'name'},
            bases=['Model'],
        ),
    ]
