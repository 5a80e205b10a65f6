"""API-key scopes (Shopify-style access scopes): what a storefront or partner key may receive.

A key has a role (what it may call, schema/permissions.py) and a set of scopes chosen by the
admin (what data it may receive). Admin keys implicitly hold every scope. Every event type
belongs to exactly one `events:*` scope (by its family, the part before the dot), and the
personal fields of members need `members:pii` wherever they appear: query answers,
webhook payloads and stored delivery logs (domain/members/personal_data.py says which).
"""

from __future__ import annotations

from collections.abc import Iterable

from domain.errors import DomainError

# scope -> what it grants (the README's scope table says the same).
SCOPES: dict[str, str] = {
    "events:members": "member.created, member.updated, member.anonymized, member.tier_changed events",
    "events:orders": "order.recorded, order.refunded, order.fulfilled events",
    "events:points": "points.* events (earned, released, redeemed, expired, reversed, adjusted)",
    "events:reviews": "review.* and question.* events (reviews, replies, Q&A)",
    "events:rewards": "reward.* events (redemptions with their codes, code use, cancellation, expiry)",
    "events:subscriptions": "subscription.* events (subscriptions and paid memberships)",
    "events:segments": "segment.entered and segment.exited events (a member entered or left a segment at its "
                       "nightly evaluation)",
    "events:messages": "message.due events (engagement messages for the brand's SMS/push provider); "
                       "they carry the member's contact, so they also need members:pii",
    "events:feedback": "feedback.negative events (a low satisfaction survey score, for the brand's CS tool; "
                       "the comment only with members:pii)",
    "events:webhooks": "webhook.test and webhook.endpoint_disabled about the key's own endpoints (every key holds it)",
    "insights:read": "programInsights and the CSV exports (/exports/insights.csv: KPIs, no member data; "
                     "/exports/segments/<id>.csv: members' external IDs and figures, e-mail only with members:pii)",
    "reviews:moderate": "the review moderation queue, moderation decisions, replies and the reply SLA list, "
                        "with the text of reviews not yet published (but no member e-mail or profile)",
    "members:support": "the support desk: look a member up (member, members with search), read their whole record "
                       "and adjust their points with a reason (adjustPoints); personal fields still need members:pii",
    "members:pii": "members' personal fields (email, name, birthday, phone, free text they wrote) "
                   "in query answers, webhook payloads and delivery logs",
}

# The family of an event type (the part before the first dot) -> the scope that receives it.
EVENT_FAMILY_SCOPES: dict[str, str] = {
    "member": "events:members",
    "order": "events:orders",
    "points": "events:points",
    "review": "events:reviews",
    "question": "events:reviews",
    "reward": "events:rewards",
    "subscription": "events:subscriptions",
    "segment": "events:segments",
    "webhook": "events:webhooks",
    "message": "events:messages",
    "feedback": "events:feedback",
}
# Event types whose whole point is personal data (a message with the member's e-mail and phone
# for the provider that sends it): only owners holding members:pii receive them at all.
PII_ONLY_EVENTS = frozenset({"message.due"})

PII = "members:pii"
INSIGHTS = "insights:read"
SUPPORT = "members:support"
MODERATE = "reviews:moderate"
# About the key's own endpoints only, so no reason to withhold it: every key holds it.
IMPLICIT = frozenset({"events:webhooks"})

# Keys created without scopes, and keys that existed before scopes (migration 0002).
# Least privilege that keeps today's integrations working: a partner receives every event
# family but no personal data; a storefront (which cannot register webhooks) holds nothing
# beyond the implicit scope, so it may write members but not read their personal data back.
DEFAULT_SCOPES: dict[str, tuple[str, ...]] = {
    "admin": tuple(SCOPES),
    "storefront": (),
    "partner": ("events:members", "events:orders", "events:points", "events:reviews", "events:rewards",
                "events:subscriptions"),
}


# Staff roles of the merchant console (domain/staff/) -> the API viewer they act as. Owners and
# admins act as an admin key (every scope); the others as a "staff" viewer holding exactly
# these scopes, so every permission check of the API applies to them unchanged.
STAFF_ADMIN_ROLES = ("owner", "admin")
STAFF_ROLE_SCOPES: dict[str, tuple[str, ...]] = {
    "owner": tuple(SCOPES),
    "admin": tuple(SCOPES),
    "moderator": (MODERATE,),  # reviews, photos, replies; never a member's e-mail or profile
    "support": (PII, SUPPORT),  # member look-up (Member 360) and points adjustments with a reason
    "marketer": (INSIGHTS,),  # programInsights
    "viewer": (),
}


class UnknownScope(DomainError):
    code = "UNKNOWN_SCOPE"


class ScopeMissing(DomainError):
    code = "SCOPE_MISSING"


def scope_for_event(event_type: str) -> str:
    """The one scope an event type belongs to; KeyError for a family nobody classified."""
    return EVENT_FAMILY_SCOPES[event_type.split(".", 1)[0]]


def normalize(role: str, scopes: Iterable[str] | None) -> list[str]:
    """The scopes to store for a key: validated, de-duplicated, sorted; role defaults when None."""
    if scopes is not None:
        scopes = list(scopes)
        if len(scopes) > 100:
            raise DomainError("Give at most 100 scopes", "scopes", code="INVALID")
    if role == "admin":
        if scopes is not None and set(scopes) - set(SCOPES):
            raise UnknownScope(_unknown_message(set(scopes) - set(SCOPES)), "scopes")
        return sorted(SCOPES)  # an admin holds everything, whatever was asked
    chosen = DEFAULT_SCOPES[role] if scopes is None else list(scopes)
    unknown = set(chosen) - set(SCOPES)
    if unknown:
        raise UnknownScope(_unknown_message(unknown), "scopes")
    return sorted(set(chosen) | IMPLICIT)


def _unknown_message(unknown: set[str]) -> str:
    shown = ", ".join(repr(s[:64]) for s in sorted(unknown)[:5])
    return f"Unknown scope {shown}; known scopes: {', '.join(SCOPES)}"


def effective(role: str, stored: Iterable[str] | None) -> frozenset[str]:
    """What a key holds now: everything for an admin, else its stored scopes (+ the implicit one)."""
    if role == "admin":
        return frozenset(SCOPES)
    return frozenset(stored or ()) | IMPLICIT


def required_scopes(event_type: str) -> str:
    """What an owner must hold to receive this type, e.g. "events:messages and members:pii"."""
    needed = [scope_for_event(event_type)] + ([PII] if event_type in PII_ONLY_EVENTS else [])
    return " and ".join(needed)


def allows_event(scopes: frozenset[str], event_type: str) -> bool:
    try:
        return scope_for_event(event_type) in scopes and (event_type not in PII_ONLY_EVENTS or PII in scopes)
    except KeyError:
        return False  # an unclassified event type reaches nobody but admins
