from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields
from tortoise.indexes import Index

# The birthday job matches month and day in SQL (domain/members/birthdays.py). On PostgreSQL
# a partial expression index answers it; the expression is copied here, not imported, so
# this migration never changes when the code does.
BIRTHDAY_INDEX = (
    'CREATE INDEX IF NOT EXISTS "members_birthday_key" ON "members" '
    '((CAST(EXTRACT(MONTH FROM "birthday") AS INTEGER) * 100 + CAST(EXTRACT(DAY FROM "birthday") AS INTEGER))) '
    'WHERE "birthday" IS NOT NULL AND "anonymized_at" IS NULL'
)


async def create_birthday_index(apps, schema_editor) -> None:
    if schema_editor.client.capabilities.dialect == "postgres":
        await schema_editor.client.execute_script(BIRTHDAY_INDEX)


async def drop_birthday_index(apps, schema_editor) -> None:
    if schema_editor.client.capabilities.dialect == "postgres":
        await schema_editor.client.execute_script('DROP INDEX IF EXISTS "members_birthday_key"')

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
        ops.AddIndex(
            model_name='Redemption',
            index=Index(fields=['status', 'expires_at']),
        ),
        ops.AddIndex(
            model_name='Redemption',
            index=Index(fields=['status', 'used_at']),
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
        ops.RunPython(create_birthday_index, drop_birthday_index),
    ]
