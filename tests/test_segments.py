"""Segments and personalized offers (issue 13) through GraphQL, against a small hand-built program.

Members (rows written directly, as the member_insights job and recordOrder would write them):

| member | rfm       | churn | tier rank | kept orders (placed)                         | category | MARKETING_EMAIL |
| a1     | AT_RISK   | 0.80  | 2 Gold    | 2026-01-10, 2026-02-20                       | shoes    | granted         |
| a2     | CANT_LOSE | 0.65  | 3 Plat    | 2026-02-27 (+ 2026-03-05 refunded in full)   | shoes    | granted         |
| a3     | AT_RISK   | 0.90  | 2 Gold    | 2026-03-02                                   | shoes    | granted         |
| a4     | AT_RISK   | 0.55  | 2 Gold    | 2026-01-05                                   | shoes    | granted         |
| a5     | CANT_LOSE | 0.70  | 1 Silver  | 2026-01-05                                   | shoes    | granted         |
| a6     | AT_RISK   | 0.75  | 2 Gold    | 2026-01-05                                   | shoes    | withdrawn       |
| a7     | AT_RISK   | 0.75  | 2 Gold    | 2026-01-05                                   | bags     | granted         |
| a8     | LOYAL     | 0.70  | 2 Gold    | 2026-01-05                                   | shoes    | granted         |
| a9     | AT_RISK   | 0.99  | 2 Gold    | 2026-01-05 (shoes line refunded in full)     | shoes    | granted         |
| a10    | AT_RISK   | 0.95  | 2 Gold    | none                                         | -        | granted         |

The issue's filter (AT_RISK or CANT_LOSE, churn >= 0.6, tier rank >= 2, last order before
2026-03-01, MARKETING_EMAIL, bought shoes) keeps a1 and a2 only: a3 ordered on 2026-03-02, a4's
churn is 0.55, a5 is Silver, a6 withdrew consent, a7 bought bags, a8 is LOYAL, a9's shoes were
refunded, a10 never ordered. a2's 2026-03-05 order was refunded in full, so it does not count.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

import pytest

from domain import clock
from domain.auth import service as auth
from domain.events.models import Event
from domain.insights.models import MemberInsight
from domain.members.models import Consent, Member
from domain.orders.models import Order, OrderLine
from domain.rewards.models import Redemption, Reward, RewardGrant
from domain.segments import service as segments
from domain.segments.models import Segment, SegmentMember
from domain.tiers.models import Tier
from schema.common import global_id, parse_id
from tests.conftest import member_token

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
ISSUE_FILTER = {"rfmSegments": ["AT_RISK", "CANT_LOSE"], "minChurnRisk": 0.6, "tierRankAtLeast": 2,
                "lastOrderBefore": "2026-03-01", "consent": "MARKETING_EMAIL", "boughtCategory": "shoes"}
CREATE = """mutation($input: CreateSegmentInput!) { createSegment(input: $input) {
  segment { id name memberCount filter { rfmSegments minChurnRisk tierRankAtLeast lastOrderBefore lastOrderAfter
            consent boughtCategory minOrders } }
  errors { field code } } }"""
MEMBERS = """query($id: ID!, $first: Int, $after: String) { segment(id: $id) { name memberCount
  members(first: $first, after: $after) { edges { node { externalId } } pageInfo { hasNextPage endCursor } } } }"""
GRANT = """mutation($input: GrantRewardInput!) { grantReward(input: $input) { granted replayed errors { field code } } }"""
CREATE_REWARD = """mutation($input: RewardInput!) { createReward(input: $input) {
  reward { id pointsCost audience { kind segment { name } tier { name } } } errors { field code } } }"""
ME = """{ me { rewards { available { code granted points expiresAt status reward { name } } } } }"""


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


async def _tiers() -> dict[int, Tier]:
    made = {}
    for rank, name in ((1, "Silver"), (2, "Gold"), (3, "Platinum")):
        made[rank] = await Tier.create(name=name, rank=rank, created_at=NOW)
    return made


async def _member(ext: str, rfm: str, churn: float | None, tier: Tier | None, consent: bool = True) -> Member:
    m = await Member.create(external_id=ext, email=f"{ext}@example.com", tier_id=tier.id if tier else None,
                            created_at=at("2025-06-01"), updated_at=at("2025-06-01"))
    await MemberInsight.create(member=m, recency_days=30, frequency=1, monetary=100, currency="USD", r_score=2,
                               f_score=2, m_score=2, rfm_segment=rfm, churn_risk=churn, explanation="x",
                               computed_at=NOW)
    await Consent.create(member=m, purpose="MARKETING_EMAIL", granted=consent, source="test", updated_at=NOW)
    return m


async def _order(ext: str, m: Member, placed: str, category: str = "shoes", refunded: bool = False,
                 line_refunded: bool = False) -> None:
    o = await Order.create(external_id=ext, member_id=m.id, currency="USD", channel="web", placed_at=at(placed),
                           total_amount=5000, refunded_amount=5000 if refunded else 0, created_at=at(placed))
    await OrderLine.create(order=o, sku=f"sku-{ext}", category=category, quantity=1, unit_price=5000,
                           refunded_quantity=1 if line_refunded else 0)


async def build() -> dict[str, Member]:
    clock.set_now(NOW)
    t = await _tiers()
    ms = {
        "a1": await _member("a1", "AT_RISK", 0.80, t[2]),
        "a2": await _member("a2", "CANT_LOSE", 0.65, t[3]),
        "a3": await _member("a3", "AT_RISK", 0.90, t[2]),
        "a4": await _member("a4", "AT_RISK", 0.55, t[2]),
        "a5": await _member("a5", "CANT_LOSE", 0.70, t[1]),
        "a6": await _member("a6", "AT_RISK", 0.75, t[2], consent=False),
        "a7": await _member("a7", "AT_RISK", 0.75, t[2]),
        "a8": await _member("a8", "LOYAL", 0.70, t[2]),
        "a9": await _member("a9", "AT_RISK", 0.99, t[2]),
        "a10": await _member("a10", "AT_RISK", 0.95, t[2]),
    }
    await _order("o1", ms["a1"], "2026-01-10")
    await _order("o2", ms["a1"], "2026-02-20", category="socks")
    await _order("o3", ms["a2"], "2026-02-27")
    await _order("o4", ms["a2"], "2026-03-05", refunded=True)
    await _order("o5", ms["a3"], "2026-03-02")
    for ext, cat in (("a4", "shoes"), ("a5", "shoes"), ("a6", "shoes"), ("a7", "bags"), ("a8", "shoes")):
        await _order(f"o-{ext}", ms[ext], "2026-01-05", category=cat)
    await _order("o-a9", ms["a9"], "2026-01-05", line_refunded=True)
    return ms


async def _create(api, token, name="At-risk VIPs", filter_=None) -> dict:
    out = await api.ok(CREATE, {"input": {"name": name, "filter": ISSUE_FILTER if filter_ is None else filter_}}, token)
    return out["createSegment"]


async def _ids(api, token, segment_id) -> list[str]:
    data = (await api.ok(MEMBERS, {"id": segment_id, "first": 50}, token))["segment"]
    return [e["node"]["externalId"] for e in data["members"]["edges"]]


async def test_the_issues_filter_finds_exactly_its_members(api, admin_token):
    await build()
    made = await _create(api, admin_token)
    assert made["errors"] == []
    assert made["segment"]["memberCount"] == 2
    assert made["segment"]["filter"] == {"rfmSegments": ["AT_RISK", "CANT_LOSE"], "minChurnRisk": 0.6,
                                         "tierRankAtLeast": 2, "lastOrderBefore": "2026-03-01",
                                         "lastOrderAfter": None, "consent": "MARKETING_EMAIL",
                                         "boughtCategory": "shoes", "minOrders": None}
    assert await _ids(api, admin_token, made["segment"]["id"]) == ["a1", "a2"]


@pytest.mark.parametrize(("filter_", "expected"), [
    ({"rfmSegments": ["CANT_LOSE"]}, ["a2", "a5"]),
    ({"minChurnRisk": 0.9}, ["a3", "a9", "a10"]),
    ({"tierRankAtLeast": 3}, ["a2"]),
    ({"lastOrderBefore": "2026-01-06"}, ["a4", "a5", "a6", "a7", "a8", "a9"]),
    ({"lastOrderAfter": "2026-02-20"}, ["a1", "a2", "a3"]),  # a2's 03-05 order is refunded: last kept 02-27
    ({"lastOrderAfter": "2026-02-28"}, ["a3"]),
    ({"consent": "MARKETING_EMAIL", "rfmSegments": ["LOYAL", "CANT_LOSE"]}, ["a2", "a5", "a8"]),
    ({"boughtCategory": "bags"}, ["a7"]),
    ({"boughtCategory": "socks"}, ["a1"]),
    ({"minOrders": 2}, ["a1"]),  # a2's second order is refunded in full
    ({"minOrders": 1, "tierRankAtLeast": 3}, ["a2"]),
    ({}, ["a1", "a2", "a3", "a4", "a5", "a6", "a7", "a8", "a9", "a10"]),
])
async def test_each_condition_alone(api, admin_token, filter_, expected):
    await build()
    made = await _create(api, admin_token, filter_=filter_)
    assert made["segment"]["memberCount"] == len(expected)
    assert await _ids(api, admin_token, made["segment"]["id"]) == expected


async def test_members_are_paged_and_anonymized_members_are_never_in(api, admin_token):
    ms = await build()
    await Member.filter(id=ms["a3"].id).update(anonymized_at=NOW)
    made = await _create(api, admin_token, filter_={"rfmSegments": ["AT_RISK"]})
    sid = made["segment"]["id"]
    first = (await api.ok(MEMBERS, {"id": sid, "first": 3}, admin_token))["segment"]
    assert first["memberCount"] == 6
    assert [e["node"]["externalId"] for e in first["members"]["edges"]] == ["a1", "a4", "a6"]
    assert first["members"]["pageInfo"]["hasNextPage"] is True
    rest = (await api.ok(MEMBERS, {"id": sid, "first": 3, "after": first["members"]["pageInfo"]["endCursor"]},
                         admin_token))["segment"]
    assert [e["node"]["externalId"] for e in rest["members"]["edges"]] == ["a7", "a9", "a10"]
    assert rest["members"]["pageInfo"]["hasNextPage"] is False


@pytest.mark.parametrize(("filter_", "field"), [
    ({"rfmSegments": []}, "filter.rfmSegments"),
    ({"minChurnRisk": 1.5}, "filter.minChurnRisk"),
    ({"tierRankAtLeast": -1}, "filter.tierRankAtLeast"),
    ({"lastOrderBefore": "2026-01-01", "lastOrderAfter": "2026-02-01"}, "filter.lastOrderAfter"),
    ({"boughtCategory": ""}, "filter.boughtCategory"),
    ({"minOrders": 0}, "filter.minOrders"),
])
async def test_invalid_filters_write_nothing(api, admin_token, filter_, field):
    made = await _create(api, admin_token, filter_=filter_)
    assert made == {"segment": None, "errors": [{"field": field, "code": "INVALID"}]}
    assert await Segment.all().count() == 0


async def test_update_rename_and_delete(api, admin_token):
    await build()
    sid = (await _create(api, admin_token))["segment"]["id"]
    await _create(api, admin_token, name="Other", filter_={"minOrders": 1})
    update = """mutation($input: UpdateSegmentInput!) { updateSegment(input: $input) {
      segment { name memberCount } errors { field code } } }"""
    taken = await api.ok(update, {"input": {"id": sid, "name": "Other"}}, admin_token)
    assert taken["updateSegment"] == {"segment": None, "errors": [{"field": "name", "code": "SEGMENT_NAME_TAKEN"}]}
    changed = await api.ok(update, {"input": {"id": sid, "filter": {"rfmSegments": ["LOYAL"]}}}, admin_token)
    assert changed["updateSegment"] == {"segment": {"name": "At-risk VIPs", "memberCount": 1}, "errors": []}
    delete = """mutation($input: DeleteSegmentInput!) { deleteSegment(input: $input) { deletedSegmentId errors { code } } }"""
    gone = await api.ok(delete, {"input": {"id": sid}}, admin_token)
    assert gone["deleteSegment"] == {"deletedSegmentId": sid, "errors": []}
    assert (await api.ok(MEMBERS, {"id": sid}, admin_token))["segment"] is None
    again = await api.ok(delete, {"input": {"id": sid}}, admin_token)
    assert again["deleteSegment"] == {"deletedSegmentId": None, "errors": [{"code": "SEGMENT_NOT_FOUND"}]}
    listed = await api.ok("{ segments(first: 10) { edges { node { name } } } }", None, admin_token)
    assert [e["node"]["name"] for e in listed["segments"]["edges"]] == ["Other"]


async def test_nightly_evaluation_records_entries_and_exits(api, admin_token):
    ms = await build()
    sid = (await _create(api, admin_token))["segment"]["id"]
    segment = await Segment.get(name="At-risk VIPs")
    assert await segments.evaluate_all(NOW) == 2
    entered = await Event.filter(type="segment.entered").order_by("id").values("member_id", "payload")
    assert entered == [
        {"member_id": ms[e].id, "payload": {"segmentId": segment.id, "segment": "At-risk VIPs", "memberExternalId": e,
                                            "evaluatedAt": NOW.isoformat()}} for e in ("a1", "a2")]
    assert await segments.evaluate_all(NOW) == 0  # nothing changed: no event
    assert await Event.filter(type__startswith="segment.").count() == 2
    # a2 withdraws consent; a4's churn risk rises into the filter.
    await Consent.filter(member_id=ms["a2"].id).update(granted=False)
    await MemberInsight.filter(member_id=ms["a4"].id).update(churn_risk=0.61)
    later = datetime(2026, 3, 11, 3, 0, tzinfo=UTC)
    assert await segments.evaluate_all(later) == 2
    assert [(e.type, e.payload["memberExternalId"]) for e in
            await Event.filter(type__startswith="segment.", id__gt=0).order_by("id")][2:] == [
        ("segment.entered", "a4"), ("segment.exited", "a2")]
    assert sorted(await SegmentMember.filter(segment_id=segment.id).values_list("member__external_id", flat=True)) \
        == ["a1", "a4"]
    data = await api.ok("query($id: ID!) { segment(id: $id) { evaluatedAt evaluatedMemberCount } }", {"id": sid},
                        admin_token)
    assert data["segment"] == {"evaluatedAt": "2026-03-11T03:00:00+00:00", "evaluatedMemberCount": 2}


async def test_segments_are_admin_only(api, storefront_token, partner_token):
    for token in (storefront_token, partner_token, member_token("a1"), None):
        out = await api("{ segments(first: 1) { edges { node { id } } } }", None, token)
        assert out["data"] is None
        assert out["errors"][0]["extensions"]["code"] in ("FORBIDDEN", "UNAUTHENTICATED")


async def _reward(api, token, audience: dict, cost: int = 0, **extra) -> str:
    values = {"name": "Win-back 10%", "type": "PERCENTAGE", "percent": 10, "pointsCost": cost, "codeValidDays": 30,
              "audience": audience} | extra
    made = (await api.ok(CREATE_REWARD, {"input": values}, token))["createReward"]
    assert made["errors"] == []
    return made["reward"]["id"]


async def test_a_segment_targeted_zero_point_coupon_reaches_exactly_the_segment_once(api, admin_token):
    ms = await build()
    sid = (await _create(api, admin_token))["segment"]["id"]
    reward_id = await _reward(api, admin_token, {"kind": "SEGMENT", "segmentId": sid})
    ask = {"rewardId": reward_id, "segmentId": sid, "reason": "Spring win-back", "idempotencyKey": "spring-1"}
    assert (await api.ok(GRANT, {"input": ask}, admin_token))["grantReward"] == {
        "granted": 2, "replayed": False, "errors": []}
    # The replay, and a second key, grant nothing more.
    assert (await api.ok(GRANT, {"input": ask}, admin_token))["grantReward"] == {
        "granted": 2, "replayed": True, "errors": []}
    second = ask | {"idempotencyKey": "spring-2"}
    assert (await api.ok(GRANT, {"input": second}, admin_token))["grantReward"] == {
        "granted": 0, "replayed": False, "errors": []}
    rows = await Redemption.all().order_by("member_id").values("member__external_id", "points", "status",
                                                               "expires_at", "debit_entry_id")
    assert [(r["member__external_id"], r["points"], r["status"], r["debit_entry_id"]) for r in rows] == [
        ("a1", 0, "issued", None), ("a2", 0, "issued", None)]
    assert {r["expires_at"] for r in rows} == {datetime(2026, 4, 9, 12, 0, tzinfo=UTC)}
    granted = await Event.filter(type="reward.granted").order_by("member_id").values_list("payload", flat=True)
    assert [(p["memberExternalId"], p["reason"], p["points"]) for p in granted] == [
        ("a1", "Spring win-back", 0), ("a2", "Spring win-back", 0)]
    assert await Event.filter(type__startswith="points.").count() == 0  # no ledger movement
    assert await RewardGrant.all().count() == 2
    # The member sees the code with its expiry; the code works at checkout.
    mine = (await api.ok(ME, None, member_token("a1")))["me"]["rewards"]["available"]
    code = (await Redemption.get(member_id=ms["a1"].id)).code
    assert mine == [{"code": code, "granted": True, "points": 0, "expiresAt": "2026-04-09T12:00:00+00:00",
                     "status": "ISSUED", "reward": {"name": "Win-back 10%"}}]
    assert (await api.ok(ME, None, member_token("a3")))["me"]["rewards"]["available"] == []
    # Not in the public catalog; a member outside the segment cannot redeem it.
    assert (await api.ok("{ rewards { name } }"))["rewards"] == []
    redeem = """mutation($input: RedeemRewardInput!) { redeemReward(input: $input) { redemption { code } errors { code } } }"""
    refused = await api.ok(redeem, {"input": {"rewardId": reward_id, "idempotencyKey": "k"}}, member_token("a3"))
    assert refused["redeemReward"] == {"redemption": None, "errors": [{"code": "NOT_IN_AUDIENCE"}]}


async def test_grant_to_listed_members_is_all_or_nothing(api, admin_token):
    ms = await build()
    tier_gold = await Tier.get(name="Gold")
    reward_id = await _reward(api, admin_token, {"kind": "MEMBERS_GRANTED"}, stock=3)
    unknown = {"rewardId": reward_id, "memberExternalIds": ["a1", "nobody"], "reason": "VIP", "idempotencyKey": "k1"}
    assert (await api.ok(GRANT, {"input": unknown}, admin_token))["grantReward"] == {
        "granted": None, "replayed": False, "errors": [{"field": "memberExternalIds", "code": "MEMBER_NOT_FOUND"}]}
    too_many = unknown | {"memberExternalIds": ["a1", "a2", "a3", "a4"]}
    assert (await api.ok(GRANT, {"input": too_many}, admin_token))["grantReward"]["errors"] == [
        {"field": "rewardId", "code": "OUT_OF_STOCK"}]
    sid = (await _create(api, admin_token))["segment"]["id"]
    both = unknown | {"segmentId": sid}
    assert (await api.ok(GRANT, {"input": both}, admin_token))["grantReward"]["errors"] == [
        {"field": "segmentId", "code": "INVALID"}]
    assert await Redemption.all().count() == 0 and await RewardGrant.all().count() == 0
    assert await Event.filter(type="reward.granted").count() == 0
    ok = unknown | {"memberExternalIds": ["a1", "a2", "a1"]}
    assert (await api.ok(GRANT, {"input": ok}, admin_token))["grantReward"]["granted"] == 2
    assert (await Reward.get(id=parse_id(reward_id, "Reward"))).stock == 1
    # A MEMBERS_GRANTED reward cannot be redeemed, even for free.
    redeem = """mutation($input: RedeemRewardInput!) { redeemReward(input: $input) { errors { code } } }"""
    refused = await api.ok(redeem, {"input": {"rewardId": reward_id, "idempotencyKey": "k"}}, member_token("a3"))
    assert refused["redeemReward"] == {"errors": [{"code": "NOT_IN_AUDIENCE"}]}
    # A TIER audience limits a grant to that tier's members.
    tier_reward = await _reward(api, admin_token, {"kind": "TIER", "tierId": global_id("Tier", tier_gold.id)}, name="Gold gift")
    tiered = {"rewardId": tier_reward, "memberExternalIds": ["a1", "a2", "a5"], "reason": "Gold", "idempotencyKey": "g"}
    assert (await api.ok(GRANT, {"input": tiered}, admin_token))["grantReward"]["granted"] == 1
    holders = await Redemption.filter(reward_id=parse_id(tier_reward, "Reward")).values_list("member_id", flat=True)
    assert holders == [ms["a1"].id]


async def test_a_segment_named_by_a_reward_cannot_be_deleted(api, admin_token):
    await build()
    sid = (await _create(api, admin_token))["segment"]["id"]
    await _reward(api, admin_token, {"kind": "SEGMENT", "segmentId": sid})
    delete = """mutation($input: DeleteSegmentInput!) { deleteSegment(input: $input) { deletedSegmentId errors { code } } }"""
    assert (await api.ok(delete, {"input": {"id": sid}}, admin_token))["deleteSegment"] == {
        "deletedSegmentId": None, "errors": [{"code": "SEGMENT_IN_USE"}]}
    wrong = await api.ok(CREATE_REWARD, {"input": {"name": "x", "type": "FREE_SHIPPING", "pointsCost": 0,
                                                   "audience": {"kind": "SEGMENT"}}}, admin_token)
    assert wrong["createReward"] == {"reward": None, "errors": [{"field": "audience.segmentId", "code": "INVALID"}]}


async def _get(client, path: str, token: str | None) -> tuple[int, str, dict]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = await client.get(path, headers=headers)
    return response.status_code, response.text, dict(response.headers)


async def test_segment_csv_is_streamed_formula_safe_and_shows_email_only_with_pii(client, api, admin_token):
    ms = await build()
    await Member.filter(id=ms["a1"].id).update(external_id="=HYPERLINK(\"x\")", email="+a1@example.com")
    sid = (await _create(api, admin_token))["segment"]["id"]
    pk = parse_id(sid, "Segment")
    status, text, headers = await _get(client, f"/exports/segments/{pk}.csv", admin_token)
    assert status == 200
    assert headers["content-type"] == "text/csv; charset=utf-8"
    assert headers["content-disposition"] == f'attachment; filename="segment-{pk}.csv"'
    assert list(csv.reader(io.StringIO(text))) == [
        ["externalId", "email", "tier", "rfmSegment", "churnRisk", "pointsBalance", "memberSince"],
        ["'=HYPERLINK(\"x\")", "'+a1@example.com", "Gold", "AT_RISK", "0.8", "0", "2025-06-01T00:00:00+00:00"],
        ["a2", "a2@example.com", "Platinum", "CANT_LOSE", "0.65", "0", "2025-06-01T00:00:00+00:00"],
    ]
    bi = (await auth.create_api_key("bi", "partner", scopes=["insights:read"]))[1]
    status, text, _ = await _get(client, f"/exports/segments/{pk}.csv", bi)
    assert status == 200
    assert [r[:2] for r in csv.reader(io.StringIO(text))] == [
        ["externalId", "tier"], ["'=HYPERLINK(\"x\")", "Gold"], ["a2", "Platinum"]]
    pii = (await auth.create_api_key("bi+pii", "partner", scopes=["insights:read", "members:pii"]))[1]
    assert (await _get(client, f"/exports/segments/{pk}.csv", pii))[1].splitlines()[0].startswith("externalId,email,")


async def test_exports_refuse_callers_without_the_scope(client, api, admin_token, storefront_token):
    await build()
    pk = parse_id((await _create(api, admin_token))["segment"]["id"], "Segment")
    for token, expected in ((None, 401), ("ptn_nope", 401), (storefront_token, 403), (member_token("a1"), 403)):
        assert (await _get(client, f"/exports/segments/{pk}.csv", token))[0] == expected
        assert (await _get(client, "/exports/insights.csv?from=2026-01-01&to=2026-01-31&currency=USD", token))[0] \
            == expected
    assert (await _get(client, "/exports/segments/999999.csv", admin_token))[0] == 404
    assert (await _get(client, "/exports/segments/abc.csv", admin_token))[0] == 404
    assert (await _get(client, "/exports/insights.csv?from=2026-02-01&to=2026-01-01&currency=USD", admin_token))[0] \
        == 400
    assert (await _get(client, "/exports/insights.csv?from=x&to=2026-01-01&currency=USD", admin_token))[0] == 400


async def test_insights_csv_has_every_series_per_bucket(client, admin_token):
    await build()
    status, text, _ = await _get(
        client, "/exports/insights.csv?from=2026-02-16&to=2026-03-08&currency=USD&interval=WEEK", admin_token)
    assert status == 200
    # Weeks from Monday: o2 (02-20, 5000) in the week of 02-16; o3 (02-27) in the week of 02-23; o4 (03-05,
    # refunded in full) and o5 (03-02) in the week of 03-02: revenue is net of refunds (programInsights' rule).
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == ["periodStart", "currency", "REVENUE", "ORDERS", "NEW_MEMBERS", "POINTS_ISSUED"]
    assert [r[:2] for r in rows[1:]] == [["2026-02-16", "USD"], ["2026-02-23", "USD"], ["2026-03-02", "USD"]]
    assert [r[2:] for r in rows[1:]] == [["5000", "1", "0", "0"], ["5000", "1", "0", "0"], ["5000", "2", "0", "0"]]
