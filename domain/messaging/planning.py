"""Planning engagement messages from events, and the rules every message passes.

The rules run when a message is planned and again when it is due (domain/messaging/sending.py):
consent may have been withdrawn, a review written or a cap reached meanwhile. Subscribers
(wired in composition/subscribers.py) run inside the transaction of the change, so a plan
commits with the fulfilment that caused it or not at all.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from domain import clock
from domain.events.models import Event
from domain.feedback.models import Improvement
from domain.members.models import Consent, Member
from domain.messaging import policies
from domain.messaging.models import Message
from domain.messaging.policies import Policy
from domain.orders.models import Order, OrderLine
from domain.recommendations.service import preferred_contact_hour
from domain.reviews.models import Review
from domain.settings import get_settings


def zone_of(member: Member) -> ZoneInfo:
    return ZoneInfo(member.timezone or get_settings().default_timezone)


async def granted(member_id: int) -> set[str]:
    return set(await Consent.filter(member_id=member_id, granted=True).values_list("purpose", flat=True))


def after_quiet_hours(at: datetime, zone: ZoneInfo, policy: Policy) -> datetime | None:
    """The end of the policy's quiet hours `at` falls in (08:00 local by default), or None when
    it is outside them."""
    local = at.astimezone(zone)
    if not policy.quiet_at(local.hour):
        return None
    day = local.date() + timedelta(days=1 if local.hour >= policy.quiet_end else 0)
    return datetime.combine(day, time(policy.quiet_end), tzinfo=zone).astimezone(UTC)


def _local(at: datetime, zone: ZoneInfo) -> str:
    return f"{at.astimezone(zone).strftime('%Y-%m-%d %H:%M')} {zone.key}"


def quiet_note(moved_to: datetime, zone: ZoneInfo) -> str:
    return f"quiet hours: moved to {_local(moved_to, zone)} (no NIGHT_MESSAGES consent)"


PREFERRED_NOTE = "preferred contact hour"


async def at_preferred_hour(member: Member, policy: Policy, due: datetime, night_ok: bool) -> datetime | None:
    """With PERSONALIZATION (the caller checks it): the first time at or after `due`, less than
    24 h later, at the hour the member is usually active (their orders and signals), when that
    hour is outside the policy's quiet hours (or the member gave NIGHT_MESSAGES); a birthday
    greeting stays on its day. None: no such hour, the message keeps `due`."""
    hour = await preferred_contact_hour(member)
    if hour is None:
        return None
    zone = zone_of(member)
    start = due.astimezone(UTC)
    at = start.replace(hour=hour, minute=0, second=0, microsecond=0)
    if at < start:
        at += timedelta(days=1)
    if at == start or (not night_ok and policy.quiet_at(at.astimezone(zone).hour)):
        return None
    if policy.type == "BIRTHDAY" and at.astimezone(zone).date() != due.astimezone(zone).date():
        return None
    return at


async def unreviewed(member_id: int, products: list[str]) -> list[str]:
    reviewed = set(await Review.filter(member_id=member_id, product__external_id__in=products)
                   .exclude(status="deleted").values_list("product__external_id", flat=True))
    return [p for p in products if p not in reviewed]


async def recently_asked(member_id: int, channel: str, now: datetime, days: int,
                         exclude_id: int | None = None) -> set[str]:
    """Products this member was asked to review on this channel in the last `days` days
    (productRepeatDays, 12 months by default; sent, or scheduled and not yet decided)."""
    if days == 0:
        return set()
    since = now - timedelta(days=days)
    rows = Message.filter(member_id=member_id, type="REVIEW_REQUEST", channel=channel,
                          status__in=("SENT", "SCHEDULED"), created_at__gte=since)
    if exclude_id is not None:
        rows = rows.exclude(id=exclude_id)
    asked: set[str] = set()
    for products in await rows.values_list("products", flat=True):
        asked.update(products)
    return asked


def repeat_note(policy: Policy) -> str:
    days = policy.product_repeat_days
    return f"capped: each product was already asked about in the last {'12 months' if days == 365 else f'{days} days'}"


async def plan_message(member: Member, policy: Policy, channel: str, due: datetime, products: list[str],
                       order_external_id: str | None, dedupe_key: str, follows: Message | None = None,
                       details: dict | None = None, improvement: Improvement | None = None) -> Message | None:
    """One message, SCHEDULED or already SUPPRESSED with the reason; None if planned before.
    Every type is planned here (review requests, surveys, thanks and the occasions of occasions.py alike)."""
    if await Message.exists(dedupe_key=dedupe_key):
        return None  # a replayed event plans nothing twice
    now = clock.now()
    status, reason = "SCHEDULED", None
    consents = await granted(member.id)
    purpose = policy.purpose_for(channel)
    if purpose not in consents:
        status, reason = "SUPPRESSED", f"no consent ({purpose})"
    elif policy.type == "REVIEW_REQUEST":
        asked = await recently_asked(member.id, channel, now, policy.product_repeat_days)
        left = [p for p in products if p not in asked]
        if not left:
            status, reason = "SUPPRESSED", repeat_note(policy)
        products = left or products
    if status == "SCHEDULED":
        due, reason = await _timing(member, policy, due, consents, reason)
    return await Message.create(
        member_id=member.id, type=policy.type, channel=channel, status=status, reason=reason,
        consent_purpose=purpose, scheduled_for=due, order_external_id=order_external_id,
        products=products, follows=follows, improvement=improvement, dedupe_key=dedupe_key, details=details,
        created_at=now, updated_at=now,
    )


async def _timing(member: Member, policy: Policy, due: datetime, consents: set[str],
                  reason: str | None) -> tuple[datetime, str | None]:
    """When a scheduled message goes out, with the note why: at the member's preferred hour
    (PERSONALIZATION consent), then past the policy's quiet hours unless NIGHT_MESSAGES."""
    night_ok = "NIGHT_MESSAGES" in consents
    if "PERSONALIZATION" in consents:
        preferred = await at_preferred_hour(member, policy, due, night_ok)
        if preferred is not None:
            due, reason = preferred, f"{PREFERRED_NOTE}: {_local(preferred, zone_of(member))} (PERSONALIZATION consent)"
    if not night_ok:
        zone = zone_of(member)
        moved = after_quiet_hours(due, zone, policy)
        if moved is not None:
            due, reason = moved, quiet_note(moved, zone)
    return due, reason


KEY_BATCH = 500  # members or dedupe keys per IN list


async def plan_many(policy: Policy, plans: list[tuple[Member, str, datetime, str, dict | None]]) -> int:
    """plan_message for many (member, channel, due, dedupe key, details) of a type with no
    products and no order (a wave of tier changes): the same rules and the same rows, in
    plan order, with the planned-before keys and the consents read once per KEY_BATCH and
    the messages written in one bulk insert. Returns how many were planned."""
    keys = [key for *_, key, _ in plans]
    seen: set[str] = set()
    for i in range(0, len(keys), KEY_BATCH):
        seen.update(await Message.filter(dedupe_key__in=keys[i:i + KEY_BATCH]).values_list("dedupe_key", flat=True))
    member_ids = sorted({member.id for member, *_ in plans})
    consents: dict[int, set[str]] = {i: set() for i in member_ids}
    for i in range(0, len(member_ids), KEY_BATCH):
        for member_id, purpose in await Consent.filter(member_id__in=member_ids[i:i + KEY_BATCH], granted=True) \
                .values_list("member_id", "purpose"):
            consents[member_id].add(purpose)
    now = clock.now()
    rows = []
    for member, channel, due, key, details in plans:
        if key in seen:
            continue  # a replayed event plans nothing twice
        seen.add(key)
        purpose = policy.purpose_for(channel)
        if purpose in consents[member.id]:
            status, (due, reason) = "SCHEDULED", await _timing(member, policy, due, consents[member.id], None)
        else:
            status, reason = "SUPPRESSED", f"no consent ({purpose})"
        rows.append(Message(member_id=member.id, type=policy.type, channel=channel, status=status, reason=reason,
                            consent_purpose=purpose, scheduled_for=due, order_external_id=None, products=[],
                            dedupe_key=key, details=details, created_at=now, updated_at=now))
    await Message.bulk_create(rows)
    return len(rows)


async def _order_products(order: Order) -> tuple[list[str], list[str | None]]:
    """The order's products (not fully refunded), each once, in line order; and the
    categories of those lines (for the policy's per-category delays)."""
    products: list[str] = []
    categories: list[str | None] = []
    for line in await OrderLine.filter(order_id=order.id).order_by("id"):
        if line.product_external_id and line.quantity > line.refunded_quantity:
            categories.append(line.category)
            if line.product_external_id not in products:
                products.append(line.product_external_id)
    return products, categories


async def _fulfilled(event: Event, type_: str) -> tuple[Policy, Order, Member] | None:
    policy = await policies.policy(type_)
    if not policy.enabled or event.member_id is None:
        return None
    order = await Order.get(external_id=event.payload["externalId"])
    member = await Member.get(id=order.member_id)
    return None if member.anonymized_at else (policy, order, member)


async def plan_review_request(event: Event) -> None:
    """order.fulfilled: one REVIEW_REQUEST per order and channel listing every product of the
    order the member has not reviewed, due `delayHours` after the fulfilment."""
    found = await _fulfilled(event, "REVIEW_REQUEST")
    if found is None:
        return
    policy, order, member = found
    ordered, categories = await _order_products(order)
    products = await unreviewed(member.id, ordered)
    if not products:
        return
    due = order.fulfilled_at + timedelta(hours=policy.delay_for(categories))
    for channel in policy.channels:
        await plan_message(member, policy, channel, due, products, order.external_id,
                           f"REVIEW_REQUEST:order:{order.id}:{channel}")


async def plan_survey(event: Event) -> None:
    """order.fulfilled: one SATISFACTION_SURVEY per order and channel, `delayHours` (21 days)
    after the fulfilment. Planned independently of review requests, and nothing about review
    requests ever reads a survey's score (no review gating)."""
    found = await _fulfilled(event, "SATISFACTION_SURVEY")
    if found is None:
        return
    policy, order, member = found
    products, categories = await _order_products(order)
    due = order.fulfilled_at + timedelta(hours=policy.delay_for(categories))
    for channel in policy.channels:
        await plan_message(member, policy, channel, due, products, order.external_id,
                    f"SATISFACTION_SURVEY:order:{order.id}:{channel}")


async def plan_thanks(improvement: Improvement, member: Member, product_external_id: str) -> list[Message]:
    """FEEDBACK_THANKS to one contributor of an improvement, once per improvement and member
    (and channel), `delayHours` after now; SUPPRESSED without the consent."""
    policy = await policies.policy("FEEDBACK_THANKS")
    if not policy.enabled or member.anonymized_at:
        return []
    due = clock.now() + timedelta(hours=policy.delay_hours)
    planned = []
    for channel in policy.channels:
        message = await plan_message(member, policy, channel, due, [product_external_id], None,
                              f"FEEDBACK_THANKS:improvement:{improvement.id}:member:{member.id}:{channel}",
                              improvement=improvement)
        if message is not None:
            planned.append(message)
    return planned


async def plan_reminder(request: Message, member: Member, sent_at: datetime) -> Message | None:
    """After a review request is sent: one reminder, `delayHours` later, on the same channel."""
    policy = await policies.policy("REVIEW_REMINDER")
    if not policy.enabled or request.channel not in policy.channels:
        return None
    return await plan_message(member, policy, request.channel, sent_at + timedelta(hours=policy.delay_hours),
                              list(request.products), request.order_external_id, f"REVIEW_REMINDER:{request.id}",
                              follows=request)


async def cancel_withdrawn(event: Event) -> None:
    """member.updated with consents withdrawn: what is scheduled under them is cancelled."""
    withdrawn = [c["purpose"] for c in (event.payload or {}).get("consents", []) if not c.get("granted")]
    if withdrawn and event.member_id is not None:
        await Message.filter(member_id=event.member_id, status="SCHEDULED", consent_purpose__in=withdrawn).update(
            status="CANCELLED", reason=f"consent withdrawn ({', '.join(sorted(withdrawn))})", updated_at=clock.now())


async def cancel_erased(event: Event) -> None:
    """member.anonymized: nothing more is sent to an erased member."""
    if event.member_id is not None:
        await Message.filter(member_id=event.member_id, status="SCHEDULED").update(
            status="CANCELLED", reason="member erased", updated_at=clock.now())
