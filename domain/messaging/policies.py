"""Message types, their policies (defaults and the admin's changes) and the fixed rules.

A type without a `message_policies` row uses its defaults below; `updateMessagePolicy`
writes the row. Only the types Patron really plans and sends are listed (README, "Engagement
messages", says which of issue 12's types are not built yet).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from domain import clock
from domain.db import write_transaction
from domain.errors import InvalidInput
from domain.members.service import PURPOSES
from domain.messaging.models import MessagePolicy

CHANNELS = ("EMAIL", "WEBHOOK")
STATUSES = ("SCHEDULED", "SENT", "DELIVERED", "SUPPRESSED", "FAILED", "CANCELLED")
# Types about products the member may have reviewed meanwhile (a reviewed product is dropped).
REVIEW_TYPES = frozenset({"REVIEW_REQUEST", "REVIEW_REMINDER"})
# Consent purposes whose messages are advertising: "(광고)" in ko, the brand's name and contact.
MARKETING_PURPOSES = frozenset({"MARKETING_EMAIL", "MARKETING_SMS"})
# NIGHT_MESSAGES and PERSONALIZATION are not message purposes (they change timing only).
MESSAGE_PURPOSES = tuple(p for p in PURPOSES if p not in ("NIGHT_MESSAGES", "PERSONALIZATION"))

MAX_DELAY_HOURS = 24 * 365
# Caps (issue 12's defaults).
CAP_MESSAGES, CAP_DAYS = 5, 30  # per member and channel, across types, unless the policy is cap-exempt
PRODUCT_CAP_DAYS = 365  # one review request per product per member
QUIET_START_HOUR, QUIET_END_HOUR = 21, 8  # local time; moved to QUIET_END_HOUR without NIGHT_MESSAGES
SEND_ATTEMPTS = 3  # e-mail attempts before FAILED
RETRY_MINUTES = 5  # times the attempt number


@dataclass(frozen=True)
class Policy:
    type: str
    enabled: bool
    channels: tuple[str, ...]
    # REVIEW_REQUEST, SATISFACTION_SURVEY: after fulfilment; REVIEW_REMINDER: after the request
    # was sent; FEEDBACK_THANKS: after the improvement was recorded;
    # POINTS_EXPIRING: after the notice day (PATRON_POINTS_EXPIRING_DAYS before expiry);
    # TIER_CHANGED: after the change; BIRTHDAY: after local midnight of the birthday;
    # WIN_BACK: without an order (the lapse); CART_REMINDER: after the last add-to-cart.
    delay_hours: int
    consent_purpose: str
    cap_exempt: bool

    @property
    def marketing(self) -> bool:
        return self.consent_purpose in MARKETING_PURPOSES

    def purpose_for(self, channel: str) -> str:
        """The consent a message on this channel needs: advertising by e-mail needs
        MARKETING_EMAIL, by the brand's SMS/push provider (WEBHOOK) MARKETING_SMS."""
        if self.marketing:
            return "MARKETING_EMAIL" if channel == "EMAIL" else "MARKETING_SMS"
        return self.consent_purpose


DEFAULTS: dict[str, Policy] = {
    "REVIEW_REQUEST": Policy("REVIEW_REQUEST", True, ("EMAIL",), 336, "REVIEW_REQUESTS", False),
    "REVIEW_REMINDER": Policy("REVIEW_REMINDER", True, ("EMAIL",), 168, "REVIEW_REQUESTS", False),
    "SATISFACTION_SURVEY": Policy("SATISFACTION_SURVEY", True, ("EMAIL",), 504, "REVIEW_REQUESTS", False),
    "FEEDBACK_THANKS": Policy("FEEDBACK_THANKS", True, ("EMAIL",), 0, "REVIEW_REQUESTS", False),
    # Service notices are cap-exempt: they protect the member's own points and status, and a
    # month of marketing must not hide them (each is bounded by its occasion, see occasions.py).
    "POINTS_EXPIRING": Policy("POINTS_EXPIRING", True, ("EMAIL",), 0, "SERVICE_NOTICES", True),
    "TIER_CHANGED": Policy("TIER_CHANGED", True, ("EMAIL",), 0, "SERVICE_NOTICES", True),
    "BIRTHDAY": Policy("BIRTHDAY", True, ("EMAIL",), 10, "MARKETING_EMAIL", False),
    "WIN_BACK": Policy("WIN_BACK", True, ("EMAIL",), 2160, "MARKETING_EMAIL", False),
    "CART_REMINDER": Policy("CART_REMINDER", True, ("EMAIL",), 48, "MARKETING_EMAIL", False),
}
TYPES = tuple(DEFAULTS)


def _from_row(row: MessagePolicy) -> Policy:
    return Policy(row.type, row.enabled, tuple(row.channels), row.delay_hours, row.consent_purpose, row.cap_exempt)


async def policy(type_: str) -> Policy:
    row = await MessagePolicy.get_or_none(type=type_)
    return _from_row(row) if row else DEFAULTS[type_]


async def all_policies() -> list[Policy]:
    rows = {r.type: r for r in await MessagePolicy.all()}
    return [_from_row(rows[t]) if t in rows else DEFAULTS[t] for t in TYPES]


async def cap_exempt_types() -> set[str]:
    return {p.type for p in await all_policies() if p.cap_exempt}


async def update_policy(type_: str, changes: dict[str, Any]) -> Policy:
    """Change the fields given; the rest keep their current value. Scheduled messages follow
    the policy as it is at send time (a disabled type cancels them then)."""
    if type_ not in DEFAULTS:
        raise InvalidInput(f"Unknown message type {type_}", "type")
    channels = changes.get("channels")
    if channels is not None:
        if not channels or len(set(channels)) != len(channels) or set(channels) - set(CHANNELS):
            raise InvalidInput(f"channels: one or more of {', '.join(CHANNELS)}, each once", "channels")
        changes["channels"] = tuple(channels)
    delay = changes.get("delay_hours")
    if delay is not None and not 0 <= delay <= MAX_DELAY_HOURS:
        raise InvalidInput(f"delayHours must be between 0 and {MAX_DELAY_HOURS}", "delayHours")
    purpose = changes.get("consent_purpose")
    if purpose is not None and purpose not in MESSAGE_PURPOSES:
        raise InvalidInput(f"consentPurpose must be one of {', '.join(MESSAGE_PURPOSES)}", "consentPurpose")
    async with write_transaction():
        row = await MessagePolicy.select_for_update().get_or_none(type=type_)
        current = _from_row(row) if row else DEFAULTS[type_]
        new = replace(current, **{k: v for k, v in changes.items() if v is not None})
        values = {"enabled": new.enabled, "channels": list(new.channels), "delay_hours": new.delay_hours,
                  "consent_purpose": new.consent_purpose, "cap_exempt": new.cap_exempt, "updated_at": clock.now()}
        if row is None:
            await MessagePolicy.create(type=type_, **values)
        else:
            await MessagePolicy.filter(id=row.id).update(**values)
        return new
