from tortoise import fields
from tortoise.models import Model


class Order(Model):
    id = fields.IntField(primary_key=True)
    external_id = fields.CharField(max_length=255, unique=True)
    # Null for a guest order (no member): it counts in revenue and earns nothing.
    member = fields.ForeignKeyField("patron.Member", related_name="orders", null=True, on_delete=fields.RESTRICT)
    currency = fields.CharField(max_length=3)
    channel = fields.CharField(max_length=32)
    placed_at = fields.DatetimeField(db_index=True)
    total_amount = fields.BigIntField()  # minor units
    refunded_amount = fields.BigIntField(default=0)
    created_at = fields.DatetimeField()
    # When the storefront says the order reached the customer (recordFulfillment): review
    # requests count from here.
    fulfilled_at = fields.DatetimeField(null=True)

    class Meta:
        table = "orders"
        indexes = (("member_id", "placed_at"),)


class OrderLine(Model):
    id = fields.IntField(primary_key=True)
    order = fields.ForeignKeyField("patron.Order", related_name="lines")
    sku = fields.CharField(max_length=255)
    product_external_id = fields.CharField(max_length=255, null=True)
    category = fields.CharField(max_length=255, null=True)
    quantity = fields.IntField()
    unit_price = fields.BigIntField()
    refunded_quantity = fields.IntField(default=0)

    class Meta:
        table = "order_lines"
        indexes = (("order_id",), ("product_external_id",),)


class Refund(Model):
    id = fields.IntField(primary_key=True)
    external_id = fields.CharField(max_length=255, unique=True)
    order = fields.ForeignKeyField("patron.Order", related_name="refunds")
    amount = fields.BigIntField()
    lines = fields.JSONField()  # [{sku, quantity, amount}]
    points_reversed = fields.IntField(default=0)
    created_at = fields.DatetimeField()

    class Meta:
        table = "refunds"
        indexes = (("order_id",),)
