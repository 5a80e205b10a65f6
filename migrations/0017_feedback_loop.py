"""Feedback loop (issue 12): satisfaction survey responses, improvements with the reviews and
questions they came from, admin template overrides, and on messages the improvement a
FEEDBACK_THANKS is about and the webhook provider's message id."""

from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('patron', '0016_imports')]

    initial = False

    operations = [
        ops.CreateModel(
            name='Improvement',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('product', fields.ForeignKeyField('patron.Product', source_field='product_id', db_constraint=True, to_field='id', related_name='improvements', on_delete=OnDelete.RESTRICT)),
                ('title', fields.CharField(max_length=200)),
                ('body', fields.TextField(unique=False)),
                ('created_by', fields.CharField(max_length=64)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'improvements', 'app': 'patron', 'indexes': [Index(fields=['product_id', 'id'])], 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='ImprovementLink',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('improvement', fields.ForeignKeyField('patron.Improvement', source_field='improvement_id', db_constraint=True, to_field='id', related_name='links', on_delete=OnDelete.CASCADE)),
                ('review', fields.ForeignKeyField('patron.Review', source_field='review_id', null=True, db_constraint=True, to_field='id', related_name='improvement_links', on_delete=OnDelete.CASCADE)),
                ('question', fields.ForeignKeyField('patron.Question', source_field='question_id', null=True, db_constraint=True, to_field='id', related_name='improvement_links', on_delete=OnDelete.CASCADE)),
                ('member', fields.ForeignKeyField('patron.Member', source_field='member_id', null=True, db_constraint=True, to_field='id', related_name='improvement_links', on_delete=OnDelete.RESTRICT)),
            ],
            options={'table': 'improvement_links', 'app': 'patron', 'indexes': [Index(fields=['member_id', 'id'])], 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='MessageTemplate',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('type', fields.CharField(max_length=32)),
                ('locale', fields.CharField(max_length=8)),
                ('subject', fields.TextField(null=True, unique=False)),
                ('text', fields.TextField(null=True, unique=False)),
                ('html', fields.TextField(null=True, unique=False)),
                ('updated_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'message_templates', 'app': 'patron', 'unique_together': (('type', 'locale'),), 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='SurveyResponse',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('member', fields.ForeignKeyField('patron.Member', source_field='member_id', db_constraint=True, to_field='id', related_name='survey_responses', on_delete=OnDelete.RESTRICT)),
                ('order_external_id', fields.CharField(max_length=255)),
                ('nps', fields.SmallIntField()),
                ('csat', fields.SmallIntField()),
                ('comment', fields.TextField(null=True, unique=False)),
                ('negative', fields.BooleanField()),
                ('via', fields.CharField(max_length=16)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'survey_responses', 'app': 'patron', 'unique_together': (('member', 'order_external_id'),), 'indexes': [Index(fields=['negative', 'id'])], 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.AddField(
            model_name='Message',
            name='improvement',
            field=fields.ForeignKeyField('patron.Improvement', source_field='improvement_id', null=True, db_constraint=True, to_field='id', related_name='messages', on_delete=OnDelete.SET_NULL),
        ),
        ops.AddField(
            model_name='Message',
            name='provider_message_id',
            field=fields.CharField(null=True, max_length=255),
        ),
    ]
