"""Read side of reviews: product listings with keyset pagination, queues, media."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from tortoise.expressions import Q

from domain import clock
from domain.db import newest_first
from domain.reviews.jobs import negative_unanswered
from domain.reviews.models import Answer, Question, Review, ReviewMedia
from domain.settings import get_settings

# sort -> [(field, descending)]; `id` last makes every key unique.
SORTS: dict[str, list[tuple[str, bool]]] = {
    "NEWEST": [("id", True)],
    "MOST_HELPFUL": [("helpful_count", True), ("id", True)],
    "WITH_MEDIA_FIRST": [("has_media", True), ("id", True)],
    "RATING_HIGH": [("rating", True), ("id", True)],
    "RATING_LOW": [("rating", False), ("id", True)],
}


def sort_key(review: Review, sort: str) -> list[Any]:
    return [getattr(review, field) for field, _ in SORTS[sort]]


def after(order: list[tuple[str, bool]], values: list[Any]) -> Q:
    """Rows strictly after `values` in the order given (a keyset condition)."""
    clauses = []
    for i, (field, desc) in enumerate(order):
        equal = {name: values[j] for j, (name, _) in enumerate(order[:i])}
        clauses.append(Q(**equal, **{f"{field}__{'lt' if desc else 'gt'}": values[i]}))
    return Q(*clauses, join_type="OR")


async def product_reviews(
    product_id: int, first: int, cursor: list[Any] | None, sort: str,
    rating: int | None = None, with_media: bool | None = None, verified_only: bool = False,
) -> list[Review]:
    order = SORTS[sort]
    qs = Review.filter(product_id=product_id, status="published")
    if rating is not None:
        qs = qs.filter(rating=rating)
    if with_media is not None:
        qs = qs.filter(has_media=with_media)
    if verified_only:
        qs = qs.filter(verified_purchase=True)
    if cursor is not None:
        qs = qs.filter(after(order, cursor))
    ordering = [f"-{f}" if desc else f for f, desc in order]
    return await qs.order_by(*ordering).limit(first + 1)


async def newest_published(product_id: int, n: int) -> list[Review]:
    return await Review.filter(product_id=product_id, status="published").order_by("-id").limit(n)


async def media_for(review_ids: list[int], public: bool) -> dict[int, list[ReviewMedia]]:
    qs = ReviewMedia.filter(review_id__in=review_ids)
    if public:
        qs = qs.filter(status="published")
    grouped: dict[int, list[ReviewMedia]] = {i: [] for i in review_ids}
    for media in await qs.order_by("id"):
        grouped[media.review_id].append(media)
    return grouped


async def moderation_queue(first: int, before_id: int | None, status: str) -> list[Review]:
    return await newest_first(Review.filter(status=status), first, before_id).prefetch_related("product")


async def awaiting_reply(first: int, before_id: int | None, overdue: bool | None) -> list[Review]:
    """Negative published reviews without a reply; `overdue` splits them at the SLA."""
    qs = negative_unanswered()
    deadline = clock.now() - timedelta(hours=get_settings().review_reply_sla_hours)
    if overdue is True:
        qs = qs.filter(created_at__lte=deadline)
    elif overdue is False:
        qs = qs.filter(created_at__gt=deadline)
    return await newest_first(qs, first, before_id).prefetch_related("product")


async def product_questions(product_id: int, first: int, before_id: int | None) -> list[Question]:
    return await newest_first(Question.filter(product_id=product_id, status="published"), first, before_id)


async def answers_for(question_ids: list[int]) -> dict[int, list[Answer]]:
    grouped: dict[int, list[Answer]] = {i: [] for i in question_ids}
    for row in await Answer.filter(question_id__in=question_ids, status="published").order_by("id"):
        grouped[row.question_id].append(row)
    return grouped
