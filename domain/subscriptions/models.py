from tortoise import fields
from tortoise.models import Model


class SubscriptionPlan(Model):
    # A product subscription or a paid membership (which grants a tier while it is paid).
    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=200)
    kind = fields.CharField(max_length=16)  # PRODUCT | MEMBERSHIP
    skus = fields.JSONField(default=list)
    interval_unit = fields.CharField(max_length=8)  # DAY | WEEK | MONTH
    interval_count = fields.IntField()
    price = fields.BigIntField()  # minor units per cycle
    currency = fields.CharField(max_length=3)
    discount_percent = fields.IntField(default=0)  # subscriber discount
    cycles = fields.IntField(null=True)  # fixed number of renewals, null = until cancelled
    trial_days = fields.IntField(default=0)
    grants_tier = fields.ForeignKeyField("patron.Tier", null=True, related_name=False, on_delete=fields.SET_NULL)
    perks = fields.JSONField(default=list)
    retention_offers = fields.JSONField(default=dict)  # cancel reason -> {"type": ..., "percent"/"days": n}
    active = fields.BooleanField(default=True)
    created_at = fields.DatetimeField()

    class Meta:
        table = "subscription_plans"


class Subscription(Model):
    id = fields.IntField(primary_key=True)
    member = fields.ForeignKeyField("patron.Member", related_name="subscriptions", on_delete=fields.RESTRICT)
    plan = fields.ForeignKeyField("patron.SubscriptionPlan", related_name="subscriptions", on_delete=fields.RESTRICT)
    status = fields.CharField(max_length=16, db_index=True)  # active|paused|cancelled|expired|past_due
    sku = fields.CharField(max_length=255, null=True)
    interval_unit = fields.CharField(max_length=8)
    interval_count = fields.IntField()
    next_delivery_at = fields.DatetimeField(db_index=True)
    paused_until = fields.DatetimeField(null=True)
    skipped_from = fields.DatetimeField(null=True)  # the date before the last skip (for unskip)
    cycles_completed = fields.IntField(default=0)
    trial_ends_at = fields.DatetimeField(null=True)
    discount_percent_override = fields.IntField(null=True)  # from an accepted retention offer
    discount_cycles_left = fields.IntField(default=0)
    failure_count = fields.IntField(default=0)
    next_retry_at = fields.DatetimeField(null=True)
    renewal_notice_for = fields.DatetimeField(null=True)  # the delivery date renewal_due was sent for
    paid_through = fields.DatetimeField(null=True)  # memberships: the end of the paid period
    grant_active = fields.BooleanField(default=False)  # memberships: the tier grant is in force
    cancel_reason = fields.CharField(max_length=32, null=True)
    cancel_comment = fields.CharField(max_length=1000, null=True)
    cancelled_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField()
    updated_at = fields.DatetimeField()

    class Meta:
        table = "subscriptions"
        # The jobs read by due date: dunning retries, ends of pauses, ends of paid periods.
        indexes = (("member_id",), ("status", "next_retry_at"), ("status", "paused_until"),
                   ("grant_active", "paid_through"))


class SubscriptionChange(Model):
    # The subscription's history: every action with the state before and after.
    id = fields.IntField(primary_key=True)
    subscription = fields.ForeignKeyField("patron.Subscription", related_name="changes", on_delete=fields.CASCADE)
    action = fields.CharField(max_length=32)
    from_status = fields.CharField(max_length=16, null=True)
    to_status = fields.CharField(max_length=16)
    details = fields.JSONField(default=dict)
    actor = fields.CharField(max_length=64)
    created_at = fields.DatetimeField()

    class Meta:
        table = "subscription_changes"
        indexes = (("subscription_id",),)
