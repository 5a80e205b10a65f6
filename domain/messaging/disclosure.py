"""What `myDataUsage` says about engagement messages, built from the message policies as they
are now (issue 12: it "describes exactly the messages that can be sent").

One statement per consent purpose that some enabled policy sends under on some channel (a
marketing type is MARKETING_EMAIL on EMAIL and MARKETING_SMS on WEBHOOK): which messages, when,
on which channel, under which rules (cap, quiet hours, preferred contact hour, the ad marker),
with the figures of each policy; and what each reads, every item naming the code path that
reads it (domain/members/data_usage.py checks the paths). A disabled type, or a purpose no
enabled policy uses, is not mentioned.
"""

from __future__ import annotations

from typing import Any

from domain.members.data_usage import Read, exists
from domain.messaging import policies
from domain.messaging.policies import Policy

FEATURES = {
    "REVIEW_REQUESTS": "Review requests and feedback",
    "SERVICE_NOTICES": "Service notices",
    "MARKETING_EMAIL": "Marketing e-mail",
    "MARKETING_SMS": "Marketing by SMS or app",
}
NEEDS = "domain.messaging.sending:send_due"
CONTACT = Read("e-mail address, name and language", "domain.messaging.mail:build")
PROVIDER = Read("e-mail address, name and language, sent with the message to the store's messaging provider",
                "domain.messaging.sending:_send")
ZONE = Read("time zone (quiet hours)", "domain.messaging.planning:zone_of")
ACTIVE_HOURS = Read("the hours you are usually active (with PERSONALIZATION consent)",
                    "domain.messaging.planning:at_preferred_hour")
READS = {
    "REVIEW_REQUEST": (Read("orders (products and fulfilment dates)", "domain.orders.models:Order.fulfilled_at"),
                       Read("your reviews (you are not asked about a product you reviewed)",
                            "domain.messaging.planning:unreviewed")),
    "REVIEW_REMINDER": (Read("your reviews (you are not asked about a product you reviewed)",
                             "domain.messaging.planning:unreviewed"),),
    "SATISFACTION_SURVEY": (Read("orders (products and fulfilment dates)", "domain.orders.models:Order.fulfilled_at"),
                            Read("your survey answers (scores and comment)", "domain.feedback.models:SurveyResponse")),
    "FEEDBACK_THANKS": (Read("your reviews and questions the store improved a product from",
                             "domain.feedback.improvements:record"),),
    "POINTS_EXPIRING": (Read("points balance and expiry dates", "domain.messaging.occasions:plan_points_expiring"),),
    "TIER_CHANGED": (Read("tier changes", "domain.messaging.occasions:plan_tier_changed"),),
    "BIRTHDAY": (Read("birthday (a birthday greeting)", "domain.messaging.occasions:plan_birthdays"),),
    "WIN_BACK": (Read("orders (the date of your last order)", "domain.messaging.occasions:plan_win_back"),),
    "CART_REMINDER": (Read("products you add to or remove from your cart", "domain.messaging.occasions:cart_of"),),
}
CATEGORIES = Read("order line categories (some wait longer)", "domain.messaging.policies:Policy.delay_for")


def _span(hours: int) -> str:
    if hours % 24 == 0 and hours >= 24:
        return "1 day" if hours == 24 else f"{hours // 24} days"
    return "1 hour" if hours == 1 else f"{hours} hours"


def _after(hours: int, event: str) -> str:
    return f"when {event}" if hours == 0 else f"{_span(hours)} after {event}"


def _what(p: Policy) -> str:
    """The type's message and its moment, with this policy's figures."""
    if p.type == "REVIEW_REQUEST":
        text = f"one request per delivered order, {_after(p.delay_hours, 'delivery')}"
        if p.category_delays:
            text += " (" + ", ".join(f"{_span(h)} for {c}" for c, h in p.category_delays) + "; an order waits for " \
                    "its longest)"
        text += ", asking about the products you have not reviewed"
        if p.product_repeat_days:
            text += f", at most once per product in {_span(p.product_repeat_days * 24)}"
        return text
    if p.type == "REVIEW_REMINDER":
        return f"one reminder {_span(p.delay_hours)} after a review request, only if you have not reviewed it all"
    if p.type == "SATISFACTION_SURVEY":
        return (f"one short survey (0-10 and 1-5, an optional comment) {_after(p.delay_hours, 'an order is delivered')}; "
                "answering may earn points, a low score is passed to the store's customer service, and your answers "
                "never decide whether you are asked for a review")
    if p.type == "FEEDBACK_THANKS":
        return f"a thank-you {_after(p.delay_hours, 'the store improves a product thanks to your review or question')}" \
               " (once per improvement)"
    if p.type == "POINTS_EXPIRING":
        leads = " and ".join(str(d) for d in p.leads())
        later = f" (plus {_span(p.delay_hours)})" if p.delay_hours else ""
        return (f"a notice {leads} days{later} before points expire, with what expires by then, never if you spent "
                "them meanwhile")
    if p.type == "TIER_CHANGED":
        return f"a notice {_after(p.delay_hours, 'your tier changes')}"
    if p.type == "BIRTHDAY":
        return "a birthday greeting on your birthday, once a year"
    if p.type == "WIN_BACK":
        return f"one note when you have not ordered for {_span(p.delay_hours)} (once per pause; an order ends it)"
    return (f"one reminder {_span(p.delay_hours)} to {_span(p.delay_hours + 24)} after you leave products in your "
            "cart, never twice for the same products (an order or emptying the cart cancels it)")


def _rules(p: Policy, purpose: str) -> str:
    cap = ("not counted toward the limit of messages" if p.cap_exempt
           else f"at most {p.cap_messages} messages in {_span(p.cap_days * 24)}")
    rules = [cap]
    if p.quiet_start != p.quiet_end:
        rules.append(f"none between {p.quiet_start:02d}:00 and {p.quiet_end:02d}:00 of your time zone without "
                     "your NIGHT_MESSAGES consent")
    rules.append("with your PERSONALIZATION consent, at the hour you are usually active")
    if purpose in policies.MARKETING_PURPOSES:
        rules.append("marked (광고) in Korean")
    return ", ".join(rules)


def _channel(channel: str) -> str:
    return "by e-mail" if channel == "EMAIL" else "through the store's SMS, 알림톡 or app provider"


def _statement(purpose: str, sent: list[tuple[Policy, str]]) -> dict[str, Any]:
    types: dict[str, tuple[Policy, list[str]]] = {}
    for p, channel in sent:
        types.setdefault(p.type, (p, []))[1].append(channel)
    lines = [f"{_what(p)} ({' and '.join(_channel(c) for c in channels)})" for p, channels in types.values()]
    by_rules: dict[str, list[str]] = {}
    for p, _ in types.values():
        by_rules.setdefault(_rules(p, purpose), []).append(p.type)
    if len(by_rules) == 1:
        rules = f"Rules: {next(iter(by_rules))}."
    else:
        rules = " ".join(f"Rules for {', '.join(ts)}: {r}." for r, ts in by_rules.items())
    reads: list[Read] = []
    channels = {c for _, cs in types.values() for c in cs}
    for p, _ in types.values():
        reads += READS[p.type]
        if p.category_delays:
            reads.append(CATEGORIES)
    reads += ([CONTACT] if "EMAIL" in channels else []) + ([PROVIDER] if "WEBHOOK" in channels else [])
    reads += [ZONE, ACTIVE_HOURS]
    seen: list[str] = []
    for r in reads:
        if r.what not in seen and exists(r.needs):
            seen.append(r.what)
    why = (f"Only with your consent: {'; '.join(lines)}. {rules} Every message has a one-click unsubscribe.")
    return {"feature": FEATURES[purpose], "reads": seen, "purpose": purpose, "why": why}


async def statements() -> list[dict[str, Any]]:
    """The message statements true of the policies now, in FEATURES order."""
    if not exists(NEEDS):
        return []
    by_purpose: dict[str, list[tuple[Policy, str]]] = {}
    for p in await policies.all_policies():
        if p.enabled:
            for channel in p.channels:
                by_purpose.setdefault(p.purpose_for(channel), []).append((p, channel))
    return [_statement(purpose, by_purpose[purpose]) for purpose in FEATURES if purpose in by_purpose]
