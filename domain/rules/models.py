from tortoise import fields
from tortoise.models import Model


class EarningRule(Model):
    # A configurable way to earn points. Later issues add types on this same table.

    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=200)
    type = fields.CharField(max_length=32, db_index=True)  # ORDER_PAID | SIGNUP | BIRTHDAY
    active = fields.BooleanField(default=True)
    points = fields.IntField(default=0)  # fixed amount (signup, birthday)
    # ORDER_PAID: `points_per_unit` points for every `currency_unit` minor units spent.
    points_per_unit = fields.IntField(default=0)
    currency_unit = fields.IntField(default=100)
    currency = fields.CharField(max_length=3, null=True)  # null = any currency
    include_categories = fields.JSONField(default=list)
    exclude_categories = fields.JSONField(default=list)
    include_skus = fields.JSONField(default=list)
    exclude_skus = fields.JSONField(default=list)
    cap_points = fields.IntField(null=True)  # at most this many points ...
    cap_period = fields.CharField(max_length=16, null=True)  # ... per DAY|WEEK|MONTH|YEAR|LIFETIME
    apply_tier_multiplier = fields.BooleanField(default=True)
    pending_days = fields.IntField(null=True)  # null: the return window (orders) or 0
    custom_type = fields.CharField(max_length=64, null=True)  # CUSTOM: the brand's activity name
    referral_side = fields.CharField(max_length=10, null=True)  # REFERRAL_CONVERTED: REFERRER|REFERRED|BOTH
    starts_at = fields.DatetimeField(null=True)
    ends_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField()

    class Meta:
        table = "earning_rules"


class Activity(Model):
    # Something a member did outside orders (a share, a survey, brand UGC, a custom action).
    # Brand UGC waits for an admin's approval before it earns.
    id = fields.IntField(primary_key=True)
    member = fields.ForeignKeyField("patron.Member", related_name="activities", on_delete=fields.RESTRICT)
    type = fields.CharField(max_length=32)
    custom_type = fields.CharField(max_length=64, null=True)
    external_id = fields.CharField(max_length=255)
    url = fields.CharField(max_length=2000, null=True)
    status = fields.CharField(max_length=16)  # pending | approved | rejected
    decided_by = fields.CharField(max_length=64, null=True)
    created_at = fields.DatetimeField()
    decided_at = fields.DatetimeField(null=True)

    class Meta:
        table = "activities"
        unique_together = (("member", "type", "custom_type", "external_id"),)
