"""Per-policy message settings (issue 12: "defaults; each configurable per policy"): the cap
across types, the per-product repeat window of review requests, the quiet hours, the points
notice lead days and the per-category delays. Existing rows get the defaults they had as
constants (5 in 30 days, 365 days, 21:00-08:00; null lead days: PATRON_POINTS_EXPIRING_DAYS)."""

from tortoise import migrations
from tortoise.migrations import operations as ops
from orjson import loads
from tortoise.fields.data import JSON_DUMPS
from tortoise import fields


class Migration(migrations.Migration):
    dependencies = [('patron', '0020_message_types')]

    initial = False

    operations = [
        ops.AddField(model_name='MessagePolicy', name='cap_messages',
                     field=fields.IntField(default=5, db_default=5)),
        ops.AddField(model_name='MessagePolicy', name='cap_days',
                     field=fields.IntField(default=30, db_default=30)),
        ops.AddField(model_name='MessagePolicy', name='product_repeat_days',
                     field=fields.IntField(default=365, db_default=365)),
        ops.AddField(model_name='MessagePolicy', name='quiet_start_hour',
                     field=fields.IntField(default=21, db_default=21)),
        ops.AddField(model_name='MessagePolicy', name='quiet_end_hour',
                     field=fields.IntField(default=8, db_default=8)),
        ops.AddField(model_name='MessagePolicy', name='lead_days',
                     field=fields.JSONField(null=True, encoder=JSON_DUMPS, decoder=loads)),
        ops.AddField(model_name='MessagePolicy', name='category_delays',
                     field=fields.JSONField(null=True, encoder=JSON_DUMPS, decoder=loads)),
    ]
