from tortoise import fields
from tortoise.models import Model


class Segment(Model):
    # A saved member filter (domain/segments/filters.py). `conditions` holds the normalized filter
    # (snake_case keys, only the conditions given); members are found by one SQL query.
    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=200, unique=True)
    conditions = fields.JSONField()
    member_count = fields.IntField(null=True)  # at the last nightly evaluation; null: not evaluated yet
    evaluated_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField()
    updated_at = fields.DatetimeField()

    class Meta:
        table = "segments"


class SegmentMember(Model):
    # Who was in the segment at its last evaluation: the next evaluation diffs against it and
    # records segment.entered / segment.exited for the differences.
    id = fields.IntField(primary_key=True)
    segment = fields.ForeignKeyField("patron.Segment", related_name="memberships", on_delete=fields.CASCADE)
    member = fields.ForeignKeyField("patron.Member", related_name="segment_memberships", on_delete=fields.CASCADE)
    entered_at = fields.DatetimeField()

    class Meta:
        table = "segment_members"
        unique_together = (("segment", "member"),)
        indexes = (("member_id",),)
