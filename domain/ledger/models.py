from tortoise import fields
from tortoise.models import Model


class LedgerEntry(Model):
    # One append-only points movement. Credits are lots: `remaining` and `expires_at`.
    #
    # Only `remaining` of a credit ever changes after insert (as debits consume it).
    #

    id = fields.BigIntField(primary_key=True)
    member = fields.ForeignKeyField("patron.Member", related_name="ledger_entries", on_delete=fields.RESTRICT)
    amount = fields.IntField()  # signed
    kind = fields.CharField(max_length=16)  # earn | redeem | expire | reverse | adjust
    reason = fields.CharField(max_length=500)
    source_type = fields.CharField(max_length=32, null=True)
    source_id = fields.CharField(max_length=255, null=True)
    idempotency_key = fields.CharField(max_length=255, null=True)
    rule_id = fields.IntField(null=True)
    details = fields.JSONField(null=True)  # rule values used, actor, etc.
    expires_at = fields.DatetimeField(null=True)
    remaining = fields.IntField(null=True)  # credits only
    created_at = fields.DatetimeField()

    class Meta:
        table = "ledger_entries"
        unique_together = (("member", "idempotency_key"),)
        # Plus the partial index idx_ledger_live_lot_expiry (migration 0012) for the expiry job;
        # 0012 dropped the plain expires_at index: PostgreSQL preferred it and walked every
        # spent lot of the history on each run.
        indexes = (("member_id", "id"),)


class LotConsumption(Model):
    # Which credit lots a debit used (FEFO), and how much of each.

    id = fields.BigIntField(primary_key=True)
    debit = fields.ForeignKeyField("patron.LedgerEntry", related_name="consumed", on_delete=fields.RESTRICT)
    lot = fields.ForeignKeyField("patron.LedgerEntry", related_name="consumed_by", on_delete=fields.RESTRICT)
    amount = fields.IntField()

    class Meta:
        table = "lot_consumptions"
        indexes = (("debit_id",), ("lot_id",),)


class Award(Model):
    # Points a rule awarded for a source (an order, a signup, a birthday ...).
    #
    # While `held` the points are pending (the return window); a job releases them to the
    # ledger as a credit lot. `amount` is the recorded award and never changes; refunds add to
    # `reversed` (before release by cancelling pending points, after it by a reverse entry).
    #

    id = fields.BigIntField(primary_key=True)
    member = fields.ForeignKeyField("patron.Member", related_name="awards", on_delete=fields.RESTRICT)
    amount = fields.IntField()
    reversed = fields.IntField(default=0)
    status = fields.CharField(max_length=16, default="held")  # held | released
    reason = fields.CharField(max_length=500)
    source_type = fields.CharField(max_length=32)
    source_id = fields.CharField(max_length=255)
    idempotency_key = fields.CharField(max_length=255)
    rule_id = fields.IntField(null=True)
    details = fields.JSONField(null=True)
    release_at = fields.DatetimeField(db_index=True)
    created_at = fields.DatetimeField()
    entry_id = fields.BigIntField(null=True)  # the ledger entry written at release

    class Meta:
        table = "awards"
        unique_together = (("member", "idempotency_key"),)
        # (status, release_at): the release job reads held awards by their due date; plus the
        # partial index idx_awards_held_release (migration 0012, held awards only).
        indexes = (("source_type", "source_id"), ("status", "release_at"))
