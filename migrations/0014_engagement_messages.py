"""Engagement messages (issue 12): message policies, messages (planned, sent, suppressed and
why), members' time zone and locale, and orders' fulfilment time."""

from tortoise import migrations
from tortoise.migrations import operations as ops
from orjson import loads
from tortoise.fields.base import OnDelete
from tortoise.fields.data import JSON_DUMPS
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('patron', '0013_guest_orders')]

    initial = False

    operations = [
        ops.CreateModel(
            name='Message',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('member', fields.ForeignKeyField('patron.Member', source_field='member_id', db_constraint=True, to_field='id', related_name='messages', on_delete=OnDelete.CASCADE)),
                ('type', fields.CharField(max_length=32)),
                ('channel', fields.CharField(max_length=16)),
                ('status', fields.CharField(max_length=16)),
                ('reason', fields.CharField(null=True, max_length=300)),
                ('consent_purpose', fields.CharField(max_length=32)),
                ('scheduled_for', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('sent_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('order_external_id', fields.CharField(null=True, max_length=255)),
                ('products', fields.JSONField(encoder=JSON_DUMPS, decoder=loads)),
                ('follows', fields.ForeignKeyField('patron.Message', source_field='follows_id', null=True, db_constraint=True, to_field='id', related_name='follow_ups', on_delete=OnDelete.SET_NULL)),
                ('dedupe_key', fields.CharField(unique=True, max_length=400)),
                ('attempts', fields.IntField(default=0)),
                ('last_error', fields.CharField(null=True, max_length=500)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('updated_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'messages', 'app': 'patron', 'indexes': [Index(fields=['status', 'scheduled_for']), Index(fields=['member_id', 'type']), Index(fields=['type', 'status'])], 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='MessagePolicy',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('type', fields.CharField(unique=True, max_length=32)),
                ('enabled', fields.BooleanField()),
                ('channels', fields.JSONField(encoder=JSON_DUMPS, decoder=loads)),
                ('delay_hours', fields.IntField()),
                ('consent_purpose', fields.CharField(max_length=32)),
                ('cap_exempt', fields.BooleanField()),
                ('updated_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'message_policies', 'app': 'patron', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.AddField(
            model_name='Member',
            name='locale',
            field=fields.CharField(null=True, max_length=8),
        ),
        ops.AddField(
            model_name='Member',
            name='timezone',
            field=fields.CharField(null=True, max_length=64),
        ),
        ops.AddField(
            model_name='Order',
            name='fulfilled_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
    ]
