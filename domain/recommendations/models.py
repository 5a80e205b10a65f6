from tortoise import fields
from tortoise.models import Model


class Signal(Model):
    # A shopper interaction from trackEvents (orders and reviews are read from their own
    # tables). Anonymous sessions carry session_id until mergeSession gives them a member.
    id = fields.BigIntField(primary_key=True)
    member = fields.ForeignKeyField("patron.Member", null=True, related_name="signals", on_delete=fields.CASCADE)
    session_id = fields.CharField(max_length=128, null=True)
    product_external_id = fields.CharField(max_length=255)
    type = fields.CharField(max_length=16)  # VIEW | ADD_TO_CART | PURCHASE | REVIEW
    at = fields.DatetimeField()

    class Meta:
        table = "signals"
        indexes = (("member_id", "at"), ("session_id",), ("at",))
