"""Member insights (issue 13): one row per member with RFM, churn risk and CLV, recomputed by a
leased job; segments filter on it in SQL."""

from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('patron', '0014_engagement_messages')]

    initial = False

    operations = [
        ops.CreateModel(
            name='MemberInsight',
            fields=[
                ('member', fields.OneToOneField('patron.Member', source_field='member_id', primary_key=True, db_index=True, db_constraint=True, to_field='id', related_name='insight', on_delete=OnDelete.CASCADE)),
                ('recency_days', fields.IntField(null=True)),
                ('frequency', fields.IntField()),
                ('monetary', fields.DecimalField(max_digits=18, decimal_places=2)),
                ('currency', fields.CharField(max_length=3)),
                ('r_score', fields.SmallIntField()),
                ('f_score', fields.SmallIntField()),
                ('m_score', fields.SmallIntField()),
                ('rfm_segment', fields.CharField(max_length=32)),
                ('churn_risk', fields.FloatField(null=True)),
                ('expected_purchases_90d', fields.FloatField(null=True)),
                ('clv_12m', fields.DecimalField(null=True, max_digits=18, decimal_places=2)),
                ('explanation', fields.CharField(max_length=500)),
                ('computed_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'member_insights', 'app': 'patron', 'indexes': [Index(fields=['rfm_segment']), Index(fields=['churn_risk'])], 'pk_attr': 'member_id'},
            bases=['Model'],
        ),
    ]
