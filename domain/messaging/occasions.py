"""The occasions beyond a fulfilled order: points about to expire, a tier change, a birthday, a
lapse (win-back) and a cart left behind.

Each is planned through planning.plan_message, so consent, caps and quiet hours are the rules of
every other type: TIER_CHANGED by a subscriber in the transaction of the change, the others by a
leased job (domain/jobs.py) that reads only what is due by an indexed column (lots by the expiry
index, members by the birthday key index, orders by placed_at, signals by `at`), never every
member. When a message is due, `still_relevant` checks the occasion again: points spent meanwhile,
an order placed, the cart emptied or changed.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from domain import clock
from domain.db import write_transaction
from domain.events.models import Event
from domain.ledger.models import LedgerEntry
from domain.members import birthdays
from domain.members.models import Member
from domain.messaging import planning, policies
from domain.messaging.models import Message
from domain.messaging.policies import Policy
from domain.orders.models import Order
from domain.recommendations.models import Signal
from domain.tiers.models import Tier, TierChange

# A job run late (workers down) still finds occasions whose moment passed this long ago.
NOTICE_LOOKBACK = timedelta(days=2)
WIN_BACK_LOOKBACK = timedelta(days=7)
CART_WINDOW_HOURS = 24  # a cart reminder goes between delayHours and delayHours + 24 after the last add
KEY_BATCH = 500  # dedupe keys looked up per query
PLAN_BATCH = 100  # messages planned per transaction


def _local_date(at: datetime, member: Member) -> str:
    return at.astimezone(planning.zone_of(member)).date().isoformat()


async def _new(keys: Iterable[str]) -> set[str]:
    """The dedupe keys not planned yet (a job run finds the same occasion again until it passes)."""
    keys = list(keys)
    seen: set[str] = set()
    for i in range(0, len(keys), KEY_BATCH):
        seen.update(await Message.filter(dedupe_key__in=keys[i:i + KEY_BATCH]).values_list("dedupe_key", flat=True))
    return set(keys) - seen


async def _plan_all(policy: Policy, plans: list[tuple[Member, datetime, list[str], str | None, str, dict]]) -> int:
    """(member, due, products, order, key prefix, details): one message per channel, in
    transactions of PLAN_BATCH members; returns how many were planned."""
    keys = [f"{prefix}:{channel}" for *_, prefix, _ in plans for channel in policy.channels]
    fresh = await _new(keys)
    planned = 0
    for i in range(0, len(plans), PLAN_BATCH):
        async with write_transaction():
            for member, due, products, order, prefix, details in plans[i:i + PLAN_BATCH]:
                for channel in policy.channels:
                    key = f"{prefix}:{channel}"
                    if key in fresh and await planning.plan_message(member, policy, channel, due, products, order,
                                                                     key, details=details):
                        planned += 1
    return planned


def _batches(ids: Iterable[int]) -> Iterable[list[int]]:
    """Ids in lists of KEY_BATCH: an IN list stays far below the drivers' parameter limits."""
    ids = sorted(set(ids))
    return (ids[i:i + KEY_BATCH] for i in range(0, len(ids), KEY_BATCH))


async def _members(ids: Iterable[int]) -> dict[int, Member]:
    return {m.id: m for batch in _batches(ids)
            for m in await Member.filter(id__in=batch, anonymized_at__isnull=True)}


# --- POINTS_EXPIRING ---------------------------------------------------------------------

def _week_end(expires_at: datetime) -> datetime:
    """The end (exclusive, UTC) of the ISO week a lot expires in: one notice per lead covers
    every lot expiring that week, so lots earned day after day do not send a notice a day."""
    day = expires_at.astimezone(UTC).date()
    return datetime.combine(day + timedelta(days=7 - day.weekday()), time(0), tzinfo=UTC)


async def expiring(member_id: int, now: datetime, until: datetime) -> tuple[int, datetime | None]:
    """Points of the member's live lots expiring after now and before `until`, and the last
    such expiry (what a notice says at the moment it goes out)."""
    lots = await LedgerEntry.filter(member_id=member_id, remaining__gt=0, expires_at__gt=now,
                                    expires_at__lt=until).values_list("remaining", "expires_at")
    return sum(r for r, _ in lots), max((at for _, at in lots), default=None)


async def plan_points_expiring(now: datetime) -> int:
    """Lots whose notice moment (expiry − N days + delayHours, N in PATRON_POINTS_EXPIRING_DAYS)
    has come, read by the partial expiry index (expires_at, id WHERE remaining > 0): one notice
    per member, lead and expiry week."""
    policy = await policies.policy("POINTS_EXPIRING")
    if not policy.enabled:
        return 0
    planned = 0
    for days in policy.leads():
        upper = now + timedelta(days=days) - timedelta(hours=policy.delay_hours)
        lower = max(upper - NOTICE_LOOKBACK, now)
        if upper <= lower:
            continue
        lots = await LedgerEntry.filter(remaining__gt=0, expires_at__gt=lower, expires_at__lte=upper).values_list(
            "member_id", "expires_at")
        weeks = {(member_id, _week_end(at)) for member_id, at in lots}
        members = await _members(m for m, _ in weeks)
        plans = [(members[m], now, [], None, f"POINTS_EXPIRING:{m}:{days}d:{until.date().isoformat()}",
                  {"days": days, "until": until.isoformat()})
                 for m, until in sorted(weeks, key=lambda w: (w[0], w[1])) if m in members]
        planned += await _plan_all(policy, plans)
    return planned


async def _points_now(message: Message, member: Member, now: datetime) -> tuple[str, str] | None:
    until = datetime.fromisoformat(message.details["until"])
    points, last = await expiring(member.id, now, until)
    if points <= 0:
        return "SUPPRESSED", "points spent meanwhile: nothing left to expire"
    message.details = message.details | {"points": points, "expiresBy": _local_date(last, member)}
    return None


# --- TIER_CHANGED ------------------------------------------------------------------------

async def plan_tier_changed(event: Event) -> None:
    """member.tier_changed, in the transaction of the change: the old and the new tier."""
    policy = await policies.policy("TIER_CHANGED")
    if not policy.enabled or event.member_id is None:
        return
    member = await Member.get(id=event.member_id)
    if member.anonymized_at:
        return
    details = {"from": event.payload.get("from"), "to": event.payload.get("to")}
    due = event.created_at + timedelta(hours=policy.delay_hours)
    for channel in policy.channels:
        await planning.plan_message(member, policy, channel, due, [], None, f"TIER_CHANGED:{event.id}:{channel}",
                                    details=details)


async def plan_tier_changed_many(events: list[Event]) -> None:
    """plan_tier_changed for a wave of tier changes (the event bus's bulk path): the policy
    and the members read once, the messages planned by planning.plan_many."""
    policy = await policies.policy("TIER_CHANGED")
    if not policy.enabled:
        return
    members = await _members(e.member_id for e in events if e.member_id is not None)  # not anonymized
    await planning.plan_many(policy, [
        (members[e.member_id], channel, e.created_at + timedelta(hours=policy.delay_hours),
         f"TIER_CHANGED:{e.id}:{channel}", {"from": e.payload.get("from"), "to": e.payload.get("to")})
        for e in events if e.member_id in members for channel in policy.channels])


# --- BIRTHDAY ----------------------------------------------------------------------------

def _celebration(member: Member, now: datetime) -> date | None:
    """The member's birthday when it is today or tomorrow in their time zone (Feb 29 is
    celebrated on Feb 28 in other years, as the birthday bonus)."""
    today = now.astimezone(planning.zone_of(member)).date()
    key = member.birthday.month * 100 + member.birthday.day
    return next((d for d in (today, today + timedelta(days=1)) if key in birthdays.keys_for(d)), None)


async def plan_birthdays(now: datetime) -> int:
    """Members whose birthday is today or tomorrow somewhere (matched in SQL on the birthday key
    index), due delayHours after local midnight of the day, once per year."""
    policy = await policies.policy("BIRTHDAY")
    if not policy.enabled:
        return 0
    utc_today = now.astimezone(UTC).date()
    keys = sorted({k for d in range(-1, 3) for k in birthdays.keys_for(utc_today + timedelta(days=d))})
    # The ids without ORDER BY … LIMIT: so PostgreSQL answers from the expression index instead
    # of walking the primary key (domain/scheduler/chunks.py explains); then the rows by id.
    ids = sorted(await Member.filter(birthday__isnull=False, anonymized_at__isnull=True)
                 .annotate(birthday_key=birthdays.key_sql()).filter(birthday_key__in=keys).values_list("id", flat=True))
    planned = 0
    for i in range(0, len(ids), KEY_BATCH):
        batch = await Member.filter(id__in=ids[i:i + KEY_BATCH]).order_by("id")
        plans = []
        for member in batch:
            day = _celebration(member, now)
            if day is None:
                continue
            midnight = datetime.combine(day, time(0), tzinfo=planning.zone_of(member)).astimezone(UTC)
            due = max(midnight + timedelta(hours=policy.delay_hours), now)
            plans.append((member, due, [], None, f"BIRTHDAY:{member.id}:{day.year}", {"day": day.isoformat()}))
        planned += await _plan_all(policy, plans)
    return planned


# --- WIN_BACK ----------------------------------------------------------------------------

async def plan_win_back(now: datetime) -> int:
    """Members whose last order is delayHours old (read by orders.placed_at, a week's window):
    one message per lapse; the lapse is named by its last order, so a new order starts another."""
    policy = await policies.policy("WIN_BACK")
    if not policy.enabled:
        return 0
    cutoff = now - timedelta(hours=policy.delay_hours)
    rows = await Order.filter(member_id__isnull=False, placed_at__gt=cutoff - WIN_BACK_LOOKBACK,
                              placed_at__lte=cutoff).values_list("member_id", "placed_at", "id", "external_id")
    last: dict[int, tuple[datetime, int, str]] = {}
    for member_id, placed_at, order_id, external_id in rows:
        if member_id not in last or (placed_at, order_id) > last[member_id][:2]:
            last[member_id] = (placed_at, order_id, external_id)
    later = {m for batch in _batches(last) for m in await Order.filter(
        member_id__in=batch, placed_at__gt=cutoff).values_list("member_id", flat=True)}
    members = await _members(m for m in last if m not in later)
    plans = [(members[m], now, [], last[m][2], f"WIN_BACK:{last[m][1]}",
              {"lastOrderAt": last[m][0].isoformat(), "days": policy.delay_hours // 24})
             for m in sorted(members)]
    return await _plan_all(policy, plans)


async def _last_order_at(member_id: int) -> datetime | None:
    return next(iter(await Order.filter(member_id=member_id).order_by("-placed_at").limit(1)
                     .values_list("placed_at", flat=True)), None)


async def _ordered_since(member_id: int, since: datetime) -> bool:
    return await Order.exists(member_id=member_id, placed_at__gt=since)


# --- CART_REMINDER -----------------------------------------------------------------------

async def cart_of(member_id: int) -> tuple[list[str], datetime | None]:
    """The member's cart: products added (ADD_TO_CART) since their last order and not removed
    since (REMOVE_FROM_CART), in the order they were added; and the last add-to-cart time."""
    last_order = await _last_order_at(member_id)
    signals = Signal.filter(member_id=member_id, type__in=("ADD_TO_CART", "REMOVE_FROM_CART"))
    if last_order is not None:
        signals = signals.filter(at__gt=last_order)
    cart: dict[str, None] = {}
    last_add = None
    for product, kind, at in await signals.order_by("at", "id").values_list("product_external_id", "type", "at"):
        if kind == "ADD_TO_CART":
            cart.pop(product, None)
            cart[product] = None
            last_add = at
        else:
            cart.pop(product, None)
    return list(cart), last_add


async def plan_cart_reminders(now: datetime) -> int:
    """Members whose last add-to-cart is between delayHours and delayHours + 24 old (signals
    read by `at`), with no order since and products never reminded about since their last order:
    one reminder about those products, replacing one still scheduled for an older cart."""
    policy = await policies.policy("CART_REMINDER")
    if not policy.enabled:
        return 0
    newest = now - timedelta(hours=policy.delay_hours)
    rows = await Signal.filter(type="ADD_TO_CART", member_id__isnull=False, at__gt=newest - timedelta(hours=CART_WINDOW_HOURS),
                               at__lte=newest).values_list("member_id", flat=True)
    candidates = set(rows)
    busy = {m for batch in _batches(candidates) for m in await Signal.filter(
        type="ADD_TO_CART", member_id__in=batch, at__gt=newest).values_list("member_id", flat=True)}
    members = await _members(candidates - busy)
    plans = []
    for member_id in sorted(members):
        products, last_add = await cart_of(member_id)
        if not products or last_add is None or last_add > newest:
            continue
        prefix = f"CART_REMINDER:{member_id}:{last_add.isoformat()}"
        if await Message.exists(dedupe_key__in=[f"{prefix}:{channel}" for channel in policy.channels]):
            continue  # this cart's reminder is planned already (perhaps waiting for 08:00)
        last_order = await _last_order_at(member_id)
        sent = Message.filter(member_id=member_id, type="CART_REMINDER", status="SENT")
        if last_order is not None:
            sent = sent.filter(created_at__gt=last_order)
        reminded = {p for ps in await sent.values_list("products", flat=True) for p in ps}
        new = [p for p in products if p not in reminded]
        if new:
            plans.append((members[member_id], last_add + timedelta(hours=policy.delay_hours), new, None,
                          prefix, {"lastAddAt": last_add.isoformat()}))
    for member, *_ in plans:
        await Message.filter(member_id=member.id, type="CART_REMINDER", status="SCHEDULED").update(
            status="CANCELLED", reason="replaced by a reminder about the cart as it is now", updated_at=clock.now())
    return await _plan_all(policy, plans)


async def _cart_now(message: Message, member: Member, policy: Policy, now: datetime) -> tuple[str, str] | None:
    last_add = datetime.fromisoformat(message.details["lastAddAt"])
    if await _ordered_since(member.id, last_add):
        return "CANCELLED", "ordered meanwhile"
    products, latest = await cart_of(member.id)
    if latest is not None and latest > last_add:
        return "CANCELLED", "the cart changed: a later add-to-cart starts its own reminder"
    left = [p for p in message.products if p in products]
    if not left:
        return "CANCELLED", "cart emptied"
    limit = policy.delay_hours + CART_WINDOW_HOURS
    if now > last_add + timedelta(hours=limit):
        return "SUPPRESSED", f"too late: more than {limit} hours after the last add-to-cart"
    message.products = left
    return None


# --- when due, and when an order arrives ----------------------------------------------------

async def still_relevant(message: Message, member: Member, policy: Policy, now: datetime) -> tuple[str, str] | None:
    """(status, reason) when the occasion is over; None when the message may go out (its
    figures refreshed in `details` / `products`)."""
    if message.type == "POINTS_EXPIRING":
        return await _points_now(message, member, now)
    if message.type == "WIN_BACK":
        if await _ordered_since(member.id, datetime.fromisoformat(message.details["lastOrderAt"])):
            return "CANCELLED", "ordered meanwhile"
    if message.type == "CART_REMINDER":
        return await _cart_now(message, member, policy, now)
    return None


async def cancel_on_order(event: Event) -> None:
    """order.recorded: a scheduled win-back or cart reminder whose lapse or cart the order ends
    is cancelled at once (an order placed before them, e.g. imported late, ends nothing)."""
    if event.member_id is None:
        return
    placed_at = datetime.fromisoformat(event.payload["placedAt"])
    for message in await Message.filter(member_id=event.member_id, status="SCHEDULED",
                                        type__in=("WIN_BACK", "CART_REMINDER")):
        since = (message.details or {}).get("lastOrderAt" if message.type == "WIN_BACK" else "lastAddAt")
        if since and placed_at > datetime.fromisoformat(since):
            message.status, message.reason, message.updated_at = "CANCELLED", "ordered meanwhile", clock.now()
            await message.save(update_fields=["status", "reason", "updated_at"])


# --- previews ---------------------------------------------------------------------------------

async def preview_context(type_: str, member: Member, now: datetime) -> tuple[str | None, list[str], dict[str, Any]]:
    """(order, products, details) for previewMessage: the member's situation now; reads only."""
    if type_ == "POINTS_EXPIRING":
        first = next(iter(await LedgerEntry.filter(member_id=member.id, remaining__gt=0, expires_at__gt=now)
                          .order_by("expires_at").limit(1).values_list("expires_at", flat=True)), None)
        days = (await policies.policy(type_)).leads()[-1]
        if first is None:
            return None, [], {"days": days, "points": 0, "expiresBy": _local_date(now, member)}
        points, last = await expiring(member.id, now, _week_end(first))
        return None, [], {"days": days, "points": points, "expiresBy": _local_date(last, member)}
    if type_ == "TIER_CHANGED":
        change = await TierChange.filter(member_id=member.id).order_by("-id").first()
        ids = [i for i in ((change.from_tier_id, change.to_tier_id) if change else (None, member.tier_id)) if i]
        names = dict(await Tier.filter(id__in=ids).values_list("id", "name"))
        return None, [], {"from": names.get(change.from_tier_id) if change else None,
                          "to": names.get(change.to_tier_id if change else member.tier_id)}
    if type_ == "WIN_BACK":
        order = await Order.filter(member_id=member.id).order_by("-placed_at", "-id").first()
        policy = await policies.policy(type_)
        return (order.external_id if order else None, [],
                {"lastOrderAt": order.placed_at.isoformat() if order else None, "days": policy.delay_hours // 24})
    if type_ == "CART_REMINDER":
        products, last_add = await cart_of(member.id)
        return None, products, {"lastAddAt": last_add.isoformat() if last_add else None}
    if type_ == "BIRTHDAY":
        return None, [], {"day": _local_date(now, member)}
    return None, [], {}

