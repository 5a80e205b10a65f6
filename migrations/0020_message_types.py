"""Engagement message types beyond review requests (issue 12): a message keeps the figures of
its occasion (points and the date they expire by, old and new tier, the lapse's last order, the
cart's last add-to-cart) in `messages.details`."""

from tortoise import migrations
from tortoise.migrations import operations as ops
from orjson import loads
from tortoise.fields.data import JSON_DUMPS
from tortoise import fields


class Migration(migrations.Migration):
    dependencies = [('patron', '0019_segments')]

    initial = False

    operations = [
        ops.AddField(
            model_name='Message',
            name='details',
            field=fields.JSONField(null=True, encoder=JSON_DUMPS, decoder=loads),
        ),
    ]
