from tortoise import fields
from tortoise.models import Model


class SurveyResponse(Model):
    # One satisfaction survey answer per member and order (a replay changes nothing).
    id = fields.IntField(primary_key=True)
    member = fields.ForeignKeyField("patron.Member", related_name="survey_responses", on_delete=fields.RESTRICT)
    order_external_id = fields.CharField(max_length=255)
    nps = fields.SmallIntField()  # 0-10
    csat = fields.SmallIntField()  # 1-5
    comment = fields.TextField(null=True)  # the member's own words: personal
    negative = fields.BooleanField()  # NPS <= 6 or CSAT <= 2: in the reply queue, feedback.negative
    via = fields.CharField(max_length=16)  # "link" (the signed survey token) or "member" (a member token)
    created_at = fields.DatetimeField()

    class Meta:
        table = "survey_responses"
        unique_together = (("member", "order_external_id"),)
        indexes = (("negative", "id"),)


class Improvement(Model):
    # A change the brand made thanks to feedback, shown on the product page.
    id = fields.IntField(primary_key=True)
    product = fields.ForeignKeyField("patron.Product", related_name="improvements", on_delete=fields.RESTRICT)
    title = fields.CharField(max_length=200)
    body = fields.TextField()
    created_by = fields.CharField(max_length=64)  # the staff key that recorded it
    created_at = fields.DatetimeField()

    class Meta:
        table = "improvements"
        indexes = (("product_id", "id"),)


class ImprovementLink(Model):
    # One review or question an improvement came from, with its author at the time (the
    # member thanked once per improvement, and whose `contributions` list it).
    id = fields.IntField(primary_key=True)
    improvement = fields.ForeignKeyField("patron.Improvement", related_name="links", on_delete=fields.CASCADE)
    review = fields.ForeignKeyField("patron.Review", related_name="improvement_links", null=True,
                                    on_delete=fields.CASCADE)
    question = fields.ForeignKeyField("patron.Question", related_name="improvement_links", null=True,
                                      on_delete=fields.CASCADE)
    member = fields.ForeignKeyField("patron.Member", related_name="improvement_links", null=True,
                                    on_delete=fields.RESTRICT)

    class Meta:
        table = "improvement_links"
        indexes = (("member_id", "id"),)

