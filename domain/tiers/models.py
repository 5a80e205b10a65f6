from tortoise import fields
from tortoise.models import Model


class Tier(Model):
    # A VIP level. A member qualifies when the configured thresholds are met in the window.

    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=100, unique=True)
    rank = fields.IntField(unique=True)
    min_spend = fields.BigIntField(null=True)  # minor units of `currency`
    currency = fields.CharField(max_length=3, null=True)
    min_points = fields.IntField(null=True)  # points earned in the window, never the balance
    min_orders = fields.IntField(null=True)
    require_all = fields.BooleanField(default=False)  # all thresholds vs any one of them
    window = fields.CharField(max_length=20, default="ROLLING_12_MONTHS")
    earn_multiplier = fields.DecimalField(max_digits=6, decimal_places=3, default=1)
    perks = fields.JSONField(default=list)
    created_at = fields.DatetimeField()

    class Meta:
        table = "tiers"


class TierChange(Model):
    id = fields.IntField(primary_key=True)
    member = fields.ForeignKeyField("patron.Member", related_name="tier_changes")
    from_tier = fields.ForeignKeyField("patron.Tier", null=True, related_name=False, on_delete=fields.SET_NULL)
    to_tier = fields.ForeignKeyField("patron.Tier", null=True, related_name=False, on_delete=fields.SET_NULL)
    reason = fields.CharField(max_length=500)
    created_at = fields.DatetimeField()

    class Meta:
        table = "tier_changes"
        indexes = (("member_id",),)
