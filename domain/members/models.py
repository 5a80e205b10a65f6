from tortoise import fields
from tortoise.models import Model


class Member(Model):
    id = fields.IntField(primary_key=True)
    external_id = fields.CharField(max_length=255, unique=True)
    email = fields.CharField(max_length=320, null=True)
    name = fields.CharField(max_length=200, null=True)
    birthday = fields.DateField(null=True)
    signup_channel = fields.CharField(max_length=32, null=True)
    created_at = fields.DatetimeField()
    updated_at = fields.DatetimeField()
    anonymized_at = fields.DatetimeField(null=True)
    # Cached points figures; the ledger service keeps them equal to the entries.
    points_balance = fields.IntField(default=0)
    points_pending = fields.IntField(default=0)
    lifetime_earned = fields.IntField(default=0)
    tier = fields.ForeignKeyField("patron.Tier", null=True, on_delete=fields.SET_NULL)
    tier_achieved_at = fields.DatetimeField(null=True)
    # Set when a review finds the member below their tier; the downgrade waits for the grace.
    downgrade_pending_since = fields.DatetimeField(null=True)
    referred_by = fields.ForeignKeyField("patron.Member", null=True, related_name="referrals", on_delete=fields.SET_NULL)
    referral_converted_at = fields.DatetimeField(null=True)
    # IANA zone for quiet hours (null: PATRON_DEFAULT_TIMEZONE); message templates' locale.
    timezone = fields.CharField(max_length=64, null=True)
    locale = fields.CharField(max_length=8, null=True)

    class Meta:
        table = "members"


class Consent(Model):
    # Current state of one consent purpose for one member (absent row = not granted).

    id = fields.IntField(primary_key=True)
    member = fields.ForeignKeyField("patron.Member", related_name="consents")
    purpose = fields.CharField(max_length=32)
    granted = fields.BooleanField()
    source = fields.CharField(max_length=64)
    updated_at = fields.DatetimeField()

    class Meta:
        table = "consents"
        unique_together = (("member", "purpose"),)


class ConsentChange(Model):
    # Every consent change ever made, with time and source (the audit trail).

    id = fields.IntField(primary_key=True)
    member = fields.ForeignKeyField("patron.Member", related_name="consent_changes")
    purpose = fields.CharField(max_length=32)
    granted = fields.BooleanField()
    source = fields.CharField(max_length=64)
    created_at = fields.DatetimeField()

    class Meta:
        table = "consent_changes"
        indexes = (("member_id",),)
