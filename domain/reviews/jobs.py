"""Review jobs: announce negative reviews left without a reply past the SLA (once each)."""

from __future__ import annotations

from datetime import datetime, timedelta

from domain.db import write_transaction
from domain.reviews.models import Review
from domain.reviews.service import record_review_event
from domain.settings import get_settings


def negative_unanswered():
    return Review.filter(status="published", rating__lte=get_settings().review_negative_max_rating,
                         reply_body__isnull=True)


def reply_due_at(review: Review) -> datetime | None:
    """When the store's reply to this review is due: negative, published, not answered yet."""
    settings = get_settings()
    if (review.status != "published" or review.rating > settings.review_negative_max_rating
            or review.reply_body is not None or review.received_at is None):
        return None
    return review.received_at + timedelta(hours=settings.review_reply_sla_hours)


async def announce_overdue_replies(now: datetime) -> int:
    """The SLA counts from when Patron received the review (an import's original date is older),
    and imports that were already past the SLA when received are never announced."""
    sla_hours = get_settings().review_reply_sla_hours
    deadline = now - timedelta(hours=sla_hours)
    due = await negative_unanswered().filter(
        reply_overdue_at__isnull=True, reply_sla_applies=True, received_at__lte=deadline,
    ).order_by("id").limit(500)
    for review in due:
        async with write_transaction():
            fresh = await Review.select_for_update().get(id=review.id)
            if fresh.reply_overdue_at is not None or fresh.reply_body is not None:
                continue
            fresh.reply_overdue_at = now
            await fresh.save(update_fields=["reply_overdue_at"])
            await record_review_event("review.reply_overdue", fresh, {
                "slaHours": sla_hours, "submittedAt": fresh.created_at.isoformat(),
                "receivedAt": (fresh.received_at or fresh.created_at).isoformat()})
    return len(due)
