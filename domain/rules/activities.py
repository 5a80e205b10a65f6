"""Earning outside orders: recorded activities (shares, surveys, brand UGC, custom actions)
and referrals, which convert after the referred member's first order outlives the return
window."""

from __future__ import annotations

from datetime import datetime, timedelta

from domain import clock
from domain.db import write_transaction
from domain.errors import DomainError, InvalidInput, NotFound
from domain.ledger.service import lock_member
from domain.members.models import Member
from domain.members.service import get_member
from domain.orders.models import Order
from domain.rules import service as rules
from domain.rules.models import Activity
from domain.settings import get_settings
from domain.tiers.models import Tier

ACTIVITY_TYPES = ("SOCIAL_SHARE", "UGC_SUBMITTED", "SURVEY_COMPLETED", "CUSTOM")
NEEDS_APPROVAL = {"UGC_SUBMITTED"}


async def _tier(member: Member) -> Tier | None:
    return await Tier.get_or_none(id=member.tier_id) if member.tier_id else None


async def _award(member: Member, activity: Activity) -> int:
    label = activity.custom_type or activity.type.replace("_", " ").lower()
    return await rules.award_fixed(
        member, activity.type, ("activity", f"{activity.type}:{activity.custom_type or ''}:{activity.external_id}"),
        label.capitalize(), await _tier(member), custom_type=activity.custom_type if activity.type == "CUSTOM" else None)


async def record(member_external_id: str, type_: str, external_id: str, custom_type: str | None,
                 url: str | None) -> tuple[Activity, int]:
    if type_ not in ACTIVITY_TYPES:
        raise InvalidInput(f"type must be one of {', '.join(ACTIVITY_TYPES)}", "type")
    if type_ == "CUSTOM" and not (custom_type or "").strip():
        raise InvalidInput("customType names the brand's activity", "customType")
    if not external_id.strip() or len(external_id) > 255:
        raise InvalidInput("externalId must be 1 to 255 characters", "externalId")
    if url is not None and (len(url) > 2000 or not url.startswith(("https://", "http://"))):
        raise InvalidInput("url must be an http(s) URL", "url")
    if type_ == "UGC_SUBMITTED" and not url:
        raise InvalidInput("Brand UGC needs the url of the photo or video", "url")
    member_row = await get_member(member_external_id)
    async with write_transaction():
        member = await lock_member(member_row.id)
        custom = custom_type if type_ == "CUSTOM" else None
        existing = await Activity.get_or_none(member_id=member.id, type=type_, custom_type=custom, external_id=external_id)
        if existing:
            return existing, 0  # idempotent on (member, type, externalId)
        status = "pending" if type_ in NEEDS_APPROVAL else "approved"
        activity = await Activity.create(member_id=member.id, type=type_, custom_type=custom, external_id=external_id,
                                         url=url, status=status, created_at=clock.now())
        points = await _award(member, activity) if status == "approved" else 0
        return activity, points


async def complete(member: Member, type_: str, external_id: str) -> int:
    """An activity Patron itself observed (a survey answered through Patron): recorded approved
    and paid by the matching rules, once per (member, type, externalId). Call with the member
    locked, inside the caller's write transaction; returns the points awarded."""
    if await Activity.exists(member_id=member.id, type=type_, custom_type=None, external_id=external_id):
        return 0
    activity = await Activity.create(member_id=member.id, type=type_, custom_type=None, external_id=external_id,
                                     url=None, status="approved", created_at=clock.now())
    return await _award(member, activity)


async def decide(activity_id: int, approve: bool, actor: str) -> tuple[Activity, int]:
    activity = await Activity.get_or_none(id=activity_id)
    if activity is None:
        raise NotFound("No such activity", "activityId", code="NOT_FOUND")
    async with write_transaction():
        member = await lock_member(activity.member_id)
        activity = await Activity.get(id=activity_id)
        if activity.status != "pending":
            raise DomainError(f"The activity is already {activity.status}", "activityId", code="INVALID_STATE")
        activity.status = "approved" if approve else "rejected"
        activity.decided_by, activity.decided_at = actor, clock.now()
        await activity.save(update_fields=["status", "decided_by", "decided_at"])
        return activity, (await _award(member, activity) if approve else 0)


async def convert_referrals(now: datetime) -> int:
    """Referred members whose first order is past the return window (and not fully refunded).

    The window runs from when Patron recorded the order (`created_at`), not from `placed_at`:
    an order imported or sent late with a past `placedAt` can still be returned for the
    whole window, so the referral must not pay out before then."""
    window = timedelta(days=get_settings().return_window_days)
    candidates = await Member.filter(referred_by_id__isnull=False, referral_converted_at__isnull=True).values_list("id", flat=True)
    converted = 0
    for member_id in candidates:
        first = await Order.filter(member_id=member_id).order_by("placed_at", "id").first()
        if first is None or first.created_at > now - window or first.refunded_amount >= first.total_amount:
            continue
        async with write_transaction():
            referred = await Member.get(id=member_id)
            ids = sorted({member_id, referred.referred_by_id})
            locked = {mid: await lock_member(mid) for mid in ids}  # fixed order: no deadlocks
            referred = locked[member_id]
            if referred.referral_converted_at is not None or referred.referred_by_id is None:
                continue
            referrer = locked[referred.referred_by_id]
            source = ("referral", referred.external_id)
            await rules.award_fixed(referrer, "REFERRAL_CONVERTED", source, f"Referral: {referred.external_id}",
                                    await _tier(referrer), side="REFERRER")
            await rules.award_fixed(referred, "REFERRAL_CONVERTED", source, "Welcome from a friend",
                                    await _tier(referred), side="REFERRED")
            referred.referral_converted_at = now
            await referred.save(update_fields=["referral_converted_at"])
            converted += 1
    return converted
