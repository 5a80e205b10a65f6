from tortoise import fields
from tortoise.models import Model


class StaffUser(Model):
    # A person at the brand who signs in to /console. Only the argon2id hash of the password is kept.

    id = fields.IntField(primary_key=True)
    email = fields.CharField(max_length=254, unique=True)  # stored lower-cased
    password_hash = fields.CharField(max_length=200)
    role = fields.CharField(max_length=20)  # owner | admin | moderator | support | marketer | viewer
    # Set for a generated one-time password (create-staff): the first page after signing in
    # is the password change, and nothing else opens until it is done.
    must_change_password = fields.BooleanField(default=False)
    failed_attempts = fields.IntField(default=0)  # wrong passwords since the last sign-in
    locked_until = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField()
    last_login_at = fields.DatetimeField(null=True)

    class Meta:
        table = "staff_users"


class StaffSession(Model):
    # A signed-in browser: only the SHA-256 of the cookie's 256-bit token is stored.

    id = fields.IntField(primary_key=True)
    user = fields.ForeignKeyField("patron.StaffUser", related_name="sessions", on_delete=fields.CASCADE)
    token_hash = fields.CharField(max_length=64, unique=True)
    created_at = fields.DatetimeField()
    expires_at = fields.DatetimeField(db_index=True)
    ip = fields.CharField(max_length=64, default="")

    class Meta:
        table = "staff_sessions"


class StaffAudit(Model):
    # Who did what, when, from where: sign-ins (and failed ones), sign-outs and every console action.

    id = fields.IntField(primary_key=True)
    user = fields.ForeignKeyField("patron.StaffUser", related_name="audit", null=True, on_delete=fields.SET_NULL)
    email = fields.CharField(max_length=254)  # as typed for a failed sign-in; kept if the account goes
    action = fields.CharField(max_length=64)
    detail = fields.CharField(max_length=500, default="")
    ip = fields.CharField(max_length=64, default="")
    at = fields.DatetimeField(db_index=True)

    class Meta:
        table = "staff_audit"
        indexes = (("ip", "action", "at"),)
