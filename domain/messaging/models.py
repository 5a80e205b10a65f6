from tortoise import fields
from tortoise.models import Model


class MessagePolicy(Model):
    # An admin's settings for one message type; a type without a row uses its defaults
    # (domain/messaging/policies.py).

    id = fields.IntField(primary_key=True)
    type = fields.CharField(max_length=32, unique=True)
    enabled = fields.BooleanField()
    channels = fields.JSONField()  # ["EMAIL", "WEBHOOK"]
    delay_hours = fields.IntField()
    consent_purpose = fields.CharField(max_length=32)
    cap_exempt = fields.BooleanField()
    # Migration 0022: the rules' figures, per policy (domain/messaging/policies.py).
    cap_messages = fields.IntField(default=5)
    cap_days = fields.IntField(default=30)
    product_repeat_days = fields.IntField(default=365)
    quiet_start_hour = fields.IntField(default=21)
    quiet_end_hour = fields.IntField(default=8)
    lead_days = fields.JSONField(null=True)  # POINTS_EXPIRING; null: PATRON_POINTS_EXPIRING_DAYS
    category_delays = fields.JSONField(null=True)  # {"Shoes": 504}: delayHours by order line category
    updated_at = fields.DatetimeField()

    class Meta:
        table = "message_policies"


class Message(Model):
    # One message to one member on one channel, from planning to its outcome ("what we sent
    # you and why"): SCHEDULED, then SENT, SUPPRESSED, FAILED or CANCELLED, with the reason.

    id = fields.IntField(primary_key=True)
    member = fields.ForeignKeyField("patron.Member", related_name="messages")
    type = fields.CharField(max_length=32)
    channel = fields.CharField(max_length=16)
    status = fields.CharField(max_length=16)
    reason = fields.CharField(max_length=300, null=True)
    consent_purpose = fields.CharField(max_length=32)
    scheduled_for = fields.DatetimeField()
    sent_at = fields.DatetimeField(null=True)
    # What the message is about: the order and the products it asks about.
    order_external_id = fields.CharField(max_length=255, null=True)
    products = fields.JSONField()  # product externalIds
    # A reminder names the request it follows (one reminder per request: `dedupe_key`).
    follows = fields.ForeignKeyField("patron.Message", null=True, related_name="follow_ups", on_delete=fields.SET_NULL)
    # The occasion's figures (domain/messaging/occasions.py): points and the date they expire
    # by, the old and new tier, the last order of a lapse, the cart's last add-to-cart.
    details = fields.JSONField(null=True)
    # Planning is idempotent: the same order/channel/type plans one message only.
    dedupe_key = fields.CharField(max_length=400, unique=True)
    # FEEDBACK_THANKS: the improvement it thanks for.
    improvement = fields.ForeignKeyField("patron.Improvement", null=True, related_name="messages",
                                         on_delete=fields.SET_NULL)
    # WEBHOOK: the provider's id of the message, from reportMessageStatus.
    provider_message_id = fields.CharField(max_length=255, null=True)
    attempts = fields.IntField(default=0)
    last_error = fields.CharField(max_length=500, null=True)
    created_at = fields.DatetimeField()
    updated_at = fields.DatetimeField()

    class Meta:
        table = "messages"
        indexes = (("status", "scheduled_for"), ("member_id", "type"), ("type", "status"))


class MessageTemplate(Model):
    # An admin's override of a shipped template (domain/messaging/templates/); a null part
    # uses the shipped one.
    id = fields.IntField(primary_key=True)
    type = fields.CharField(max_length=32)
    locale = fields.CharField(max_length=8)
    subject = fields.TextField(null=True)
    text = fields.TextField(null=True)
    html = fields.TextField(null=True)
    updated_at = fields.DatetimeField()

    class Meta:
        table = "message_templates"
        unique_together = (("type", "locale"),)
