"""Read side of reviews: product listings with keyset pagination, queues, media."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from tortoise.expressions import Q

from domain import clock
from domain.db import newest_first
from domain.errors import InvalidInput
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
DATE_FIELDS = {"created_at"}
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)


def sort_key(review: Review, sort: str) -> list[Any]:
    """The cursor values of a review: whole numbers only (dates as microseconds since 1970)."""
    return [_to_cursor(getattr(review, field)) for field, _ in SORTS[sort]]


def _to_cursor(value: Any) -> Any:
    return (value - EPOCH) // MICROSECOND if isinstance(value, datetime) else value


def _from_cursor(order: list[tuple[str, bool]], values: list[Any]) -> list[Any]:
    try:
        return [EPOCH + v * MICROSECOND if field in DATE_FIELDS else v
                for (field, _), v in zip(order, values, strict=True)]
    except (OverflowError, TypeError, ValueError):
        raise InvalidInput("after is not a cursor this API issued for this sort", "after") from None


def after(order: list[tuple[str, bool]], values: list[Any]) -> Q:
    """Rows strictly after `values` (the sort's own field values) in the order given."""
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
        qs = qs.filter(after(order, _from_cursor(order, cursor)))
    ordering = [f"-{f}" if desc else f for f, desc in order]
    return await qs.order_by(*ordering).limit(first + 1)


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


async def moderation_queue(first: int, before_id: int | None, status: str | None) -> list[Review]:
    """Reviews in one state, or (status None) every review waiting for a moderator: held ones
    and published ones that members reported since the last decision."""
    if status is None:
        qs = Review.filter(Q(status="pending") | Q(status="published", open_reports__gt=0))
    else:
        qs = Review.filter(status=status)
    return await newest_first(qs, first, before_id).prefetch_related("product")


async def reports_for(review_ids: list[int]) -> dict[int, list[ReviewReport]]:
    grouped: dict[int, list[ReviewReport]] = {i: [] for i in review_ids}
    for row in await ReviewReport.filter(review_id__in=review_ids).order_by("id"):
        grouped[row.review_id].append(row)
    return grouped


async def awaiting_reply(first: int, before_id: int | None, overdue: bool | None) -> list[Review]:
    """Negative published reviews without a reply; `overdue` splits them at the SLA."""
    qs = negative_unanswered()
    deadline = clock.now() - timedelta(hours=get_settings().review_reply_sla_hours)
    # The SLA counts from when Patron received the review (not an import's original date).
    if overdue is True:
        qs = qs.filter(received_at__lte=deadline)
    elif overdue is False:
        qs = qs.filter(received_at__gt=deadline)
    return await newest_first(qs, first, before_id).prefetch_related("product")


async def product_questions(product_id: int, first: int, before_id: int | None) -> list[Question]:
    return await newest_first(Question.filter(product_id=product_id, status="published"), first, before_id)


async def answers_for(question_ids: list[int]) -> dict[int, list[Answer]]:
    grouped: dict[int, list[Answer]] = {i: [] for i in question_ids}
    for row in await Answer.filter(question_id__in=question_ids, status="published").order_by("id"):
        grouped[row.question_id].append(row)
    return grouped
