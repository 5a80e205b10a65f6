"""What Patron does with a member's data: the transparency statement behind `myDataUsage`.

Every statement must be true of the running code, so each one (and each data item it
says it reads) names the code path that makes it true (`needs`, "module:function").
A statement or item whose code path does not exist is not shown: a promise such as
"review requests" or "points reminders" appears only once Patron really sends them.
tests/test_hostile_erasure.py ties every statement to its code path. The engagement messages'
statements depend on the message policies of the moment, so they are built from them
(domain/messaging/disclosure.py) and added by the resolver.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from functools import cache
from typing import Any


@cache
def exists(path: str) -> bool:
    """Whether "package.module:attribute" (or ":Model.field") is in the running code."""
    module_name, _, attribute = path.partition(":")
    try:
        target: Any = importlib.import_module(module_name)
    except ModuleNotFoundError:
        return False
    for part in attribute.split("."):
        if not part:
            continue
        fields_map = getattr(getattr(target, "_meta", None), "fields_map", None)
        if fields_map is not None and part not in dir(target):
            if part not in fields_map:
                return False
            continue
        if not hasattr(target, part):
            return False
        target = getattr(target, part)
    return True


@dataclass(frozen=True)
class Read:
    what: str
    needs: str  # the code path that reads it


@dataclass(frozen=True)
class Statement:
    feature: str
    needs: str  # the code path that is the feature
    reads: tuple[Read, ...]
    purpose: str | None  # the consent that gates it, None when it is the service itself
    why: str

    def shown(self) -> bool:
        return exists(self.needs) and any(exists(r.needs) for r in self.reads)

    def as_dict(self) -> dict[str, Any]:
        return {"feature": self.feature, "reads": [r.what for r in self.reads if exists(r.needs)],
                "purpose": self.purpose, "why": self.why}


STATEMENTS: tuple[Statement, ...] = (
    Statement(
        "Points and rewards", "domain.ledger.service:award",
        (
            Read("orders (amounts, SKUs, categories, dates)", "domain.rules.service:award_order"),
            Read("refunds", "domain.orders.service:record_refund"),
            Read("signup", "domain.members.service:upsert_member"),
            Read("birthday (for a birthday bonus)", "domain.jobs:birthday_bonuses"),
            Read("activities recorded for you (shares, surveys, links to your photos or videos)",
                 "domain.rules.activities:record"),
            Read("who referred you, and whom you referred", "domain.rules.activities:convert_referrals"),
        ),
        None, "To credit, hold, expire and reverse points as the program rules say, and to issue the codes of "
              "rewards you redeem.",
    ),
    Statement(
        "VIP tiers", "domain.tiers.service:evaluate_upgrade",
        (
            Read("orders (spend and count in the tier window)", "domain.tiers.service:member_stats"),
            Read("points earned", "domain.tiers.service:member_stats"),
            Read("paid memberships", "domain.tiers.service:granted_tier"),
        ),
        None, "To place you in the tier your activity qualifies for.",
    ),
    Statement(
        "Reviews and questions", "domain.reviews.service:submit_review",
        (
            Read("your name, shown as first name and initial (e.g. Ann L.)", "domain.reviews.service:display_name"),
            Read("orders (to mark a review as a verified purchase)", "domain.reviews.service:has_purchased"),
            Read("photos and videos you upload (location and other metadata removed)",
                 "domain.reviews.media:check_and_store"),
        ),
        None, "To publish what you write with a display name, never your e-mail.",
    ),
    Statement(
        "Subscriptions", "domain.subscriptions.service:subscribe",
        (Read("your subscriptions and their history", "domain.subscriptions.service:act"),
         Read("renewal orders", "domain.subscriptions.service:renew_with_order")),
        None, "To run the deliveries and memberships you subscribed to.",
    ),
    Statement(
        "Personalized recommendations", "domain.recommendations.service:personalization_allowed",
        (
            Read("orders", "domain.recommendations.service:recommend"),
            Read("product views and cart additions", "domain.recommendations.service:track"),
            Read("review ratings", "domain.recommendations.training:build"),
            Read("the hours you are usually active", "domain.recommendations.service:preferred_contact_hour"),
        ),
        "PERSONALIZATION", "Only with your consent; otherwise you see non-personal (trending) suggestions. With it, "
                           "the messages you agreed to also go at the hour you are usually active.",
    ),
    Statement(
        "The store's own systems", "domain.webhooks.service:fan_out",
        (Read("events about your account (profile, points, orders, reviews, subscriptions)",
              "domain.webhooks.delivery:deliver"),),
        None, "Patron sends these events to the systems the store connects (webhooks).",
    ),
    Statement(
        "Consent record", "domain.members.service:update_consents",
        (Read("the consents you give or withdraw, with time and source", "domain.members.models:ConsentChange"),),
        None, "So the store knows what you agreed to, and sends you only the messages you agreed to.",
    ),
    # Promises that appear only when Patron really does them (no such code today).
    Statement(
        "Marketing SMS / messenger", "domain.messaging.sms:send_marketing_sms",
        (Read("phone number", "domain.members.models:Member.phone"),),
        "MARKETING_SMS", "Only with your consent.",
    ),
)


def features() -> list[dict[str, Any]]:
    """The statements true of this running Patron."""
    return [s.as_dict() for s in STATEMENTS if s.shown()]

