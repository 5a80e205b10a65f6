from tortoise import fields
from tortoise.models import Model


class WebhookEndpoint(Model):
    # A receiver registered by an admin or a partner. The signing secret is stored
    # encrypted (domain/crypto.py); during a rotation the previous one signs too.
    id = fields.IntField(primary_key=True)
    url = fields.CharField(max_length=2000)
    event_types = fields.JSONField()  # patterns such as "points.*" or "review.published"
    description = fields.CharField(max_length=500, null=True)
    enabled = fields.BooleanField(default=True)
    owner_key_id = fields.IntField(null=True)  # the partner key that owns it; null = admin
    secret_encrypted = fields.TextField()
    previous_secret_encrypted = fields.TextField(null=True)
    previous_secret_expires_at = fields.DatetimeField(null=True)
    failing_since = fields.DatetimeField(null=True)
    disabled_reason = fields.CharField(max_length=500, null=True)
    created_at = fields.DatetimeField()
    updated_at = fields.DatetimeField()

    class Meta:
        table = "webhook_endpoints"


class WebhookDelivery(Model):
    # One event for one endpoint. Workers claim due rows (FOR UPDATE SKIP LOCKED on
    # PostgreSQL) and hold them with a lease, so a crashed worker's rows come back.
    id = fields.BigIntField(primary_key=True)
    endpoint = fields.ForeignKeyField("patron.WebhookEndpoint", related_name="deliveries", on_delete=fields.CASCADE)
    event = fields.ForeignKeyField("patron.Event", related_name="deliveries", on_delete=fields.RESTRICT)
    status = fields.CharField(max_length=16, default="pending")  # pending|in_flight|succeeded|failed
    attempts = fields.IntField(default=0)
    next_attempt_at = fields.DatetimeField()
    lease_until = fields.DatetimeField(null=True)
    # Fencing: every claim takes a new token and names the worker; an outcome is recorded
    # (and a request sent) only while the row still carries the claimer's token.
    lease_token = fields.BigIntField(default=0)
    lease_owner = fields.CharField(max_length=100, null=True)
    last_status_code = fields.IntField(null=True)
    last_error = fields.CharField(max_length=500, null=True)
    request_excerpt = fields.TextField(null=True)
    response_excerpt = fields.TextField(null=True)
    duration_ms = fields.IntField(null=True)
    created_at = fields.DatetimeField()
    delivered_at = fields.DatetimeField(null=True)

    class Meta:
        table = "webhook_deliveries"
        indexes = (("status", "next_attempt_at"), ("endpoint_id", "id"), ("event_id",),)
