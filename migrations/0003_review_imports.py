from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields
from tortoise.indexes import Index

# Reviews: an external id per imported review (idempotent imports), when Patron received
# each review (the reply SLA counts from there), and an index for the date-ordered NEWEST sort.
class Migration(migrations.Migration):
    dependencies = [('patron', '0002_api_key_scopes')]

    initial = False

    operations = [
        ops.AddField(
            model_name='Review',
            name='external_id',
            field=fields.CharField(null=True, unique=True, max_length=200),
        ),
        ops.AddField(
            model_name='Review',
            name='received_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='Review',
            name='reply_sla_applies',
            field=fields.BooleanField(default=True, db_default=True),
        ),
        # Rows written before this migration were received when they were created.
        ops.RunSQL("UPDATE reviews SET received_at = created_at WHERE received_at IS NULL",
                   reverse_sql=""),
        ops.AddIndex(
            model_name='Review',
            index=Index(fields=['product_id', 'status', 'created_at', 'id']),
        ),
    ]
