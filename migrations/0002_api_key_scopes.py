from tortoise import migrations
from tortoise.migrations import operations as ops
from orjson import loads
from tortoise.fields.data import JSON_DUMPS
from tortoise import fields

# Keys that existed before scopes get their role's defaults (domain/auth/scopes.py
# DEFAULT_SCOPES, written out here because a landed migration must not change when the
# defaults do): a partner keeps every event family without personal data; a storefront
# holds only the implicit scope; an admin holds every scope whatever is stored.
PARTNER = '["events:members", "events:orders", "events:points", "events:reviews", "events:rewards", "events:subscriptions", "events:webhooks"]'
OTHERS = '["events:webhooks"]'


class Migration(migrations.Migration):
    dependencies = [('patron', '0001_initial')]

    initial = False

    operations = [
        ops.AddField(
            model_name='ApiKey',
            name='scopes',
            field=fields.JSONField(default=list, db_default=[], encoder=JSON_DUMPS, decoder=loads),
        ),
        ops.RunSQL(
            [f"UPDATE api_keys SET scopes = '{PARTNER}' WHERE role = 'partner'",
             f"UPDATE api_keys SET scopes = '{OTHERS}' WHERE role <> 'partner'"],
            reverse_sql=[],
        ),
    ]
