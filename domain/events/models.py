from tortoise import fields
from tortoise.models import Model


class Event(Model):
    # A domain event, written in the same transaction as the change it describes.
    #
    # This table is the transactional outbox that webhooks and subscriptions read from.
    #

    id = fields.BigIntField(primary_key=True)
    type = fields.CharField(max_length=64, db_index=True)
    payload = fields.JSONField()
    member_id = fields.IntField(null=True, db_index=True)
    created_at = fields.DatetimeField()

    class Meta:
        table = "events"
