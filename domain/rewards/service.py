"""Rewards catalog and redemption.

`redeem` is all or nothing in one transaction: the member row is locked (points), then
the reward row (stock) — always in that order — the points are debited FEFO, the stock
decremented and a unique code issued. Concurrent redemptions of the last items or of the
last points therefore serialize on those two rows.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import Any

from domain import changes, clock
from domain.db import write_transaction
from domain.errors import Conflict, DomainError, InvalidInput, NotFound
from domain.events.service import record_event
from domain.ledger import service as ledger
from domain.members.models import Member
from domain.orders.models import Order
from domain.rewards.models import Redemption, Reward
from domain.scheduler import chunks
from domain.segments.filters import SegmentFilter, members_query
from domain.segments.models import Segment
from domain.settings import get_settings
from domain.tiers.models import Tier

TYPES = ("FIXED_AMOUNT", "PERCENTAGE", "FREE_SHIPPING", "FREE_PRODUCT", "EXPERIENTIAL")
AWAITING = "awaiting_order"  # used on an order Patron has not recorded yet (see mark_used)
CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O or 1/I: codes are typed by people
FIELDS = ("name", "type", "points_cost", "amount", "currency", "percent", "max_discount", "sku", "description",
          "min_tier_rank", "per_member_limit", "stock", "starts_at", "ends_at", "code_valid_days", "active",
          "audience", "audience_segment_id", "audience_tier_id")
# Who may have a reward: ALL redeem it for its points; MEMBERS_GRANTED only get it by grantReward;
# SEGMENT / TIER: only members of that segment (its filter, now) or in that tier, redeeming or granted.
AUDIENCES = ("ALL", "MEMBERS_GRANTED", "SEGMENT", "TIER")
GRANT_KEY_PREFIX = "grant:"  # a granted code's idempotency key is grant:<reward id> (one per member)


def new_code() -> str:
    # 12 symbols from 32 = 60 bits: not guessable at any request rate we allow.
    body = "".join(secrets.choice(CODE_ALPHABET) for _ in range(12))
    return f"PTN-{body[:4]}-{body[4:8]}-{body[8:]}"


def _validate(values: dict[str, Any]) -> None:
    if values.get("type") not in TYPES:
        raise InvalidInput(f"type must be one of {', '.join(TYPES)}", "type")
    if not (values.get("name") or "").strip():
        raise InvalidInput("A name is required", "name")
    if values.get("points_cost") is None or values["points_cost"] < 0:
        raise InvalidInput("pointsCost must be 0 or more (0: a free or granted offer)", "pointsCost")
    audience = values.get("audience") or "ALL"
    if audience not in AUDIENCES:
        raise InvalidInput(f"audience must be one of {', '.join(AUDIENCES)}", "audience")
    if (audience == "SEGMENT") != (values.get("audience_segment_id") is not None):
        raise InvalidInput("audience SEGMENT needs segmentId, and only it takes one", "audience.segmentId")
    if (audience == "TIER") != (values.get("audience_tier_id") is not None):
        raise InvalidInput("audience TIER needs tierId, and only it takes one", "audience.tierId")
    kind = values["type"]
    if kind == "FIXED_AMOUNT" and ((values.get("amount") or 0) <= 0 or not values.get("currency")):
        raise InvalidInput("A fixed amount needs amount and currency", "amount")
    if kind == "PERCENTAGE" and not 1 <= (values.get("percent") or 0) <= 100:
        raise InvalidInput("percent must be 1 to 100", "percent")
    if kind == "FREE_PRODUCT" and not values.get("sku"):
        raise InvalidInput("A free product needs a sku", "sku")
    for name in ("stock", "per_member_limit", "code_valid_days", "max_discount"):
        if values.get(name) is not None and values[name] < 0:
            raise InvalidInput(f"{name} must not be negative", name)
    for name, field, longest in (("name", "name", 200), ("sku", "sku", 255), ("description", "description", 1000)):
        if values.get(name) is not None and len(values[name]) > longest:
            raise InvalidInput(f"{field} is at most {longest} characters", field)
    currency = values.get("currency")
    if currency is not None and (len(currency) != 3 or not currency.isascii() or not currency.isalpha()):
        raise InvalidInput("currency must be an ISO 4217 code such as USD", "currency")
    for name, field in (("starts_at", "startsAt"), ("ends_at", "endsAt")):
        if values.get(name) is not None:
            values[name] = clock.as_utc(values[name], field)
    if values.get("starts_at") and values.get("ends_at") and values["ends_at"] <= values["starts_at"]:
        raise InvalidInput("endsAt must be after startsAt", "endsAt")


async def _audience_exists(values: dict[str, Any]) -> None:
    if values.get("audience_segment_id") is not None and not await Segment.exists(id=values["audience_segment_id"]):
        raise NotFound("No such segment", "audience.segmentId", code="SEGMENT_NOT_FOUND")
    if values.get("audience_tier_id") is not None and not await Tier.exists(id=values["audience_tier_id"]):
        raise NotFound("No such tier", "audience.tierId", code="TIER_NOT_FOUND")


async def save_reward(reward_id: int | None, values: dict[str, Any]) -> Reward:
    """Create or change a reward. An `audience` given replaces the whole audience (kind,
    segment and tier): `values["audience"]` is {"audience", "audience_segment_id", "audience_tier_id"}."""
    if "currency" in values and values["currency"]:
        values["currency"] = values["currency"].upper()
    if "audience" in values:
        values = {k: v for k, v in values.items() if k != "audience"} | values["audience"]
    async with write_transaction():
        await _audience_exists(values)
        if reward_id is None:
            merged = {"active": True, **values}
            _validate(merged)
            return await Reward.create(**merged, created_at=clock.now())
        reward = await Reward.select_for_update().get_or_none(id=reward_id)
        if reward is None:
            raise NotFound("No such reward", "id", code="REWARD_NOT_FOUND")
        merged = {name: getattr(reward, name) for name in FIELDS} | values
        _validate(merged)
        await reward.update_from_dict({name: merged[name] for name in values}).save()
        return reward


async def in_audience(reward: Reward, member: Member, *, redeeming: bool) -> bool:
    """Whether the member may have the reward: by redeeming it (MEMBERS_GRANTED never) or by a grant."""
    if reward.audience == "MEMBERS_GRANTED":
        return not redeeming
    if reward.audience == "SEGMENT":
        segment = await Segment.get(id=reward.audience_segment_id)
        return await members_query(SegmentFilter.from_stored(segment.conditions)).filter(id=member.id).exists()
    if reward.audience == "TIER":
        return member.tier_id is not None and member.tier_id == reward.audience_tier_id
    return True


def _payload(r: Redemption, reward: Reward, member_external_id: str) -> dict[str, Any]:
    return {"redemptionId": r.id, "code": r.code, "rewardId": reward.id, "reward": reward.name, "type": reward.type,
            "points": r.points, "memberExternalId": member_external_id, "status": r.status,
            "expiresAt": r.expires_at.isoformat() if r.expires_at else None}


async def redeem(member_external_id: str, reward_id: int, idempotency_key: str) -> Redemption:
    if not idempotency_key.strip() or len(idempotency_key) > 255:
        raise InvalidInput("idempotencyKey must be 1 to 255 characters", "idempotencyKey")
    if idempotency_key.startswith(GRANT_KEY_PREFIX):
        raise InvalidInput(f"idempotencyKey must not start with {GRANT_KEY_PREFIX} (granted codes use it)",
                           "idempotencyKey")
    async with write_transaction():
        changes.touch(changes.REWARDS)  # the points are private; the reward's stock is public
        changes.touch_member(member_external_id)  # the points and ledger are this member's
        member = await ledger.lock_member_by_external_id(member_external_id)  # the one read of the row
        existing = await Redemption.get_or_none(member_id=member.id, idempotency_key=idempotency_key)
        if existing:
            if existing.reward_id != reward_id:
                raise Conflict("This idempotency key was used for another reward", "idempotencyKey")
            return existing
        reward = await Reward.select_for_update().get_or_none(id=reward_id)
        if reward is None:
            raise NotFound("No such reward", "rewardId", code="REWARD_NOT_FOUND")
        now = clock.now()
        if not reward.active or (reward.starts_at and now < reward.starts_at) or (reward.ends_at and now >= reward.ends_at):
            raise DomainError("This reward is not available now", "rewardId", code="REWARD_UNAVAILABLE")
        if not await in_audience(reward, member, redeeming=True):
            raise DomainError("This reward is not offered to you", "rewardId", code="NOT_IN_AUDIENCE")
        if reward.min_tier_rank is not None:
            tier = await Tier.get_or_none(id=member.tier_id) if member.tier_id else None
            if tier is None or tier.rank < reward.min_tier_rank:
                raise DomainError("This reward needs a higher tier", "rewardId", code="TIER_REQUIRED")
        if reward.per_member_limit is not None:
            taken = await Redemption.filter(member_id=member.id, reward_id=reward.id).exclude(status="cancelled").count()
            if taken >= reward.per_member_limit:
                raise DomainError("You have redeemed this reward the maximum number of times", "rewardId",
                                  code="LIMIT_REACHED")
        if reward.stock is not None and reward.stock <= 0:
            raise DomainError("This reward is out of stock", "rewardId", code="OUT_OF_STOCK")
        entry = None
        if reward.points_cost > 0:  # a zero-point offer debits nothing and writes no ledger entry
            entry = await ledger.debit(member, reward.points_cost, "redeem", f"Reward: {reward.name}",
                                       source=("reward", str(reward.id)), idempotency_key=f"redeem:{idempotency_key}")
        if reward.stock is not None:
            reward.stock -= 1
            await reward.save(update_fields=["stock"])
        redemption = await Redemption.create(  # with its reward and member: the payload reads no more
            reward=reward, member=member, points=reward.points_cost, code=new_code(),
            idempotency_key=idempotency_key, debit_entry_id=entry.id if entry else None, created_at=now,
            expires_at=now + timedelta(days=reward.code_valid_days) if reward.code_valid_days else None,
        )
        if entry is not None:
            await record_event("points.redeemed", ledger._entry_event(entry, member), member.id)
        await record_event("reward.redeemed", _payload(redemption, reward, member.external_id), member.id)
        return redemption


async def find_code(code: str) -> Redemption:
    redemption = await Redemption.get_or_none(code=code.strip().upper()).prefetch_related("reward", "member")
    if redemption is None:
        raise NotFound("No such code", "code", code="CODE_NOT_FOUND")
    if redemption.status == "issued" and redemption.expires_at and redemption.expires_at <= clock.now():
        redemption.status = "expired"  # shown as expired even before the job writes it
    return redemption


async def mark_used(code: str, order_external_id: str) -> Redemption:
    """The storefront applied the code to an order. The order must be the code's member's:
    recorded already, or (PATRON_REWARD_CODE_ORDER_GRACE_MINUTES > 0, for platforms that send
    the code use before the order) recorded within that grace. Until then the code is
    `awaiting_order`: not usable again, confirmed by `settle_code_uses` when the member's
    order arrives, put back to `issued` when another member's order or no order arrives."""
    if not order_external_id.strip() or len(order_external_id) > 255:
        raise InvalidInput("orderExternalId must be 1 to 255 characters", "orderExternalId")
    if len(code) > 40:
        raise NotFound("No such code", "code", code="CODE_NOT_FOUND")
    found = await find_code(code)
    grace = get_settings().reward_code_order_grace_minutes
    async with write_transaction():
        await ledger.lock_member(found.member_id)
        redemption = await Redemption.get(id=found.id).prefetch_related("reward", "member")
        if redemption.status in ("used", AWAITING) and redemption.order_external_id == order_external_id:
            return redemption  # a replay
        if found.status != "issued" or redemption.status != "issued":
            raise DomainError(f"The code is {found.status.replace('_', ' ')}", "code", code="CODE_NOT_USABLE")
        order = await Order.get_or_none(external_id=order_external_id)
        if order is None and grace <= 0:
            raise NotFound(f"No order {order_external_id!r}: record the order before using the code on it",
                           "orderExternalId", code="ORDER_NOT_FOUND")
        if order is not None and order.member_id != redemption.member_id:
            raise DomainError("The order is a guest order, not the code's member's" if order.member_id is None
                              else "The order belongs to another member than the code", "orderExternalId",
                              code="ORDER_MEMBER_MISMATCH")
        redemption.status = "used" if order is not None else AWAITING
        redemption.used_at, redemption.order_external_id = clock.now(), order_external_id
        await redemption.save(update_fields=["status", "used_at", "order_external_id"])
        if order is not None:
            await _announce_use(redemption)
        return redemption


def _not_theirs(order: Order) -> str:
    return "the order is a guest order" if order.member_id is None else "the order belongs to another member"


async def _announce_use(redemption: Redemption) -> None:
    await record_event("reward.code_used", _payload(redemption, redemption.reward, redemption.member.external_id)
                       | {"orderExternalId": redemption.order_external_id}, redemption.member_id)


async def _undo_use(redemption: Redemption, why: str) -> None:
    order_external_id = redemption.order_external_id
    redemption.status, redemption.used_at, redemption.order_external_id = "issued", None, None
    await redemption.save(update_fields=["status", "used_at", "order_external_id"])
    await record_event("reward.code_use_undone", _payload(redemption, redemption.reward, redemption.member.external_id)
                       | {"orderExternalId": order_external_id, "why": why}, redemption.member_id)


async def settle_code_uses(order: Order, member: Member | None) -> None:
    """Inside recordOrder's transaction (the order's member locked): codes awaiting this order
    are confirmed when it is their member's, otherwise (another member's or a guest order)
    put back to issued."""
    waiting = await Redemption.select_for_update().filter(status=AWAITING, order_external_id=order.external_id)
    for row in waiting:
        await row.fetch_related("reward", "member")
        if member is not None and row.member_id == member.id:
            row.status = "used"
            await row.save(update_fields=["status"])
            await _announce_use(row)
        else:
            await _undo_use(row, _not_theirs(order))


async def undo_unconfirmed_uses(now: datetime) -> int:
    """Codes whose order was not recorded within the grace become usable again. The order is
    looked up once more: one recorded while the use was being written (another member's
    order does not wait on this member's lock) is settled here instead."""
    deadline = now - timedelta(minutes=get_settings().reward_code_order_grace_minutes)
    due = await Redemption.filter(status=AWAITING, used_at__lte=deadline).order_by("id").limit(500)
    for candidate in due:
        async with write_transaction():
            await ledger.lock_member(candidate.member_id)
            row = await Redemption.get(id=candidate.id).prefetch_related("reward", "member")
            if row.status != AWAITING or row.used_at is None or row.used_at > deadline:
                continue
            order = await Order.get_or_none(external_id=row.order_external_id)
            if order is not None and order.member_id == row.member_id:
                row.status = "used"
                await row.save(update_fields=["status"])
                await _announce_use(row)
            elif order is not None:
                await _undo_use(row, _not_theirs(order))
            else:
                await _undo_use(row, "the order was not recorded within the grace period")
    return len(due)


async def cancel(code: str, actor: str, member_external_id: str | None = None) -> Redemption:
    """Cancel an unused code: the points come back as a new credit, the stock is restored."""
    found = await find_code(code)
    if member_external_id is not None and found.member.external_id != member_external_id:
        raise NotFound("No such code", "code", code="CODE_NOT_FOUND")
    async with write_transaction():
        member = await ledger.lock_member(found.member_id)
        reward = await Reward.select_for_update().get(id=found.reward_id)
        redemption = await Redemption.get(id=found.id)
        if redemption.status != "issued":
            raise DomainError(f"The code is {redemption.status}", "code", code="CODE_NOT_USABLE")
        redemption.status, redemption.cancelled_at = "cancelled", clock.now()
        await redemption.save(update_fields=["status", "cancelled_at"])
        if redemption.points > 0:  # a granted or zero-point code gives nothing back
            entry = await ledger.credit(member, redemption.points, "reverse", f"Redemption cancelled: {reward.name}",
                                        source=("redemption", str(redemption.id)),
                                        idempotency_key=f"cancel-redemption:{redemption.id}", details={"actor": actor})
            await record_event("points.reversed", ledger._entry_event(entry, member), member.id)
        if reward.stock is not None:
            reward.stock += 1
            await reward.save(update_fields=["stock"])
        await record_event("reward.cancelled", _payload(redemption, reward, member.external_id) | {"actor": actor},
                           member.id)
        return redemption


async def expire_codes(now: Any) -> int:
    """Unused codes past their validity become expired (the points are not returned); in
    chunks shared by the workers (domain/scheduler/chunks.py), rows locked with SKIP LOCKED."""
    async def take(after: int) -> chunks.Chunk:
        async with write_transaction():
            due = await chunks.claim(Redemption.filter(status="issued", expires_at__lte=now), after)
            for row in due:  # locked by this chunk and still issued (the filter)
                await row.fetch_related("reward", "member")
                row.status = "expired"
                await row.save(update_fields=["status"])
                await record_event("reward.code_expired", _payload(row, row.reward, row.member.external_id), row.member_id)
        return chunks.Chunk(len(due), len(due), due[-1].id if due else None)

    return await chunks.drain(take)


