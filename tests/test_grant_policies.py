"""Automatic grant policies (issue 13): a BIRTHDAY coupon granted in the member's birthday week
once a year, and a WIN_BACK coupon granted to a segment's members once each, by their jobs
(domain/rewards/policies.py), with the grant rules of grantReward (audience, stock, expiry,
events, codes in `me { rewards { available } }`)."""

from __future__ import annotations

from datetime import UTC, date, datetime

from domain import clock
from domain.events.models import Event
from domain.members.models import Member
from domain.orders.models import Order
from domain.rewards import policies
from domain.rewards.models import Redemption, RewardGrant
from schema.common import global_id
from tests.conftest import member_token

SET = """mutation($input: SetGrantPolicyInput!) { setGrantPolicy(input: $input) {
  policy { kind enabled reward { name } segment { name } } errors { field code } } }"""
CREATE_REWARD = """mutation($input: RewardInput!) { createReward(input: $input) { reward { id } errors { code } } }"""
CREATE_SEGMENT = """mutation($input: CreateSegmentInput!) { createSegment(input: $input) { segment { id } errors { code } } }"""
GRANT = """mutation($input: GrantRewardInput!) { grantReward(input: $input) { granted errors { code } } }"""
ME = """{ me { rewards { available { granted points expiresAt reward { name } } } } }"""
WEDNESDAY = datetime(2026, 3, 11, 9, 0, tzinfo=UTC)  # its ISO week: Monday March 9 to Sunday March 15


async def _reward(api, token, name: str, **extra) -> str:
    values = {"name": name, "type": "PERCENTAGE", "percent": 10, "pointsCost": 0, "codeValidDays": 14,
              "audience": {"kind": "MEMBERS_GRANTED"}} | extra
    made = (await api.ok(CREATE_REWARD, {"input": values}, token))["createReward"]
    assert made["errors"] == []
    return made["reward"]["id"]


async def _member(ext: str, birthday: str | None = None, anonymized: bool = False) -> Member:
    return await Member.create(external_id=ext, birthday=date.fromisoformat(birthday) if birthday else None,
                               anonymized_at=WEDNESDAY if anonymized else None,
                               created_at=datetime(2025, 1, 1, tzinfo=UTC), updated_at=datetime(2025, 1, 1, tzinfo=UTC))


async def _holders(reward_key_part: str = "") -> list[str]:
    rows = await Redemption.filter(idempotency_key__contains=reward_key_part).order_by("member_id").values_list(
        "member__external_id", flat=True)
    return list(rows)


async def test_birthday_coupon_in_the_birthday_week_once_a_year(api, admin_token):
    clock.set_now(WEDNESDAY)
    await _member("monday", "1990-03-09")
    await _member("sunday", "1985-03-15")
    await _member("next-monday", "1990-03-16")  # the week after
    await _member("last-sunday", "1990-03-08")  # the week before
    await _member("erased", "1990-03-10", anonymized=True)
    await _member("no-birthday")
    reward_id = await _reward(api, admin_token, "Birthday 15%")
    assert (await policies.grant_birthdays(WEDNESDAY)) == 0  # no policy yet
    assert (await api.ok(SET, {"input": {"kind": "BIRTHDAY", "rewardId": reward_id}}, admin_token))["setGrantPolicy"] == {
        "policy": {"kind": "BIRTHDAY", "enabled": True, "reward": {"name": "Birthday 15%"}, "segment": None},
        "errors": []}
    assert (await policies.grant_birthdays(WEDNESDAY)) == 2
    assert await _holders() == ["monday", "sunday"]
    assert (await policies.grant_birthdays(datetime(2026, 3, 15, 23, 0, tzinfo=UTC))) == 0  # same week: nothing more
    assert await RewardGrant.all().count() == 1  # a run that grants nobody writes no grant row
    grant = await RewardGrant.get()
    assert (grant.granted, grant.reason, grant.actor) == (2, "Birthday 2026", "policy:BIRTHDAY")
    events = await Event.filter(type="reward.granted").order_by("member_id").values_list("payload", flat=True)
    assert [(p["memberExternalId"], p["reason"], p["points"]) for p in events] == [
        ("monday", "Birthday 2026", 0), ("sunday", "Birthday 2026", 0)]
    assert (await api.ok(ME, None, member_token("monday")))["me"]["rewards"]["available"] == [
        {"granted": True, "points": 0, "expiresAt": "2026-03-25T09:00:00+00:00", "reward": {"name": "Birthday 15%"}}]
    # A year later, the week of Wednesday March 10, 2027 runs from Monday March 8 to Sunday March 14.
    next_year = datetime(2027, 3, 10, 9, 0, tzinfo=UTC)
    clock.set_now(next_year)
    assert (await policies.grant_birthdays(next_year)) == 2
    assert await _holders(":birthday:2027") == ["monday", "last-sunday"]
    assert await Redemption.filter(member__external_id="monday").count() == 2  # one code a year


async def test_birthday_week_across_new_year_and_february_29(api, admin_token):
    await _member("jan-2", "1990-01-02")
    await _member("leap", "2000-02-29")
    reward_id = await _reward(api, admin_token, "Birthday gift")
    await api.ok(SET, {"input": {"kind": "BIRTHDAY", "rewardId": reward_id}}, admin_token)
    new_year_week = datetime(2026, 12, 30, 12, 0, tzinfo=UTC)  # Monday Dec 28, 2026 to Sunday Jan 3, 2027
    clock.set_now(new_year_week)
    assert (await policies.grant_birthdays(new_year_week)) == 1
    assert await _holders(":birthday:2027") == ["jan-2"]  # its birthday's year
    feb_28_week = datetime(2027, 2, 25, 12, 0, tzinfo=UTC)  # Monday Feb 22 to Sunday Feb 28, 2027 (no Feb 29)
    clock.set_now(feb_28_week)
    assert (await policies.grant_birthdays(feb_28_week)) == 1
    assert await _holders(":birthday:2027") == ["jan-2", "leap"]


async def _order(member: Member, placed: datetime) -> None:
    await Order.create(external_id=f"o-{member.external_id}-{placed.date()}", member_id=member.id, currency="KRW",
                       channel="web", placed_at=placed, total_amount=1000, refunded_amount=0, created_at=placed)


async def test_win_back_coupon_reaches_the_segment_members_once_each(api, admin_token):
    clock.set_now(WEDNESDAY)
    w1, w2, w3 = await _member("w1"), await _member("w2"), await _member("w3")
    await _member("never-ordered")
    for m in (w1, w2):
        await _order(m, datetime(2025, 10, 1, tzinfo=UTC))
    await _order(w3, datetime(2026, 3, 1, tzinfo=UTC))  # ordered recently: not lapsed
    lapsed = {"name": "Lapsed", "filter": {"lastOrderBefore": "2026-01-01"}}
    sid = (await api.ok(CREATE_SEGMENT, {"input": lapsed}, admin_token))["createSegment"]["segment"]["id"]
    reward_id = await _reward(api, admin_token, "Come back 10%")
    manual = {"rewardId": reward_id, "memberExternalIds": ["w1"], "reason": "VIP", "idempotencyKey": "vip"}
    assert (await api.ok(GRANT, {"input": manual}, admin_token))["grantReward"]["granted"] == 1
    winback = {"kind": "WIN_BACK", "rewardId": reward_id, "segmentId": sid}
    assert (await api.ok(SET, {"input": winback}, admin_token))["setGrantPolicy"]["policy"]["segment"] == {
        "name": "Lapsed"}
    assert (await policies.grant_win_back(WEDNESDAY)) == 1  # w2; w1 holds it already (granted by hand)
    assert await _holders() == ["w1", "w2"]
    assert (await policies.grant_win_back(WEDNESDAY)) == 0
    # w3's only order is moved back to 2025: it is lapsed too now, and the next run reaches it alone.
    await Order.filter(member_id=w3.id).update(placed_at=datetime(2025, 12, 1, tzinfo=UTC))
    assert (await policies.grant_win_back(datetime(2026, 3, 12, 9, 0, tzinfo=UTC))) == 1
    assert await _holders() == ["w1", "w2", "w3"]
    assert await RewardGrant.filter(actor="policy:WIN_BACK").values_list("granted", "reason") == [
        (1, "Win-back: Lapsed"), (1, "Win-back: Lapsed")]
    # The segment is in use while the policy names it; a disabled policy grants nothing.
    delete = "mutation($id: ID!) { deleteSegment(input: {id: $id}) { errors { code } } }"
    assert (await api.ok(delete, {"id": sid}, admin_token))["deleteSegment"]["errors"] == [{"code": "SEGMENT_IN_USE"}]
    await api.ok(SET, {"input": winback | {"enabled": False}}, admin_token)
    await _order(await _member("w4"), datetime(2025, 9, 1, tzinfo=UTC))
    assert (await policies.grant_win_back(WEDNESDAY)) == 0
    listed = (await api.ok("{ grantPolicies { kind enabled } }", None, admin_token))["grantPolicies"]
    assert listed == [{"kind": "WIN_BACK", "enabled": False}]


async def test_a_policy_run_that_cannot_grant_writes_nothing(api, admin_token):
    clock.set_now(WEDNESDAY)
    await _member("a", "1990-03-10")
    await _member("b", "1990-03-11")
    reward_id = await _reward(api, admin_token, "Scarce", stock=1)
    await api.ok(SET, {"input": {"kind": "BIRTHDAY", "rewardId": reward_id}}, admin_token)
    assert (await policies.grant_birthdays(WEDNESDAY)) == 0  # 2 due, 1 in stock: all or nothing
    assert await Redemption.all().count() == 0 and await RewardGrant.all().count() == 0


async def test_invalid_policies_are_refused(api, admin_token):
    reward_id = await _reward(api, admin_token, "Gift")
    sid = (await api.ok(CREATE_SEGMENT, {"input": {"name": "S", "filter": {"minOrders": 1}}},
                        admin_token))["createSegment"]["segment"]["id"]
    cases = [
        ({"kind": "WIN_BACK", "rewardId": reward_id}, [{"field": "segmentId", "code": "INVALID"}]),
        ({"kind": "BIRTHDAY", "rewardId": reward_id, "segmentId": sid}, [{"field": "segmentId", "code": "INVALID"}]),
        ({"kind": "BIRTHDAY", "rewardId": global_id("Reward", 999)}, [{"field": "rewardId", "code": "REWARD_NOT_FOUND"}]),
        ({"kind": "WIN_BACK", "rewardId": reward_id, "segmentId": global_id("Segment", 999)},
         [{"field": "segmentId", "code": "SEGMENT_NOT_FOUND"}]),
    ]
    for given, errors in cases:
        assert (await api.ok(SET, {"input": given}, admin_token))["setGrantPolicy"] == {"policy": None, "errors": errors}
    assert (await api.ok("{ grantPolicies { kind } }", None, admin_token))["grantPolicies"] == []
