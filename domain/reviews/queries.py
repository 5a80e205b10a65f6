"""Read side of reviews: product listings with keyset pagination, queues, media."""

from __future__ import annotations

from datetime import timedelta

from tortoise.expressions import Q, Subquery

from domain import clock
from domain.catalog.models import Product
from domain.pagination import NEWEST_ID, Page, PageRequest, keyset_page
from domain.reviews.jobs import negative_unanswered
from domain.reviews.models import Answer, Question, Review, ReviewMedia, ReviewReport
from domain.settings import get_settings

# sort -> [(field, descending)]. A review's date is `created_at` (an import keeps its original
# date, so insertion order is not date order); newer first breaks ties, `id` last makes every
# key unique.
SORTS: dict[str, list[tuple[str, bool]]] = {
    "NEWEST": [("created_at", True), ("id", True)],
    "MOST_HELPFUL": [("helpful_count", True), ("created_at", True), ("id", True)],
    "WITH_MEDIA_FIRST": [("has_media", True), ("created_at", True), ("id", True)],
    "RATING_HIGH": [("rating", True), ("created_at", True), ("id", True)],
    "RATING_LOW": [("rating", False), ("created_at", True), ("id", True)],
}
NEWEST = [f"-{field}" for field, _ in SORTS["NEWEST"]]
# The moderation queue may hold every review ever published or rejected: counted only in the
# views that are a bounded work queue.
COUNTED_QUEUES = {None, "pending"}


async def product_reviews(
    product: Product, request: PageRequest, sort: str,
    rating: int | None = None, with_media: bool | None = None, verified_only: bool = False,
) -> Page[Review]:
    qs = Review.filter(product_id=product.id, status="published")
    if rating is not None:
        qs = qs.filter(rating=rating)
    if with_media is not None:
        qs = qs.filter(has_media=with_media)
    if verified_only:
        qs = qs.filter(verified_purchase=True)

    async def count() -> int:
        # The review summary already holds the unfiltered and per-rating counts; other filters
        # count the product's reviews (one product's rows on the product index).
        if with_media is None and not verified_only:
            return product.review_count if rating is None else product.rating_histogram[rating - 1]
        return await qs.count()

    return await keyset_page(qs, SORTS[sort], request, count=count)


async def newest_published(product_id: int, n: int) -> list[Review]:
    return await Review.filter(product_id=product_id, status="published").order_by(*NEWEST).limit(n)


async def media_for(review_ids: list[int], public: bool) -> dict[int, list[ReviewMedia]]:
    qs = ReviewMedia.filter(review_id__in=review_ids)
    if public:
        qs = qs.filter(status="published")
    grouped: dict[int, list[ReviewMedia]] = {i: [] for i in review_ids}
    for media in await qs.order_by("id"):
        grouped[media.review_id].append(media)
    return grouped


async def moderation_queue(request: PageRequest, status: str | None, rating: int | None = None,
                           with_media: bool | None = None, product_external_id: str | None = None) -> Page[Review]:
    """Reviews in one state, or (status None) every review waiting for a moderator: held ones
    and published ones that members reported since the last decision. Narrowed by stars, by
    having photos or videos (in any moderation state but rejected) and by product."""
    if status is None:
        qs = Review.filter(Q(status="pending") | Q(status="published", open_reports__gt=0))
    else:
        qs = Review.filter(status=status)
    if rating is not None:
        qs = qs.filter(rating=rating)
    if with_media is not None:
        with_files = ReviewMedia.filter(status__in=("pending", "published")).values("review_id")
        qs = qs.filter(id__in=Subquery(with_files)) if with_media else qs.exclude(id__in=Subquery(with_files))
    if product_external_id is not None:
        qs = qs.filter(product__external_id=product_external_id)
    return await keyset_page(qs, NEWEST_ID, request, prefetch=("product",),
                             count=qs.count if status in COUNTED_QUEUES else None)


async def reports_for(review_ids: list[int]) -> dict[int, list[ReviewReport]]:
    grouped: dict[int, list[ReviewReport]] = {i: [] for i in review_ids}
    for row in await ReviewReport.filter(review_id__in=review_ids).order_by("id"):
        grouped[row.review_id].append(row)
    return grouped


async def awaiting_reply(request: PageRequest, overdue: bool | None) -> Page[Review]:
    """Negative published reviews without a reply; `overdue` splits them at the SLA."""
    qs = negative_unanswered()
    deadline = clock.now() - timedelta(hours=get_settings().review_reply_sla_hours)
    # The SLA counts from when Patron received the review (not an import's original date).
    if overdue is True:
        qs = qs.filter(received_at__lte=deadline)
    elif overdue is False:
        qs = qs.filter(received_at__gt=deadline)
    # Counted: negative reviews without a reply are a work queue that replies drain.
    return await keyset_page(qs, NEWEST_ID, request, prefetch=("product",), count=qs.count)


async def product_questions(product_id: int, request: PageRequest) -> Page[Question]:
    qs = Question.filter(product_id=product_id, status="published")
    return await keyset_page(qs, NEWEST_ID, request, count=qs.count)


async def question_queue(request: PageRequest) -> Page[Question]:
    """Questions waiting for a moderator, newest first, with their product (the console's inbox)."""
    qs = Question.filter(status="pending")
    return await keyset_page(qs, NEWEST_ID, request, prefetch=("product",), count=qs.count)


async def answer_queue(request: PageRequest) -> Page[Answer]:
    """Answers waiting for a moderator, newest first, with their question and its product."""
    qs = Answer.filter(status="pending")
    return await keyset_page(qs, NEWEST_ID, request, prefetch=("question__product",), count=qs.count)


async def answers_for(question_ids: list[int]) -> dict[int, list[Answer]]:
    grouped: dict[int, list[Answer]] = {i: [] for i in question_ids}
    for row in await Answer.filter(question_id__in=question_ids, status="published").order_by("id"):
        grouped[row.question_id].append(row)
    return grouped
