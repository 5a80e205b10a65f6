from tortoise import fields
from tortoise.models import Model


class ApiKey(Model):
    # An API key. Only the SHA-256 of the secret is stored; the secret is shown once.

    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=200)
    role = fields.CharField(max_length=20)  # admin | storefront | partner
    prefix = fields.CharField(max_length=16)  # first characters, to recognise a key in lists
    key_hash = fields.CharField(max_length=64, unique=True)
    # Access scopes chosen by the admin (domain/auth/scopes.py); admin keys hold every scope.
    scopes = fields.JSONField(default=list, db_default=[])
    created_at = fields.DatetimeField()
    revoked_at = fields.DatetimeField(null=True)

    class Meta:
        table = "api_keys"
