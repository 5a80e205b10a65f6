"""Per-product review summary, maintained incrementally inside the write transaction.

A review counts in its product's summary while it is published; `counted_rating` and
`counted_media` on the review remember what it contributed, so any state or rating change
removes the old contribution and adds the new one.
"""

from __future__ import annotations

import json
from typing import Any

from tortoise.functions import Sum

from domain import changes
from domain.catalog.models import Product
from domain.reviews.models import Review

# Weight of the prior in the Bayesian average (as if every product had this many
# reviews at the store-wide mean): few reviews are pulled toward the mean.
PRIOR_WEIGHT = 5


async def recount(review: Review) -> None:
    """Bring the product summary in line with this review's current state."""
    counts = review.status == "published"
    new_rating = review.rating if counts else None
    new_media = counts and review.has_media
    if review.counted_rating == new_rating and review.counted_media == new_media:
        return
    product = await Product.select_for_update().get(id=review.product_id)
    histogram = list(product.rating_histogram)
    if review.counted_rating is not None:
        product.review_count -= 1
        product.rating_sum -= review.counted_rating
        histogram[review.counted_rating - 1] -= 1
    if review.counted_media:
        product.with_media_count -= 1
    if new_rating is not None:
        product.review_count += 1
        product.rating_sum += new_rating
        histogram[new_rating - 1] += 1
    if new_media:
        product.with_media_count += 1
    product.rating_histogram = histogram
    await product.save(update_fields=["review_count", "rating_sum", "rating_histogram", "with_media_count"])
    review.counted_rating, review.counted_media = new_rating, new_media
    await review.save(update_fields=["counted_rating", "counted_media"])


_mean: tuple[int, float | None] | None = None


async def store_mean() -> float | None:
    """The store-wide mean rating, recomputed only after a write (see domain/changes.py)."""
    global _mean
    version = await changes.current()
    if _mean is not None and _mean[0] == version:
        return _mean[1]
    row = await Product.all().annotate(n=Sum("review_count"), s=Sum("rating_sum")).first().values("n", "s")
    mean = row["s"] / row["n"] if row and row["n"] else None
    _mean = (version, mean)
    return mean


def average(product: Product) -> float | None:
    return round(product.rating_sum / product.review_count, 2) if product.review_count else None


def bayesian_average(product: Product, mean: float | None) -> float | None:
    if mean is None:
        return None
    return round((PRIOR_WEIGHT * mean + product.rating_sum) / (PRIOR_WEIGHT + product.review_count), 3)


def json_ld(product: Product, reviews: list[Review], base_url: str = "") -> str:
    """schema.org Product + AggregateRating (+ a few Reviews) for a storefront <script>."""
    data: dict[str, Any] = {
        "@context": "https://schema.org",
        "@type": "Product",
        "name": product.title or product.external_id,
        "sku": product.external_id,
    }
    if product.review_count:
        data["aggregateRating"] = {
            "@type": "AggregateRating",
            "ratingValue": average(product),
            "reviewCount": product.review_count,
            "bestRating": 5,
            "worstRating": 1,
        }
        data["review"] = [
            {
                "@type": "Review",
                "author": {"@type": "Person", "name": r.author_name},
                "datePublished": (r.published_at or r.created_at).date().isoformat(),
                "reviewRating": {"@type": "Rating", "ratingValue": r.rating, "bestRating": 5, "worstRating": 1},
                **({"name": r.title} if r.title else {}),
                **({"reviewBody": r.body} if r.body else {}),  # a rating-only review has none
            }
            for r in reviews
        ]
    return script_safe_json(data)


# Characters that could end or confuse the surrounding <script> element (or an HTML parser
# reading it) are written as JSON escapes, which every JSON parser reads back unchanged.
_SCRIPT_ESCAPES = str.maketrans({"<": "\\u003c", ">": "\\u003e", "&": "\\u0026",
                                 "\u2028": "\\u2028", "\u2029": "\\u2029"})


def script_safe_json(data: Any) -> str:
    """JSON that is safe to paste inside <script type="application/ld+json">."""
    return json.dumps(data, ensure_ascii=False).translate(_SCRIPT_ESCAPES)
