"""What Patron does with a member's data: the transparency statement behind `myDataUsage`."""

from __future__ import annotations

from typing import Any

# feature -> (data it reads, consent purpose that gates it, or None when it is the service itself)
FEATURES: list[dict[str, Any]] = [
    {
        "feature": "Points and rewards",
        "reads": ["orders (amounts, categories, dates)", "refunds", "signup date", "birthday"],
        "purpose": None,
        "why": "To credit, hold, expire and reverse points as the program rules say.",
    },
    {
        "feature": "VIP tiers",
        "reads": ["orders (spend and count in the tier window)", "points earned"],
        "purpose": None,
        "why": "To place you in the tier your activity qualifies for.",
    },
    {
        "feature": "Personalized recommendations",
        "reads": ["orders", "product views and cart additions", "review ratings", "activity times"],
        "purpose": "PERSONALIZATION",
        "why": "Only with your consent; otherwise you see non-personal (trending) suggestions.",
    },
    {
        "feature": "Marketing e-mail",
        "reads": ["e-mail address", "name", "points balance and expiry dates"],
        "purpose": "MARKETING_EMAIL",
        "why": "Only with your consent: offers, points reminders.",
    },
    {
        "feature": "Marketing SMS / messenger",
        "reads": ["phone number held by the store", "points balance"],
        "purpose": "MARKETING_SMS",
        "why": "Only with your consent.",
    },
    {
        "feature": "Review requests",
        "reads": ["orders (products and fulfilment dates)", "e-mail address"],
        "purpose": "REVIEW_REQUESTS",
        "why": "Only with your consent: at most one request per product.",
    },
]
