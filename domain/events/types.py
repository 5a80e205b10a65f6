"""Every event type Patron records, and how patterns name them.

A leaf module: it imports nothing of Patron, so any layer (webhook patterns, API key
scopes, the bus, tests) can name event types without importing the code that records them.
"""

from __future__ import annotations

import fnmatch

EVENT_TYPES: tuple[str, ...] = (
    "member.created",
    "member.updated",
    "member.anonymized",
    "member.tier_changed",
    "order.recorded",
    "order.refunded",
    "order.fulfilled",
    "points.earned",
    "points.released",
    "points.redeemed",
    "points.expired",
    "points.reversed",
    "points.adjusted",
    "review.created",
    "review.published",
    "review.rejected",
    "review.unpublished",
    "review.deleted",
    "review.replied",
    "review.reply_overdue",
    "question.created",
    "question.answered",
    "reward.redeemed",
    "reward.code_used",
    "reward.code_use_undone",
    "reward.cancelled",
    "reward.code_expired",
    "reward.granted",
    "segment.entered",
    "segment.exited",
    "subscription.created",
    "subscription.paused",
    "subscription.resumed",
    "subscription.skipped",
    "subscription.unskipped",
    "subscription.swapped",
    "subscription.interval_changed",
    "subscription.rescheduled",
    "subscription.cancelled",
    "subscription.retention_accepted",
    "subscription.renewal_due",
    "subscription.renewed",
    "subscription.renewal_failed",
    "subscription.past_due",
    "subscription.expired",
    "message.due",
    "feedback.negative",
    "webhook.endpoint_disabled",
    "webhook.test",
)


def matches(patterns: list[str], event_type: str) -> bool:
    """Whether any pattern ("*", "points.*", or an exact type) names this event type."""
    return any(p == "*" or fnmatch.fnmatchcase(event_type, p) for p in patterns)
