"""Review jobs: announce negative reviews left without a reply past the SLA (once each)."""

from __future__ import annotations

from datetime import datetime, timedelta

from domain.db import write_transaction
from domain.events.service import record_event
from domain.reviews.models import Review
from domain.reviews.service import review_payload
from domain.settings import get_settings


def negative_unanswered():
    return Review.filter(status="published", rating__lte=2, reply_body__isnull=True)


async def announce_overdue_replies(now: datetime) -> int:
    deadline = now - timedelta(hours=get_settings().review_reply_sla_hours)
    due = await negative_unanswered().filter(reply_overdue_at__isnull=True, created_at__lte=deadline).order_by("id").limit(500)
    for review in due:
        async with write_transaction():
            fresh = await Review.select_for_update().get(id=review.id)
            if fresh.reply_overdue_at is not None or fresh.reply_body is not None:
                continue
            fresh.reply_overdue_at = now
            await fresh.save(update_fields=["reply_overdue_at"])
            await record_event("review.reply_overdue", review_payload(fresh) | {
                "slaHours": get_settings().review_reply_sla_hours, "submittedAt": fresh.created_at.isoformat()},
                fresh.member_id)
    return len(due)
