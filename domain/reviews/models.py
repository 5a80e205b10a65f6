from tortoise import fields
from tortoise.models import Model


class Review(Model):
    # One review per member per product. The author's display name and the merchant's
    # reply live on the row so a product page needs no extra queries for them.
    id = fields.IntField(primary_key=True)
    product = fields.ForeignKeyField("patron.Product", related_name="reviews", on_delete=fields.RESTRICT)
    member = fields.ForeignKeyField("patron.Member", related_name="reviews", null=True, on_delete=fields.RESTRICT)
    author_name = fields.CharField(max_length=100)
    rating = fields.SmallIntField()
    title = fields.CharField(max_length=200, null=True)
    body = fields.TextField()
    attributes = fields.JSONField(default=dict)
    status = fields.CharField(max_length=16, default="pending", db_index=True)  # pending|published|rejected
    reject_reason = fields.CharField(max_length=32, null=True)
    moderation_note = fields.CharField(max_length=500, null=True)
    verified_purchase = fields.BooleanField(default=False)
    incentivized = fields.BooleanField(default=False)
    imported = fields.BooleanField(default=False)
    # The source platform's id of an imported review: importing it again changes nothing.
    external_id = fields.CharField(max_length=200, null=True, unique=True)
    has_media = fields.BooleanField(default=False)  # any published media
    helpful_count = fields.IntField(default=0)
    not_helpful_count = fields.IntField(default=0)
    open_reports = fields.IntField(default=0)
    follow_up_question = fields.CharField(max_length=300, null=True)
    follow_up_answer = fields.TextField(null=True)
    reply_body = fields.TextField(null=True)
    reply_by = fields.CharField(max_length=64, null=True)
    replied_at = fields.DatetimeField(null=True)
    reply_overdue_at = fields.DatetimeField(null=True)  # when review.reply_overdue was written
    # False for an import that was already older than the reply SLA when Patron received it:
    # old history, not a new complaint, so it never raises review.reply_overdue.
    reply_sla_applies = fields.BooleanField(default=True, db_default=True)
    # Whether this review currently counts in the product summary (and with which values).
    counted_rating = fields.SmallIntField(null=True)
    counted_media = fields.BooleanField(default=False)
    # The review's own date (for an import: its original date on the old platform); the
    # NEWEST sort and the JSON-LD reviews follow it.
    created_at = fields.DatetimeField()
    # When Patron received the review (= created_at unless imported): the reply SLA counts from here.
    received_at = fields.DatetimeField(null=True)  # set on every row; 0003 backfills older rows
    updated_at = fields.DatetimeField()
    published_at = fields.DatetimeField(null=True)

    class Meta:
        table = "reviews"
        unique_together = (("product", "member"),)
        indexes = (("product_id", "status", "id"), ("product_id", "status", "created_at", "id"))


class ReviewRevision(Model):
    # Every version of a review's rating and text (the first one included).
    id = fields.IntField(primary_key=True)
    review = fields.ForeignKeyField("patron.Review", related_name="revisions", on_delete=fields.CASCADE)
    rating = fields.SmallIntField()
    title = fields.CharField(max_length=200, null=True)
    body = fields.TextField()
    editor = fields.CharField(max_length=64)
    created_at = fields.DatetimeField()

    class Meta:
        table = "review_revisions"
        indexes = (("review_id",),)


class ReviewMedia(Model):
    id = fields.IntField(primary_key=True)
    review = fields.ForeignKeyField("patron.Review", related_name="media", on_delete=fields.CASCADE)
    kind = fields.CharField(max_length=8)  # photo | video
    content_type = fields.CharField(max_length=32)
    # Indexed: GET /media/<name> looks the file up to check it may still be served.
    file_name = fields.CharField(max_length=80, db_index=True)
    thumb_name = fields.CharField(max_length=80, null=True, db_index=True)
    width = fields.IntField(null=True)
    height = fields.IntField(null=True)
    size = fields.BigIntField()
    status = fields.CharField(max_length=16, default="pending")
    reject_reason = fields.CharField(max_length=32, null=True)
    created_at = fields.DatetimeField()

    class Meta:
        table = "review_media"
        indexes = (("review_id",),)


class ReviewVote(Model):
    id = fields.IntField(primary_key=True)
    review = fields.ForeignKeyField("patron.Review", related_name="votes", on_delete=fields.CASCADE)
    member = fields.ForeignKeyField("patron.Member", related_name="review_votes", on_delete=fields.CASCADE)
    helpful = fields.BooleanField()
    created_at = fields.DatetimeField()

    class Meta:
        table = "review_votes"
        unique_together = (("review", "member"),)


class ReviewReport(Model):
    id = fields.IntField(primary_key=True)
    review = fields.ForeignKeyField("patron.Review", related_name="reports", on_delete=fields.CASCADE)
    reporter = fields.CharField(max_length=300)
    reason = fields.CharField(max_length=32)
    comment = fields.CharField(max_length=500, null=True)
    created_at = fields.DatetimeField()

    class Meta:
        table = "review_reports"
        unique_together = (("review", "reporter"),)


class ModerationDecision(Model):
    # The moderation log: every automatic or manual decision, who, when, why.
    id = fields.IntField(primary_key=True)
    subject_type = fields.CharField(max_length=16)  # review | media | question | answer
    subject_id = fields.IntField()
    status = fields.CharField(max_length=16)
    reason = fields.CharField(max_length=32, null=True)
    note = fields.CharField(max_length=500, null=True)
    actor = fields.CharField(max_length=64)
    created_at = fields.DatetimeField()

    class Meta:
        table = "moderation_decisions"
        indexes = (("subject_type", "subject_id"),)


class FollowUpQuestion(Model):
    # The question a thin review gets, per product category (null category = default).
    id = fields.IntField(primary_key=True)
    category = fields.CharField(max_length=255, null=True, unique=True)
    question = fields.CharField(max_length=300)

    class Meta:
        table = "follow_up_questions"


class Question(Model):
    id = fields.IntField(primary_key=True)
    product = fields.ForeignKeyField("patron.Product", related_name="questions", on_delete=fields.RESTRICT)
    member = fields.ForeignKeyField("patron.Member", related_name="questions", null=True, on_delete=fields.RESTRICT)
    author_name = fields.CharField(max_length=100)
    body = fields.TextField()
    status = fields.CharField(max_length=16, default="pending")
    reject_reason = fields.CharField(max_length=32, null=True)
    created_at = fields.DatetimeField()

    class Meta:
        table = "questions"
        indexes = (("product_id", "status", "id"),)


class Answer(Model):
    id = fields.IntField(primary_key=True)
    question = fields.ForeignKeyField("patron.Question", related_name="answers", on_delete=fields.CASCADE)
    member = fields.ForeignKeyField("patron.Member", related_name="answers", null=True, on_delete=fields.RESTRICT)
    author_name = fields.CharField(max_length=100)
    author_kind = fields.CharField(max_length=16)  # merchant | verified_buyer
    body = fields.TextField()
    status = fields.CharField(max_length=16, default="pending")
    reject_reason = fields.CharField(max_length=32, null=True)
    created_at = fields.DatetimeField()

    class Meta:
        table = "answers"
        indexes = (("question_id",),)
