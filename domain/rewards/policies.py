"""Automatic grants (README "Personalized offers"): a BIRTHDAY policy grants a chosen reward to
members in their birthday week, a WIN_BACK policy grants one to a segment's members.

Both go through offers.issue, so they keep the grant rules: the reward's audience, its dates and
stock, codes with its expiry, one `reward.granted` event per member, all or nothing per run under
the reward's row lock. What differs is the "once":

- BIRTHDAY: once per member, reward and year (holder key `grant:<reward id>:birthday:<year>`),
  granted by the hourly `birthday_grants` job when the member's birthday falls in the current
  UTC ISO week (Monday to Sunday; Feb 29 birthdays count on Feb 28 in other years), matched in
  SQL on the birthday key index;
- WIN_BACK: once per member and reward, as grantReward (`grant:<reward id>`), granted by the
  daily `win_back_grants` job to the policy's segment members now (its filter, in SQL), so a
  member who enters the segment later gets it at the next run.

A run that grants nobody writes nothing; a reward that cannot be granted now (inactive, out
of its dates, too little stock) is logged and retried at the next run.
"""

from __future__ import annotations

import logging
from datetime import date, datetime, timedelta

from domain import clock
from domain.db import write_transaction
from domain.errors import DomainError, InvalidInput, NotFound
from domain.members import birthdays
from domain.rewards import offers
from domain.rewards.models import GrantPolicy, Reward
from domain.rewards.service import GRANT_KEY_PREFIX
from domain.segments.models import Segment

log = logging.getLogger("patron.rewards.policies")
KINDS = ("BIRTHDAY", "WIN_BACK")


async def set_policy(kind: str, reward_id: int, segment_id: int | None, enabled: bool) -> GrantPolicy:
    """Create or replace the policy of `kind` (one per kind)."""
    if kind not in KINDS:
        raise InvalidInput(f"kind must be one of {', '.join(KINDS)}", "kind")
    if kind == "WIN_BACK" and segment_id is None:
        raise InvalidInput("A WIN_BACK policy needs segmentId", "segmentId")
    if kind == "BIRTHDAY" and segment_id is not None:
        raise InvalidInput("A BIRTHDAY policy takes no segmentId (give the reward a SEGMENT audience)", "segmentId")
    async with write_transaction():
        if not await Reward.exists(id=reward_id):
            raise NotFound("No such reward", "rewardId", code="REWARD_NOT_FOUND")
        if segment_id is not None and not await Segment.exists(id=segment_id):
            raise NotFound("No such segment", "segmentId", code="SEGMENT_NOT_FOUND")
        values = {"reward_id": reward_id, "segment_id": segment_id, "enabled": enabled, "updated_at": clock.now()}
        row = await GrantPolicy.select_for_update().get_or_none(kind=kind)
        if row is None:
            return await GrantPolicy.create(kind=kind, **values)
        await GrantPolicy.filter(id=row.id).update(**values)
        return await GrantPolicy.get(id=row.id)


async def all_policies() -> list[GrantPolicy]:
    return await GrantPolicy.all().order_by("kind")


def birthday_week(now: datetime) -> list[date]:
    """The days of the UTC ISO week (Monday first) that `now` falls in."""
    monday = now.date() - timedelta(days=now.weekday())
    return [monday + timedelta(days=i) for i in range(7)]


async def _enabled(kind: str) -> GrantPolicy | None:
    return await GrantPolicy.get_or_none(kind=kind, enabled=True)


async def grant_birthdays(now: datetime) -> int:
    """Codes granted to members whose birthday falls in this week, once per year."""
    policy = await _enabled("BIRTHDAY")
    if policy is None:
        return 0
    keys_by_year: dict[int, set[int]] = {}
    for day in birthday_week(now):  # a week across New Year grants each birthday for its own year
        keys_by_year.setdefault(day.year, set()).update(birthdays.keys_for(day))
    granted = 0
    for year, keys in sorted(keys_by_year.items()):
        try:
            async with write_transaction():
                reward = await offers.locked_reward(policy.reward_id)
                offers.check_available(reward, now)
                targets = ((await offers.audience(reward)).filter(birthday__isnull=False)
                           .annotate(birthday_key=birthdays.key_sql()).filter(birthday_key__in=sorted(keys)))
                row = await offers.issue(reward, targets, f"{GRANT_KEY_PREFIX}{reward.id}:birthday:{year}",
                                         f"policy:BIRTHDAY:{now.isoformat()}:{year}", f"Birthday {year}", None,
                                         "policy:BIRTHDAY", now, skip_empty=True)
        except DomainError as exc:
            log.warning("birthday grant policy skipped: %s (%s)", exc.message, exc.code)
            continue
        granted += row.granted if row else 0
    return granted


async def grant_win_back(now: datetime) -> int:
    """Codes granted to the policy segment's members who do not hold the reward yet."""
    policy = await _enabled("WIN_BACK")
    if policy is None or policy.segment_id is None:
        return 0
    try:
        async with write_transaction():
            reward = await offers.locked_reward(policy.reward_id)
            offers.check_available(reward, now)
            segment = await Segment.get(id=policy.segment_id)
            targets = offers.in_segment(await offers.audience(reward), segment)
            row = await offers.issue(reward, targets, f"{GRANT_KEY_PREFIX}{reward.id}",
                                     f"policy:WIN_BACK:{now.isoformat()}", f"Win-back: {segment.name}"[:500],
                                     segment.id, "policy:WIN_BACK", now, skip_empty=True)
    except DomainError as exc:
        log.warning("win-back grant policy skipped: %s (%s)", exc.message, exc.code)
        return 0
    return row.granted if row else 0
