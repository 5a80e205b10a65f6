from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('patron', '0010_job_leases')]

    initial = False

    operations = [
        ops.AddIndex(
            model_name='Award',
            index=Index(fields=['status', 'release_at']),
        ),
        ops.AddField(
            model_name='JobState',
            name='backlog_until',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddIndex(
            model_name='Subscription',
            index=Index(fields=['status', 'next_retry_at']),
        ),
        ops.AddIndex(
            model_name='Subscription',
            index=Index(fields=['status', 'paused_until']),
        ),
        ops.AddIndex(
            model_name='Subscription',
            index=Index(fields=['grant_active', 'paid_through']),
        ),
        ops.AddField(
            model_name='WebhookDelivery',
            name='lease_owner',
            field=fields.CharField(null=True, max_length=100),
        ),
        ops.AddField(
            model_name='WebhookDelivery',
            name='lease_token',
            field=fields.BigIntField(default=0),
        ),
    ]
