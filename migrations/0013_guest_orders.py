"""Guest orders: `orders.member_id` becomes nullable (an order recorded without a member
counts in revenue and earns nothing).

On SQLite, AlterField rebuilds the table and the rebuilt table has none of its indexes, so
the two the model declares are created again under their original names (on PostgreSQL the
column is altered in place and IF NOT EXISTS makes these no-ops).
"""

from tortoise import fields, migrations
from tortoise.fields.base import OnDelete
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [('patron', '0012_due_work_indexes')]

    initial = False

    operations = [
        ops.AlterField(
            model_name='Order',
            name='member',
            field=fields.ForeignKeyField('patron.Member', source_field='member_id', null=True, db_constraint=True,
                                         to_field='id', related_name='orders', on_delete=OnDelete.RESTRICT),
        ),
        ops.RunSQL(
            'CREATE INDEX IF NOT EXISTS "idx_orders_member__54e372" ON "orders" ("member_id", "placed_at")',
            ops.RunSQL.noop,
        ),
        ops.RunSQL(
            'CREATE INDEX IF NOT EXISTS "idx_orders_placed__857d29" ON "orders" ("placed_at")',
            ops.RunSQL.noop,
        ),
    ]
