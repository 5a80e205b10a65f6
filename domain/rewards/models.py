from tortoise import fields
from tortoise.models import Model


class Reward(Model):
    # A catalog item members buy with points.
    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=200)
    type = fields.CharField(max_length=20)  # FIXED_AMOUNT|PERCENTAGE|FREE_SHIPPING|FREE_PRODUCT|EXPERIENTIAL
    points_cost = fields.IntField()
    amount = fields.BigIntField(null=True)  # FIXED_AMOUNT: minor units off
    currency = fields.CharField(max_length=3, null=True)
    percent = fields.IntField(null=True)  # PERCENTAGE: 1..100
    max_discount = fields.BigIntField(null=True)  # PERCENTAGE cap, minor units
    sku = fields.CharField(max_length=255, null=True)  # FREE_PRODUCT
    description = fields.CharField(max_length=1000, null=True)
    min_tier_rank = fields.IntField(null=True)
    per_member_limit = fields.IntField(null=True)
    stock = fields.IntField(null=True)  # null = unlimited
    starts_at = fields.DatetimeField(null=True)
    ends_at = fields.DatetimeField(null=True)
    code_valid_days = fields.IntField(null=True)  # unused codes expire after this many days
    active = fields.BooleanField(default=True)
    created_at = fields.DatetimeField()
    # Who may have it (domain/rewards/audience.py): ALL (redeem for points), MEMBERS_GRANTED
    # (only by grantReward), SEGMENT (members of audience_segment), TIER (members of audience_tier).
    audience = fields.CharField(max_length=16, default="ALL")
    audience_segment = fields.ForeignKeyField("patron.Segment", null=True, related_name="rewards",
                                              on_delete=fields.RESTRICT)
    audience_tier = fields.ForeignKeyField("patron.Tier", null=True, related_name="audience_rewards",
                                           on_delete=fields.RESTRICT)

    class Meta:
        table = "rewards"


class RewardGrant(Model):
    # One grantReward call: the reward given without points to a segment's members or to listed
    # members. A replay of (reward, idempotency_key) answers this row and grants nothing more.
    id = fields.IntField(primary_key=True)
    reward = fields.ForeignKeyField("patron.Reward", related_name="grants", on_delete=fields.RESTRICT)
    idempotency_key = fields.CharField(max_length=255)
    reason = fields.CharField(max_length=500)  # the brand's campaign words ("Spring win-back")
    segment = fields.ForeignKeyField("patron.Segment", null=True, related_name="grants", on_delete=fields.SET_NULL)
    granted = fields.IntField()  # codes this call issued (members who had the reward already are skipped)
    actor = fields.CharField(max_length=255)
    created_at = fields.DatetimeField()

    class Meta:
        table = "reward_grants"
        unique_together = (("reward", "idempotency_key"),)


class Redemption(Model):
    # One redemption: the points debit, the code the storefront applies, its life.
    id = fields.IntField(primary_key=True)
    reward = fields.ForeignKeyField("patron.Reward", related_name="redemptions", on_delete=fields.RESTRICT)
    member = fields.ForeignKeyField("patron.Member", related_name="redemptions", on_delete=fields.RESTRICT)
    points = fields.IntField()
    code = fields.CharField(max_length=40, unique=True)
    status = fields.CharField(max_length=16, default="issued")  # issued|used|cancelled|expired
    idempotency_key = fields.CharField(max_length=255)
    debit_entry_id = fields.BigIntField(null=True)  # null: nothing debited (granted, or a zero-point reward)
    grant = fields.ForeignKeyField("patron.RewardGrant", null=True, related_name="redemptions",
                                   on_delete=fields.RESTRICT)
    order_external_id = fields.CharField(max_length=255, null=True)
    expires_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField()
    used_at = fields.DatetimeField(null=True)
    cancelled_at = fields.DatetimeField(null=True)

    class Meta:
        table = "redemptions"
        unique_together = (("member", "idempotency_key"),)
        # The jobs read by due date: codes past their validity, uses awaiting their order.
        indexes = (("reward_id",), ("status", "expires_at"), ("status", "used_at"))


class GrantPolicy(Model):
    # An automatic grant (domain/rewards/policies.py): BIRTHDAY grants `reward` to members in
    # their birthday week, once a year; WIN_BACK grants it to `segment`'s members, once each.
    # One row per kind; a leased job applies the enabled ones.
    id = fields.IntField(primary_key=True)
    kind = fields.CharField(max_length=16, unique=True)  # BIRTHDAY | WIN_BACK
    reward = fields.ForeignKeyField("patron.Reward", related_name="grant_policies", on_delete=fields.RESTRICT)
    segment = fields.ForeignKeyField("patron.Segment", null=True, related_name="grant_policies",
                                     on_delete=fields.RESTRICT)
    enabled = fields.BooleanField()
    updated_at = fields.DatetimeField()

    class Meta:
        table = "grant_policies"
