"""Segments and personalized offers (issue 13): saved member filters and the membership the
nightly job diffs (segment.entered / segment.exited); rewards get an audience (ALL,
MEMBERS_GRANTED, SEGMENT, TIER) and may be granted without points (reward_grants), so a
redemption may have no debit entry.

On SQLite, AlterField rebuilds `redemptions`; the indexes the model declares are created again
under their original names (on PostgreSQL the column is altered in place and IF NOT EXISTS makes
these no-ops).
"""

from tortoise import migrations
from tortoise.migrations import operations as ops
from orjson import loads
from tortoise.fields.base import OnDelete
from tortoise.fields.data import JSON_DUMPS
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('patron', '0018_console_staff')]

    initial = False

    operations = [
        ops.CreateModel(
            name='Segment',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('name', fields.CharField(unique=True, max_length=200)),
                ('conditions', fields.JSONField(encoder=JSON_DUMPS, decoder=loads)),
                ('member_count', fields.IntField(null=True)),
                ('evaluated_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('updated_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'segments', 'app': 'patron', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='RewardGrant',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('reward', fields.ForeignKeyField('patron.Reward', source_field='reward_id', db_constraint=True, to_field='id', related_name='grants', on_delete=OnDelete.RESTRICT)),
                ('idempotency_key', fields.CharField(max_length=255)),
                ('reason', fields.CharField(max_length=500)),
                ('segment', fields.ForeignKeyField('patron.Segment', source_field='segment_id', null=True, db_constraint=True, to_field='id', related_name='grants', on_delete=OnDelete.SET_NULL)),
                ('granted', fields.IntField()),
                ('actor', fields.CharField(max_length=255)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'reward_grants', 'app': 'patron', 'unique_together': (('reward', 'idempotency_key'),), 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='SegmentMember',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('segment', fields.ForeignKeyField('patron.Segment', source_field='segment_id', db_constraint=True, to_field='id', related_name='memberships', on_delete=OnDelete.CASCADE)),
                ('member', fields.ForeignKeyField('patron.Member', source_field='member_id', db_constraint=True, to_field='id', related_name='segment_memberships', on_delete=OnDelete.CASCADE)),
                ('entered_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'segment_members', 'app': 'patron', 'unique_together': (('segment', 'member'),), 'indexes': [Index(fields=['member_id'])], 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.AlterField(
            model_name='Redemption',
            name='debit_entry_id',
            field=fields.BigIntField(null=True),
        ),
        ops.RunSQL(
            'CREATE UNIQUE INDEX IF NOT EXISTS "uid_redemptions_member__82a54f" ON "redemptions" ("member_id", "idempotency_key")',
            ops.RunSQL.noop,
        ),
        ops.RunSQL(
            'CREATE INDEX IF NOT EXISTS "idx_redemptions_reward__f38325" ON "redemptions" ("reward_id")',
            ops.RunSQL.noop,
        ),
        ops.RunSQL(
            'CREATE INDEX IF NOT EXISTS "idx_redemptions_status_6a35f4" ON "redemptions" ("status", "expires_at")',
            ops.RunSQL.noop,
        ),
        ops.RunSQL(
            'CREATE INDEX IF NOT EXISTS "idx_redemptions_status_2448aa" ON "redemptions" ("status", "used_at")',
            ops.RunSQL.noop,
        ),
        ops.AddField(
            model_name='Redemption',
            name='grant',
            field=fields.ForeignKeyField('patron.RewardGrant', source_field='grant_id', null=True, db_constraint=True, to_field='id', related_name='redemptions', on_delete=OnDelete.RESTRICT),
        ),
        ops.AddField(
            model_name='Reward',
            name='audience',
            field=fields.CharField(default='ALL', max_length=16),
        ),
        ops.AddField(
            model_name='Reward',
            name='audience_segment',
            field=fields.ForeignKeyField('patron.Segment', source_field='audience_segment_id', null=True, db_constraint=True, to_field='id', related_name='rewards', on_delete=OnDelete.RESTRICT),
        ),
        ops.AddField(
            model_name='Reward',
            name='audience_tier',
            field=fields.ForeignKeyField('patron.Tier', source_field='audience_tier_id', null=True, db_constraint=True, to_field='id', related_name='audience_rewards', on_delete=OnDelete.RESTRICT),
        ),
    ]
