"""Personalized offers: a reward granted, without points, to a segment's members or to listed members.

The rule (README "Segments and personalized offers"):

- A member is granted a given reward at most once, whatever the key: each granted code is a
  redemption with idempotency key `grant:<reward id>`, unique per member in the database, so
  neither a replay, nor a second key, nor two grants running at once can give it twice.
  Members who hold it already (granted before) are skipped and not counted.
- `(reward, idempotencyKey)` names one grant: a replay answers the first call's `granted` and
  writes nothing, whatever targets it names.
- Only targeted members in the reward's audience receive it (SEGMENT: the audience segment's
  filter now; TIER: that tier; ALL and MEMBERS_GRANTED: everyone targeted). Anonymized members
  are never targeted.
- All or nothing: the reward row is locked (grants of one reward serialize), the codes are
  written in bulk with their expiry (the reward's codeValidDays) and a `reward.granted` event
  per member, in one transaction; an unknown member, a reward that is not available, or too
  little stock writes nothing.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from tortoise.expressions import Subquery
from tortoise.queryset import QuerySet

from domain import clock
from domain.db import write_transaction
from domain.errors import DomainError, InvalidInput, MemberNotFound, NotFound
from domain.events.service import record_event
from domain.members.models import Member
from domain.rewards.models import Redemption, Reward, RewardGrant
from domain.rewards.service import GRANT_KEY_PREFIX, new_code
from domain.segments.filters import SegmentFilter, members_query
from domain.segments.models import Segment

MAX_LISTED = 1000  # memberExternalIds per call
CHUNK = 500  # codes per bulk insert


def _check(segment_id: int | None, external_ids: list[str] | None, reason: str, key: str) -> None:
    if (segment_id is None) == (external_ids is None):
        raise InvalidInput("Give either segmentId or memberExternalIds", "segmentId")
    if external_ids is not None and not 1 <= len(external_ids) <= MAX_LISTED:
        raise InvalidInput(f"memberExternalIds takes 1 to {MAX_LISTED} members", "memberExternalIds")
    if not reason.strip() or len(reason) > 500:
        raise InvalidInput("reason must be 1 to 500 characters", "reason")
    if not key.strip() or len(key) > 255:
        raise InvalidInput("idempotencyKey must be 1 to 255 characters", "idempotencyKey")


async def locked_reward(reward_id: int) -> Reward:
    """The reward under its row lock (grants of one reward serialize); inside a transaction."""
    reward = await Reward.select_for_update().get_or_none(id=reward_id)
    if reward is None:
        raise NotFound("No such reward", "rewardId", code="REWARD_NOT_FOUND")
    return reward


def check_available(reward: Reward, now: datetime) -> None:
    if not reward.active or (reward.starts_at and now < reward.starts_at) or (reward.ends_at and now >= reward.ends_at):
        raise DomainError("This reward is not available now", "rewardId", code="REWARD_UNAVAILABLE")


async def audience(reward: Reward) -> QuerySet[Member]:
    """Members the reward may be granted to now (its audience), never anonymized ones."""
    qs = Member.filter(anonymized_at__isnull=True)
    if reward.audience == "SEGMENT":
        segment = await Segment.get(id=reward.audience_segment_id)
        qs = members_query(SegmentFilter.from_stored(segment.conditions))
    elif reward.audience == "TIER":
        qs = qs.filter(tier_id=reward.audience_tier_id)
    return qs


def in_segment(targets: QuerySet[Member], segment: Segment) -> QuerySet[Member]:
    return targets.filter(id__in=Subquery(members_query(SegmentFilter.from_stored(segment.conditions)).values("id")))


async def grant(reward_id: int, segment_id: int | None, external_ids: list[str] | None, reason: str, key: str,
                actor: str) -> tuple[RewardGrant, bool]:
    """The grant and whether it is a replay (nothing written)."""
    _check(segment_id, external_ids, reason, key)
    async with write_transaction():
        reward = await locked_reward(reward_id)
        replay = await RewardGrant.get_or_none(reward_id=reward.id, idempotency_key=key)
        if replay is not None:
            return replay, True
        now = clock.now()
        check_available(reward, now)
        targets = await audience(reward)
        if segment_id is not None:
            segment = await Segment.get_or_none(id=segment_id)
            if segment is None:
                raise NotFound("No such segment", "segmentId", code="SEGMENT_NOT_FOUND")
            targets = in_segment(targets, segment)
        else:
            wanted = sorted(set(external_ids or []))
            found = set(await Member.filter(external_id__in=wanted).values_list("external_id", flat=True))
            missing = [e for e in wanted if e not in found]
            if missing:
                raise MemberNotFound(f"No member {missing[0]!r}", "memberExternalIds")
            targets = targets.filter(external_id__in=wanted)
        row = await issue(reward, targets, f"{GRANT_KEY_PREFIX}{reward.id}", key, reason, segment_id, actor, now)
        assert row is not None  # always written for a call (granted may be 0)
        return row, False


async def issue(reward: Reward, targets: QuerySet[Member], holder_key: str, key: str, reason: str,
                segment_id: int | None, actor: str, now: datetime, *, skip_empty: bool = False) -> RewardGrant | None:
    """Grant `reward` (locked by the caller, in its transaction) to `targets` not holding a code
    with `holder_key` yet: the stock taken, the grant row, the codes in bulk and one
    `reward.granted` event each. `skip_empty`: write nothing when nobody is due (a job's run)."""
    targets = targets.exclude(id__in=Subquery(
        Redemption.filter(reward_id=reward.id, idempotency_key=holder_key).values("member_id")))
    due = await targets.count()
    if skip_empty and due == 0:
        return None
    if reward.stock is not None:
        if due > reward.stock:
            raise DomainError(f"Only {reward.stock} left in stock for {due} members", "rewardId",
                              code="OUT_OF_STOCK")
        reward.stock -= due
        await reward.save(update_fields=["stock"])
    row = await RewardGrant.create(reward_id=reward.id, idempotency_key=key, reason=reason, segment_id=segment_id,
                                   granted=due, actor=actor, created_at=now)
    expires = now + timedelta(days=reward.code_valid_days) if reward.code_valid_days else None
    after = 0
    while True:
        chunk = await targets.filter(id__gt=after).order_by("id").limit(CHUNK).values("id", "external_id")
        if not chunk:
            break
        codes = [Redemption(reward_id=reward.id, member_id=m["id"], points=0, code=new_code(), status="issued",
                            idempotency_key=holder_key, grant_id=row.id, expires_at=expires, created_at=now)
                 for m in chunk]
        await Redemption.bulk_create(codes)
        ids = dict(await Redemption.filter(grant_id=row.id, member_id__in=[m["id"] for m in chunk])
                   .values_list("member_id", "id"))
        for m, code in zip(chunk, codes, strict=True):
            await record_event("reward.granted", _event(ids[m["id"]], code, reward, m["external_id"], row),
                               m["id"])
        after = chunk[-1]["id"]
    return row


def _event(redemption_id: int, r: Redemption, reward: Reward, external_id: str, row: RewardGrant) -> dict[str, Any]:
    return {"redemptionId": redemption_id, "code": r.code, "rewardId": reward.id, "reward": reward.name,
            "type": reward.type, "points": 0, "memberExternalId": external_id, "status": "issued",
            "expiresAt": r.expires_at.isoformat() if r.expires_at else None, "grantId": row.id,
            "reason": row.reason}
