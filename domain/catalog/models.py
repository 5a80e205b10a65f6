from tortoise import fields
from tortoise.models import Model


def empty_histogram() -> list[int]:
    return [0, 0, 0, 0, 0]


class Product(Model):
    # A product Patron knows: from the catalog (upsertProducts) or first seen in an order.
    # The review summary columns are maintained incrementally by domain/reviews/summary.py.
    id = fields.IntField(primary_key=True)
    external_id = fields.CharField(max_length=255, unique=True)
    title = fields.CharField(max_length=500, null=True)
    categories = fields.JSONField(default=list)
    price = fields.BigIntField(null=True)  # minor units
    currency = fields.CharField(max_length=3, null=True)
    active = fields.BooleanField(default=True)
    hidden = fields.BooleanField(default=False)
    in_stock = fields.BooleanField(default=True)
    review_count = fields.IntField(default=0)  # published reviews
    rating_sum = fields.IntField(default=0)
    rating_histogram = fields.JSONField(default=empty_histogram)  # counts of 1..5 stars
    with_media_count = fields.IntField(default=0)
    created_at = fields.DatetimeField()
    updated_at = fields.DatetimeField()

    class Meta:
        table = "products"
