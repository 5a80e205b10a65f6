"""Which data is personal: the one classification that query answers, webhook payloads and
stored delivery logs all follow. Without the `members:pii` scope these fields are withheld.

Personal: a member's email, name, birthday, phone, and free text the member wrote (review
titles and bodies, comments, answers, questions), plus anything derived from the name (a
review's author display name). Identifiers (`externalId`, `memberExternalId`), amounts,
statuses and codes chosen by Patron or the merchant are not personal in this sense.
"""

from __future__ import annotations

from typing import Any

# Personal keys, wherever they appear in an event payload (a generic rule, so a new event
# that reuses one of these names is covered without a new entry).
PERSONAL_KEYS = frozenset({
    "email", "name", "birthday", "phone",                       # the member's profile
    "author", "authorName",                                     # derived from the name
    "title", "body", "comment", "answer", "question", "text",   # free text written by a member
})

# Ledger sources whose `reason` a person typed (a member's checkout, an admin's adjustment, an
# entry with no source): free text that may name the member, so personal. Other reasons are
# Patron's own words ("Order 1001", "Signup bonus"). Erasure scrubs the same reasons.
CALLER_TEXT_SOURCES = frozenset({"checkout", "adjustment", None})


def is_personal_reason(source_type: str | None) -> bool:
    return source_type in CALLER_TEXT_SOURCES


# Every event type -> the personal keys its payload carries (empty: none). Reviewed by hand
# for each payload builder; tests fail when an event type is missing here, and when a
# recorded payload carries a personal value this map and PERSONAL_KEYS do not remove.
EVENT_PERSONAL_FIELDS: dict[str, tuple[str, ...]] = {
    "member.created": ("email", "name", "birthday"),
    "member.updated": ("email", "name", "birthday"),  # `changed` names fields, never values
    "member.anonymized": (),
    "member.tier_changed": (),
    "order.recorded": (),
    "order.refunded": (),
    "order.fulfilled": (),
    "points.earned": (),
    "points.released": (),
    "points.redeemed": (),
    "points.expired": (),
    "points.reversed": (),
    "points.adjusted": (),  # `reason` is the admin's text: removed by _caller_reason_removed
    "review.created": ("title", "author"),
    "review.published": ("title", "author"),
    "review.rejected": ("title", "author"),
    "review.unpublished": ("title", "author"),
    "review.deleted": ("title", "author"),
    "review.replied": ("title", "author", "reply"),  # the merchant's reply often names the member
    "review.reply_overdue": ("title", "author"),
    "question.created": (),  # the question's text is not in the payload
    "question.answered": (),
    "reward.redeemed": (),
    "reward.code_used": (),
    "reward.code_use_undone": (),
    "reward.cancelled": (),
    "reward.code_expired": (),
    "reward.granted": (),  # `reason` is the brand's campaign text, the same for every member granted
    "segment.entered": (),  # segment id and name (the brand's words), the member's externalId
    "segment.exited": (),
    "subscription.created": (),
    "subscription.paused": (),
    "subscription.resumed": (),
    "subscription.skipped": (),
    "subscription.unskipped": (),
    "subscription.swapped": (),
    "subscription.interval_changed": (),
    "subscription.rescheduled": (),
    "subscription.cancelled": ("comment",),  # the member's cancellation comment
    "subscription.retention_accepted": (),
    "subscription.renewal_due": (),
    "subscription.renewed": (),
    "subscription.renewal_failed": (),
    "subscription.past_due": (),
    "subscription.expired": (),
    # The rendered message and the member's contact (only to owners holding members:pii).
    "message.due": ("email", "name", "subject", "text", "html"),
    "feedback.negative": ("comment",),  # the member's survey comment
    "webhook.endpoint_disabled": (),
    "webhook.test": (),
}

# The Member GraphQL type's personal fields (schema/members.py reads this).
MEMBER_PERSONAL_FIELDS = ("email", "name", "birthday")


def _without(value: Any, keys: frozenset[str]) -> Any:
    if isinstance(value, dict):
        return {k: _without(v, keys) for k, v in value.items() if k not in keys}
    if isinstance(value, list):
        return [_without(v, keys) for v in value]
    return value


def redact_event_payload(event_type: str, payload: dict[str, Any]) -> dict[str, Any]:
    """The payload without personal fields (removed, not nulled: absent means withheld).

    An event type nobody classified sends nothing but its type: withholding is the safe default.
    """
    if event_type not in EVENT_PERSONAL_FIELDS:
        return {}
    return _without(_caller_reason_removed(payload), PERSONAL_KEYS | frozenset(EVENT_PERSONAL_FIELDS[event_type]))


def _caller_reason_removed(payload: dict[str, Any]) -> dict[str, Any]:
    """Points events copy their entry's reason: removed when a person typed it (any event type)."""
    source = payload.get("source")
    if "reason" in payload and isinstance(source, dict) and is_personal_reason(source.get("type")):
        return {k: v for k, v in payload.items() if k != "reason"}
    return payload


def redact_details(details: Any) -> Any:
    """Free-form details (e.g. subscription history) without personal keys."""
    return _without(details, PERSONAL_KEYS)
