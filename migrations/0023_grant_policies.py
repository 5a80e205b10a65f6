"""Automatic grants (issue 13): a BIRTHDAY policy grants a chosen reward to members in their
birthday week, a WIN_BACK policy grants one to a segment's members (domain/rewards/policies.py)."""

from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from tortoise import fields


class Migration(migrations.Migration):
    dependencies = [('patron', '0022_message_policy_settings')]

    initial = False

    operations = [
        ops.CreateModel(
            name='GrantPolicy',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('kind', fields.CharField(unique=True, max_length=16)),
                ('reward', fields.ForeignKeyField('patron.Reward', source_field='reward_id', db_constraint=True, to_field='id', related_name='grant_policies', on_delete=OnDelete.RESTRICT)),
                ('segment', fields.ForeignKeyField('patron.Segment', source_field='segment_id', null=True, db_constraint=True, to_field='id', related_name='grant_policies', on_delete=OnDelete.RESTRICT)),
                ('enabled', fields.BooleanField()),
                ('updated_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'grant_policies', 'app': 'patron', 'pk_attr': 'id'},
            bases=['Model'],
        ),
    ]
