"""Message types, their policies (defaults and the admin's changes) and the fixed rules.

A type without a `message_policies` row uses its defaults below; `updateMessagePolicy`
writes the row. Every rule's figures (cap, product repeat window, quiet hours, points lead
days, per-category delays) are per policy, with issue 12's defaults.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from domain import clock
from domain.db import write_transaction
from domain.errors import InvalidInput
from domain.members.service import PURPOSES
from domain.messaging.models import MessagePolicy
from domain.settings import get_settings

CHANNELS = ("EMAIL", "WEBHOOK")
STATUSES = ("SCHEDULED", "SENT", "DELIVERED", "SUPPRESSED", "FAILED", "CANCELLED")
# Types about products the member may have reviewed meanwhile (a reviewed product is dropped).
REVIEW_TYPES = frozenset({"REVIEW_REQUEST", "REVIEW_REMINDER"})
# Consent purposes whose messages are advertising: "(광고)" in ko, the brand's name and contact.
MARKETING_PURPOSES = frozenset({"MARKETING_EMAIL", "MARKETING_SMS"})
# NIGHT_MESSAGES and PERSONALIZATION are not message purposes (they change timing only).
MESSAGE_PURPOSES = tuple(p for p in PURPOSES if p not in ("NIGHT_MESSAGES", "PERSONALIZATION"))

MAX_DELAY_HOURS = 24 * 365
# The rules' defaults (issue 12); each policy may change them (updateMessagePolicy).
CAP_MESSAGES, CAP_DAYS = 5, 30  # per member and channel, across types, unless the policy is cap-exempt
PRODUCT_CAP_DAYS = 365  # one review request per product per member
QUIET_START_HOUR, QUIET_END_HOUR = 21, 8  # local time; moved to QUIET_END_HOUR without NIGHT_MESSAGES
MAX_CAP_MESSAGES, MAX_CAP_DAYS, MAX_REPEAT_DAYS = 100, 365, 3650
MAX_LEADS, MAX_LEAD_DAYS = 5, 365
MAX_CATEGORY_DELAYS, MAX_CATEGORY = 100, 255
# Settings that mean something for some types only: given for another type they are INVALID.
ONLY_FOR = {
    "product_repeat_days": ("productRepeatDays", frozenset({"REVIEW_REQUEST"})),
    "lead_days": ("leadDays", frozenset({"POINTS_EXPIRING"})),
    "category_delays": ("categoryDelays", frozenset({"REVIEW_REQUEST", "SATISFACTION_SURVEY"})),
}
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
    # At most cap_messages sent messages per member and channel in cap_days, across the
    # counted types, before a message of this type goes out (unless cap_exempt).
    cap_messages: int = CAP_MESSAGES
    cap_days: int = CAP_DAYS
    # REVIEW_REQUEST: a product is asked about at most once in this many days.
    product_repeat_days: int = PRODUCT_CAP_DAYS
    # Local hours [start, end) (wrapping midnight) when nothing goes out without NIGHT_MESSAGES;
    # start == end: none.
    quiet_start: int = QUIET_START_HOUR
    quiet_end: int = QUIET_END_HOUR
    # POINTS_EXPIRING: days before a lot expires, longest first; None: PATRON_POINTS_EXPIRING_DAYS.
    lead_days: tuple[int, ...] | None = None
    # REVIEW_REQUEST, SATISFACTION_SURVEY: delayHours by order line category.
    category_delays: tuple[tuple[str, int], ...] = ()

    def leads(self) -> tuple[int, ...]:
        return self.lead_days if self.lead_days is not None else get_settings().points_expiring_leads

    def delay_for(self, categories: list[str | None]) -> int:
        """The delay for an order's lines: the longest of their categories' delays (each line's
        category override, else delayHours), so every product listed has been in use long enough."""
        overrides = dict(self.category_delays)
        return max((overrides.get(c, self.delay_hours) for c in categories if c is not None),
                   default=self.delay_hours) if overrides else self.delay_hours

    def quiet_at(self, hour: int) -> bool:
        """Whether a local hour is inside this policy's quiet hours."""
        if self.quiet_start == self.quiet_end:
            return False
        if self.quiet_start > self.quiet_end:
            return hour >= self.quiet_start or hour < self.quiet_end
        return self.quiet_start <= hour < self.quiet_end

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
    return Policy(row.type, row.enabled, tuple(row.channels), row.delay_hours, row.consent_purpose, row.cap_exempt,
                  row.cap_messages, row.cap_days, row.product_repeat_days, row.quiet_start_hour, row.quiet_end_hour,
                  tuple(row.lead_days) if row.lead_days is not None else None,
                  tuple((c, h) for c, h in (row.category_delays or {}).items()))


def _check_range(changes: dict[str, Any], key: str, field: str, low: int, high: int) -> None:
    value = changes.get(key)
    if value is not None and not low <= value <= high:
        raise InvalidInput(f"{field} must be between {low} and {high}", field)


def _check_settings(type_: str, changes: dict[str, Any]) -> None:
    """The per-policy rule settings; raises InvalidInput naming the field."""
    for key, (field, types) in ONLY_FOR.items():
        if changes.get(key) is not None and type_ not in types:
            raise InvalidInput(f"{field} applies to {', '.join(sorted(types))} only", field)
    _check_range(changes, "cap_messages", "capMessages", 1, MAX_CAP_MESSAGES)
    _check_range(changes, "cap_days", "capDays", 1, MAX_CAP_DAYS)
    _check_range(changes, "product_repeat_days", "productRepeatDays", 0, MAX_REPEAT_DAYS)
    _check_range(changes, "quiet_start", "quietHoursStart", 0, 23)
    _check_range(changes, "quiet_end", "quietHoursEnd", 0, 23)
    leads = changes.get("lead_days")
    if leads is not None:
        if not 1 <= len(leads) <= MAX_LEADS or len(set(leads)) != len(leads) or not all(
                1 <= d <= MAX_LEAD_DAYS for d in leads):
            raise InvalidInput(f"leadDays: 1 to {MAX_LEADS} different days, each 1 to {MAX_LEAD_DAYS}", "leadDays")
        changes["lead_days"] = tuple(sorted(leads, reverse=True))
    delays = changes.get("category_delays")
    if delays is not None:
        categories = [c for c, _ in delays]
        if len(delays) > MAX_CATEGORY_DELAYS or len(set(categories)) != len(categories) or not all(
                1 <= len(c) <= MAX_CATEGORY and 0 <= h <= MAX_DELAY_HOURS for c, h in delays):
            raise InvalidInput(f"categoryDelays: at most {MAX_CATEGORY_DELAYS}, each category once (1 to "
                               f"{MAX_CATEGORY} characters) with 0 to {MAX_DELAY_HOURS} hours", "categoryDelays")
        changes["category_delays"] = tuple(delays)


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
    _check_settings(type_, changes)
    async with write_transaction():
        row = await MessagePolicy.select_for_update().get_or_none(type=type_)
        current = _from_row(row) if row else DEFAULTS[type_]
        new = replace(current, **{k: v for k, v in changes.items() if v is not None})
        values = {"enabled": new.enabled, "channels": list(new.channels), "delay_hours": new.delay_hours,
                  "consent_purpose": new.consent_purpose, "cap_exempt": new.cap_exempt,
                  "cap_messages": new.cap_messages, "cap_days": new.cap_days,
                  "product_repeat_days": new.product_repeat_days, "quiet_start_hour": new.quiet_start,
                  "quiet_end_hour": new.quiet_end,
                  "lead_days": list(new.lead_days) if new.lead_days is not None else None,
                  "category_delays": dict(new.category_delays) or None, "updated_at": clock.now()}
        if row is None:
            await MessagePolicy.create(type=type_, **values)
        else:
            await MessagePolicy.filter(id=row.id).update(**values)
        return new
